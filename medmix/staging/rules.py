"""Size-only AJCC 8th edition T categories as data (reference.md §2), and custom rules from a task card.

Only the size part of a T category can be read off a mask; invasion descriptors cannot, so report the result as
"size-only cT". A rule compares one number per case, the greatest dimension in mm (or the volume in mm³) of the
largest lesion, after rounding it half-up to the rule's step (0.1 mm; breast 1 mm), against ordered upper bounds.
A case without lesions is "T0". HCC's categories also depend on how many lesions there are.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from medmix.errors import ConfigError, InputError
from medmix.metrics.inputs import as_label_map
from medmix.registry import Registry
from medmix.staging.feret import Lesion, lesions

NO_TUMOUR = "T0"
MEASURES = ("diameter", "volume")
# Multiplier from a config unit to the rule's internal unit (mm for diameters, mm³ for volumes).
UNITS = {"diameter": {"mm": 1.0, "cm": 10.0}, "volume": {"mm3": 1.0, "cm3": 1000.0, "ml": 1000.0}}


@dataclass(frozen=True)
class Threshold:
    """One category band: sizes up to `upper` (mm for diameters, mm³ for volumes) not claimed by an earlier band.

    `inclusive` says whether `upper` itself belongs to this band (≤) or to the next one (<); `upper=None` is the
    open-ended last band.
    """

    category: str
    upper: float | None
    inclusive: bool = True

    def admits(self, value: Decimal) -> bool:
        if self.upper is None:
            return True
        upper = _decimal(self.upper)
        return value <= upper if self.inclusive else value < upper


@dataclass(frozen=True)
class StagingRule:
    """A size-only T staging rule.

    measure: "diameter" (greatest dimension of the largest lesion, mm) or "volume" (volume of the largest lesion,
    mm³). thresholds: bands in increasing order, the last one open-ended; they apply to every case, or only to
    cases with a single lesion when `multiple_thresholds` is given (HCC), which then apply to several lesions.
    rounding: step the measured value is rounded to, half-up, before comparison (mm or mm³; None: no rounding).
    `categories` lists T0 then every band's category in order; confusion matrices and ±1 accuracy use that order.
    """

    name: str
    measure: str
    thresholds: tuple[Threshold, ...]
    rounding: float | None = 0.1
    multiple_thresholds: tuple[Threshold, ...] | None = None
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        if self.multiple_thresholds is not None:
            object.__setattr__(self, "multiple_thresholds", tuple(self.multiple_thresholds))
        where = f"staging rule {self.name!r}"
        if self.measure not in MEASURES:
            raise ConfigError(f"{where}: measure must be one of {MEASURES}, got {self.measure!r}.")
        if self.rounding is not None and not (_is_number(self.rounding) and 0 < self.rounding < math.inf):
            raise ConfigError(f"{where}: rounding must be a positive step or None, got {self.rounding!r}.")
        for field_name in ("thresholds", "multiple_thresholds"):
            bands = getattr(self, field_name)
            if bands is None:
                continue
            if not bands:
                raise ConfigError(f"{where}: {field_name} is empty; give at least one (open-ended) band.")
            if bands[-1].upper is not None:
                raise ConfigError(f"{where}: the last of {field_name} must be open-ended (upper=None).")
            uppers = [b.upper for b in bands[:-1]]
            if any(u is None for u in uppers) or any(b <= a for a, b in zip(uppers, uppers[1:])):
                raise ConfigError(f"{where}: {field_name} upper bounds must increase strictly, got {uppers}.")
            if NO_TUMOUR in (b.category for b in bands):
                raise ConfigError(f"{where}: {NO_TUMOUR!r} is reserved for cases without lesions.")

    @property
    def categories(self) -> tuple[str, ...]:
        """T0 followed by the categories of the bands, in order (single-lesion bands first), without repeats."""
        bands = self.thresholds + (self.multiple_thresholds or ())
        return tuple(dict.fromkeys([NO_TUMOUR, *(b.category for b in bands)]))

    @property
    def uses_lesion_count(self) -> bool:
        return self.multiple_thresholds is not None

    @property
    def unit(self) -> str:
        return "mm" if self.measure == "diameter" else "mm3"

    def rounded(self, value: float) -> float:
        """`value` rounded half-up to the rule's step, as compared with the thresholds."""
        return float(self._round(value))

    def category_for(self, value: float, n_lesions: int = 1) -> str:
        """Category of a largest-lesion measurement `value` (mm or mm³, unrounded) among `n_lesions` lesions."""
        if n_lesions == 0:
            return NO_TUMOUR
        bands = self.multiple_thresholds if self.uses_lesion_count and n_lesions > 1 else self.thresholds
        rounded = self._round(value)
        return next(band.category for band in bands if band.admits(rounded))

    def measure_of(self, lesion: Lesion) -> float:
        return lesion.greatest_dimension_mm if self.measure == "diameter" else lesion.volume_mm3

    def categorise(self, lesions: Sequence[Lesion]) -> str:
        """Category of a case from its lesions (largest measurement decides; no lesion: "T0")."""
        if not lesions:
            return NO_TUMOUR
        return self.category_for(max(self.measure_of(lesion) for lesion in lesions), len(lesions))

    def _round(self, value: float) -> Decimal:
        if not _is_number(value) or not 0 <= value < math.inf:
            raise InputError(f"staging rule {self.name!r}: expected a size ≥ 0 in {self.unit}, got {value!r}.")
        exact = _decimal(value)
        if self.rounding is None:
            return exact
        step = _decimal(self.rounding)
        return (exact / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def _decimal(value: float) -> Decimal:
    # repr gives the shortest decimal that round-trips, so 20.05 rounds half-up to 20.1 as a reader expects
    # (binary 20.05 is slightly below it and round(20.05 / 0.1) would give 20.0).
    return Decimal(repr(float(value)))


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


@dataclass(frozen=True)
class StageResult:
    """Staging of one case: `category`, its `lesions` (largest first), the largest greatest dimension in mm (0.0
    without lesions) and `compared_value`, the rounded number compared with the thresholds (mm or mm³)."""

    rule: str
    category: str
    lesions: tuple[Lesion, ...]
    greatest_dimension_mm: float
    compared_value: float

    @property
    def n_lesions(self) -> int:
        return len(self.lesions)


# --- the built-in rules ----------------------------------------------------------------------------------------

RULES: Registry[StagingRule] = Registry("staging rule")


def _bands(*pairs: tuple[str, float | None] | tuple[str, float | None, bool]) -> tuple[Threshold, ...]:
    return tuple(Threshold(*pair) for pair in pairs)


def _register_builtins() -> None:
    cm = 10.0  # thresholds below are written in the units of the AJCC table and stored in mm
    builtins = [
        StagingRule(
            "lung", "diameter",
            _bands(("T1a", 1 * cm), ("T1b", 2 * cm), ("T1c", 3 * cm), ("T2a", 4 * cm), ("T2b", 5 * cm),
                   ("T3", 7 * cm), ("T4", None)),
            description="NSCLC: T1a ≤1 cm; T1b >1–≤2; T1c >2–≤3; T2a >3–≤4; T2b >4–≤5; T3 >5–≤7; T4 >7",
        ),
        StagingRule(
            "kidney", "diameter",
            _bands(("T1a", 4 * cm), ("T1b", 7 * cm), ("T2a", 10 * cm), ("T2b", None)),
            description="RCC: T1a ≤4 cm; T1b >4–≤7; T2a >7–≤10; T2b >10",
        ),
        StagingRule(
            "liver_hcc", "diameter",
            _bands(("T1a", 2 * cm), ("T1b", None)),
            multiple_thresholds=_bands(("T2", 5 * cm), ("T3", None)),
            description="HCC: T1a solitary ≤2 cm; T1b solitary >2; T2 multiple, none >5; T3 multiple, one >5 "
            "(vascular invasion not derivable)",
        ),
        StagingRule(
            "pancreas", "diameter",
            _bands(("T1a", 0.5 * cm), ("T1b", 1 * cm, False), ("T1c", 2 * cm), ("T2", 4 * cm), ("T3", None)),
            description="T1a ≤0.5 cm; T1b >0.5–<1; T1c 1–2; T2 >2–≤4; T3 >4",
        ),
        StagingRule(
            "breast", "diameter",
            _bands(("T1mi", 1.0), ("T1a", 5.0), ("T1b", 10.0), ("T1c", 20.0), ("T2", 50.0), ("T3", None)),
            rounding=1.0,
            description="T1mi ≤1 mm; T1a >1–≤5 mm; T1b >5–≤10 mm; T1c >10–≤20 mm; T2 >20–≤50 mm; T3 >50 mm",
        ),
        StagingRule(
            "thyroid", "diameter",
            _bands(("T1a", 1 * cm), ("T1b", 2 * cm), ("T2", 4 * cm), ("T3a", None)),
            description="T1a ≤1 cm; T1b >1–≤2; T2 >2–≤4; T3a >4 (largest focus)",
        ),
        StagingRule(
            "adrenal", "diameter",
            _bands(("T1", 5 * cm), ("T2", None)),
            description="adrenal cortical carcinoma: T1 ≤5 cm; T2 >5",
        ),
        StagingRule(
            "soft_tissue_sarcoma", "diameter",
            _bands(("T1", 5 * cm), ("T2", 10 * cm), ("T3", 15 * cm), ("T4", None)),
            description="trunk and extremity: T1 ≤5 cm; T2 >5–≤10; T3 >10–≤15; T4 >15",
        ),
    ]
    for rule in builtins:
        RULES.add(rule.name, rule)


_register_builtins()


def get_rule(name: str) -> StagingRule:
    """The registered rule called `name` (`UnknownNameError` with a did-you-mean otherwise)."""
    return RULES.get(name)


def list_rules() -> list[str]:
    return RULES.names()


def register_rule(rule: StagingRule, *, replace: bool = False) -> StagingRule:
    """Make a custom rule (e.g. from `rule_from_config`) available by name."""
    return RULES.add(rule.name, rule, replace=replace)


def resolve_rule(rule: str | StagingRule) -> StagingRule:
    if isinstance(rule, StagingRule):
        return rule
    if isinstance(rule, str):
        return get_rule(rule)
    raise InputError(f"rule: expected a staging rule name ({', '.join(RULES.names())}) or a StagingRule, got {rule!r}.")


def stage_mask(
    mask,
    spacing,
    rule: str | StagingRule,
    *,
    feret: str = "3d",
    slice_axis: int = 0,
    convention: str = "corners",
    connectivity: int | None = None,
    label: int | None = None,
) -> StageResult:
    """Size-only T category of one case from its tumour mask.

    mask: 2D or 3D binary tumour mask, or a label map when `label` (the tumour label id) is given. spacing: mm per
    axis in array axis order (None: 1). rule: a registered rule name (`list_rules()`) or a `StagingRule`.
    feret: "3d" (3D maximum Feret diameter, AJCC's greatest dimension; default) or "in_slice" (RECIST-style
    longest diameter within a slice along `slice_axis`). convention, connectivity: see `lesions` (defaults: voxel
    corners, full connectivity). Use the same options for prediction and reference. An empty mask is "T0".
    """
    rule = resolve_rule(rule)
    if label is not None:
        mask = as_label_map(mask, "mask") == label
    found = tuple(lesions(mask, spacing, connectivity, feret=feret, slice_axis=slice_axis, convention=convention))
    largest = max((rule.measure_of(lesion) for lesion in found), default=0.0)
    return StageResult(
        rule=rule.name,
        category=rule.categorise(found),
        lesions=found,
        greatest_dimension_mm=max((lesion.greatest_dimension_mm for lesion in found), default=0.0),
        compared_value=rule.rounded(largest) if found else 0.0,
    )


# --- custom rules from a task card -----------------------------------------------------------------------------

_RULE_KEYS = ("name", "measure", "unit", "categories", "multiple_categories", "rounding_mm", "rounding_mm3",
              "description")
_CATEGORY_KEYS = ("name", "max", "inclusive")


def rule_from_config(config: Mapping, *, where: str = "staging") -> StagingRule:
    """A `StagingRule` from a task card's mapping, validated with the field path in every error (`ConfigError`).

    Keys: `measure` ("diameter" | "volume"), `unit` ("mm" | "cm" for diameters; "mm3" | "cm3" | "ml" for volumes),
    `categories` (in increasing order: {"name": "T1", "max": 20, "inclusive": true}, ...; `max` in `unit`,
    `inclusive` (default true) puts `max` itself in this category; the last category has no `max`), optional
    `multiple_categories` (same form, used instead of `categories` when a case has several lesions, as for HCC),
    `rounding_mm` (diameters, default 0.1) or `rounding_mm3` (volumes, default none; null disables rounding),
    `name` (snake_case, default "custom") and `description`. Unknown keys are refused. `where` prefixes the paths.
    """
    _expect_mapping(config, where)
    _refuse_unknown(config, _RULE_KEYS, where)
    for key in ("measure", "unit", "categories"):
        if key not in config:
            raise ConfigError(f"{where}.{key}: required field is missing.")
    measure = config["measure"]
    if measure not in MEASURES:
        raise ConfigError(f"{where}.measure: expected one of {', '.join(map(repr, MEASURES))}, got {measure!r}.")
    unit = config["unit"]
    if unit not in UNITS[measure]:
        raise ConfigError(
            f"{where}.unit: a {measure} rule takes one of {', '.join(map(repr, UNITS[measure]))}, got {unit!r}."
        )
    scale = UNITS[measure][unit]

    rounding_key, other_key = ("rounding_mm", "rounding_mm3")
    if measure == "volume":
        rounding_key, other_key = other_key, rounding_key
    if other_key in config:
        raise ConfigError(f"{where}.{other_key}: not used by a {measure} rule; use {rounding_key} instead.")
    rounding = config.get(rounding_key, 0.1 if measure == "diameter" else None)
    if rounding is not None and not (_is_number(rounding) and 0 < rounding < math.inf):
        raise ConfigError(
            f"{where}.{rounding_key}: expected a positive number or null (no rounding), got {rounding!r}."
        )

    name = config.get("name", "custom")
    if not isinstance(name, str) or not name or not name.replace("_", "a").isalnum() or name.lower() != name:
        raise ConfigError(f"{where}.name: expected a snake_case rule name such as 'my_lung', got {name!r}.")
    description = config.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}.description: expected text, got {type(description).__name__}.")

    thresholds = _bands_from_config(config["categories"], scale, f"{where}.categories")
    multiple = None
    if config.get("multiple_categories") is not None:
        multiple = _bands_from_config(config["multiple_categories"], scale, f"{where}.multiple_categories")
    return StagingRule(
        name=name,
        measure=measure,
        thresholds=thresholds,
        rounding=None if rounding is None else float(rounding),
        multiple_thresholds=multiple,
        description=description,
    )


