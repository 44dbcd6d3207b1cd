"""Models that are not SAM modules: a Python callable per box (`CallableModel`) and a folder of precomputed
masks named by case (`PredictionFolder`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmix.errors import ConfigError, InputError
from medmix.models.base import SegmentationModel
from medmix.models.sam_family import _check_inputs


class CallableModel(SegmentationModel):
    """Wraps ``fn(image_2d, box) -> mask or logits`` called once per box; the union over boxes is the prediction.

    Point prompts: a function that takes keyword arguments ``points`` ((n, 2) x, y) and ``point_labels`` ((n,)
    1 / 0) is called ``fn(image, box_or_None, points=..., point_labels=...)`` once per prompted object; one
    without them takes box prompts only.

    Output (H, W) of the image's shape: bool, or integer 0/1 → mask; float → logits, foreground where > 0
    (or > `threshold` when given, e.g. 0.5 for probabilities). Torch tensors are accepted.
    """

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], Any], name: str = "callable",
                 threshold: float | None = None):
        if not callable(fn):
            raise InputError(f"CallableModel: expected a callable fn(image, box), got {type(fn).__name__}.")
        self.fn = fn
        self.name = name
        self.threshold = threshold

    def _to_mask(self, out: Any, shape: tuple[int, int], index: int) -> np.ndarray:
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        arr = np.asarray(out)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != shape:
            raise InputError(f"model {self.name!r}: returned an array of shape {arr.shape} for image {index} of shape "
                             f"{shape}; it must return one (H, W) mask or logit map per box, on the image's grid.")
        if arr.dtype == bool:
            return arr
        if arr.dtype.kind in "iu":
            if not np.isin(arr, (0, 1)).all():
                raise InputError(f"model {self.name!r}: returned integers other than 0/1 for image {index} "
                                 f"(values {np.unique(arr)[:6].tolist()}); return a bool mask or float logits.")
            return arr.astype(bool)
        if arr.dtype.kind == "f":
            if np.isnan(arr).any():
                raise InputError(f"model {self.name!r}: returned NaN values for image {index}.")
            return arr > (0.0 if self.threshold is None else self.threshold)
        raise InputError(f"model {self.name!r}: returned dtype {arr.dtype}; return a bool mask or float logits.")

    def predict_slices(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]) -> list[np.ndarray]:
        imgs, bxs = _check_inputs(images, boxes, f"model {self.name!r}")
        out = []
        for i, (img, bb) in enumerate(zip(imgs, bxs)):
            mask = np.zeros(img.shape[:2], dtype=bool)
            for box in bb:
                mask |= self._to_mask(self.fn(img, box.copy()), img.shape[:2], i)
            out.append(mask)
        return out

    @property
    def takes_points(self) -> bool:
        import inspect

        try:
            params = inspect.signature(self.fn).parameters.values()
        except (TypeError, ValueError):
            return False
        names = {p.name for p in params}
        return ({"points", "point_labels"} <= names) or any(p.kind is p.VAR_KEYWORD for p in params)

    def predict_prompted(self, images: Sequence[np.ndarray], prompts: Sequence) -> list[np.ndarray]:
        if all(p.box_only for p in prompts) or not self.takes_points:
            return super().predict_prompted(images, prompts)
        imgs, _ = _check_inputs(images, [np.zeros((0, 4))] * len(images), f"model {self.name!r}")
        out = []
        for i, (img, prompt) in enumerate(zip(imgs, prompts)):
            mask = np.zeros(img.shape[:2], dtype=bool)
            for obj in prompt.objects:
                box = None if obj.box is None else obj.box.copy()
                result = self.fn(img, box, points=obj.points.copy(), point_labels=obj.labels.copy())
                mask |= self._to_mask(result, img.shape[:2], i)
            out.append(mask)
        return out

    def describe(self) -> dict[str, Any]:
        fn_name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        module = getattr(self.fn, "__module__", None)
        return {"adapter": "callable", "name": self.name, "function": f"{module}.{fn_name}" if module else fn_name,
                "threshold": self.threshold}


class PredictionFolder:
    """Precomputed masks named by case: ``root/<task>/<case_id>.<ext>``, else ``root/<case_id>.<ext>``.

    ext in order .nii.gz, .nii, .npz, .npy, .png (nnU-Net writes ``<case_id>.nii.gz``); files are read with
    `medmix.data.io.load_mask` (array axis order). labels: the label ids that count as the target (default: any
    non-zero value). Not a `SegmentationModel`: the runner asks it for whole-case masks via `mask_for`.

    A prediction with an affine (NIfTI, an .npz with 'affine') is checked against the reference case's affine
    (`medmix.data.io.onto_reference_grid`): stored in another axis order or with flipped axes (RAS-canonical,
    LPS, …) it is reoriented onto the reference grid; with a placeholder affine (the spacing only, origin 0) it is
    compared in array order; either is noted once per task (a `UserWarning`, and `notes` / describe()["notes"],
    which the run's summary.json and provenance.json record). On another grid it is refused. Files without an
    affine (NPY, PNG, NPZ without one) are compared by array shape only.
    """

    EXTENSIONS = (".nii.gz", ".nii", ".npz", ".npy", ".png")

    def __init__(self, root: str | os.PathLike, labels: int | Sequence[int] | None = None, name: str = "predictions"):
        from medmix.user_paths import require_dir

        self.root = require_dir(root, f"prediction folder {str(root)!r}",
                                "<case_id>.nii.gz (or <task>/<case_id>.nii.gz) files",
                                file_hint=" --predictions takes the folder of predictions, not one mask file (score "
                                          "one file with `medmix score PRED GT`).")
        self.labels = labels_tuple(labels)
        self.name = name
        #: One sentence per task whose predictions had to be reoriented onto the reference grid (see the class doc).
        self.notes: list[str] = []
        self._noted_tasks: set[str] = set()

    def candidates(self, task: str, case_id: str) -> list[Path]:
        return [base / f"{case_id}{ext}" for base in (self.root / task, self.root) for ext in self.EXTENSIONS]

    def path_for(self, task: str, case_id: str) -> Path:
        from medmix.user_paths import require_file

        options = self.candidates(task, case_id)
        for p in options:
            if p.exists():  # a directory or unreadable file under the expected name is said to be one
                return require_file(p, f"prediction file {str(p)!r}", "a mask file (.nii.gz, .nii, .npz, .npy, .png)")
        shown = ", ".join(str(p) for p in options[:: len(self.EXTENSIONS)])
        raise InputError(f"prediction folder {str(self.root)!r}: no prediction for task {task!r} case {case_id!r}. "
                         f"Expected {shown} (or the same name with .nii, .npz, .npy or .png).")

    def mask_for(self, task: str, case_id: str, shape: Sequence[int] | None = None,
                 labels: int | Sequence[int] | None = None, affine: np.ndarray | None = None) -> np.ndarray:
        """The bool mask of `case_id` (target labels: `labels`, else the folder's) on the reference grid.

        shape: the reference case's spatial shape; affine: its 4×4 voxel→world matrix. With both and a prediction
        that has an affine, the grids are compared (reoriented or refused, see the class docstring); otherwise
        the array's shape must equal `shape`.
        """
        from medmix.data.grids import onto_reference_grid
        from medmix.data.io import load_mask

        path = self.path_for(task, case_id)
        loaded = load_mask(path, name="prediction")
        arr = loaded.array
        ids = self.labels if labels is None else labels_tuple(labels)
        if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
            raise InputError(f"prediction file {str(path)!r}: holds non-integer values (a probability map?); save "
                             "binary masks or label ids (e.g. threshold at 0.5 first).")
        mask = arr != 0 if ids is None else np.isin(arr, ids)
        if shape is not None and affine is not None and loaded.affine is not None:
            mask, note = onto_reference_grid(mask, loaded.affine, shape, affine, where=f"prediction file {str(path)!r}")
            if note is not None and task not in self._noted_tasks:
                self._noted_tasks.add(task)
                text = (f"task {task!r}: prediction {str(path)!r} {note}; and so are this task's other predictions "
                        "stored that way (noted once per task).")
                self.notes.append(text)
                import warnings

                warnings.warn(text, stacklevel=2)
        if shape is not None and tuple(mask.shape) != tuple(int(s) for s in shape):
            hint = ""
            if tuple(mask.shape[::-1]) == tuple(shape):
                hint = " The axes look reversed (x/y/z vs z/y/x): save it in the reference image's axis order."
            raise InputError(f"prediction file {str(path)!r}: shape {tuple(mask.shape)} does not match the case's "
                             f"shape {tuple(shape)}; it must lie on the reference grid.{hint}")
        return mask

    def describe(self) -> dict[str, Any]:
        """Adapter, root, labels, and `notes`: the live list of reorientation notes, filled as masks are read (the
        runner describes the folder before reading any, and writes that same dict when the run ends)."""
        return {"adapter": "prediction_folder", "root": str(self.root.resolve()),
                "labels": None if self.labels is None else list(self.labels), "notes": self.notes}


def labels_tuple(labels) -> tuple[int, ...] | None:
    if labels is None:
        return None
    values = [labels] if isinstance(labels, (int, np.integer)) else list(labels)
    if not values or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"labels: expected an integer label id or a list of them, got {labels!r}.")
    return tuple(int(v) for v in values)
