"""Run folders as a contract: locked while a process writes them, stamped only once work starts.

- `RunLock(folder, what)`: an exclusive `flock` on `<folder>/.medmix.lock` for as long as the run writes the
  folder. A second process gets a `RunFolderBusy` error naming the holder's pid, host, command and start time. The
  kernel releases a `flock` when its process dies (kill -9 included), so a crash never leaves a stale lock; the
  small lock file itself stays (removing it would let two processes lock two different files). `flock` is local
  to one machine: on a network file system two hosts may not see each other's lock.
- `check_stamp(folder, marker, fingerprint, has_results, overwrite)`: whether a folder may be (re)used by a run
  with this fingerprint. A folder stamped by another run that holds finished results is refused (resuming would
  mix two runs); one stamped by a run that finished nothing (it failed while validating or loading) is accepted,
  so a failed command never blocks its corrected re-run. `stamp` writes the marker atomically; callers stamp only
  when the first unit of work is about to start.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from medmix.atomic import atomic_write_text
from medmix.errors import MedmixError

LOCK_NAME = ".medmix.lock"


class RunFolderBusy(MedmixError):
    """Another live process is writing the run folder."""


class RunLock:
    """Context manager holding an exclusive lock on a run folder (see the module docstring)."""

    def __init__(self, folder: str | Path, what: str = "run"):
        self.folder = Path(folder)
        self.what = what
        self._handle = None

    def __enter__(self) -> RunLock:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_NAME
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder_text(handle.read())
            handle.close()
            raise RunFolderBusy(f"{self.folder} is being written by another medmix {self.what} ({holder}). Wait for "
                                "it to finish (re-running then resumes), stop it, or use another --out.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                                 "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _holder_text(text: str) -> str:
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        return "its lock holds no readable record"
    return (f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}: "
            f"{info.get('command') or info.get('what')}")


def check_stamp(folder: str | Path, marker: str, fingerprint: str, *, has_results: bool, overwrite: bool,
                what: str = "run") -> None:
    """Refuse a folder stamped by a different run that has finished results (see the module docstring)."""
    path = Path(folder) / marker
    if overwrite or not path.exists() or not has_results:
        return
    try:
        recorded = json.loads(path.read_text()).get("fingerprint")
    except (OSError, json.JSONDecodeError, AttributeError):
        recorded = None
    if recorded != fingerprint:
        raise MedmixError(f"{folder} holds results of a different {what} (its {marker} records another "
                          "configuration), so resuming would mix the two. Use another --out, or pass --overwrite to "
                          "discard them and start again.")


def stamp(folder: str | Path, marker: str, fingerprint: str, extra: dict | None = None) -> None:
    """Record which run owns the folder (atomically)."""
    atomic_write_text(Path(folder) / marker, json.dumps({"fingerprint": fingerprint, **(extra or {})}, indent=2,
                                                        default=str))


__all__ = ["LOCK_NAME", "RunFolderBusy", "RunLock", "check_stamp", "stamp"]
