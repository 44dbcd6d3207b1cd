"""Cost of each model: parameters, milliseconds per predicted slice, peak memory, from evaluation runs.

`medmix evaluate` writes cost.json (`medmix.evaluation.runner.run_cost`; kept out of summary.json because timings
change from run to run); leaderboards show it next to the ranks. This protocol puts the runs' costs side by side
(runs older than cost.json give their parameter count only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from medmix.errors import InputError

COLUMNS = ["algorithm", "parameters", "device", "n_slices", "ms_per_slice", "peak_memory_mb", "peak_memory_kind"]


def cost_table(runs: Sequence[str | Path], names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run folder (COLUMNS); names default to the folder names."""
    if names is not None and len(names) != len(runs):
        raise InputError(f"{len(names)} name(s) for {len(runs)} run folder(s); give one per folder.")
    rows = []
    for i, run in enumerate(runs):
        path = Path(run) / "summary.json"
        if not path.is_file():
            raise InputError(f"{run}: no summary.json; give evaluation run folders (`medmix evaluate --out DIR`).")
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON ({exc}).") from None
        from medmix.leaderboard.io import read_cost

        cost = read_cost(Path(run), summary.get("model")) or {}
        rows.append({"algorithm": names[i] if names else Path(run).resolve().name, **{c: cost.get(c)
                                                                                      for c in COLUMNS[1:]}})
    return pd.DataFrame(rows, columns=COLUMNS)


def write_cost(table: pd.DataFrame, out_dir) -> list:
    from medmix.validation.report import write_protocol

    verdict = [f"{r['algorithm']}: {r['parameters']:,} parameters" if isinstance(r["parameters"], int) else
               f"{r['algorithm']}: parameters unknown" for r in table.to_dict("records")]
    verdict = [v + (f", {r['ms_per_slice']:.1f} ms per slice on {r['device']}, peak memory "
                    f"{r['peak_memory_mb']:,.0f} MB" if isinstance(r["ms_per_slice"], (int, float)) and
                    r["ms_per_slice"] == r["ms_per_slice"] else "") + "."
               for v, r in zip(verdict, table.to_dict("records"))]
    return write_protocol(out_dir, "cost", settings={"n_runs": len(table)}, verdict=verdict, tables={"cost": table},
                          notes=["Times depend on the machine and on what else ran; compare runs made on one device."])
