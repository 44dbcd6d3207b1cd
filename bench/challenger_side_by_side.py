"""medmix's leaderboard against the real challengeR 1.0.5 on the same data, under `--compat challenger` and under
medmix's defaults.

    bash scripts/challenger_install.sh SRC/slam SRC/sets SRC/relations SRC/challengeR   # once, as root (Debian)
    python bench/challenger_side_by_side.py [--record tests/data/challenger] [--out runs/challenger]

Datasets: "example", the committed example leaderboard's inputs (leaderboards/inputs: 4 algorithms, 4 tasks,
Dice + bAHD, no missing case), and "synthetic", `medmix.leaderboard.example.example_runs(seed=0)` (4 algorithms, 4
tasks, one missing case, one empty prediction) and "edge" (`medmix.leaderboard.sidebyside.edge_table`: values rounded to 2 decimals, so tied
values and zero differences, and cases missing next to ties: where the conventions differ). For each, the R script (scripts/
challenger_side_by_side.R) ranks every task × metric with aggregate-then-rank (mean, median), rank-then-aggregate
and test-then-rank, runs challengeR's pairwise test and consensus; medmix computes the same with each compat mode.
Prints, per compat mode and quantity, how many values are equal and the largest difference. `--record` keeps the
R outputs as the fixtures tests/test_leaderboard_challenger.py compares against.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from medmix.leaderboard.sidebyside import (DATASETS, compare_to_challenger, dataset_inputs, scheme_boards,
                                           write_challenger_inputs)

ROOT = Path(__file__).resolve().parents[1]


def run_challenger(board, scratch: Path) -> dict:
    if shutil.which("Rscript") is None:
        sys.exit("Rscript not found: install R and challengeR with scripts/challenger_install.sh.")
    long_csv, fills_csv = write_challenger_inputs(board, scratch)
    out = scratch / "challenger.json"
    subprocess.run(["Rscript", str(ROOT / "scripts" / "challenger_side_by_side.R"), str(long_csv), str(fills_csv),
                    str(out)], check=True)
    return json.loads(out.read_text())


def summarise(frame) -> list[str]:
    lines = []
    for what, part in frame.groupby("what", sort=False):
        diff = np.abs(part["medmix"] - part["challenger"]).max()
        lines.append(f"  {what:<22} {int(part['equal'].sum()):>4} / {len(part):<4} equal   max |Δ| = {diff:.3g}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="keep challengeR's outputs here (test fixtures)")
    parser.add_argument("--out", type=Path, default=Path("runs/challenger"), help="comparison CSVs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for name in DATASETS:
            inputs = dataset_inputs(name, scratch)
            compat_boards = scheme_boards(inputs, "challenger")
            challenger = run_challenger(compat_boards["aggregate_mean"], scratch / name)
            if args.record:
                args.record.mkdir(parents=True, exist_ok=True)
                (args.record / f"{name}.json").write_text(json.dumps(challenger, indent=1, sort_keys=True) + "\n")
            for compat in ("challenger", "medmix"):
                frame = compare_to_challenger(compat_boards if compat == "challenger" else scheme_boards(inputs, compat),
                                              challenger)
                frame.to_csv(args.out / f"{name}_{compat}.csv", index=False)
                print(f"{name} · medmix --compat {compat} vs challengeR {challenger['challenger_version']}:")
                print("\n".join(summarise(frame)))
                different = frame[~frame["equal"]]
                for row in different.head(6).to_dict("records"):
                    print(f"    differs: {row['what']} {row['scheme']} {row['task']} {row['metric']} "
                          f"{row['algorithm']}: medmix {row['medmix']:.6g}, challengeR {row['challenger']:.6g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
