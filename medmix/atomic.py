"""Atomic file writes: everything medmix writes goes to a temporary file beside the target, then a rename.

A killed process therefore leaves either the old file or the new one, never half of one (resumable runs rely on
it). The temporary name keeps the target's suffixes, so writers that choose a format by extension (nibabel,
Pillow) see the right one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_save(path: str | os.PathLike, save: Callable[[str], None]) -> Path:
    """Call `save(temporary_path)`, then move the result onto `path` (folders are created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix="".join(target.suffixes))
    os.close(fd)
    try:
        save(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text with "\\n" line ends, flushed to disk before the rename."""

    def save(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_save(path, save)
