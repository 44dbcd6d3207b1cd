"""A tiny, seeded merge pool made from the phantom suite: a generalist and a specialist fine-tuned from it.

The generalist is the tiny SAM-architecture model trained briefly on several phantom tasks; the specialist is
the generalist trained further on one task only, so it gains there and forgets elsewhere: the situation
MedSAMix merges. Both are written as plain checkpoints (cached by their recipe: same seed → same files).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from medmix.atomic import atomic_write_text
from medmix.evaluation.store import fingerprint

DEFAULT_TASKS = ("phantom_flare22_liver", "phantom_flare22_spleen", "phantom_kits_kidney_tumour",
                 "phantom_promise12_prostate")


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


def make_toy_pool(out_dir: str | Path, recipe: ToyPoolRecipe = ToyPoolRecipe()) -> dict[str, Path]:
    """Train (or reuse) the pool; returns {"generalist": path, "specialist": path}."""
    import torch

    from medmix.evaluation.suites import load_suite
    from medmix.models import load_model
    from medmix.models.training import finetune, save_weights

    out = Path(out_dir) / f"toy-{fingerprint(asdict(recipe))}"
    paths = {"generalist": out / "generalist.pth", "specialist": out / "specialist.pth"}
    if all(p.is_file() for p in paths.values()):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    suite = load_suite("phantom25")
    cards = [suite.card(t) for t in recipe.tasks]
    torch.manual_seed(recipe.seed)
    generalist = load_model(f"tiny:seed={recipe.seed}", device="cpu")
    finetune(generalist, cards, steps=recipe.generalist_steps, lr=recipe.lr, seed=recipe.seed,
             max_slices_per_task=recipe.max_slices_per_task, batch_size=recipe.batch_size)
    save_weights(generalist, paths["generalist"])
    specialist = load_model({"adapter": "tiny", "checkpoint": str(paths["generalist"])}, device="cpu")
    finetune(specialist, [suite.card(recipe.specialist_task)], steps=recipe.specialist_steps, lr=recipe.lr,
             seed=recipe.seed + 1, max_slices_per_task=recipe.max_slices_per_task, batch_size=recipe.batch_size)
    save_weights(specialist, paths["specialist"])
    atomic_write_text(out / "toy_pool.json", json.dumps(asdict(recipe), indent=2))
    return paths
