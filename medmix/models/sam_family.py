"""SAM-architecture models behind the boxes → masks interface: batched box decoding, device and precision.

`SamFamilyModel` wraps any module with `image_encoder`, `prompt_encoder` and `mask_decoder` (segment_anything's
`Sam`, the tiny SAM, LiteMedSAM, a merged model); `decode_boxes` decodes every box of a batch of images in one
mask-decoder call. Importing this module does not import torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medmix.errors import ConfigError, InputError
from medmix.models.base import SegmentationModel
from medmix.models.checkpoints import check_finite_weights, load_into, sha256_file
from medmix.models.preprocess import Preprocessing
from medmix.models.prompt_decoding import run_decoder

#: Slices per image-encoder pass when not given: batching pays on a GPU; on small CPUs it is slower per slice
#: (LiteMedSAM on 2 cores: 1.04 s/slice at batch 1, 1.26 at 2, 1.71 at 4, 2.5 at 8).
DEFAULT_BATCH_SIZE = {"cuda": 8, "cpu": 1}
# (arch, device type) pairs whose image encoder runs channels_last unless told otherwise: LiteMedSAM's TinyViT
# (convolutional first stage) on the CPU is 1.4× faster so, same masks (Dice change < 1e-4 on the mni test split;
# docs/benchmarks.md). Larger CPU batches were slower (0.6–0.7×), so the CPU batch size stays 1.
CHANNELS_LAST_BY_DEFAULT = {("litemedsam", "cpu")}
PRECISIONS = ("auto", "fp32", "bf16")


def positive_int(value: Any, where: str) -> int:
    """`value` as an int ≥ 1, else a `ConfigError` naming `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}.")
    return int(value)


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
    h, w = embeddings.shape[-2:]
    if n == 0:
        return torch.zeros((0, 1, 4 * h, 4 * w), device=device)
    boxes = torch.cat([b.reshape(-1, 4).to(device=device, dtype=torch.float32) for b in boxes_per_image])
    image_index = torch.repeat_interleave(torch.arange(len(counts), device=device), torch.tensor(counts, device=device))
    step = n if not max_boxes else int(max_boxes)
    out = []
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        sparse, dense = pe(points=None, boxes=boxes[sl, None, :], masks=None)
        out.append(run_decoder(model, embeddings[image_index[sl]], sparse, dense)[0])
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


def dask_worker_device() -> str | None:
    """On a Dask worker with CUDA: cuda:(i mod #GPUs), i = the worker's name when it is a number (a LocalCluster's
    0, 1, …), else a stable hash of it; None (the default device) without CUDA or outside a worker."""
    import zlib

    import torch

    if not torch.cuda.is_available():
        return None
    try:
        from distributed import get_worker

        name = str(get_worker().name)
    except (ImportError, ValueError):
        return None
    index = int(name) if name.isdigit() else zlib.crc32(name.encode())
    return f"cuda:{index % torch.cuda.device_count()}"


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
    decoder always run in fp32 (a SAM cast wholly to bf16 fails in the prompt encoder). On the CPU "auto" is fp32
    and results are deterministic; "bf16" autocasts the encoder there too (CPUs with AVX512-BF16 / AMX run it
    faster; results move slightly, see docs/benchmarks.md).

    Speed options: `channels_last` (the encoder's convolutions in NHWC memory order; None: on where
    `CHANNELS_LAST_BY_DEFAULT` says it pays), `compile_encoder`
    (`torch.compile` of the image encoder: pays its compile time back only over long runs) and
    `feature_cache_mb` (a process-wide cache of encoder outputs keyed by weights and input content,
    `medmix.models.feature_cache`; None: $MEDMIX_FEATURE_CACHE_MB, default off).

    `module` stays live: the merge engine may change its weights in place (or via `load_weights`); predictions
    use whatever weights it holds at call time.
    """

    def __init__(self, module, preprocessing: Preprocessing, *, name: str = "sam", arch: str | None = None,
                 checkpoint: str | os.PathLike | None = None, device: Any = None, batch_size: int | None = None,
                 precision: str = "auto", seed: int | None = None, extra: Mapping[str, Any] | None = None,
                 max_boxes_per_decode: int | None = 256, attention: str = "auto", channels_last: bool | None = None,
                 compile_encoder: bool = False, feature_cache_mb: int | None = None, box_only: bool = False):
        self.name = name
        self.box_only = bool(box_only)
        self.arch = arch
        self.preprocessing = Preprocessing.from_spec(preprocessing)
        self.device = resolve_device(device)
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE.get(self.device.type, 1)
        self.batch_size = positive_int(batch_size, "batch_size")
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
        import torch

        from medmix.models.feature_cache import WeightsDigest, default_size_mb

        if channels_last is None:
            channels_last = (arch, self.device.type) in CHANNELS_LAST_BY_DEFAULT
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.module.image_encoder.to(memory_format=torch.channels_last)
        self.compile_encoder = bool(compile_encoder)
        self._encoder = torch.compile(self.module.image_encoder) if self.compile_encoder else self.module.image_encoder
        self.feature_cache_mb = default_size_mb() if feature_cache_mb is None else int(feature_cache_mb)
        self._encoder_digest = WeightsDigest(self.module.image_encoder)

    # -- weights
    def load_weights(self, state: Mapping[str, Any], *, strict: bool = True, where: str = "state dict") -> None:
        """Load a state dict into the live module (readable `InputError` if it does not fit or holds NaN / Inf)."""
        check_finite_weights(state, where)
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

        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        if self.encoder_autocast:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                return self._encoder(batch).float().contiguous()
        return self._encoder(batch).contiguous()

    def encode_cached(self, batch):
        """`encode`, answering each image from the shared feature cache when the same encoder weights have already
        seen the same preprocessed input (see `medmix.models.feature_cache`)."""
        from medmix.models.feature_cache import input_digest, shared_cache

        cache = shared_cache(self.feature_cache_mb)
        if cache is None:
            return self.encode(batch)
        import torch

        weights = self._encoder_digest()
        # How the encoder ran is part of the key: channels_last and compiled kernels round differently.
        how = ("bf16" if self.encoder_autocast else "fp32") + ("+cl" if self.channels_last else "") + \
            ("+compiled" if self.compile_encoder else "")
        keys = [(weights, input_digest(x, how)) for x in batch]
        found = [cache.get(k) for k in keys]
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            fresh = self.encode(batch[missing])
            for i, embedding in zip(missing, fresh):
                found[i] = embedding
                cache.put(keys[i], embedding)
        return torch.stack([f.to(batch.device) for f in found])

    def predict_slices(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Boolean (H, W) mask per image: union of its box predictions (see `SegmentationModel`).

        An image with no boxes (k = 0) gets an empty mask without running the encoder.
        """
        from medmix.models.preprocess import postprocess_logits

        return self._per_image(images, boxes, postprocess_logits, lambda masks: masks.any(dim=0), bool)

    def encode_slices(self, images: Sequence[np.ndarray]):
        """`EncodedSlices` of the images: each preprocessed and run through the image encoder once (in
        `batch_size` chunks, through the feature cache), for `decode_prompted` to decode any number of prompts."""
        import torch

        from medmix.models.preprocess import preprocess_images
        from medmix.models.prompt_decoding import EncodedSlices

        imgs = [_as_image(im, i, self.name) for i, im in enumerate(images)]
        self.module.eval()
        parts, geometries = [], []
        with torch.inference_mode():
            for start in range(0, len(imgs), self.batch_size):
                chunk = imgs[start:start + self.batch_size]
                batch, geos = preprocess_images([torch.from_numpy(im).to(self.device) for im in chunk],
                                                self.preprocessing)
                parts.append(self.encode_cached(batch))
                geometries.extend(geos)
        embeddings = torch.cat(parts) if parts else torch.zeros((0,), device=self.device)
        return EncodedSlices(embeddings, geometries, [tuple(im.shape[:2]) for im in imgs])

    def decode_prompted(self, encoded, prompts: Sequence, *, mask_inputs=None, probabilities: bool = False):
        """(masks, low-res logits) per slice of `encoded` for its `SlicePrompt` (see
        `medmix.models.prompt_decoding.decode_slice_prompts`); only the prompt encoder and the decoder run."""
        import torch

        from medmix.models.prompt_decoding import decode_slice_prompts

        with torch.inference_mode():
            return decode_slice_prompts(self.module, encoded, prompts, self.preprocessing, mask_inputs=mask_inputs,
                                        probabilities=probabilities, max_prompts=self.max_boxes_per_decode)

    def predict_prompted(self, images: Sequence[np.ndarray], prompts: Sequence, *,
                         probabilities: bool = False) -> list[np.ndarray]:
        """Mask (or probability map) per image for its `SlicePrompt` of any kind. Box-only prompts take the
        `predict_slices` path (same masks as before points existed)."""
        if len(images) != len(prompts):
            raise InputError(f"{self.name}: got {len(images)} images but {len(prompts)} prompts; one per image.")
        if all(p.box_only for p in prompts):
            boxes = [p.boxes for p in prompts]
            return self.predict_probabilities(images, boxes) if probabilities else self.predict_slices(images, boxes)
        todo = [i for i, p in enumerate(prompts) if len(p)]
        out: list = [np.zeros(np.asarray(im).shape[:2], dtype=np.float32 if probabilities else bool) for im in images]
        if todo:
            encoded = self.encode_slices([images[i] for i in todo])
            masks, _ = self.decode_prompted(encoded, [prompts[i] for i in todo], probabilities=probabilities)
            for i, mask in zip(todo, masks):
                out[i] = mask
        return out

    def predict_probabilities(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Foreground probability (H, W) float32 per image, the maximum over its boxes (what output-space
        ensembles average); thresholding at 0.5 gives `predict_slices`' masks."""
        from medmix.models.preprocess import postprocess_probabilities

        return self._per_image(images, boxes, postprocess_probabilities, lambda probs: probs.max(dim=0).values,
                               np.float32)

    def _per_image(self, images, boxes, postprocess, union, dtype) -> list[np.ndarray]:
        import torch

        from medmix.models.preprocess import preprocess_images, transform_boxes

        imgs, bxs = _check_inputs(images, boxes, self.name)
        results: list[np.ndarray | None] = [None] * len(imgs)
        todo = [i for i in range(len(imgs)) if len(bxs[i])]
        for i in range(len(imgs)):
            if not len(bxs[i]):
                results[i] = np.zeros(imgs[i].shape[:2], dtype=dtype)
        # eval() also refreshes cached buffers derived from weights (TinyViT's attention-bias table `ab`), so
        # in-place weight changes between calls are always seen.
        self.module.eval()
        prep = self.preprocessing
        with torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                tensors = [torch.from_numpy(imgs[i]).to(self.device) for i in chunk]
                batch, geometries = preprocess_images(tensors, prep)
                embeddings = self.encode_cached(batch)
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
                    maps = postprocess(logits[index], g, prep)
                    counts = [int(offsets[j + 1] - offsets[j]) for j in members]
                    unions = torch.stack([union(part) for part in torch.split(maps, counts)]).cpu().numpy()
                    for j, value in zip(members, unions):
                        results[chunk[j]] = value.astype(dtype, copy=False)
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
            "channels_last": self.channels_last,
            "compiled_encoder": self.compile_encoder,
        })
        if self.box_only:
            out["box_only"] = True  # trained with box prompts only: point prompts are outside its training
        out.update(self.extra)
        return out

