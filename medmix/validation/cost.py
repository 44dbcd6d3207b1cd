"""Cost of each model: parameters, milliseconds per predicted slice, peak memory, from evaluation runs.

`medmix evaluate` writes cost.json (`medmix.evaluation.runner.run_cost`; kept out of summary.json because timings
change from run to run); leaderboards show it next to the ranks. This protocol puts the runs' costs side by side
(runs older than cost.json give their parameter count only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from medmix.errors import InputError

COLUMNS = ["algorithm", "parameters", "device", "n_slices", "ms_per_slice", "peak_memory_mb", "peak_memory_kind"]


def cost_table(runs: Sequence[str | Path], names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run folder (COLUMNS); names default to the folder names."""
    from medmix.leaderboard.io import read_json, read_cost

    if names is not None and len(names) != len(runs):
        raise InputError(f"{len(names)} name(s) for {len(runs)} run folder(s); give one per folder.")
    rows = []
    for i, run in enumerate(runs):
        path = Path(run) / "summary.json"
        if not path.is_file():
            raise InputError(f"{run}: no summary.json; give evaluation run folders (`medmix evaluate --out DIR`).")
        cost = read_cost(Path(run), read_json(path).get("model")) or {}
        rows.append({"algorithm": names[i] if names else Path(run).resolve().name,
                     **{c: cost.get(c) for c in COLUMNS[1:]}})
    return pd.DataFrame(rows, columns=COLUMNS)


def cost_verdict(table: pd.DataFrame) -> list[str]:
    """One line per run: parameters, ms per slice and device, peak memory (what is known)."""
    lines = []
    for r in table.to_dict("records"):
        parts = [f"{r['parameters']:,} parameters" if isinstance(r["parameters"], int) else "parameters unknown"]
        if isinstance(r["ms_per_slice"], (int, float)) and r["ms_per_slice"] == r["ms_per_slice"]:
            parts.append(f"{r['ms_per_slice']:.1f} ms per slice on {r['device']}")
        if isinstance(r["peak_memory_mb"], (int, float)) and r["peak_memory_mb"] == r["peak_memory_mb"]:
            parts.append(f"peak memory {r['peak_memory_mb']:,.0f} MB")
        lines.append(f"{r['algorithm']}: {', '.join(parts)}.")
    return lines


def write_cost(table: pd.DataFrame, out_dir) -> list:
    """`<out>/cost/` (cost.csv, result.json) and the report."""
    from medmix.validation.report import write_protocol

    return write_protocol(out_dir, "cost", settings={"n_runs": len(table)}, verdict=cost_verdict(table),
                          tables={"cost": table},
                          notes=["Times depend on the machine and on what else ran; compare runs made on one device."])
