"""Benchmark: medmix's metric engine against MedPy, MONAI and DeepMind's surface-distance, in one process.

    python bench/metrics_vs_peers.py [--seed 0] [--skip-medpy] [--json OUT.json]

Case: 512×512×160 voxels, spacing 0.8×0.8×2.5 mm, one irregular ~3 cm lesion and an imperfect prediction with a
small far-away false positive (bench/ct_case.py, seeded). Prints each library's time and value, medmix's value
under the peer's convention, and the ratio of the fastest peer's HD95-only time to medmix's all-metrics time.
Also times a 2D batch of 1,000 slices of 256×256.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from ct_case import make_case  # noqa: E402

from medmix.metrics import DEFAULT_METRICS, compute_metrics  # noqa: E402

ALL = list(DEFAULT_METRICS) + ["hd95:pooled=true", "masd"]


def timed(fn, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peers(pred, gt, spacing, skip_medpy):
    rows = []
    try:
        from surface_distance import compute_average_surface_distance, compute_robust_hausdorff, \
            compute_surface_distances

        t, d = timed(lambda: compute_surface_distances(gt, pred, spacing), repeat=3)
        t95, hd95 = timed(lambda: compute_robust_hausdorff(compute_surface_distances(gt, pred, spacing), 95), 3)
        asd = compute_average_surface_distance(d)
        # Surfel-area weighting: values coincide with voxel-centre conventions only by accident.
        rows.append(("surface-distance", "hd95 (surfels)", t95, hd95, "hd95"))
        rows.append(("surface-distance", "asd g→p, p→g", t, asd, None))
    except ImportError:
        print("surface-distance not installed (pip install 'medmix[peer]')")
    try:
        import torch
        from monai.metrics import compute_average_surface_distance as monai_asd, compute_hausdorff_distance

        torch.set_num_threads(2)
        yp = torch.from_numpy(pred)[None, None]
        yg = torch.from_numpy(gt)[None, None]
        t, v = timed(lambda: compute_hausdorff_distance(yp, yg, include_background=True, percentile=95,
                                                        spacing=list(spacing)))
        rows.append(("MONAI", "hd95", t, float(v), "hd95"))
        t, v = timed(lambda: monai_asd(yp, yg, include_background=True, symmetric=True, spacing=list(spacing)))
        rows.append(("MONAI", "symmetric asd", t, float(v), "assd"))
    except ImportError:
        print("MONAI not installed (pip install 'medmix[peer]')")
    if not skip_medpy:
        try:
            from medpy.metric import binary

            t, v = timed(lambda: binary.hd95(pred, gt, voxelspacing=spacing))
            rows.append(("MedPy", "hd95", t, v, "hd95:pooled=true"))
            t, v = timed(lambda: binary.assd(pred, gt, voxelspacing=spacing))
            rows.append(("MedPy", "assd", t, v, "assd"))
        except ImportError:
            print("MedPy not installed (pip install 'medmix[peer]')")
    return rows


def batch_2d(seed, n=1000, size=256):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    cases = []
    for _ in range(n):
        cy, cx = rng.integers(60, size - 60, 2)
        r = rng.integers(4, 50)
        g = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        p = (yy - cy - rng.integers(-3, 4)) ** 2 + (xx - cx) ** 2 <= (r + rng.integers(-3, 4)) ** 2
        cases.append((p, g))
    t, _ = timed(lambda: [compute_metrics(p, g, DEFAULT_METRICS) for p, g in cases])
    import torch

    from medmix.metrics.torch_batch import batch_dice_iou

    tp = torch.from_numpy(np.stack([p for p, _ in cases]))
    tg = torch.from_numpy(np.stack([g for _, g in cases]))
    t_torch, _ = timed(lambda: batch_dice_iou(tp, tg), repeat=3)
    return t, t_torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-medpy", action="store_true", help="MedPy's hd95 takes ~20 s on this case")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    pred, gt, spacing = make_case(args.seed)
    print(f"case: {gt.shape} spacing {spacing} mm, |G| = {gt.sum()}, |P| = {pred.sum()}")
    compute_metrics(pred, gt, ALL, spacing)  # warm imports
    t_all, res = timed(lambda: compute_metrics(pred, gt, ALL, spacing), repeat=5)
    t_hd95, _ = timed(lambda: compute_metrics(pred, gt, ["hd95"], spacing), repeat=5)
    print(f"\nmedmix: all of {', '.join(ALL)} in {t_all * 1e3:.1f} ms (hd95 alone {t_hd95 * 1e3:.1f} ms)")
    for k, v in res.values.items():
        print(f"  {k:<18} {v:.6f}")
    rows = peers(pred, gt, spacing, args.skip_medpy)
    print(f"\n{'library':<18}{'metric':<18}{'time s':>9}{'value':>12}{'medmix same conv.':>20}{'|diff|':>10}")
    for lib, metric, t, value, ours in rows:
        if isinstance(value, tuple):
            shown = "/".join(f"{x:.4f}" for x in value)
            print(f"{lib:<18}{metric:<18}{t:>9.3f}  {shown}  (surfel-weighted directed means)")
            continue
        mine = res.values.get(ours)
        diff = f"{abs(mine - value):.1e}" if mine is not None else "-"
        mine_s = f"{mine:.6f}" if mine is not None else ours
        print(f"{lib:<18}{metric:<18}{t:>9.3f}{value:>12.6f}{mine_s:>20}{diff:>10}")
    hd95_times = [t for lib, m, t, *_ in rows if m.startswith("hd95")]
    if hd95_times:
        fastest = min(hd95_times)
        print(f"\nfastest peer hd95 alone: {fastest:.3f} s; medmix all metrics: {t_all:.3f} s "
              f"→ {fastest / t_all:.1f}× (target ≥ 5×)")
    t2d, t2d_torch = batch_2d(args.seed)
    print(f"2D batch, 1000 slices 256×256: all metrics {t2d:.2f} s ({t2d:.2f} ms/slice); "
          f"Dice+IoU on torch (CPU) {t2d_torch * 1e3:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps({
            "medmix_all_s": t_all, "medmix_hd95_s": t_hd95, "values": res.values,
            "peers": [dict(library=r[0], metric=r[1], seconds=r[2], value=r[3]) for r in rows],
            "batch2d_all_s": t2d, "batch2d_torch_dice_iou_s": t2d_torch,
        }, indent=2, default=str))


if __name__ == "__main__":
    main()
