"""Model adapters: SAM-family models (SAM, MedSAM, MedicoSAM, LiteMedSAM, merged, tiny), Python callables and
folders of precomputed masks behind one boxes → masks interface.

Modules: `specs` (ModelSpec, parse_spec, load_model, the adapter registry), `adapters` (the built-in adapters),
`sam_family` (SamFamilyModel, decode_boxes), `archs` (arch name → module and default preprocessing), `folders`
(model folders: model.json), `predictions` (PredictionFolder, CallableModel), `checkpoints` (safe reading, key
diffs, the finite-weights check), `sam` (SAM builders), `preprocess`.

Importing this package does not import torch or segment_anything; they load when a model is built.
"""

from medmix.models.adapters import (
    ADAPTERS,
    CallableModel,
    ModelFolder,
    ModelSpec,
    PredictionFolder,
    SamFamilyModel,
    decode_boxes,
    load_model,
    parse_spec,
    read_model_folder,
    register_adapter,
    write_model_json,
)
from medmix.models.base import SegmentationModel
from medmix.models.checkpoints import (
    check_finite_weights,
    diff_state_dict,
    load_into,
    load_state_dict,
    sha256_file,
)
from medmix.models.preprocess import Preprocessing
from medmix.models.sam import SAM_ARCHS, TINY_CONFIG, build_sam, build_tiny_sam

__all__ = [
    "ADAPTERS",
    "CallableModel",
    "ModelFolder",
    "ModelSpec",
    "PredictionFolder",
    "Preprocessing",
    "SAM_ARCHS",
    "SamFamilyModel",
    "SegmentationModel",
    "TINY_CONFIG",
    "build_sam",
    "build_tiny_sam",
    "check_finite_weights",
    "decode_boxes",
    "diff_state_dict",
    "load_into",
    "load_model",
    "load_state_dict",
    "parse_spec",
    "read_model_folder",
    "register_adapter",
    "sha256_file",
    "write_model_json",
]
