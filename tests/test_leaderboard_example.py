"""`leaderboards/` holds the example leaderboard; the documented command regenerates it file for file.

Text files (Markdown, CSV, JSON, README) must be byte-identical. PNGs are compared byte for byte and, only when
the bytes differ (another zlib or libpng encodes the same image differently), by their decoded pixels; the HTML
page likewise compares its text exactly and its embedded PNGs by pixels. A difference means the committed files
are stale: rerun the command in `medmix.leaderboard.example.COMMAND`.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from medmix.leaderboard.example import COMMAND

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboards"
DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _pixels(data: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


def _same_png(a: bytes, b: bytes) -> bool:
    return a == b or np.array_equal(_pixels(a), _pixels(b))


def _same_html(a: str, b: str) -> bool:
    if a == b:
        return True
    images_a, images_b = DATA_URI.findall(a), DATA_URI.findall(b)
    return (DATA_URI.sub("", a) == DATA_URI.sub("", b) and len(images_a) == len(images_b)
            and all(_same_png(base64.b64decode(x), base64.b64decode(y)) for x, y in zip(images_a, images_b)))


def test_documented_command_regenerates_the_committed_example(tmp_path):
    assert COMMAND == "python -m medmix.leaderboard.example leaderboards/"
    out = tmp_path / "leaderboards"
    import shutil

    shutil.copytree(COMMITTED / "inputs", out / "inputs")  # the committed demo runs are the inputs
    done = subprocess.run([sys.executable, "-m", "medmix.leaderboard.example", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    def files(root):
        # other leaderboards live in their own subfolders (e.g. litemedsam_mni/); this test owns the top level
        # and the metrics/ folder of grand-challenge files
        top = [p for p in root.iterdir() if not p.name.startswith(".") and p.name != "inputs"
               and not (p.is_dir() and (p / "leaderboard.md").exists())]
        return sorted(q.relative_to(root).as_posix() for p in top for q in ([p] if p.is_file() else p.rglob("*"))
                      if q.is_file())

    fresh, committed = files(out), files(COMMITTED)
    assert fresh == committed, f"file sets differ; regenerate with `{COMMAND}`"
    stale = []
    for name in fresh:
        new, old = (out / name).read_bytes(), (COMMITTED / name).read_bytes()
        if name.endswith(".png"):
            same = _same_png(new, old)
        elif name.endswith(".html"):
            same = _same_html(new.decode(), old.decode())
        else:
            same = new == old
        if not same:
            stale.append(name)
    assert not stale, f"stale example files {stale}; regenerate with `{COMMAND}`"
    assert COMMAND in (COMMITTED / "README.md").read_text()
