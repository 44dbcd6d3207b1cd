"""Lesion-wise speed and values: medmix vs brats-evaluation (panoptica) on a BraTS-sized case, one process.

    bash scripts/lesion_peers.sh
    PYTHONPATH=. .venv-lesion-peers/bin/python bench/lesionwise_vs_peers.py [--repeats 3] [--seed 0]

Runs in the lesion-peer venv (the packages pin numpy < 2.3, so they cannot live in medmix's), with medmix on
PYTHONPATH: only numpy, scipy and surface-distance are needed by medmix's lesion-wise engine. The case: a
240×240×155 label map at 1 mm (BraTS's SRI grid), 8–12 lesions of mixed size with labels 1–3, a prediction
shifted by a voxel with lesions dropped and false positives added. Both compute every region of the glioma
config (snfh, et, netc, rc, tc, wt); timings are best-of-N wall seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import time
import warnings
from importlib.resources import files
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def brats_case(seed: int):
    rng = np.random.default_rng(seed)
    shape = (240, 240, 155)
    gt = np.zeros(shape, np.uint8)
    n = int(rng.integers(8, 13))
    for k in range(n):
        radius = rng.uniform(12, 25) if k < 3 else rng.uniform(2, 8)  # a few large, many small
        centre = [rng.integers(40, s - 40) for s in shape]
        radii = radius * rng.uniform(0.7, 1.3, size=3)
        box = tuple(slice(max(int(c - r) - 1, 0), min(int(c + r) + 2, s)) for c, r, s in zip(centre, radii, shape))
        local = np.ogrid[box]  # absolute coordinates of the box
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(local, centre, radii)) <= 1
        core = sum(((g - c) / (0.5 * r)) ** 2 for g, c, r in zip(local, centre, radii)) <= 1
        view = gt[box]
        view[inside] = 2
        view[core] = rng.choice([1, 3])
    pred = np.roll(gt, (1, -1, 1), axis=(0, 1, 2))
    cut = pred[:, :, : int(rng.integers(50, 70))]  # drop the necrosis of the lower slab
    cut[cut == 1] = 0
    for _ in range(3):
        c = [rng.integers(30, s - 30) for s in shape]
        pred[c[0] - 2:c[0] + 3, c[1] - 2:c[1] + 3, c[2] - 2:c[2] + 3] = 3
    return pred, gt, n


def best_of(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from panoptica import Panoptica_Evaluator

    from medmix.metrics.lesionwise import lesionwise

    pred, gt, n = brats_case(args.seed)
    spacing = (1.0, 1.0, 1.0)
    config = Path(str(files("brats_evaluation").joinpath("configs", "config_gli.yaml")))
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = Panoptica_Evaluator.load_from_config(str(config))

    def peer():
        with contextlib.redirect_stdout(io.StringIO()):
            return {k: r.to_dict(True) for k, r in evaluator.evaluate(pred, gt, voxelspacing=spacing).items()}

    def ours():
        return lesionwise(pred, gt, spacing, definition="panoptica", challenge="glioma", compat=True)

    def ours_brats2023():
        return lesionwise(pred, gt, spacing, definition="brats2023", challenge="glioma")

    ours()  # warm imports
    t_peer, peer_out = best_of(peer, args.repeats)
    t_ours, ours_out = best_of(ours, args.repeats)
    t_2023, out_2023 = best_of(ours_brats2023, args.repeats)
    worst, compared = 0.0, 0
    for region, result in ours_out.items():
        for key, value in result.raw.items():
            want = peer_out[region].get(key)
            if want is None or (isinstance(want, float) and math.isnan(want) and math.isnan(value)):
                continue
            compared += 1
            worst = max(worst, 0.0 if value == want else abs(value - float(want)))
    print(f"case: 240×240×155 at 1 mm, {n} GT lesions (labels 1–3), {args.repeats} repeats, best-of")
    print("| definition | implementation | seconds | speed-up vs brats-evaluation |")
    print("|---|---|---:|---:|")
    print(f"| panoptica (glioma config, 6 regions) | brats-evaluation 0.0.10 / panoptica 2.1.7 | {t_peer:.2f} | 1.0× |")
    print(f"| panoptica (glioma config, 6 regions) | medmix (compat) | {t_ours:.2f} | {t_peer / t_ours:.1f}× |")
    print(f"| BraTS 2023 (glioma, wt/tc/et) | medmix | {t_2023:.2f} | — |")
    print(f"values compared: {compared}, max |difference| {worst:.2e}")
    for region in ("wt", "tc", "et"):
        a, b = ours_out[region].values, out_2023[region].values
        print(f"{region}: panoptica lesion Dice {a['lesion_dice']:.4f} HD95 {a['lesion_hd95']:.2f} "
              f"tp/fp/fn {a['tp']:.0f}/{a['fp']:.0f}/{a['fn']:.0f} | BraTS 2023 lesion Dice "
              f"{b['lesion_dice']:.4f} HD95 {b['lesion_hd95']:.2f} tp/fp/fn {b['tp']:.0f}/{b['fp']:.0f}/{b['fn']:.0f}")


if __name__ == "__main__":
    main()
