"""Progress that reaches every log: a live bar on a terminal, plain timestamped lines everywhere else.

`Progress(title, total)` is used by evaluate, merge search, demo and data prepare. On a terminal (stderr is a
TTY) it draws a rich progress bar; otherwise (`> log 2>&1`, CI, nohup, a notebook) it prints one line at the
start, then at most one line every `interval_s` seconds (default 15; `MEDMIX_PROGRESS_INTERVAL_S` sets it), and a
last line at the end, each flushed at once:

    [medmix evaluate] 12/80 (15%) · 1.9 s/item · elapsed 22s · ETA 2m09s · flare22_liver · model tiny

Lines go to stderr, so `--json` output on stdout stays clean. Items resumed from an earlier run count as done
but not towards the rate.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

DEFAULT_INTERVAL_S = 15.0


def _interval() -> float:
    try:
        return float(os.environ.get("MEDMIX_PROGRESS_INTERVAL_S", DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S


def format_duration(seconds: float) -> str:
    """1h02m, 3m05s, 42s."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Progress of `total` items (see the module docstring). Use as a context manager; `advance(n, text)` after
    each item (`resumed=True` for items found already done)."""

    def __init__(self, title: str, total: int, *, enabled: bool = True, context: str = "", done: int = 0,
                 stream: TextIO | None = None, interval_s: float | None = None, live: bool | None = None):
        self.title = title
        self.total = max(0, int(total))
        self.enabled = enabled
        self.context = context
        self.done = int(done)
        self.stream = stream or sys.stderr
        self.interval_s = _interval() if interval_s is None else float(interval_s)
        self.live = (hasattr(self.stream, "isatty") and self.stream.isatty()) if live is None else live
        self._counted = 0  # items computed in this process (the rate's numerator)
        self._started = time.perf_counter()
        self._last_line = -float("inf")
        self._text = ""
        self._bar = None

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        self._started = time.perf_counter()
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn(self.title), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.description}"),
                                     console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.context, total=self.total, completed=self.done)
        else:
            self._line(force=True)
        return self

    def advance(self, n: int = 1, text: str = "", *, resumed: bool = False) -> None:
        if not self.enabled:
            return
        self.done += n
        if not resumed:
            self._counted += n
        self._text = text
        if self._bar is not None:
            self._bar.update(self._task, advance=n, description=" · ".join(x for x in (text, self.context) if x))
        else:
            self._line()

    def note(self, text: str) -> None:
        """A one-off line (a warning, a stage) that does not break the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(f"[medmix {self.title}] {text}", file=self.stream, flush=True)

    def __exit__(self, *exc) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        else:
            self._line(force=True, final=True)

    def _line(self, force: bool = False, final: bool = False) -> None:
        now = time.perf_counter()
        if not force and (now - self._last_line < self.interval_s or self.done >= self.total):
            return  # the last item's line is the closing one
        self._last_line = now
        elapsed = now - self._started
        parts = [f"{self.done}/{self.total}" + (f" ({100 * self.done / self.total:.0f}%)" if self.total else "")]
        if self._counted:
            per_item = elapsed / self._counted
            parts.append(f"{per_item:.2f} s/item" if per_item >= 0.1 else f"{1 / per_item:.1f} items/s")
        parts.append(f"elapsed {format_duration(elapsed)}")
        if self._counted and self.done < self.total:
            parts.append(f"ETA {format_duration(elapsed / self._counted * (self.total - self.done))}")
        if final:
            parts.append("done" if self.done >= self.total else "stopped")
        parts.extend(x for x in (self._text, self.context) if x)
        print(f"[medmix {self.title}] " + " · ".join(parts), file=self.stream, flush=True)


__all__ = ["Progress", "format_duration"]