def _bands_from_config(items, scale: float, where: str) -> tuple[Threshold, ...]:
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
        raise ConfigError(
            f"{where}: expected a non-empty list of categories like [{{name: T1, max: 20}}, {{name: T2}}], "
            f"got {items!r}."
        )
    bands: list[Threshold] = []
    seen: set[str] = set()
    previous_max = None
    for i, item in enumerate(items):
        path = f"{where}[{i}]"
        _expect_mapping(item, path)
        _refuse_unknown(item, _CATEGORY_KEYS, path)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}.name: expected a category name such as 'T1a', got {name!r}.")
        if name == NO_TUMOUR:
            raise ConfigError(f"{path}.name: {NO_TUMOUR!r} is reserved for cases without lesions; start at T1.")
        if name in seen:
            raise ConfigError(f"{path}.name: category {name!r} appears twice; each category needs one band.")
        seen.add(name)
        inclusive = item.get("inclusive", True)
        if not isinstance(inclusive, bool):
            raise ConfigError(f"{path}.inclusive: expected true (≤ max) or false (< max), got {inclusive!r}.")
        last = i == len(items) - 1
        upper = item.get("max")
        if upper is None:
            if not last:
                raise ConfigError(
                    f"{path}.max: only the last category may be open-ended; give this one an upper bound."
                )
        else:
            if not (_is_number(upper) and 0 < upper < math.inf):
                raise ConfigError(f"{path}.max: expected a positive number (upper bound), got {upper!r}.")
            if last:
                raise ConfigError(
                    f"{path}.max: the last category must be open-ended (no max) so every size has a category; "
                    f"remove max or add a final category above {upper}."
                )
            if previous_max is not None and upper <= previous_max:
                raise ConfigError(
                    f"{path}.max: categories must be listed with increasing max; got {upper} after {previous_max}."
                )
            previous_max = upper
        # Scale in decimal so that e.g. 1.1 cm is 11.0 mm exactly, not 11.000000000000002.
        upper_scaled = None if upper is None else float(_decimal(upper) * _decimal(scale))
        bands.append(Threshold(name, upper_scaled, inclusive))
    return tuple(bands)


def _expect_mapping(value, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping (key: value fields), got {type(value).__name__} {value!r}.")


def _refuse_unknown(mapping: Mapping, allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}.{key}: unknown field.{hint} Allowed: {', '.join(allowed)}.")
