"""A tiny, seeded merge pool made from the phantom suite: a generalist and a specialist fine-tuned from it.

The generalist is the tiny SAM-architecture model trained briefly on several phantom tasks; the specialist is
the generalist trained further on one task only, so it gains there and forgets elsewhere: the situation
MedSAMix merges. Both train on the phantom "train" split (case_010 …), which neither the calibration split the
search scores nor the test split holds.

Seeded training on the CPU is not bit-identical across CPUs (vector units and thread counts change the order of
float sums), so the pool of the default recipe ships with medmix (`medmix/assets/toy_pool`: two 0.35 MB
checkpoints and a manifest with their sha256) and the demo prints the same numbers on any machine;
`python scripts/make_toy_pool.py` regenerates them. Any other recipe is trained and cached under a key made of
everything that changes the weights: the recipe, the torch version, the CPU's architecture and vector
capability, and the source of the code that trains them.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

from medmix.atomic import atomic_write_text
from medmix.errors import MedmixError
from medmix.evaluation.store import fingerprint

DEFAULT_TASKS = ("phantom_flare22_liver", "phantom_flare22_spleen", "phantom_kits_kidney_tumour",
                 "phantom_promise12_prostate")
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "toy_pool"
MANIFEST = "toy_pool.json"
MEMBERS = ("generalist", "specialist")
# Source files whose code decides the trained weights (the cache key hashes them).
_TRAINING_CODE = ("models/training.py", "models/sam.py", "merging/toy.py", "merging/calibration.py",
                  "data/phantom25.py", "data/phantom_canvas.py", "data/phantom_painters.py", "data/slices.py",
                  "data/prompts.py", "data/intensity.py", "models/preprocess.py")


@dataclass(frozen=True)
class ToyPoolRecipe:
    tasks: tuple[str, ...] = DEFAULT_TASKS
    specialist_task: str = "phantom_kits_kidney_tumour"
    generalist_steps: int = 120
    specialist_steps: int = 50
    lr: float = 2e-3
    max_slices_per_task: int = 32
    batch_size: int = 8
    seed: int = 0
    split: str = "train"


def make_toy_pool(out_dir: str | Path, recipe: ToyPoolRecipe = ToyPoolRecipe(), *, use_shipped: bool = True
                  ) -> dict[str, Path]:
    """{"generalist": path, "specialist": path}: the shipped checkpoints for the default recipe (checked against
    their sha256), else trained once into `out_dir/toy-<key>` and reused (see the module docstring)."""
    if use_shipped and recipe == ToyPoolRecipe() and (ASSETS / MANIFEST).is_file():
        return shipped_pool()
    out = Path(out_dir) / f"toy-{cache_key(recipe)}"
    paths = {name: out / f"{name}.pth" for name in MEMBERS}
    if all(p.is_file() for p in paths.values()):
        return paths
    train_toy_pool(out, recipe)
    return paths


def shipped_pool() -> dict[str, Path]:
    """The shipped default pool, after checking every file against the manifest's sha256."""
    from medmix.models.checkpoints import sha256_file

    manifest = json.loads((ASSETS / MANIFEST).read_text())
    if manifest.get("recipe") != json.loads(json.dumps(asdict(ToyPoolRecipe()))):
        raise MedmixError(f"{ASSETS / MANIFEST} was made with another recipe than the default "
                          f"({manifest.get('recipe')}); regenerate it with `python scripts/make_toy_pool.py`.")
    paths = {}
    for name in MEMBERS:
        path = ASSETS / f"{name}.pth"
        expected = manifest["sha256"][name]
        if not path.is_file() or sha256_file(path) != expected:
            raise MedmixError(f"the shipped toy pool checkpoint {path} is missing or does not match its sha256 "
                              f"{expected[:12]}… in {ASSETS / MANIFEST}; reinstall medmix or regenerate it with "
                              "`python scripts/make_toy_pool.py`.")
        paths[name] = path
    return paths


def train_toy_pool(out: Path, recipe: ToyPoolRecipe = ToyPoolRecipe()) -> dict[str, Path]:
    """Train the generalist, then the specialist from it, on `recipe.split`; write both and a manifest."""
    import torch

    from medmix.evaluation.suites import load_suite
    from medmix.models import load_model, sha256_file
    from medmix.models.training import finetune, save_weights

    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.pth" for name in MEMBERS}
    suite = load_suite("phantom25")
    cards = [suite.card(t) for t in recipe.tasks]
    torch.manual_seed(recipe.seed)
    generalist = load_model(f"tiny:seed={recipe.seed}", device="cpu")
    finetune(generalist, cards, split=recipe.split, steps=recipe.generalist_steps, lr=recipe.lr, seed=recipe.seed,
             max_slices_per_task=recipe.max_slices_per_task, batch_size=recipe.batch_size)
    save_weights(generalist, paths["generalist"])
    specialist = load_model({"adapter": "tiny", "checkpoint": str(paths["generalist"])}, device="cpu")
    finetune(specialist, [suite.card(recipe.specialist_task)], split=recipe.split, steps=recipe.specialist_steps,
             lr=recipe.lr, seed=recipe.seed + 1, max_slices_per_task=recipe.max_slices_per_task,
             batch_size=recipe.batch_size)
    save_weights(specialist, paths["specialist"])
    manifest = {"recipe": asdict(recipe), "sha256": {n: sha256_file(p) for n, p in paths.items()},
                "trained_with": training_environment()}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return paths


def training_environment() -> dict:
    """What, besides the recipe, decides the trained weights."""
    import torch

    return {"torch": torch.__version__, "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "code_sha256": _code_hash()}


def cache_key(recipe: ToyPoolRecipe) -> str:
    return fingerprint({"recipe": asdict(recipe), **training_environment()})


def _code_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _TRAINING_CODE:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


__all__ = ["ASSETS", "DEFAULT_TASKS", "ToyPoolRecipe", "cache_key", "make_toy_pool", "shipped_pool",
           "train_toy_pool", "training_environment"]
