"""The metric registry: built-in metrics and user metrics registered with `@medmix.metric`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medmix.errors import MedmixError
from medmix.registry import Registry


@dataclass(frozen=True)
class EmptyPolicy:
    """What a metric returns when a mask is empty (reference.md §1).

    Defaults follow the BraTS/KiTS convention: both empty → perfect overlap and zero distance; exactly one empty →
    zero overlap and the image diagonal in mm as the distance. `one_empty_distance` may be a number (mm) instead
    of "diagonal"; pass float("nan") only if you want NaN deliberately.
    """

    both_empty_overlap: float = 1.0
    both_empty_distance: float = 0.0
    one_empty_overlap: float = 0.0
    one_empty_distance: float | str = "diagonal"

    def __post_init__(self):
        if isinstance(self.one_empty_distance, str) and self.one_empty_distance != "diagonal":
            raise MedmixError(
                f"EmptyPolicy.one_empty_distance must be 'diagonal' or a number of mm, got {self.one_empty_distance!r}."
            )


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    `kind` is "overlap" or "distance" for metrics whose empty-mask values come from the `EmptyPolicy`, or "custom".
    For custom metrics `empty` is "compute" (call the function anyway), or a mapping {"both": v, "one": v}.
    `geometry_fn(geom, **options)` computes built-ins from the shared `CaseGeometry`;
    `case_fn(pred, gt, spacing=..., **options)` computes custom metrics from the boolean masks.
    `check_options(options)`, when set, validates a request's option values when it is parsed (before any run
    starts), raising `MedmixError` with what is wrong.
    """

    name: str
    higher_is_better: bool
    units: str
    kind: str
    convention: str = ""
    citation: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    empty: str | Mapping[str, float] = "policy"
    geometry_fn: Callable | None = None
    case_fn: Callable | None = None
    builtin: bool = False
    check_options: Callable | None = None

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


METRICS: Registry[MetricSpec] = Registry("metric")


def get_metric(name: str) -> MetricSpec:
    """The registered metric called `name` (built-ins are registered on first use; plugins are loaded)."""
    _ensure_builtins()
    return METRICS.get(name)


def list_metrics() -> list[MetricSpec]:
    _ensure_builtins()
    return [METRICS.get(n) for n in METRICS.names()]


def metric(
    name: str,
    *,
    higher_is_better: bool,
    units: str = "",
    empty: str | Mapping[str, float] = "compute",
    convention: str = "",
    citation: str = "",
    replace: bool = False,
):
    """Register a per-case metric `fn(pred, gt, spacing=None, **options) -> float`.

    `pred` and `gt` arrive as boolean numpy arrays of equal shape and `spacing` as mm per array axis. The metric
    is then usable everywhere a built-in is (score, evaluate, leaderboards). `empty` says what to return when
    masks are empty: "compute" (call `fn` anyway; it must not return NaN) or {"both": value, "one": value}.
    """
    if isinstance(empty, Mapping):
        missing = {"both", "one"} - set(empty)
        if missing:
            raise MedmixError(f"metric {name!r}: empty= needs keys 'both' and 'one'; missing {sorted(missing)}.")
    elif empty != "compute":
        raise MedmixError(f"metric {name!r}: empty= must be 'compute' or {{'both': v, 'one': v}}, got {empty!r}.")

    def wrap(fn: Callable) -> Callable:
        params = inspect.signature(fn).parameters
        if len(params) < 2:
            raise MedmixError(f"metric {name!r}: the function must accept (pred, gt, spacing=None, **options).")
        _ensure_builtins()
        spec = MetricSpec(
            name=name, higher_is_better=higher_is_better, units=units, kind="custom", convention=convention,
            citation=citation or (fn.__module__ or ""), empty=empty, case_fn=fn,
        )
        METRICS.add(name, spec, replace=replace)
        return fn

    return wrap


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from medmix.metrics import builtin  # noqa: F401  (registers on import)
        from medmix.metrics.plugins import load_entry_point_plugins

        load_entry_point_plugins()
