"""MedSAMix's effect with weights that ship offline: LiteMedSAM × MNI152 (medmix.experiments.litemedsam_mni).

    python bench/litemedsam_experiment.py --cpu --out runs/litemedsam_mni   # about an hour on 2 CPU cores
    python bench/litemedsam_experiment.py --gpu --device cuda --out runs/litemedsam_mni_gpu
    python bench/litemedsam_experiment.py --quick --out runs/lite-smoke     # the pipeline in a minute

Re-run the same command to resume after a kill. The cpu and gpu presets write leaderboards/litemedsam_mni/ (its
inputs and the leaderboard) unless --leaderboard says elsewhere; results.md / results.json land in --out.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medmix.experiments.litemedsam_mni import PRESETS, run_experiment  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    for name in sorted(PRESETS):
        which.add_argument(f"--{name}", dest="preset", action="store_const", const=name, help=f"= --preset {name}")
    ap.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when available)")
    ap.add_argument("--out", type=Path, default=Path("runs/litemedsam_mni"))
    ap.add_argument("--leaderboard", type=Path, default=None, help="where the leaderboard goes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    run_experiment(args.out, args.preset, device=args.device, seed=args.seed, leaderboard_dir=args.leaderboard)


if __name__ == "__main__":
    main()
