"""Errors raised for user mistakes. The CLI prints them as one paragraph and exits 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MedmixError(Exception):
    """A user-facing error: says what was expected, what was got, where, and how to fix it."""


class InputError(MedmixError, ValueError):
    """An argument or a file holds something medmix cannot use."""


class MissingDataError(InputError):
    """A dataset a task needs is not prepared (or no data root is set); the message says how to get it.

    `what` names the missing thing ("data root", or the dataset id), so several tasks missing the same one can be
    reported once."""

    def __init__(self, message: str, what: str = ""):
        super().__init__(message)
        self.what = what


class ConfigError(MedmixError, ValueError):
    """A configuration file or field is invalid (the message names the field path)."""


def close_match_hint(value, choices) -> str:
    """" (did you mean 'x'?)" for the closest of `choices` to `value`, or "" (for unknown keys and option values)."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class UnknownNameError(MedmixError, KeyError):
    """A registry lookup failed; the message offers the closest names and the list of choices."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        choices = sorted(choices)
        close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"Unknown {kind} {name!r}.{hint} Choices: {', '.join(choices) or '(none)'}.")
        self.kind, self.name, self.choices = kind, name, choices

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class MissingDependencyError(MedmixError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package {package!r}, which is not installed. "
            f"Install it with: pip install 'medmix[{extra}]'"
        )


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise `MissingDependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, extra, purpose) from exc
