"""Write a `Leaderboard`'s files: Markdown, CSV, JSON (grand-challenge-like aggregates), one self-contained HTML
page and the plots.

The pieces live by concern: the document model Markdown and HTML share (`blocks`), the two renderers
(`markup`), the CSV / JSON tables (`tables`), the figures (`figures`), grand-challenge's metrics.json
(`grand_challenge`).

Numbers in CSV and JSON are rounded to 6 significant digits, so files are identical across machines whose
floating-point sums differ in the last bits. No timestamps, absolute paths or versions are written: the same
inputs, settings and seed give byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from medmix.atomic import atomic_write_text
from medmix.leaderboard.blocks import document
from medmix.leaderboard.grand_challenge import GRAND_CHALLENGE_FOLDER, write_metrics_json
from medmix.leaderboard.markup import to_html, to_markdown
from medmix.leaderboard.tables import _write_csv, leaderboard_table, to_json_dict

FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.html", "statistics.csv",
         "pairwise.csv", "stability.csv", "missing.csv", "subgroups.csv", "consensus.csv")


def write_all(board, out_dir: Path, *, plots: bool = True, figure_formats: tuple[str, ...] = ("png",)) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    images: dict[str, bytes] = {}
    shown: list[tuple[str, str, str | None]] = []  # (file embedded, title, task or None)
    if plots:
        from medmix.leaderboard.plots import write_plots

        embed = "png" if "png" in figure_formats else figure_formats[0]
        for path, title, task in write_plots(board, out_dir, figure_formats):
            files.append(path)
            if path.suffix == f".{embed}":
                images[path.name] = path.read_bytes()
                shown.append((path.name, title, task))
    blocks = document(board, figures=shown)
    atomic_write_text(out_dir / "leaderboard.md", to_markdown(blocks))
    atomic_write_text(out_dir / "leaderboard.html", to_html(blocks, images))
    atomic_write_text(out_dir / "leaderboard.json",
                      json.dumps(to_json_dict(board), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    files += [out_dir / "leaderboard.md", out_dir / "leaderboard.html", out_dir / "leaderboard.json"]
    files.append(_write_csv(leaderboard_table(board), out_dir / "leaderboard.csv"))
    files.append(_write_csv(board.statistics, out_dir / "statistics.csv"))
    files.append(_write_csv(board.pairwise, out_dir / "pairwise.csv"))
    stability = board.stability.rank_summary() if board.stability is not None else \
        pd.DataFrame(columns=["scope", "algorithm", "rank", "median_rank", "rank_q025", "rank_q975", "share_best"])
    files.append(_write_csv(stability, out_dir / "stability.csv"))
    files.append(_write_csv(board.missing, out_dir / "missing.csv"))
    files.append(_write_csv(board.subgroups, out_dir / "subgroups.csv"))
    files.append(_write_csv(board.consensus, out_dir / "consensus.csv"))
    files += write_metrics_json(board, out_dir / GRAND_CHALLENGE_FOLDER)
    return sorted(files)
