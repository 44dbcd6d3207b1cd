"""Benchmark: one merge-search trial, medmix's engine vs a MedSAMix-style reference loop, in one process.

    python bench/trial_speed.py --arch tiny --slices 64 --trials 5            # CPU, seconds
    python bench/trial_speed.py --arch vit_b --slices 2 --trials 2            # CPU, minutes (ViT-B at 1024²)
    python bench/trial_speed.py --arch vit_b --slices 100 --trials 10 --device cuda

Pool: a random-initialised base (identical FLOPs and sizes to the real SAM ViT-B checkpoints) and two
"specialists" (base + seeded noise), written to disk as plain state dicts. Calibration: the first slices of
phantom25's calibration split (one box per slice).

reference loop (as MedSAMix's released code): per trial, rebuild the model from the base checkpoint on disk,
load the specialists from disk, merge on the CPU, load into the fresh model, move it to the device, run the
fp32 forward slice by slice, Dice on the host.
medmix engine: pool on the device once, in-place fused merge into one live model, calibration slices
preprocessed once and kept on the device, batched forward (bf16 autocast encoder on CUDA), Dice on the device.
bare forward: the engine's encoder + decoder on the same prepared batches, no merge, no metric.
optimiser: SMAC ask + tell per trial from a short search on the same pool (reported separately).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TASK = "phantom_flare22_liver"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_pool(arch: str, folder: Path) -> list[tuple[str, str]]:
    from medmix.models.adapters import build_arch

    torch.manual_seed(0)
    base = build_arch(arch).state_dict()
    entries = [("base", folder / "base.pth")]
    torch.save(base, entries[0][1])
    gen = torch.Generator().manual_seed(1)
    for name in ("spec_a", "spec_b"):
        state = {k: (v + 0.02 * v.std() * torch.randn(v.shape, generator=gen) if v.is_floating_point() and v.numel()
                     > 1 else v) for k, v in base.items()}
        torch.save(state, folder / f"{name}.pth")
        entries.append((name, folder / f"{name}.pth"))
    return [(n, str(p)) for n, p in entries]


def reference_trial(setup, recipe_units, calib_slices, device) -> float:
    """MedSAMix-style: everything from disk, merged on the CPU, fp32 forward per slice."""
    from medmix.merging.pool import MergePool
    from medmix.merging.recipe import MergeRecipe, UnitRecipe, merge_state_dict
    from medmix.models.adapters import SamFamilyModel, build_arch, default_preprocessing
    from medmix.models.checkpoints import load_state_dict

    module = build_arch(setup.arch)
    module.load_state_dict(load_state_dict(setup.pool[0][1]))
    pool = MergePool.from_files(setup.pool, arch=setup.arch)
    recipe = MergeRecipe(setup.arch, [{"name": n, "path": p} for n, p in setup.pool], setup.units,
                         UnitRecipe("linear", {"weights": [1.0, 0.0, 0.0]}), recipe_units)
    module.load_state_dict(merge_state_dict(pool, recipe))
    model = SamFamilyModel(module, default_preprocessing(setup.arch), device=device, batch_size=1,
                           precision="fp32", attention="eager")
    dices = []
    for image, prompt, ref in calib_slices:
        pred = model.predict_slices([image], [prompt.boxes])[0]
        inter = np.logical_and(pred, ref).sum()
        dices.append(2 * inter / max(pred.sum() + ref.sum(), 1))
    sync(model.device)
    return float(np.mean(dices))


def bare_forward(engine) -> None:
    from medmix.models.adapters import decode_boxes

    model = engine.model
    with torch.inference_mode():
        for batches in engine.calibration.batches.values():
            for batch in batches:
                emb = model.encode(batch.inputs.float())
                decode_boxes(model.module, emb, batch.boxes, max_boxes=model.max_boxes_per_decode)
    sync(model.device)


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="tiny", choices=["tiny", "vit_b"])
    ap.add_argument("--device", default=None)
    ap.add_argument("--slices", type=int, default=64)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--search-trials", type=int, default=30, help="trials of the SMAC run timing the optimiser")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from medmix.evaluation.suites import load_suite
    from medmix.merging.calibration import collect_slices
    from medmix.merging.trial import EngineSetup, TrialEngine
    from medmix.models.adapters import resolve_device

    device = resolve_device(args.device)
    workdir = Path(tempfile.mkdtemp(prefix="medmix-trial-speed-"))
    pool = make_pool(args.arch, workdir)
    setup = EngineSetup(pool=tuple(pool), arch=args.arch, preprocessing=None,
                        units={"scheme": "medsamix", "granularity": 2 if args.arch == "vit_b" else 1},
                        suite="phantom25", tasks=(TASK,), methods=("linear", "task_arithmetic", "ties", "slerp"),
                        max_slices_per_task=args.slices, batch_size=args.batch_size, device=str(device))
    t0 = time.perf_counter()
    engine = TrialEngine(setup)
    setup_s = time.perf_counter() - t0
    n = engine.calibration.total_slices
    card = load_suite("phantom25").card(TASK)
    from medmix.data.sources import case_ids

    ref_slices = collect_slices(card, case_ids(card, split="calibration"), None)
    order = np.random.default_rng(0).permutation(len(ref_slices))[:n]
    ref_slices = [ref_slices[i] for i in order]

    cs = engine.space.configspace(seed=0)
    configs = [dict(c) for c in cs.sample_configuration(args.trials + 1)]
    engine.run(configs[0])  # warm-up (allocations, kernels)
    bare_forward(engine)
    bare_s, _ = timed(lambda: bare_forward(engine), max(3, args.trials))
    trial_times, merge_times, eval_times = [], [], []
    for values in configs[1:]:
        t0 = time.perf_counter()
        r = engine.run(values)
        trial_times.append(time.perf_counter() - t0)
        merge_times.append(r["merge_s"])
        eval_times.append(r["eval_s"])
    engine_s = statistics.median(trial_times)

    reference_times = []
    for values in configs[1: 1 + min(args.trials, 3)]:
        units = engine.space.unit_recipes(values)
        t0 = time.perf_counter()
        reference_trial(setup, units, ref_slices, device)
        reference_times.append(time.perf_counter() - t0)
    reference_s = statistics.median(reference_times)

    # Optimiser time: a short SMAC search on the same engine (per-trial ask + tell, and the busy fraction).
    from medmix.merging.search import SearchConfig, SearchSettings, run_search

    settings = SearchSettings(n_trials=args.search_trials, n_random_initial=5, evaluate_test=False)
    result = run_search(SearchConfig(setup, settings), workdir / "search", overwrite=True)
    optimiser = [t["ask_s"] + t["tell_s"] for t in result.trials]
    after_design = optimiser[len(engine.space.warm_start()) + 5:] or optimiser

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    rows = {
        "device": name, "arch": args.arch, "calibration_slices": n, "engine_setup_s": setup_s,
        "reference_trial_s": reference_s, "engine_trial_s": engine_s, "speedup": reference_s / engine_s,
        "bare_forward_s": bare_s, "overhead_vs_bare": (engine_s - bare_s) / bare_s,
        "merge_ms": 1e3 * statistics.median(merge_times),
        "ms_per_slice_engine": 1e3 * engine_s / n, "ms_per_slice_reference": 1e3 * reference_s / n,
        "optimiser_s_mean": statistics.mean(optimiser), "optimiser_s_mean_after_design": statistics.mean(after_design),
        "optimiser_s_max": max(optimiser), "search_busy_fraction": result.timings["busy_fraction"],
        "search_trial_wall_s": result.timings["wall_s"] / len(result.trials),
    }
    print(f"device: {name}; arch {args.arch}; {n} calibration slices; pool of 3 written to {workdir}")
    print(f"{'':38}{'s / trial':>12}{'ms / slice':>12}")
    print(f"{'reference loop (MedSAMix-style)':38}{reference_s:>12.3f}{1e3 * reference_s / n:>12.1f}")
    print(f"{'medmix engine (merge + forward + Dice)':38}{engine_s:>12.3f}{1e3 * engine_s / n:>12.1f}")
    print(f"{'bare batched forward':38}{bare_s:>12.3f}{1e3 * bare_s / n:>12.1f}")
    print(f"speed-up vs reference: {rows['speedup']:.1f}× (target ≥ 10× on GPU); merge {rows['merge_ms']:.1f} ms; "
          f"engine overhead vs bare forward: {100 * rows['overhead_vs_bare']:.1f}% (target ≤ 15%)")
    print(f"SMAC optimiser per trial: mean {rows['optimiser_s_mean']:.3f} s (after the initial design "
          f"{rows['optimiser_s_mean_after_design']:.3f} s), max {rows['optimiser_s_max']:.2f} s; device busy "
          f"{100 * rows['search_busy_fraction']:.0f}% of a {args.search_trials}-trial search's wall time")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
