"""Write a merged model folder from a recipe: `medmix merge apply --recipe R.yaml --out DIR`.

The folder holds `merged.pth` (a plain state dict: `segment_anything.sam_model_registry[arch](checkpoint=...)`
loads it strictly for SAM-architecture pools), `merged.safetensors`, `recipe.yaml` (pool paths absolute, so the
copy stands on its own), `model.json` (arch, preprocessing, weights sha256: what the `merged:` adapter reads) and
`provenance.json` (sha256 of every input, and the recipe's values outside the searched ranges).

Order of work: the whole recipe is validated first (names, values, the unit scheme against the arch's keys, the
output folder, the pool files), before a checkpoint is read. The folder is then built in a hidden sibling
(`.DIR.partial-*`) and renamed into place at the end, so `DIR` holds either nothing, the previous merge, or the
complete new one, never half of one. A `DIR` holding a previous merge of the same recipe (its recipe.yaml is the
new one: the same command run again) is replaced; one holding a merge of another recipe only with `overwrite`
(`--overwrite`); a `DIR` holding anything else is never replaced. A process killed mid-write leaves only its
hidden `.DIR.partial-*` sibling, which blocks nothing and may be deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import torch

from medmix.atomic import atomic_save, atomic_write_text
from medmix.errors import InputError
from medmix.merging.pool import MergePool
from medmix.merging.recipe import (
    MergeRecipe,
    check_pool_files,
    check_pool_on_arch,
    load_recipe,
    merge_state_dict,
    validate_arch,
    validate_preprocessing,
    validate_recipe,
)

#: The files a merge writes; a folder holding only these (and their atomic-write temporaries) is a merge.
MERGE_FILES = ("merged.pth", "merged.safetensors", "recipe.yaml", "model.json", "provenance.json")


def _is_merge_file(name: str) -> bool:
    return name in MERGE_FILES or any(name.startswith(f".{f}.") for f in MERGE_FILES)


def check_output_folder(out_dir: str | Path, *, overwrite: bool = False, recipe: MergeRecipe | None = None) -> Path:
    """Refuse, before any work, an output folder a merge may not write: a file, a folder holding anything but a
    previous merge, or a previous merge of another recipe than `recipe` without `overwrite`. Returns the path."""
    out = Path(out_dir)
    if not out.exists():
        return out
    if not out.is_dir():
        raise InputError(f"output folder {str(out)!r}: exists and is not a folder; choose another --out.")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return out
    others = [e for e in entries if not _is_merge_file(e)]
    if others:
        shown = ", ".join(others[:5]) + (f" … ({len(others)} in all)" if len(others) > 5 else "")
        raise InputError(f"output folder {str(out)!r}: holds files a merge does not write ({shown}); medmix replaces "
                         "only a folder holding a previous merge. Choose another --out.")
    if overwrite:
        return out
    previous = out / "recipe.yaml"
    if recipe is not None and previous.is_file() and previous.read_text() == recipe.to_yaml(resolve_paths=True):
        return out  # the same recipe merged again: nothing is lost by replacing it
    raise InputError(f"output folder {str(out)!r}: holds a previous merge of another recipe ({', '.join(entries)}). "
                     "Pass --overwrite (overwrite=True) to replace it, or choose another --out.")


def write_merged_folder(state: dict[str, torch.Tensor], recipe: MergeRecipe, out_dir: str | Path,
                        pool: MergePool | None = None, extra_provenance: dict | None = None,
                        model_provenance: dict | None = None, *, overwrite: bool = False) -> Path:
    """Save weights (.pth and .safetensors), recipe, model.json and provenance as the folder `out_dir`, atomically.

    The folder is built in a hidden sibling and renamed into place; an existing `out_dir` is replaced only if it
    holds a previous merge of the same recipe, or of another one with `overwrite` (see the module docstring).
    model_provenance: extra entries for model.json's provenance, which evaluations of the folder record (e.g. the
    protocol a search ran under, so an evaluation under another protocol can say so)."""
    from safetensors.torch import save_file

    from medmix import __version__
    from medmix.models import write_model_json

    from medmix.models.checkpoints import check_finite_weights

    # Everything model.json needs is checked before the first byte is written, the merged weights included: a
    # merge can overflow (e.g. an extreme λ) and a NaN checkpoint must not reach disk looking like a result.
    validate_arch(recipe.arch, "arch")
    validate_preprocessing(recipe.preprocessing, "preprocessing")
    check_finite_weights(state, "the merged weights (recipe.yaml's methods applied to the pool)")
    out = check_output_folder(out_dir, overwrite=overwrite, recipe=recipe)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        os.chmod(partial, 0o755)  # mkdtemp makes 0700 folders
        cpu = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
        atomic_save(partial / "merged.pth", lambda p: _torch_save(cpu, p))
        atomic_save(partial / "merged.safetensors", lambda p: save_file(cpu, p))
        atomic_write_text(partial / "recipe.yaml", recipe.to_yaml(resolve_paths=True))
        inputs = []
        if pool is not None:
            inputs = [{"name": m.name, "path": m.path, "sha256": m.sha256} for m in pool.members]
        provenance = {"medmix": __version__, "torch": torch.__version__, "inputs": inputs, **(extra_provenance or {})}
        notes = recipe.range_notes()
        if notes:
            provenance["outside_search_range"] = notes
        atomic_write_text(partial / "provenance.json", json.dumps(provenance, indent=2))
        write_model_json(partial, arch=recipe.arch, preprocessing=recipe.preprocessing, weights="merged.pth",
                         provenance={"recipe": "recipe.yaml", "inputs": inputs, **(model_provenance or {})})
        _publish(partial, out, overwrite=overwrite, recipe=recipe)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


def _publish(partial: Path, out: Path, *, overwrite: bool, recipe: MergeRecipe) -> None:
    """Rename the finished folder onto `out`; a previous merge there is moved aside first, then deleted."""
    check_output_folder(out, overwrite=overwrite, recipe=recipe)  # again: something may have appeared meanwhile
    if out.is_dir() and any(out.iterdir()):
        old = out.with_name(f".{out.name}.replaced-{uuid.uuid4().hex[:8]}")
        os.rename(out, old)
        try:
            os.rename(partial, out)
        except BaseException:
            os.rename(old, out)  # put the previous merge back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        if out.is_dir():
            out.rmdir()  # empty
        os.rename(partial, out)


def apply_recipe(recipe: MergeRecipe | str | Path, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Validate the recipe, its output folder and pool files; load the pool, merge with the reference engine and
    write the merged folder atomically (`overwrite`: replace a previous merge of another recipe in `out_dir`)."""
    if not isinstance(recipe, MergeRecipe):
        recipe = load_recipe(recipe)
    recipe = validate_recipe(recipe)
    check_output_folder(out_dir, overwrite=overwrite, recipe=recipe)
    entries = check_pool_files(recipe)
    pool = MergePool.from_files(entries, arch=recipe.arch, preprocessing=recipe.preprocessing)
    check_pool_on_arch(pool, recipe)
    return write_merged_folder(merge_state_dict(pool, recipe), recipe, out_dir, pool, overwrite=overwrite)


def _torch_save(state: dict, path: str) -> None:
    # Through a file object: given a path, torch names the zip archive after the (temporary) file, and the same
    # weights would hash differently on every write.
    with open(path, "wb") as handle:
        torch.save(state, handle)
