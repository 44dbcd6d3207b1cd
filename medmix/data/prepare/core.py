"""Machinery shared by every dataset converter: the report, discovery helpers and the write loop (the registry of
converters is `medmix.data.prepare.registry`, re-exported here).

A converter (`prepare_<name>(src, dst, *, overwrite=False, progress=None, **options) -> PrepareReport`) knows one
official release layout. It finds the image/label pairs under `src` (`Job.scan`, `Job.pair`), describes each case
as a `CaseSource` (official case id, source files, a loader) and hands them to `Job.run`, which writes
ROOT/<dataset_id>/images|labels/<case>.nii.gz through `medmix.data.layout` and then dataset.json.

`Job.run` policy, the same for every converter:
- idempotent: a case whose image and label files both exist is skipped unless `overwrite=True` (layout.py writes
  each file atomically, so a case interrupted between its two files is redone);
- a dataset prepared with other options (e.g. `modality="t1"` then `"flair"`) is refused unless `overwrite=True`,
  so one folder never mixes two conversions;
- a case that cannot be read or written is reported in `PrepareReport.failed` and the others go on; a release with
  no usable case is an `InputError` that shows the expected layout and where to download it;
- case ids are kept as the release spells them; a warning says when their string order (the order the MedSAMix
  calibration split uses) differs from their numeric order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medmix.data.prepare.registry import (CONVERTERS, ConverterSpec, converter, get_converter,  # noqa: F401
                                          list_converters, parse_int_list, parse_label_names, parse_options,
                                          prepare_dataset)
from medmix.errors import InputError

#: progress(done, total, case_id): called after each case (written, skipped or failed).
ProgressFn = Callable[[int, int, str], None]

#: dataset.json `channels` values whose images carry a trailing channel axis (rgb: 2D (H, W, 3); multi: 3D
#: (x, y, z, C) with the names in dataset.json `channel_names`). "grey" images have none.
CHANNEL_AXIS_KINDS = ("rgb", "multi")

#: Macintosh resource forks and folders shipped inside some archives (MSD tarballs, NasalSeg zip).
_JUNK_DIRS = {"__MACOSX"}
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".gz", ".7z", ".rar", ".bz2", ".xz")
_CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


# ----------------------------------------------------------------------------------------------------------------
# Report


@dataclass
class PrepareReport:
    """What a conversion did.

    written / skipped: case ids written now / already present (sorted); failed: case id → reason; warnings:
    one line each (unpaired files, label ids outside the release's table, geometry mismatches, sort order…);
    dataset_dir: ROOT/<dataset_id>; dataset_json: its dataset.json (None when nothing was written).
    """

    converter: str
    dataset: str
    src: Path
    dataset_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dataset_json: Path | None = None

    @property
    def cases(self) -> list[str]:
        """Every case of this source now present in the harness layout (written or skipped), sorted."""
        return sorted({*self.written, *self.skipped})

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = (f"{len(self.cases)} cases in {self.dataset_dir} ({len(self.written)} written, "
                f"{len(self.skipped)} already there, {len(self.failed)} failed)")
        if self.failed:
            first = next(iter(self.failed.items()))
            text += f"; first failure: {first[0]}: {first[1]}"
        if self.warnings:
            text += f"; {len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "converter": self.converter, "dataset": self.dataset, "src": str(self.src),
            "dataset_dir": str(self.dataset_dir), "written": self.written, "skipped": self.skipped,
            "failed": self.failed, "warnings": self.warnings,
            "dataset_json": str(self.dataset_json) if self.dataset_json else None,
        }


# ----------------------------------------------------------------------------------------------------------------
# Cases


@dataclass
class LoadedCase:
    """One case in memory: image (spatial axes first; RGB as a trailing axis of 3, or named channels as a trailing
    axis with `Job.run(..., channels="multi")`), integer label map on the spatial grid, the 4×4 voxel→world affine
    written for both, and notes that become warnings."""

    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass
class CaseSource:
    """A case as found in the release: its id, the files it comes from (name → path) and how to load it."""

    case_id: str
    files: dict[str, Path]
    load: Callable[[], LoadedCase]
    original_id: str | None = None


def natural_key(text: str) -> list:
    """Sort key treating digit runs as numbers ('case2' < 'case10')."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def is_junk(path: Path) -> bool:
    """macOS resource forks (`._x.nii.gz`), hidden files and folders, `__MACOSX` folders (path relative to src)."""
    return any(part in _JUNK_DIRS or part.startswith(".") for part in path.parts)


def load_pair(image_path: Path, label_path: Path, *, image_channel: int | None = None,
              atol_mm: float = 1e-3) -> LoadedCase:
    """Read an image and a label volume (any format `read_volume` knows) and check they share a grid.

    image_channel: for a 4D image (x, y, z, c), the channel to keep. The image affine is written for both files;
    a label affine that differs beyond `atol_mm` becomes a note (the release's geometry is kept, not resampled).
    """
    from medmix.data.prepare.readers import read_volume

    image = read_volume(image_path)
    label = read_volume(label_path)
    notes: list[str] = []
    array = image.array
    if image_channel is not None and array.ndim == 4:
        if not 0 <= image_channel < array.shape[3]:
            raise InputError(f"{image_path}: has {array.shape[3]} channels; channel {image_channel} does not exist.")
        array = array[..., image_channel]
    if array.ndim == 4:
        raise InputError(f"{image_path}: 4D image {array.shape}; this converter expects one 3D volume per case.")
    if label.array.shape != array.shape[: label.array.ndim] or label.array.ndim not in (2, 3):
        raise InputError(f"image {image_path.name} has shape {array.shape} but label {label_path.name} has shape "
                         f"{label.array.shape}; they must lie on the same voxel grid.")
    if not np.allclose(image.affine, label.affine, atol=atol_mm, rtol=0):
        diff = float(np.abs(image.affine - label.affine).max())
        notes.append(f"label affine differs from the image affine (max difference {diff:.4g}); the image's "
                     "geometry is written for both")
    return LoadedCase(image=array, label=label.array, affine=image.affine, notes=notes)


# ----------------------------------------------------------------------------------------------------------------
# The conversion job


class Job:
    """One run of a converter: discovery helpers that raise layout errors, then `run` writes the cases."""

    def __init__(self, name: str, src: str | Path, dst: str | Path, *, dataset_id: str | None = None):
        self.spec: ConverterSpec = get_converter(name).spec
        self.name = name
        self.dataset_id = dataset_id or self.spec.dataset_id
        self.src = Path(src).expanduser()
        self.dst = Path(dst).expanduser()
        self.warnings: list[str] = []
        if not _CASE_ID_RE.match(self.dataset_id):
            raise InputError(f"dataset id {self.dataset_id!r} must be a plain folder name (letters, digits, '_', "
                             "'-', '.').")
        if not self.src.exists():
            raise self.layout_error(f"--src {str(self.src)!r} does not exist")
        if self.src.is_file():
            if self.src.name.lower().endswith(_ARCHIVE_SUFFIXES):
                raise self.layout_error(f"--src {str(self.src)!r} is an archive; extract it first (e.g. `tar xf` or "
                                        "`unzip`) and pass the extracted folder")
            raise self.layout_error(f"--src {str(self.src)!r} is a file; pass the folder of the release")
        if self.dst.resolve() == self.src.resolve() or self.src.resolve() in self.dst.resolve().parents:
            # Writing inside the release would make the next scan see our own outputs.
            raise InputError(f"--dst {str(self.dst)!r} lies inside --src {str(self.src)!r}; choose a data root "
                             "outside the downloaded release.")

    # -- errors ---------------------------------------------------------------------------------------------
    def layout_error(self, problem: str) -> InputError:
        """An InputError that says what is wrong, shows the expected tree and where to download the release."""
        tree = "\n".join("    " + line for line in self.spec.layout.splitlines())
        if not self.spec.official:
            return InputError(f"{self.spec.title} ({self.name}): {problem}.\nExpected this layout under --src:\n"
                              f"{tree}\nArrange the files as shown and pass that folder as --src.")
        return InputError(
            f"{self.spec.title} ({self.name}): {problem}.\nExpected the official release layout under --src:\n"
            f"{tree}\nDownload the release from {self.spec.url}, extract it and pass the extracted folder as --src."
        )

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    # -- discovery ------------------------------------------------------------------------------------------
    def files(self, pattern: str = "*") -> list[Path]:
        """Files under src matching the glob `pattern` at any depth, junk excluded, sorted."""
        return sorted(p for p in self.src.rglob(pattern) if p.is_file() and not is_junk(p.relative_to(self.src)))

    def scan(self, regex: str, *, what: str, pattern: str = "*") -> dict[str, Path]:
        """Files (glob `pattern`, any depth) whose name fully matches `regex`, keyed by the regex's first group;
        two files with the same key are an InputError."""
        rx = re.compile(regex)
        found: dict[str, Path] = {}
        for path in self.files(pattern):
            m = rx.fullmatch(path.name)
            if m is None:
                continue
            key = m.group(1)
            if key in found:
                raise InputError(
                    f"{self.spec.title} ({self.name}): two {what} files for case {key!r}: {found[key]} and {path}. "
                    "Point --src at one copy of the release (or remove the duplicate)."
                )
            found[key] = path
        return found

    def pair(self, images: Mapping[str, Path], labels: Mapping[str, Path], *, image_what: str = "images",
             label_what: str = "labels", unlabelled_note: str = "") -> list[tuple[str, Path, Path]]:
        """Match images and labels by id; unmatched files become warnings; no pair at all is a layout error."""
        ids = sorted(set(images) & set(labels))
        lonely_images = sorted(set(images) - set(labels))
        lonely_labels = sorted(set(labels) - set(images))
        if not ids:
            if not images and not labels:
                raise self.layout_error(f"found no {image_what} and no {label_what} under {str(self.src)!r}")
            if not labels:
                raise self.layout_error(f"found {len(images)} {image_what} but no {label_what} under "
                                        f"{str(self.src)!r}")
            if not images:
                raise self.layout_error(f"found {len(labels)} {label_what} but no {image_what} under "
                                        f"{str(self.src)!r}")
            raise self.layout_error(f"no {image_what} matches a {label_what} file by case id (e.g. image "
                                    f"{images[lonely_images[0]].name} vs label {labels[lonely_labels[0]].name})")
        if lonely_images:
            self.warn(f"{len(lonely_images)} {image_what} without a label were not converted "
                      f"({_examples(lonely_images)}){unlabelled_note}")
        if lonely_labels:
            self.warn(f"{len(lonely_labels)} {label_what} without an image were not converted "
                      f"({_examples(lonely_labels)})")
        return [(i, images[i], labels[i]) for i in ids]

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.src).as_posix()
        except ValueError:
            return str(path)

    # -- writing --------------------------------------------------------------------------------------------
    def run(self, cases: Sequence[CaseSource], *, labels: Mapping[int, str], modality: str, options: Mapping[str, Any],
            overwrite: bool, progress: ProgressFn | None, channels: str = "grey", notes: Sequence[str] = (),
            targets: Mapping[str, Sequence[int]] | None = None, extra: Mapping[str, Any] | None = None,
            discover_labels: bool = False) -> PrepareReport:
        """Write every case (skipping those already there unless `overwrite`), then dataset.json.

        labels: the release's label table {id: name} (background 0 excluded); options: the converter options that
        change the output (recorded in dataset.json; a different set on a re-run needs `overwrite`); channels:
        "grey" (no channel axis), "rgb" (2D (H, W, 3)) or "multi" (3D (x, y, z, C), the C names given as
        extra={"channel_names": [...]} and written to dataset.json); notes:
        conventions worth keeping next to the data; targets: suggested label groups for task cards (e.g. whole
        tumour = [1, 2, 4]); discover_labels: name ids seen in the data but absent from `labels` as label_<id>
        instead of warning about them (generic converters).
        """
        from medmix.data import layout

        if not cases:
            raise self.layout_error(f"found no labelled case under {str(self.src)!r}")
        if channels == "multi" and not (extra or {}).get("channel_names"):
            raise InputError(f"{self.spec.title} ({self.name}): channels='multi' needs extra={{'channel_names': "
                             "[...]} so that dataset.json says which channel is which.")
        ids = [c.case_id for c in cases]
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            raise InputError(f"{self.spec.title} ({self.name}): case ids {dupes} occur more than once under "
                             f"{str(self.src)!r}; point --src at one copy of the release.")
        for cid in ids:
            if not _CASE_ID_RE.match(cid):
                raise InputError(f"{self.spec.title} ({self.name}): case id {cid!r} is not a plain file stem "
                                 "(letters, digits, '_', '-', '.', '+'); rename the source files.")
        cases = sorted(cases, key=lambda c: c.case_id)
        if sorted(ids) != sorted(ids, key=natural_key):
            self.warn("case ids sort differently as strings and as numbers (e.g. "
                      f"{_order_example(ids)}); the harness split uses string order")

        from medmix.run_folder import RunLock

        with RunLock(layout.dataset_dir(self.dst, self.dataset_id), "data prepare"):
            return self._write(cases, ids, labels=labels, modality=modality, options=options, overwrite=overwrite,
                               progress=progress, channels=channels, notes=notes, targets=targets, extra=extra,
                               discover_labels=discover_labels)

    def _write(self, cases, ids, *, labels, modality, options, overwrite, progress, channels, notes, targets, extra,
               discover_labels) -> PrepareReport:
        from medmix.data import layout

        base = layout.dataset_dir(self.dst, self.dataset_id)
        report = PrepareReport(converter=self.name, dataset=self.dataset_id, src=self.src, dataset_dir=base,
                               warnings=self.warnings)
        options = _jsonable(dict(options))
        previous = _read_previous(base)
        if previous is not None and not overwrite:
            if previous.get("converter") not in (None, self.name):
                raise InputError(f"{base} was prepared by converter {previous.get('converter')!r}, not {self.name!r}; "
                                 "pass overwrite=True (--overwrite) to replace it, or choose another --dst.")
            before = previous.get("prepare_options")
            if before is not None and before != options:
                raise InputError(f"{base} was prepared with options {before}, now {options}; pass overwrite=True "
                                 "(--overwrite) to rewrite every case, or choose another --dst, so that one folder "
                                 "never mixes two conversions.")

        label_table = {int(k): str(v) for k, v in labels.items() if int(k) != 0}
        if discover_labels and previous is not None:
            for k, v in (previous.get("labels") or {}).items():
                label_table.setdefault(int(k), v)
        sources: dict[str, dict[str, str]] = {}
        original: dict[str, str] = {}
        total = len(cases)
        for n, case in enumerate(cases, 1):
            cid = case.case_id
            sources[cid] = {k: self.rel(p) for k, p in case.files.items()}
            if case.original_id is not None:
                original[cid] = case.original_id
            done = (base / "images" / f"{cid}.nii.gz").is_file() and (base / "labels" / f"{cid}.nii.gz").is_file()
            if done and not overwrite:
                report.skipped.append(cid)
            else:
                try:
                    loaded = case.load()
                    seen = label_ids(loaded.label)
                    layout.write_case(self.dst, self.dataset_id, cid, loaded.image, loaded.label, affine=loaded.affine)
                except InputError as exc:
                    report.failed[cid] = str(exc)
                except (OSError, ValueError, EOFError) as exc:
                    report.failed[cid] = f"{type(exc).__name__}: {exc}"
                else:
                    report.written.append(cid)
                    for note in loaded.notes:
                        self.warn(f"case {cid}: {note}")
                    unknown = sorted(set(seen) - set(label_table) - {0})
                    if not seen - {0}:
                        self.warn(f"case {cid}: the label map is empty (no foreground)")
                    if unknown and discover_labels:
                        for u in unknown:
                            label_table[u] = f"label_{u}"
                    elif unknown:
                        self.warn(f"case {cid}: label ids {unknown} are not in the {self.spec.title} label table "
                                  f"{sorted(label_table)}; kept as they are")
            if progress is not None:
                progress(n, total, cid)

        for cid, reason in report.failed.items():
            self.warn(f"case {cid} not converted: {reason}")
        present = {p.name[: -len(".nii.gz")] for p in (base / "images").glob("*.nii.gz")} if base.is_dir() else set()
        stale = sorted(present - set(sources))
        if stale:
            self.warn(f"{len(stale)} cases already in {base} are not in this --src ({_examples(stale)}); they stay "
                      "listed in dataset.json")
        if not present:
            return report

        meta_extra = {
            "converter": self.name, "source_path": str(self.src.resolve()), "download": self.spec.url,
            "prepare_options": options, "notes": list(notes),
            "suggested_targets": {k: list(v) for k, v in (targets or {}).items()},
            "case_sources": {**((previous or {}).get("case_sources") or {}), **sources},
            "case_info": _case_info(base, sorted(present), channels),
        }
        if original:
            meta_extra["original_ids"] = {**((previous or {}).get("original_ids") or {}), **original}
        meta_extra.update(extra or {})
        report.dataset_json = layout.write_dataset_json(
            self.dst, self.dataset_id, modality=modality, labels=label_table, source=self.spec.title,
            channels=channels, extra=meta_extra,
        )
        return report


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def label_ids(label: np.ndarray) -> set[int]:
    """The distinct ids in an integer (or integer-valued float) label map, fast for small non-negative ids."""
    arr = np.asarray(label)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        if not np.array_equal(arr, np.round(arr)):
            raise InputError("label map holds non-integer values; expected integer label ids.")
        arr = arr.astype(np.int64)
    if arr.size == 0:
        return set()
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi < 1 << 16:
        return {int(i) for i in np.flatnonzero(np.bincount(arr.ravel().astype(np.intp, copy=False)))}
    return {int(i) for i in np.unique(arr)}


