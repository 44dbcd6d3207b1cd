"""Paths a user passes (masks, checkpoints, folders): one check each for "is it what is expected here", so every
command says the same clear thing for a missing path, a directory where a file belongs (or the reverse), a special
file, an unreadable or an empty file."""

from __future__ import annotations

import os
from pathlib import Path

from medmix.errors import InputError


def require_file(path: str | os.PathLike, where: str, expected: str, *, dir_hint: str = "") -> Path:
    """`path` (user-expanded) if it is an existing, readable, non-empty file; else an `InputError` that says which of
    those it is not: missing, a directory (`dir_hint` follows), not a regular file, unreadable, empty.

    where: how the message names the file ("pred file 'x.nii.gz'"); expected: what belongs there ("a mask file").
    """
    p = Path(path).expanduser()
    if not p.exists():
        broken = " (it is a symbolic link to a missing file)" if p.is_symlink() else ""
        start = "" if Path(path).expanduser().is_absolute() else f" (relative paths start at {os.getcwd()!r})"
        raise InputError(f"{where}: no such file{broken}. Check the path{start}.")
    if p.is_dir():
        raise InputError(f"{where}: is a directory, but {expected} is expected here.{dir_hint}")
    if not p.is_file():
        raise InputError(f"{where}: is not a regular file (a pipe or device?); {expected} is expected here.")
    try:
        with open(p, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"{where}: cannot be read ({exc.strerror or exc}); check its permissions (e.g. chmod u+r) "
                         "or run as a user who may read it.") from exc
    if p.stat().st_size == 0:
        raise InputError(f"{where}: the file is empty (0 bytes); it was probably not fully written. Re-export it.")
    return p


def require_dir(path: str | os.PathLike, where: str, expected: str, *, file_hint: str = "") -> Path:
    """`path` (user-expanded) if it is an existing, listable directory; else an `InputError` saying it is missing,
    a file (`file_hint` follows) or unreadable. expected: what the folder should hold."""
    p = Path(path).expanduser()
    if not p.exists():
        start = "" if Path(path).expanduser().is_absolute() else f" (relative paths start at {os.getcwd()!r})"
        raise InputError(f"{where}: no such directory. Pass the folder holding {expected}{start}.")
    if not p.is_dir():
        raise InputError(f"{where}: is a file, but a folder holding {expected} is expected here.{file_hint}")
    try:
        next(os.scandir(p), None)
    except OSError as exc:
        raise InputError(f"{where}: cannot be listed ({exc.strerror or exc}); check its permissions.") from exc
    return p
