"""The clinical validation protocols on the demo models (phantom25) and on LiteMedSAM × MNI152.

    python bench/validation_study.py --out runs/validation_study            # demo models, ~3 min on 2 CPU cores
    python bench/validation_study.py --out runs/validation_study --mni      # + LiteMedSAM × MNI, ~8 min more

Models. Demo: the embedded default's tiny generalist and specialist (medmix/assets/toy_pool), the multi-task merge
of `medmix demo` when runs/demo exists, and their output-space ensembles (majority vote, STAPLE). MNI (needs
runs/litemedsam_mni from `bench/litemedsam_experiment.py`): LiteMedSAM, the two specialists, the multi-task merge
and (`--mni-ensembles`) the majority / STAPLE ensembles of base + specialists. Every model is evaluated on the test split with saved
predictions (demo: five phantom tasks; MNI: the mni suite).

Readers. There are no second expert contours for these data, so E2 is SIMULATED: each reference (E1 = the
suite's label) dilated or eroded by one voxel, chosen per case with a seeded coin (erosion only where it leaves
the mask non-empty). The inter-observer numbers therefore say how a model compares with a reader who differs from
E1 by one voxel of boundary, not with a real second expert.

Sites: the two prostate phantom tasks (promise12 = internal, msd_task05 = external) pooled as one task, each
dataset a site (`--from-entry` ids). COMMUTE needs expert ratings and times that do not exist here: not run.
Writes <out>/<demo|mni>/ (evaluation runs, readers, the validation report, a leaderboard with cost columns) and
prints every protocol's verdict lines; results.md collects them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEMO_TASKS = ["phantom_flare22_liver", "phantom_flare22_spleen", "phantom_kits_kidney_tumour",
              "phantom_promise12_prostate", "phantom_msd_task05_prostate"]
POOL = ROOT / "medmix" / "assets" / "toy_pool"


def demo_models() -> dict:
    tiny = {name: {"adapter": "tiny", "checkpoint": str(POOL / f"{name}.pth")} for name in ("generalist", "specialist")}
    models = dict(tiny)
    merged = ROOT / "runs" / "demo" / "search" / "merge_multi_task" / "best"
    if merged.is_dir():
        models["merge_multi_task"] = {"adapter": "merged", "checkpoint": str(merged)}
    members = list(tiny.values()) + ([models["merge_multi_task"]] if "merge_multi_task" in models else [])
    for method in ("majority", "staple"):
        models[f"ensemble_{method}"] = {"adapter": "ensemble", "options": {"method": method, "members": members}}
    return models


def mni_models(ensembles: bool = False) -> dict:
    base = ROOT / "runs" / "litemedsam_mni"
    if not base.is_dir():
        raise SystemExit("runs/litemedsam_mni is missing: run bench/litemedsam_experiment.py first.")
    models = {}
    for name in ("base", "specialist_grey_matter", "specialist_white_matter", "merge_multi_task"):
        model = json.loads((base / "eval" / name / "summary.json").read_text())["model"]
        checkpoint = model.get("model_folder") if model["adapter"] == "merged" else model["checkpoint"]
        models[name] = {"adapter": model["adapter"], "checkpoint": checkpoint}
    if ensembles:  # three LiteMedSAM passes per slice: ~10 min each on 2 CPU cores
        members = [models[n] for n in ("base", "specialist_grey_matter", "specialist_white_matter")]
        for method in ("majority", "staple"):
            models[f"ensemble_{method}"] = {"adapter": "ensemble", "options": {"method": method, "members": members}}
    return models


def simulated_reader(e1: Path, e2: Path, seed: int = 0) -> Path:
    """E2 = E1 dilated or eroded by one voxel per case (see the module docstring)."""
    from scipy.ndimage import binary_dilation, binary_erosion

    from medmix.data.io import load_mask, save_mask

    rng = np.random.default_rng(seed)
    for path in sorted(e1.rglob("*.nii.gz")):
        mask = load_mask(path)
        array = mask.array.astype(bool)
        eroded = binary_erosion(array)
        changed = eroded if rng.random() < 0.5 and eroded.any() else binary_dilation(array)
        target = e2 / path.relative_to(e1)
        target.parent.mkdir(parents=True, exist_ok=True)
        import nibabel as nib

        affine = nib.load(str(path)).affine
        save_mask(target, changed.astype(np.uint8), spacing=mask.spacing, affine=affine)
    return e2


def evaluate_all(models: dict, suite: str, tasks, out: Path) -> dict[str, Path]:
    from medmix.evaluation import EvaluationConfig, evaluate

    runs = {}
    for name, spec in models.items():
        t0 = time.perf_counter()
        evaluate(EvaluationConfig(suite=suite, out_dir=str(out / "eval" / name), model=spec, tasks=tasks,
                                  split="test", save_predictions=True))
        print(f"  evaluated {name} in {time.perf_counter() - t0:.1f} s")
        runs[name] = out / "eval" / name
    return runs


def study(label: str, models: dict, suite: str, tasks, out: Path, best: str, lines: list[str], *,
          bin_width: float = 25.0) -> None:
    from medmix.leaderboard import build_leaderboard
    from medmix.validation.cost import cost_table, write_cost
    from medmix.validation.observers import inter_observer, write_observers
    from medmix.validation.radiomics import agreement_summary, radiomics_cases, write_radiomics
    from medmix.validation.runs import export_references, run_cases

    out.mkdir(parents=True, exist_ok=True)
    print(f"[{label}] evaluating {len(models)} models")
    runs = evaluate_all(models, suite, tasks, out)
    e1 = export_references(runs[best], out / "readers" / "e1")
    e2 = simulated_reader(e1, out / "readers" / "e2")
    report = out / "validation"
    lines.append(f"\n## {label}\n")
    lines.append("### Inter-observer (E2 simulated: E1 ± one voxel of boundary)\n")
    for name, run in runs.items():
        result = inter_observer(run, e1, e2)
        if name == best:
            write_observers(result, report)
        for row in result.summary.to_dict("records"):
            if row["metric"] == "dice" or row["comparison"] == "model_vs_experts":
                lines.append(f"- {name} · {row['metric']} · {row['comparison']}: model {row['model_expert_mean']:.3f}"
                             f" vs experts {row['expert_expert_mean']:.3f}, Δ {row['mean_difference']:+.3f} "
                             f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], p = {row['p_value']:.3g} → "
                             f"{row['verdict']}")
    if label == "demo":
        from medmix.validation.sites import site_generalisation, write_sites

        frames = []
        for name, run in runs.items():
            cases = pd.read_csv(run / "cases.csv", dtype={"case": str, "slice": str})
            cases = cases[(cases["slice"] == "volume") & cases["task"].str.contains("prostate")]
            frames.append(pd.DataFrame({"task": "prostate", "case": cases["task"].str.replace("phantom_", "") + "/" +
                                        cases["case"], "algorithm": name, "metric": cases["metric"],
                                        "value": cases["value"]}))
        table = pd.concat(frames, ignore_index=True)
        sites = site_generalisation(table, "entry", ["promise12_prostate"])
        write_sites(sites, report)
        lines.append("\n### Sites (promise12 internal, msd_task05 external)\n")
        for row in sites.comparisons.to_dict("records"):
            lines.append(f"- {row['algorithm']}: internal {row['median_internal']:.3f} (n {row['n_internal']}) vs "
                         f"external {row['median_external']:.3f} (n {row['n_external']}), drop {row['drop']:+.3f}"
                         f"{' FLAGGED' if row['flagged'] else ''}, Mann-Whitney p = {row['p_value']:.3g}")
    lines.append(f"\n### Radiomics agreement ({best} vs reference, ICC(3,1), bin width {bin_width:g})\n")
    pairs = [(f"{c.task}/{c.case_id}", c.image, c.prediction, c.reference, c.spacing_mm)
             for c in run_cases(runs[best]) if c.reference.ndim == 3]
    cases = radiomics_cases(pairs, bin_width=bin_width)
    frame = agreement_summary(cases)
    write_radiomics(frame, report, cases=cases)
    for row in frame.to_dict("records"):
        lines.append(f"- {row['feature']}: ICC {row['icc']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] "
                     f"({row['band']}), n = {row['n_cases']}")
    table = cost_table(list(runs.values()), list(runs))
    write_cost(table, report)
    lines.append("\n### Cost\n")
    for row in table.to_dict("records"):
        lines.append(f"- {row['algorithm']}: {row['parameters']:,} parameters, {row['ms_per_slice']:.1f} ms/slice "
                     f"({row['device']}), peak {row['peak_memory_mb']:,.0f} MB ({row['peak_memory_kind']})")
    board = build_leaderboard(list(runs.values()), out / "leaderboard", n_bootstrap=1000, seed=0)
    lines.append("\n### Leaderboard (Dice + bAHD, aggregate-then-rank mean)\n")
    overall = board.overall.set_index("algorithm")
    for algo in board.order():
        lines.append(f"- {int(overall.loc[algo, 'rank'])}. {algo}: rank score {overall.loc[algo, 'rank_score']:.2f}, "
                     f"Dice {overall.loc[algo, 'dice_mean_over_tasks']:.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/validation_study"))
    parser.add_argument("--mni", action="store_true", help="also LiteMedSAM × MNI (needs runs/litemedsam_mni)")
    parser.add_argument("--mni-ensembles", action="store_true", help="with --mni: also the majority / STAPLE "
                                                                     "ensembles of base + specialists")
    args = parser.parse_args(argv)
    lines = ["# Validation protocols on the demo models and LiteMedSAM × MNI", "",
             "Generated by `python bench/validation_study.py" + (" --mni" if args.mni else "") + "`."]
    demo = demo_models()
    study("demo", demo, "phantom25", DEMO_TASKS, args.out / "demo",
          "merge_multi_task" if "merge_multi_task" in demo else "generalist", lines)
    if args.mni:
        # the MNI T1 slabs hold intensities in [0, 1]: PyRadiomics' default bin width 25 would put every voxel in
        # one bin (entropy 0, uniformity 1 for every case); 0.025 gives ~40 bins
        study("mni", mni_models(args.mni_ensembles), "mni", None, args.out / "mni", "merge_multi_task", lines,
              bin_width=0.025)
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