def _case_info(base: Path, cases: Sequence[str], channels: str) -> dict[str, dict[str, Any]]:
    """Shape, spacing (mm per array axis), orientation codes and the axial array axis of each written image."""
    import nibabel as nib

    info: dict[str, dict[str, Any]] = {}
    for cid in cases:
        try:
            img = nib.load(str(base / "images" / f"{cid}.nii.gz"))
        except Exception:  # unreadable leftovers are reported by whoever reads them; don't fail the write
            continue
        shape = [int(s) for s in img.shape]
        entry: dict[str, Any] = {"shape": shape}
        affine = np.asarray(img.affine, dtype=float)
        # rgb (H, W, 3) and multi (x, y, z, C) images carry a trailing channel axis; the label grid is the rest.
        ndim_spatial = len(shape) - 1 if channels in CHANNEL_AXIS_KINDS else len(shape)
        zooms = np.linalg.norm(affine[:3, :3], axis=0)
        entry["spacing_mm"] = [round(float(z), 6) for z in zooms[:ndim_spatial]]
        if ndim_spatial == 3:
            entry["axcodes"] = "".join(nib.aff2axcodes(affine))
            # The array axis closest to the patient's superior-inferior direction: slicing across it gives
            # axial slices (axis 2 for most releases, axis 0 for KiTS19, axis 1 for FreeSurfer's LIA volumes).
            direction = np.abs(affine[:3, :3] / np.where(zooms > 0, zooms, 1.0))
            entry["axial_axis"] = int(np.argmax(direction[2]))
        info[cid] = entry
    return info


def _read_previous(base: Path) -> dict | None:
    path = base / "dataset.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None


def _jsonable(value: Any) -> Any:
    """Options as they round-trip through JSON (tuples → lists, int keys → str) so re-runs compare equal."""
    return json.loads(json.dumps(value, default=str))


def _examples(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (", …" if len(items) > n else "")


def _order_example(ids: Sequence[str]) -> str:
    as_str, as_num = sorted(ids), sorted(ids, key=natural_key)
    for a, b in zip(as_str, as_num):
        if a != b:
            return f"{a!r} sorts before {b!r}"
    return ""
