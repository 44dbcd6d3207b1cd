"""Write a validation protocol's results into `<out>/<protocol>/` and render one report from every protocol there.

A protocol folder holds result.json (title, settings, the lines of its verdict, the tables it shows, the figure),
one CSV per table and figure.png. `render_report(out)` rebuilds `<out>/report.md` and the self-contained
`<out>/report.html` (same renderer as the leaderboard: sortable tables, embedded figure, nothing loaded from
elsewhere) from the folders present, in `PROTOCOLS` order, so running several protocols into one folder gives one
report, and re-running one replaces its section only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROTOCOLS = {
    "observers": "Inter-observer benchmark",
    "sites": "Multi-site generalisation",
    "commute": "COMMUTE readiness",
    "radiomics": "Radiomics agreement",
    "cost": "Cost",
}
RESULT_FILE = "result.json"
FIGURE_FILE = "figure.png"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def write_protocol(out_dir, protocol: str, *, settings: dict, verdict: list[str], tables: dict[str, pd.DataFrame],
                   figure=None, notes: list[str] = ()) -> list[Path]:
    """Write one protocol's folder and re-render the report; returns the files written."""
    from medmix.atomic import atomic_write_text
    from medmix.leaderboard.plots import save_figure
    from medmix.leaderboard.tables import _write_csv

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}")
    folder = Path(out_dir) / protocol
    folder.mkdir(parents=True, exist_ok=True)
    files = [_write_csv(table, folder / f"{name}.csv") for name, table in tables.items()]
    if figure is not None:
        files += save_figure(figure, folder / Path(FIGURE_FILE).stem, ("png",))
    elif (folder / FIGURE_FILE).exists():
        (folder / FIGURE_FILE).unlink()
    record = {"protocol": protocol, "title": PROTOCOLS[protocol], "settings": _jsonable(settings),
              "verdict": list(verdict), "notes": list(notes), "tables": list(tables)}
    atomic_write_text(folder / RESULT_FILE, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    files.append(folder / RESULT_FILE)
    return files + render_report(out_dir)


def _cell(value, column: str):
    from medmix.leaderboard.blocks import Cell, fmt

    if isinstance(value, (bool, np.bool_)):
        return Cell("yes" if value else "no", str(bool(value)))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return Cell(str(int(value)), float(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            return Cell("–")
        digits = 4 if column.startswith("p_") or column == "p_value" else 3
        return Cell(f"{float(value):.{digits}g}" if abs(float(value)) < 1e-3 and value != 0 else fmt(value, digits),
                    float(value))
    return Cell("" if value is None else str(value))


def _table_block(frame: pd.DataFrame, css_id: str):
    from medmix.leaderboard.blocks import Block, Table

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    rows = [[_cell(v, c) for v, c in zip(row, frame.columns)] for row in frame.itertuples(index=False)]
    return Block("table", Table([str(c) for c in frame.columns], rows, numeric, css_id))


def _section(folder: Path) -> tuple[list, dict[str, bytes]]:
    from medmix.leaderboard.blocks import Block

    record: dict[str, Any] = json.loads((folder / RESULT_FILE).read_text())
    protocol = record["protocol"]
    blocks = [Block("h2", record["title"], protocol)]
    if record["verdict"]:
        blocks.append(Block("ul", record["verdict"]))
    for name in record["tables"]:
        path = folder / f"{name}.csv"
        if path.is_file() and path.stat().st_size:
            frame = pd.read_csv(path, keep_default_na=True)
            blocks += [Block("h3", name.replace("_", " ")), _table_block(frame, f"{protocol}-{name}")]
    images = {}
    if (folder / FIGURE_FILE).is_file():
        name = f"{protocol}_{FIGURE_FILE}"
        images[name] = (folder / FIGURE_FILE).read_bytes()
        blocks.append(Block("img", (f"{record['title']} figure", name)))
    settings = ", ".join(f"{k}: {v}" for k, v in record["settings"].items() if not isinstance(v, (dict, list))
                         or len(json.dumps(v)) < 120)
    blocks.append(Block("p", f"Settings: {settings}."))
    for note in record.get("notes", []):
        blocks.append(Block("p", f"Note: {note}"))
    return blocks, images


def render_report(out_dir) -> list[Path]:
    """Rebuild report.md and report.html from the protocol folders under `out_dir`."""
    from medmix.atomic import atomic_write_text
    from medmix.leaderboard.blocks import Block
    from medmix.leaderboard.markup import to_html, to_markdown

    out = Path(out_dir)
    present = [p for p in PROTOCOLS if (out / p / RESULT_FILE).is_file()]
    blocks = [Block("h1", "medmix validation report"),
              Block("p", f"Protocols: {', '.join(PROTOCOLS[p] for p in present)}. Each section comes from the "
                         "folder of the same name (result.json, CSV tables, figure.png).")]
    images: dict[str, bytes] = {}
    for protocol in present:
        section, pictures = _section(out / protocol)
        blocks += section
        images.update(pictures)
    markdown_blocks = [Block("img", (b.content[0], f"{b.content[1].split('_', 1)[0]}/{FIGURE_FILE}"))
                       if b.kind == "img" else b for b in blocks]
    atomic_write_text(out / "report.md", to_markdown(markdown_blocks))
    atomic_write_text(out / "report.html", to_html(blocks, images, title="medmix validation report"))
    return [out / "report.md", out / "report.html"]
