"""Where a task card's cases come from, and the calibration/test split.

- `case_ids(card, data_root=None, split="test")` → case ids of the split ("calibration", "test", "all", or
  "train" where a source sets training cases apart), sorted within each dataset entry, entries in card order.
- `load_case(card, case_id, data_root=None, normalise=False)` → `Case` with `label` = the card's binary target
  (uint8 0/1, the union of the entry's or card's target labels) and `image` float32 holding the raw intensities (HU
  for CT, arbitrary units for MRI, 0–255 for RGB); `case.slice_axis` is the array axis slices are cut across
  (None for 2D images). The runner applies `apply_intensity(case.image, card.intensity)`; `normalise=True` does
  that here instead (values in [0, 255]). `case.meta["intensity"]` records which.

Sources:
- "harness": a dataset prepared into the harness layout (`medmix.data.layout`): ROOT/<dataset>/dataset.json,
  images/<case>.nii.gz, labels/<case>.nii.gz. ROOT is `data_root` or the environment variable `MEDMIX_DATA`.
  Spacing = the label header's zooms in array order; the affine is kept, arrays are not reoriented. Image and
  label must share the spatial shape and affine (tolerance 1e-3). A multi-channel dataset (dataset.json
  "channels": "multi", images (x, y, z, C), "channel_names") needs the entry's `channel` (a name or an index).
  If the card's slice_axis is a number that is not the axial array axis by the affine (KiTS stores (z, y, x):
  axis 0; FreeSurfer's LIA volumes: axis 1), a warning says so once; "axial" takes the axis from each case's
  affine, "last" is always the last array axis (MedSAMix's rule). The card's label ids are checked once per
  dataset, on the first case loaded, against dataset.json's "labels" (or, if that lists none, against the ids
  present in that case).
- "phantom": `medmix.data.phantom25` (the card's `dataset` is the scene; 10 cases case_000 … case_009).
- "mni": `medmix.data.mni` (20 axial slabs slab_00 … slab_19 of the MNI152 template; its cards' split file sets
  train, calibration and test slabs apart).

Multi-entry cards (MedSAMix's tasks that pool several datasets, e.g. BraTS channels 1 and 2, or fcon1000
processed + raw): each entry is split on its own, the splits are concatenated in entry order, and case ids are
"<entry>/<case>" (entry = dataset, or dataset.channel). Single-entry ids are the dataset's own.

Splits, per entry, on its case ids in sorted (string) order:
- "first_fraction" (medmix's): the first n_cal = min(max(1, ceil(fraction × n)), n − 1) are calibration and the
  rest test, where ceil is taken on the exact decimal product (0.2 × 15 = 3, not 4 from binary rounding). With
  n = 1 the single case is calibration and the test split is empty (`split_cases` warns); with n ≥ 2 both splits
  hold at least one case. n = 5 → 1 + 4, 10 → 2 + 8, 11 → 3 + 8 (ceil(2.2) = 3).
- "medsamix" (MedSAMix's `split_point = int(n − n·0.8)`, in binary floating point as its code computes it):
  n = 1251 → 250 + 1001, 50 → 10 + 40, 32 → 6 + 26, 20 → 4 + 16. With `drop_last` the last case of the task's
  concatenated calibration (test) list is left out of that split, as MedSAMix's loader never scores it.
- "file": the JSON lists are used as given (sorted); every id must exist in the dataset, no id may be in two
  lists, ids in none are left out. An optional third list "train" is the "train" split (cases for fine-tuning
  that neither calibration nor test holds).
- "dataset": the lists dataset.json's "splits"[name] holds (e.g. the DoFE fundus domains' train/test folders).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np

from medmix.data.cases import Case
from medmix.data.intensity import apply_intensity
from medmix.errors import ConfigError, InputError, MissingDataError, UnknownNameError

SPLITS = ("calibration", "test", "all", "train")
DATA_ENV = "MEDMIX_DATA"

# (root, dataset, labels) whose label ids were already checked in this process.
_CHECKED_LABELS: set[tuple[str, str, tuple[int, ...]]] = set()
# (task, dataset) whose slice axis was compared with the affine's axial axis in this process.
_CHECKED_AXES: set[tuple[str, str]] = set()


# --- split -------------------------------------------------------------------------------------------------------


def calibration_count(n: int, fraction: float) -> int:
    """How many of `n` sorted cases are calibration under "first_fraction" (see the module docstring)."""
    if n <= 0:
        return 0
    exact = Decimal(repr(float(fraction))) * n
    count = max(1, math.ceil(exact))
    return min(count, n - 1) if n >= 2 else n


def medsamix_calibration_count(n: int, test_fraction: float = 0.8) -> int:
    """MedSAMix's calibration share of `n` sorted cases: `int(n − n·test_fraction)` in binary floating point, as its
    loader computes `split_point` (1251 → 250, 32 → 6)."""
    return int(n - n * test_fraction) if n > 0 else 0


def split_cases(ids: Sequence[str], fraction: float = 0.2) -> tuple[list[str], list[str]]:
    """(calibration, test): the first `calibration_count(n, fraction)` ids in sorted order, then the rest."""
    ordered = sorted(ids)
    k = calibration_count(len(ordered), fraction)
    if len(ordered) == 1:
        warnings.warn(f"only one case ({ordered[0]!r}): it is used for calibration and the test split is empty.",
                      stacklevel=2)
    return ordered[:k], ordered[k:]


def case_ids(card, data_root: str | Path | None = None, split: str = "test") -> list[str]:
    """Case ids of `split` ("calibration", "test" or "all") for `card`: each entry's split in sorted order, the
    entries concatenated in card order (ids "<entry>/<case>" when the card has several entries)."""
    if split not in SPLITS:
        close = difflib.get_close_matches(str(split), SPLITS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}.{hint}")
    if split == "train":
        return _train_case_ids(card)
    out: list[str] = []
    for entry in card.entries:
        ids = _entry_case_ids(card, entry, data_root)
        if split != "all":
            calibration, test = _split_entry(card, entry, ids, data_root)
            ids = calibration if split == "calibration" else test
        out.extend(_qualified(card, entry, i) for i in ids)
    if split != "all" and card.split.rule == "medsamix" and card.split.drop_last and out:
        out = out[:-1]  # MedSAMix's loader has length count − 1: its last volume is never scored
    return out


def _train_case_ids(card) -> list[str]:
    """The "train" split: cases set aside for fine-tuning, outside both calibration and test (phantom: case_010 …;
    a split file's "train" list, as the mni cards have)."""
    if card.split.rule == "file":
        train = _read_split_file(card).get("train")
        if train is not None:
            return sorted(train)
    if card.source == "phantom":
        from medmix.data.phantom25 import phantom_train_case_ids

        return phantom_train_case_ids()
    raise InputError(f"task {card.name!r}: no 'train' split: its cases are all calibration or test. A split file "
                     "with a \"train\" list (rule: file) sets training cases apart; phantom tasks have theirs "
                     "(case_010 …).")


def all_case_ids(card, data_root: str | Path | None = None) -> list[str]:
    """Every case id of the card's entries (sorted within each entry)."""
    return case_ids(card, data_root, "all")


def _qualified(card, entry, case_id: str) -> str:
    return f"{entry.name}/{case_id}" if card.multi_entry else case_id


def _entry_of(card, case_id: str):
    """(entry, the dataset's own case id) of a case id of `card`."""
    if not card.multi_entry:
        return card.entries[0], case_id
    prefix, sep, rest = case_id.partition("/")
    for entry in card.entries:
        if sep and entry.name == prefix:
            return entry, rest
    raise InputError(f"task {card.name!r}: case id {case_id!r} names no entry of the card; ids look like "
                     f"'<entry>/<case>' with entry one of {', '.join(e.name for e in card.entries)}.")


def _entry_case_ids(card, entry, data_root) -> list[str]:
    if card.source == "phantom":
        from medmix.data.phantom25 import phantom_case_ids

        return phantom_case_ids()
    if card.source == "mni":
        from medmix.data.mni import mni_case_ids

        return mni_case_ids()
    root = resolve_data_root(card, data_root)
    meta = _dataset_meta(card, root, entry.dataset)
    cases = meta.get("cases")
    if not isinstance(cases, list) or not cases or not all(isinstance(c, str) for c in cases):
        raise InputError(f"{_dataset_dir(root, entry.dataset) / 'dataset.json'}: 'cases' must be a non-empty list of "
                         f"case ids; re-run {_prepare_hint(card, root)}.")
    return sorted(cases)


def _split_entry(card, entry, ids: list[str], data_root) -> tuple[list[str], list[str]]:
    rule = card.split.rule
    if rule == "file":
        return _split_from_file(card, ids)
    if rule == "dataset":
        return _split_from_dataset(card, entry, ids, data_root)
    if rule == "medsamix":
        k = medsamix_calibration_count(len(ids), card.split.test_fraction)
        return ids[:k], ids[k:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return split_cases(ids, card.split.fraction)


def _split_from_dataset(card, entry, ids: list[str], data_root) -> tuple[list[str], list[str]]:
    root = resolve_data_root(card, data_root)
    path = _dataset_dir(root, entry.dataset) / "dataset.json"
    splits = _dataset_meta(card, root, entry.dataset).get("splits")
    name = card.split.name
    if not isinstance(splits, dict) or name not in splits:
        known = sorted(splits) if isinstance(splits, dict) else []
        hint = f"; it defines {', '.join(known)}" if known else "; it defines none (re-run its converter)"
        raise InputError(f"{card.where()}: split.name: {path} has no split {name!r}{hint}.")
    block = splits[name]
    out = []
    known = set(ids)
    for key in ("calibration", "test"):
        listed = block.get(key) if isinstance(block, dict) else None
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise InputError(f"{path}: splits.{name}.{key} must be a list of case ids; re-run "
                             f"{_prepare_hint(card, root)}.")
        unknown = [c for c in listed if c not in known]
        if unknown:
            raise InputError(f"{path}: splits.{name}.{key} lists case {unknown[0]!r}, which is not in 'cases'; "
                             f"re-run {_prepare_hint(card, root)}.")
        out.append(sorted(listed))
    return out[0], out[1]


def _read_split_file(card) -> dict[str, list[str]]:
    """The lists of a `rule: file` split (keys calibration, test and optionally train), validated for shape."""
    path = card.split_path()
    where = f"{card.where()}: split.path"
    if path is None or not path.is_file():
        raise ConfigError(f"{where}: split file {str(path)!r} not found (relative paths are resolved against the "
                          "card's folder).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where}: {path} is not valid JSON ({exc}).") from exc
    allowed = {"calibration", "test", "train"}
    if not isinstance(data, dict) or set(data) - allowed or not {"calibration", "test"} <= set(data):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{where}: {path} must be a JSON object with the keys 'calibration' and 'test' (and "
                          f"optionally 'train'), lists of case ids; got {got}.")
    for key, listed in data.items():
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise ConfigError(f"{where}: {path}: '{key}' must be a list of case ids.")
    keys = sorted(data)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            both = sorted(set(data[a]) & set(data[b]))
            if both:
                raise ConfigError(f"{where}: {path}: case {both[0]!r} is in both {a} and {b}.")
    return data


def _split_from_file(card, ids: list[str]) -> tuple[list[str], list[str]]:
    # Multi-entry cards list each dataset's own ids; an id present in several entries is split the same in each.
    path = card.split_path()
    where = f"{card.where()}: split.path"
    data = _read_split_file(card)
    known = set(ids)
    for key, listed in data.items():
        unknown = [c for c in listed if c not in known]
        if unknown:
            close = difflib.get_close_matches(unknown[0], ids, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: {path}: '{key}' lists case {unknown[0]!r}{hint}, which dataset "
                              f"{card.dataset!r} does not have ({len(unknown)} unknown id(s)).")
    return sorted(set(data["calibration"])), sorted(set(data["test"]))


# --- loading -----------------------------------------------------------------------------------------------------


def load_case(card, case_id: str, data_root: str | Path | None = None, *, normalise: bool = False) -> Case:
    """Case `case_id` of `card`'s source with the binary target as label; see the module docstring."""
    entry, own_id = _entry_of(card, case_id)
    labels = entry.labels or card.target.labels
    if card.source == "phantom":
        from medmix.data.phantom25 import load_phantom_case

        case = load_phantom_case(card.dataset, own_id, labels, card.name)
    elif card.source == "mni":
        from medmix.data.mni import load_mni_case

        case = load_mni_case(own_id, labels, card.name)
    else:
        case = _load_harness_case(card, entry, own_id, resolve_data_root(card, data_root))
    case.case_id = case_id
    case.slice_axis = _resolve_slice_axis(card, case)
    _check_geometry(card, case)
    case.meta["target"] = card.target.name
    case.meta["entry"] = entry.name
    if normalise:
        case.image = apply_intensity(case.image, card.intensity)
        case.meta["intensity"] = card.intensity.to_dict()
    else:
        case.image = np.asarray(case.image, dtype=np.float32)
        case.meta["intensity"] = {"kind": "raw"}
    return case


def iter_cases(card, split: str = "test", data_root: str | Path | None = None, *, normalise: bool = False
               ) -> Iterator[Case]:
    """Load the cases of `split` one at a time, in sorted order."""
    for case_id in case_ids(card, data_root, split):
        yield load_case(card, case_id, data_root, normalise=normalise)


def resolve_data_root(card=None, data_root: str | Path | None = None) -> Path:
    """`data_root`, else $MEDMIX_DATA; `InputError` (with the card's download/prepare hints) when neither is set."""
    if data_root is None:
        data_root = os.environ.get(DATA_ENV) or None
    if data_root is None:
        hint = f" For this task: {_missing_hint(card, None)}" if card is not None else ""
        raise MissingDataError(f"no data root: pass data_root (--data-root on the command line) or set {DATA_ENV} to "
                               f"the folder that holds the prepared datasets.{hint}", what="data root")
    return Path(data_root).expanduser()


def _dataset_dir(root: Path, dataset: str) -> Path:
    return root / dataset


def _prepare_hint(card, root: Path | None) -> str:
    if card.prepare:
        text = card.prepare
        if root is not None and "$MEDMIX_DATA" in text:
            text = text.replace("$MEDMIX_DATA", str(root))
        return f"`{text}`"
    dst = str(root) if root is not None else f"${DATA_ENV}"
    return f"`medmix data prepare {card.dataset} --src <downloaded folder> --dst {dst}`"


def _missing_hint(card, root: Path | None) -> str:
    parts = []
    if card.download is not None:
        text = f"download it from {card.download.url}"
        if card.download.instructions:
            text += f" ({card.download.instructions.strip()})"
        parts.append(text)
    parts.append(f"prepare it with {_prepare_hint(card, root)}")
    return "; then ".join(parts) + "."


def _dataset_meta(card, root: Path, dataset: str | None = None) -> dict:
    dataset = dataset or card.dataset
    base = _dataset_dir(root, dataset)
    path = base / "dataset.json"
    if not path.is_file():
        state = "is empty or not prepared" if base.is_dir() else "does not exist"
        raise MissingDataError(f"task {card.name!r} needs dataset {dataset!r}, but {base} {state} ({path.name} not "
                               f"found). To get it: {_missing_hint(card, root)}", what=dataset)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); re-run {_prepare_hint(card, root)}.") from exc
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object; re-run {_prepare_hint(card, root)}.")
    return meta


def _read_nifti(path: Path, what: str, case_id: str, card):
    from medmix.data.io import _read_nifti as read

    if not path.is_file():
        raise InputError(f"task {card.name!r}, case {case_id!r}: {what} file {path} is missing; the dataset is "
                         f"incomplete, re-run {_prepare_hint(card, None)}.")
    try:
        return read(path, f"task {card.name!r}, case {case_id!r}: {what} {path}")
    except InputError:
        raise
    except Exception as exc:  # pragma: no cover - _read_nifti already wraps nibabel's errors
        raise InputError(f"task {card.name!r}, case {case_id!r}: cannot read {what} {path} ({exc}).") from exc


def _load_harness_case(card, entry, case_id: str, root: Path) -> Case:
    meta = _dataset_meta(card, root, entry.dataset)
    ids = meta.get("cases") or []
    if case_id not in ids:
        raise UnknownNameError(f"{entry.dataset} case", case_id, ids)
    base = _dataset_dir(root, entry.dataset)
    image_path = base / "images" / f"{case_id}.nii.gz"
    label_path = base / "labels" / f"{case_id}.nii.gz"
    image, _, image_affine = _read_nifti(image_path, "image", case_id, card)
    label_map, spacing, label_affine = _read_nifti(label_path, "label", case_id, card)
    where = f"task {card.name!r}, dataset {entry.dataset!r}, case {case_id!r}"
    if label_map.dtype.kind == "f":
        if not np.all(np.isfinite(label_map)) or not np.array_equal(label_map, np.round(label_map)):
            raise InputError(f"{where}: label map {label_path} holds non-integer values; labels must be integer ids.")
        label_map = label_map.astype(np.int64)
    image = _select_channel(card, entry, meta, image, label_map.shape, where, base / "dataset.json")
    expected = label_map.shape + ((3,) if card.channels == "rgb" else ())
    if image.shape != expected:
        if card.channels == "rgb":
            extra = " (the card says channels: rgb, so the image needs a trailing axis of 3)"
        elif image.shape == label_map.shape + (3,):
            extra = " (the image looks RGB: set channels: rgb and slice_axis: null in the card)"
        else:
            extra = ""
        raise InputError(f"{where}: image {image_path} has shape {image.shape} but label {label_path} has shape "
                         f"{label_map.shape}{extra}; they must lie on the same voxel grid.")
    if not np.allclose(image_affine, label_affine, atol=1e-3, rtol=0):
        raise InputError(f"{where}: image {image_path} and label {label_path} have different affines "
                         f"({np.round(image_affine, 4).tolist()} vs {np.round(label_affine, 4).tolist()}); they must "
                         "lie on the same world grid. Re-run the converter or resample the label onto the image.")
    labels = entry.labels or card.target.labels
    _check_label_ids(card, entry.dataset, labels, root, meta, label_map, case_id)
    target = np.isin(label_map, np.asarray(labels)).astype(np.uint8)
    return Case(
        task=card.name, case_id=case_id, image=image, label=target, spacing=tuple(float(s) for s in spacing),
        affine=label_affine, channels=card.channels,
        meta={"source": "harness", "dataset": entry.dataset, "channel": entry.channel, "labels": list(labels),
              "image_path": str(image_path), "label_path": str(label_path), "modality": meta.get("modality")},
    )


def _select_channel(card, entry, meta: dict, image: np.ndarray, spatial: tuple[int, ...], where: str,
                    meta_path: Path) -> np.ndarray:
    """The entry's channel of a multi-channel image (trailing channel axis); other images pass unchanged."""
    multi = meta.get("channels") == "multi"
    if not multi:
        if entry.channel is not None:
            raise InputError(f"{card.where()}: channel: {entry.channel!r} was asked for, but dataset "
                             f"{entry.dataset!r} has one channel per image ({meta_path} says channels: "
                             f"{meta.get('channels', 'grey')!r}); remove channel from the card, or re-prepare the "
                             "dataset with all its channels.")
        return image
    names = [str(n) for n in meta.get("channel_names") or []]
    if image.ndim != len(spatial) + 1 or image.shape[: len(spatial)] != spatial:
        raise InputError(f"{where}: a multi-channel image must have shape {spatial} + (channels,), got "
                         f"{image.shape}; re-run the dataset's converter.")
    count = image.shape[-1]
    if entry.channel is None:
        raise InputError(f"{card.where()}: dataset {entry.dataset!r} holds {count} channels per image "
                         f"({', '.join(names) or 'unnamed'}); say which one the task uses with channel: <name> "
                         "(or an entries list for several).")
    if isinstance(entry.channel, int):
        index = entry.channel
    elif entry.channel in names:
        index = names.index(entry.channel)
    else:
        close = difflib.get_close_matches(str(entry.channel), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"{card.where()}: channel: {entry.channel!r}{hint} is not a channel of dataset "
                         f"{entry.dataset!r}; its channels are {', '.join(names) or f'0 … {count - 1} (unnamed)'}.")
    if not 0 <= index < count:
        raise InputError(f"{card.where()}: channel: index {index} is out of range; dataset {entry.dataset!r} has "
                         f"{count} channels.")
    return np.ascontiguousarray(image[..., index])


def _check_label_ids(card, dataset: str, labels, root: Path, meta: dict, label_map: np.ndarray, case_id: str
                     ) -> None:
    key = (str(root.resolve()), dataset, tuple(labels))
    if key in _CHECKED_LABELS:
        return
    declared = meta.get("labels")
    if isinstance(declared, dict) and declared:
        try:
            known = {int(k): str(v) for k, v in declared.items()}
        except (TypeError, ValueError) as exc:
            raise InputError(f"{_dataset_dir(root, dataset) / 'dataset.json'}: 'labels' keys must be integer "
                             f"ids, got {sorted(declared)}.") from exc
        ids_present = ", ".join(f"{k} ({v})" for k, v in sorted(known.items()))
        source = "dataset.json"
    else:
        known = {int(v): "" for v in np.unique(label_map) if v != 0}
        ids_present = ", ".join(str(k) for k in sorted(known)) or "none"
        source = f"case {case_id!r} (dataset.json lists no labels)"
    for label in labels:
        if label not in known:
            raise InputError(f"{card.where()}: target.labels: unknown label id {label} for dataset {dataset}; "
                             f"ids present: {ids_present} (from {source}). Fix the card's target.labels, or re-run "
                             f"the converter if the dataset should have it.")
    _CHECKED_LABELS.add(key)


def _resolve_slice_axis(card, case: Case) -> int | None:
    """The array axis this case is sliced across: the card's number, the affine's axial axis ("axial"), the last
    spatial axis ("last"), or None for 2D images."""
    axis = card.slice_axis
    if axis is None or case.ndim != 3:
        return axis if axis is None else (axis if isinstance(axis, int) else 2)
    if axis == "last":
        return case.ndim - 1
    if axis == "axial":
        found = axial_axis(case.affine) if case.affine is not None else None
        if found is None:
            raise InputError(f"{card.where()}: slice_axis is 'axial' but case {case.case_id!r} has no usable affine "
                             "to tell which array axis is axial; set slice_axis to a number in the card.")
        return found
    return axis


def _check_geometry(card, case: Case) -> None:
    ndim = case.label.ndim
    if card.slice_axis is None and ndim != 2:
        raise InputError(f"{card.where()}: slice_axis is null (2D images) but case {case.case_id!r} is {ndim}D with "
                         f"shape {case.label.shape}; set slice_axis to the axis to slice along (usually 2).")
    if card.slice_axis is not None and ndim != 3:
        raise InputError(f"{card.where()}: slice_axis is {card.slice_axis} but case {case.case_id!r} is {ndim}D with "
                         f"shape {case.label.shape}; set slice_axis: null for 2D images.")
    if case.channels != card.channels:
        raise InputError(f"{card.where()}: channels is {card.channels!r} but case {case.case_id!r} is "
                         f"{case.channels!r}.")
    dataset = case.meta.get("dataset", card.dataset)
    if (ndim == 3 and case.affine is not None and isinstance(card.slice_axis, int)
            and (card.name, dataset) not in _CHECKED_AXES):
        _CHECKED_AXES.add((card.name, dataset))
        axial = axial_axis(case.affine)
        if axial != card.slice_axis:
            warnings.warn(
                f"{card.where()}: slice_axis is {card.slice_axis} but the axial (superior–inferior) array axis of "
                f"case {case.case_id!r} is {axial} according to its affine; the task will be sliced "
                f"{'sagittally or coronally' if axial is not None else 'along a non-axial axis'}. Set slice_axis: "
                f"{axial} (or 'axial') in the card unless that is intended.", stacklevel=3)


def axial_axis(affine) -> int | None:
    """The array axis whose direction is closest to world z (superior–inferior) for a 4×4 voxel→world affine."""
    matrix = np.asarray(affine, dtype=float)[:3, :3]
    norms = np.linalg.norm(matrix, axis=0)
    if not np.all(norms > 0):
        return None
    return int(np.argmax(np.abs(matrix[2] / norms)))


__all__ = ["DATA_ENV", "SPLITS", "all_case_ids", "axial_axis", "calibration_count", "case_ids", "iter_cases",
           "load_case", "medsamix_calibration_count", "resolve_data_root", "split_cases"]
