"""Shared pieces of the CLI: the common options, the error policy of every command, console helpers."""

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from medmix.errors import MedmixError

PluginOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--plugin",
        metavar="FILE.py",
        help="Python file registering metrics with @medmix.metric; repeatable; accepted on every command.",
        show_default=False,
    ),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")]


class GlobalOptions:
    """Options given before the command; reset by the root callback on every invocation."""

    verbose: bool = False
    plugins: list[Path] = []


def parse_metric_values(items: list[str], option: str, example: str) -> dict[str, float]:
    """`METRIC=NUMBER` items of a repeatable option → {metric: number}; a malformed item names the option."""
    from medmix.errors import InputError

    values = {}
    for item in items:
        key, eq, raw = item.rpartition("=")
        try:
            values[key.strip()] = float(raw)
        except ValueError:
            key = ""
        if not eq or not key.strip():
            raise InputError(f"{option} {item!r}: expected METRIC=NUMBER, e.g. {example}.")
    return values


def one_paragraph(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


@contextmanager
def command_context(plugin: Optional[list[Path]], verbose: bool, *, keep_lines: bool = False) -> Iterator[None]:
    """Load plugins, then run the command body with the CLI's error policy (see module docstring)."""
    verbose = verbose or GlobalOptions.verbose
    try:
        if GlobalOptions.plugins or plugin:
            from medmix.metrics import load_plugin

            for path in [*GlobalOptions.plugins, *(plugin or [])]:
                load_plugin(path)
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except MedmixError as exc:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        # Layout errors show an expected folder tree: keep their lines where a command asks for it.
        text = str(exc).strip() if keep_lines else one_paragraph(exc)
        typer.echo(f"Error: {text}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        typer.echo(
            f"Unexpected error: {type(exc).__name__}: {one_paragraph(exc)}. This looks like a bug in medmix; "
            "rerun with -v for the traceback and report it.",
            err=True,
        )
        raise typer.Exit(1) from None


def make_console():
    from rich.console import Console

    # markup off: file names, conventions and plugin text may hold square brackets.
    console = Console(highlight=False, markup=False)
    if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        console = Console(highlight=False, markup=False, width=max(console.width, 140))
    return console


def fmt_value(value: float) -> str:
    if value != value:  # NaN
        return "nan"
    if abs(value) == float("inf"):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4f}"


def flag_text(empty_gt: bool, empty_pred: bool) -> str:
    if empty_gt and empty_pred:
        return "both empty"
    return "empty_gt" if empty_gt else ("empty_pred" if empty_pred else "")
