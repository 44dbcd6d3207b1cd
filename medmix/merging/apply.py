"""Write a merged model folder from a recipe: `medmix merge apply --recipe R.yaml --out DIR`.

The folder holds `merged.pth` (a plain state dict: `segment_anything.sam_model_registry[arch](checkpoint=...)`
loads it strictly for SAM-architecture pools), `merged.safetensors`, `recipe.yaml`, `model.json` (arch,
preprocessing, weights sha256: what the `merged:` adapter reads) and `provenance.json` (sha256 of every input).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from medmix.atomic import atomic_save, atomic_write_text
from medmix.merging.pool import MergePool
from medmix.merging.recipe import MergeRecipe, load_recipe, merge_state_dict


def write_merged_folder(state: dict[str, torch.Tensor], recipe: MergeRecipe, out_dir: str | Path,
                        pool: MergePool | None = None, extra_provenance: dict | None = None,
                        model_provenance: dict | None = None) -> Path:
    """Save weights (.pth and .safetensors), recipe, model.json and provenance into `out_dir`.

    model_provenance: extra entries for model.json's provenance, which evaluations of the folder record (e.g. the
    protocol a search ran under, so an evaluation under another protocol can say so)."""
    from safetensors.torch import save_file

    from medmix import __version__
    from medmix.models.adapters import write_model_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    atomic_save(out / "merged.pth", lambda p: _torch_save(cpu, p))
    atomic_save(out / "merged.safetensors", lambda p: save_file(cpu, p))
    atomic_write_text(out / "recipe.yaml", recipe.to_yaml())
    inputs = []
    if pool is not None:
        inputs = [{"name": m.name, "path": m.path, "sha256": m.sha256} for m in pool.members]
    provenance = {"medmix": __version__, "torch": torch.__version__, "inputs": inputs, **(extra_provenance or {})}
    atomic_write_text(out / "provenance.json", json.dumps(provenance, indent=2))
    write_model_json(out, arch=recipe.arch, preprocessing=recipe.preprocessing, weights="merged.pth",
                     provenance={"recipe": "recipe.yaml", "inputs": inputs, **(model_provenance or {})})
    return out


def apply_recipe(recipe: MergeRecipe | str | Path, out_dir: str | Path) -> Path:
    """Load the pool named by the recipe, merge with the reference engine and write the merged folder."""
    if not isinstance(recipe, MergeRecipe):
        recipe = load_recipe(recipe)
    pool = MergePool.from_files(recipe.pool_entries(), arch=recipe.arch, preprocessing=recipe.preprocessing)
    return write_merged_folder(merge_state_dict(pool, recipe), recipe, out_dir, pool)


def _torch_save(state: dict, path: str) -> None:
    # Through a file object: given a path, torch names the zip archive after the (temporary) file, and the same
    # weights would hash differently on every write.
    with open(path, "wb") as handle:
        torch.save(state, handle)
