"""The registry of dataset converters (`medmix data prepare <name>`): registration, lookup, option parsing.

A converter is `prepare_<name>(src, dst, *, overwrite=False, progress=None, **options) -> PrepareReport`,
registered with `@converter(name, title=…, modality=…, url=…, layout=…)`; a plugin file can add its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medmix.errors import InputError
from medmix.registry import Registry

if TYPE_CHECKING:
    from medmix.data.prepare.core import PrepareReport


# ----------------------------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class ConverterSpec:
    """What a converter knows about its release (shown in errors, `medmix data list` and dataset.json).

    name: registry name (snake_case); dataset_id: folder written under ROOT (= name unless the converter takes a
    `dataset_id` option); title: the release's name; modality: imaging modality; url: where to download it;
    layout: the expected tree under --src (plain text, shown in errors); options: the converter's keyword
    options with their defaults; official: False for generic converters (no release to download).
    """

    name: str
    dataset_id: str
    title: str
    modality: str
    url: str
    layout: str
    options: Mapping[str, Any] = field(default_factory=dict)
    official: bool = True


#: name → converter function; each function carries its `ConverterSpec` as `fn.spec`.
CONVERTERS: Registry[Callable[..., PrepareReport]] = Registry("dataset converter")


def converter(name: str, *, title: str, modality: str, url: str, layout: str, dataset_id: str | None = None,
              official: bool = True, replace: bool = False):
    """Register `fn(src, dst, *, overwrite=False, progress=None, **options) -> PrepareReport` under `name`.

    Usable from a plugin file to add a converter for a private dataset. The function's first docstring line is
    its one-line description in `medmix data list`.
    """

    def wrap(fn: Callable[..., PrepareReport]) -> Callable[..., PrepareReport]:
        params = inspect.signature(fn).parameters
        for required in ("overwrite", "progress"):
            if required not in params:
                raise InputError(f"dataset converter {name!r}: the function must accept the keyword {required}=.")
        options = {
            k: p.default for k, p in params.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in ("overwrite", "progress")
        }
        fn.spec = ConverterSpec(name=name, dataset_id=dataset_id or name, title=title, modality=modality, url=url,
                                layout=layout.strip("\n"), options=options, official=official)
        CONVERTERS.add(name, fn, replace=replace)
        return fn

    return wrap


def get_converter(name: str) -> Callable[..., PrepareReport]:
    """The converter function registered as `name` (unknown names: did-you-mean and the list of choices)."""
    return CONVERTERS.get(name)


def list_converters() -> list[ConverterSpec]:
    """The specs of every registered converter, in registration order."""
    return [CONVERTERS.get(n).spec for n in CONVERTERS.names()]


def prepare_dataset(name: str, src: str | Path, dst: str | Path, **options: Any) -> PrepareReport:
    """Convert the release of dataset `name` found under `src` into the harness layout under `dst`.

    `options` are the converter's keyword options (`overwrite`, `progress` and e.g. `modality=` for BraTS); an
    unknown option is an `InputError` listing the valid ones. Returns the `PrepareReport`.
    """
    fn = get_converter(name)
    allowed = {"overwrite", "progress", *fn.spec.options}
    unknown = sorted(set(options) - allowed)
    if unknown:
        import difflib

        hints = [m for u in unknown for m in difflib.get_close_matches(u, allowed, n=1)]
        hint = f" Did you mean {', '.join(repr(h) for h in hints)}?" if hints else ""
        raise InputError(
            f"dataset converter {name!r} has no option {', '.join(repr(u) for u in unknown)}.{hint} "
            f"Options: {', '.join(sorted(allowed))}."
        )
    return fn(Path(src), Path(dst), **options)


def parse_options(name: str, pairs: Iterable[str]) -> dict[str, Any]:
    """Turn CLI strings `key=value` into typed options for converter `name` (type taken from the default).

    bool: true/false/yes/no/1/0; int and float; tuples/lists: comma-separated ints; `labels`: "1=liver,2=kidney";
    None defaults take the string as is. Unknown keys are left for `prepare_dataset` to refuse with a hint.
    """
    spec = get_converter(name).spec
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise InputError(f"option {pair!r} must look like key=value (e.g. modality=flair).")
        default = spec.options.get(key)
        value = value.strip()
        if key == "labels":
            out[key] = parse_label_names(value)
        elif isinstance(default, bool):
            low = value.lower()
            if low not in ("true", "false", "yes", "no", "1", "0"):
                raise InputError(f"option {key}: expected true or false, got {value!r}.")
            out[key] = low in ("true", "yes", "1")
        elif isinstance(default, int):
            try:
                out[key] = int(value)
            except ValueError:
                raise InputError(f"option {key}: expected an integer, got {value!r}.") from None
        elif isinstance(default, (tuple, list)) or key.endswith("_labels"):
            out[key] = parse_int_list(value, key)
        else:
            out[key] = value
    return out


def parse_int_list(value: Iterable[int] | str | None, what: str = "value") -> list[int] | None:
    """[4, 43] from "4,43" or an iterable of integers (None stays None)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        return sorted({int(v) for v in items if str(v).strip()})
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected integers like 4,43, got {value!r}.") from None


def parse_label_names(labels: Mapping[int, str] | str | None) -> dict[int, str] | None:
    """{id: name} from a mapping or from "1=liver,2=right kidney" (ids must be positive integers)."""
    if labels is None:
        return None
    if isinstance(labels, str):
        items = []
        for part in labels.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not value.strip():
                raise InputError(f"labels: {part!r} must look like id=name (e.g. labels='1=liver,2=kidney').")
            items.append((key.strip(), value.strip()))
    else:
        items = list(labels.items())
    out: dict[int, str] = {}
    for key, value in items:
        try:
            ident = int(key)
        except (TypeError, ValueError):
            raise InputError(f"labels: id {key!r} is not an integer.") from None
        if ident <= 0:
            raise InputError(f"labels: id {ident} must be positive (0 is background).")
        out[ident] = str(value)
    return out
