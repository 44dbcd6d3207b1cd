"""Regenerate the shipped toy pool (medmix/assets/toy_pool): the demo's tiny generalist and specialist.

    python scripts/make_toy_pool.py            # trains both (about 10 s on 2 CPU cores) and writes the manifest

Run it after changing the default ToyPoolRecipe or the code that trains it (medmix/merging/toy.py lists the
files), then regenerate the README's demo table and leaderboards/ (see leaderboards/README.md): the shipped
checkpoints are what makes the demo print the same numbers on every machine.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medmix.merging.toy import ASSETS, ToyPoolRecipe, train_toy_pool  # noqa: E402


def main() -> None:
    started = time.perf_counter()
    paths = train_toy_pool(ASSETS, ToyPoolRecipe())
    for name, path in paths.items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"manifest: {ASSETS / 'toy_pool.json'}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
