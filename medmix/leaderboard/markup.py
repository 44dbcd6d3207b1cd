"""Markdown and one self-contained HTML page from the document model (`medmix.leaderboard.blocks`). The HTML page
has inline CSS and JavaScript only (click or press Enter on a column header to sort; numeric columns sort by the
number in `data-sort`) and embeds the figures (PNG, or SVG) as data URIs: it works offline and loads nothing from elsewhere."""

from __future__ import annotations

import base64
import html


from medmix.leaderboard.blocks import Block, Cell, Table

# --- Markdown ------------------------------------------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            out.append("#" * int(block.kind[1]) + " " + block.content)
        elif block.kind == "p":
            out.append(block.content)
        elif block.kind == "ul":
            out.append("\n".join(f"- {item}" for item in block.content))
        elif block.kind == "img":
            title, name = block.content
            out.append(f"![{title}]({name})")
        elif block.kind == "table":
            table: Table = block.content
            numeric = table.numeric or [False] * len(table.columns)
            lines = ["| " + " | ".join(_md_escape(c) for c in table.columns) + " |",
                     "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
            lines += ["| " + " | ".join(_md_escape(c.text) for c in row) + " |" for row in table.rows]
            out.append("\n".join(lines))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# --- HTML ----------------------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1400px;padding:0 1rem;color:#1a202c;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #e2e8f0}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #e2e8f0;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f7fafc;cursor:pointer;user-select:none;position:sticky;top:0}
thead th:hover,thead th:focus{background:#edf2f7;outline:none}
thead th[aria-sort=ascending]::after{content:" \\25B2"}thead th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#fbfdff}
nav a{margin-right:.75rem}img{max-width:100%;border:1px solid #e2e8f0}
.table-wrap{overflow-x:auto}p.hint{color:#4a5568;font-size:.8rem}
"""

# Sorting: click (or Enter/Space on) a header; numbers sort by data-sort, text by locale order; empty cells last;
# the sort is stable (ties keep their previous order).
JS = """
(function () {
  "use strict";
  function key(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (raw === "" || raw === "\\u2013") { return {empty: true}; }
    var num = Number(raw);
    return isNaN(num) ? {text: raw.toLowerCase()} : {num: num};
  }
  function compare(a, b) {
    if (a.empty || b.empty) { return (a.empty ? 1 : 0) - (b.empty ? 1 : 0); }
    if (a.num !== undefined && b.num !== undefined) { return a.num - b.num; }
    var x = a.num !== undefined ? String(a.num) : a.text, y = b.num !== undefined ? String(b.num) : b.text;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  function sortTable(table, column, header) {
    var body = table.tBodies[0];
    var descending = header.getAttribute("aria-sort") === "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var h = 0; h < headers.length; h++) { headers[h].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
      return {row: row, index: index, key: key(row.cells[column])};
    });
    rows.sort(function (a, b) {
      var c = compare(a.key, b.key);
      if (descending && !(a.key.empty || b.key.empty)) { c = -c; }
      return c !== 0 ? c : a.index - b.index;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, column) {
      header.tabIndex = 0;
      header.setAttribute("role", "columnheader");
      header.title = "Sort by this column";
      header.addEventListener("click", function () { sortTable(table, column, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortTable(table, column, header); }
      });
    });
  });
})();
"""


def _html_cell(cell: Cell, numeric: bool, tag: str = "td") -> str:
    attrs = ' class="num"' if numeric else ""
    if cell.sort is not None and tag == "td":
        sort = cell.sort if isinstance(cell.sort, str) else repr(float(cell.sort))
        attrs += f' data-sort="{html.escape(sort)}"'
    return f"<{tag}{attrs}>{html.escape(cell.text)}</{tag}>"


def to_html(blocks: list[Block], images: dict[str, bytes] | None = None, title: str = "medmix leaderboard") -> str:
    """A single self-contained page; `images` maps PNG or SVG file names to their bytes (embedded as data URIs)."""
    images = images or {}
    nav = [f'<a href="#{b.anchor}">{html.escape(b.content)}</a>' for b in blocks if b.kind == "h2" and b.anchor]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>"]
    for n, block in enumerate(blocks):
        if block.kind in ("h1", "h2", "h3"):
            anchor = f' id="{block.anchor}"' if block.anchor else ""
            parts.append(f"<{block.kind}{anchor}>{html.escape(block.content)}</{block.kind}>")
            if n == 0:
                parts.append(f"<nav>{''.join(nav)}</nav>")
                parts.append('<p class="hint">Click a column header to sort the table by it (click again to '
                             'reverse).</p>')
        elif block.kind == "p":
            parts.append(f"<p>{html.escape(block.content)}</p>")
        elif block.kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.content) + "</ul>")
        elif block.kind == "img":
            alt, name = block.content
            data = images.get(name)
            if data is not None:
                encoded = base64.b64encode(data).decode("ascii")
                mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
                parts.append(f'<p><img alt="{html.escape(alt)}" src="data:{mime};base64,{encoded}"></p>')
        elif block.kind == "table":
            table: Table = block.content
            numeric = table.numeric or [False] * len(table.columns)
            css_id = f' id="{html.escape(table.css_id)}"' if table.css_id else ""
            head = "".join(_html_cell(Cell(c), n, "th") for c, n in zip(table.columns, numeric))
            body = "".join("<tr>" + "".join(_html_cell(c, n) for c, n in zip(row, numeric)) + "</tr>"
                           for row in table.rows)
            parts.append(f'<div class="table-wrap"><table class="sortable"{css_id}><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table></div>")
    parts += [f"<script>{JS}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"
