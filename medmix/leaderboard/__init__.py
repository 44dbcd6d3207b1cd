"""Challenge-style leaderboards: rank evaluation runs, with statistics, significance and bootstrap stability.

Python API::

    from medmix.leaderboard import build_leaderboard

    board = build_leaderboard(["runs/sam", "runs/medsam", "runs/merged"], "leaderboard/",
                              metrics=("dice", "bahd"), scheme="aggregate_mean", seed=0, n_bootstrap=1000)
    print(board.order())          # algorithms, best first
    board.overall                 # rank, rank score, per-metric ranks and means (pandas)

Inputs are evaluation run folders (`medmix evaluate --out DIR`), long CSVs with columns task, case, algorithm,
metric, value, and grand-challenge metrics.json files (`medmix.leaderboard.io`, `medmix.leaderboard.grand_challenge`).
Schemes (`medmix.leaderboard.ranking`): "aggregate_mean", "aggregate_median", "rank_then_aggregate",
"test_then_rank"; missing cases are handled as in `medmix.leaderboard.build`; `compat="challenger"` switches to
challengeR's conventions (`medmix.leaderboard.conventions`); consensus rankings in `medmix.leaderboard.consensus`.
Outputs (`medmix.leaderboard.render`, `medmix.leaderboard.figures`): leaderboard.md/.csv/.json/.html,
statistics.csv, pairwise.csv, stability.csv, missing.csv, subgroups.csv, consensus.csv, metrics/<algorithm>/
metrics.json and the figures (PNG and/or SVG).

The example leaderboards in the repository's `leaderboards/` folder are regenerated with::

    python -m medmix.leaderboard.example leaderboards/
"""

from medmix.leaderboard.build import (
    DEFAULT_METRICS,
    Leaderboard,
    MetricInfo,
    build_leaderboard,
    compute_leaderboard,
    resolve_metric,
)
from medmix.leaderboard.io import LeaderboardInput, read_inputs
from medmix.leaderboard.ranking import SCHEMES, rank_task

__all__ = [
    "DEFAULT_METRICS", "Leaderboard", "LeaderboardInput", "MetricInfo", "SCHEMES", "build_leaderboard",
    "compute_leaderboard", "rank_task", "read_inputs", "resolve_metric",
]
