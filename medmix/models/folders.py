"""Model folders (``merged:/dir``): the metadata the merge step writes next to the merged weights, read and
written here.

Metadata — written by the merge engine with `write_model_json`
-------------------------------------------------------------
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

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmix.errors import ConfigError, InputError
from medmix.models.archs import FOLDER_ARCHS, default_preprocessing, unknown_arch
from medmix.models.checkpoints import sha256_file
from medmix.models.preprocess import Preprocessing

MODEL_JSON = "model.json"
MODEL_FORMAT = "medmix.model"
MODEL_FORMAT_VERSION = 1

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


def read_model_folder(folder: str | os.PathLike) -> ModelFolder:
    """Parse and validate a model folder's metadata (model.json, else merged.json, else recipe.yaml)."""
    from medmix.user_paths import require_dir, require_file

    root = require_dir(folder, f"model folder {str(folder)!r}", "model.json and the merged weights (merged.pth)",
                       file_hint=" The 'merged:' adapter takes the folder the merge step wrote; for one weights file "
                                 f"use 'sam:vit_b:{folder}' (or 'medsam:', 'medicosam:', 'tiny:', 'litemedsam:').")
    for name in (MODEL_JSON, "merged.json", "recipe.yaml"):
        path = root / name
        if path.exists():
            require_file(path, f"model folder {str(root)!r}: {name}", "a JSON/YAML metadata file")
            break
    else:
        raise InputError(f"model folder {str(root)!r}: no model.json (nor merged.json / recipe.yaml) describing the "
                         "weights. It must hold model.json like {\"format\": \"medmix.model\", \"format_version\": 1, "
                         "\"arch\": \"vit_b\", \"weights\": \"merged.pth\", \"preprocessing\": {\"kind\": \"sam\"}}.")
    where = f"{path}"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read it as text ({type(exc).__name__}: {exc}).") from exc
    try:
        if name.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:
        raise ConfigError(f"{where}: cannot parse it ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}.")
    if name == "recipe.yaml":
        data = {k: data[k] for k in ("arch", "weights", "preprocessing") if k in data}
    else:
        unknown = sorted(str(k) for k in data if k not in _FOLDER_KEYS)
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], _FOLDER_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown field {unknown[0]!r}{hint}; allowed: {', '.join(_FOLDER_KEYS)}.")
        if data.get("format") != MODEL_FORMAT:
            raise ConfigError(f"{where}.format: expected {MODEL_FORMAT!r}, got {data.get('format')!r}.")
        version = data.get("format_version")
        if not isinstance(version, int) or version < 1 or version > MODEL_FORMAT_VERSION:
            raise ConfigError(f"{where}.format_version: this medmix reads versions 1..{MODEL_FORMAT_VERSION}, got "
                              f"{version!r}; upgrade medmix.")
    arch = data.get("arch")
    if arch not in FOLDER_ARCHS:
        raise unknown_arch(arch, FOLDER_ARCHS, f"{where}.arch", "model architecture")
    weights_name = data.get("weights", "merged.pth")
    if not isinstance(weights_name, str) or Path(weights_name).is_absolute() or ".." in Path(weights_name).parts:
        raise ConfigError(f"{where}.weights: expected a file name inside the folder, got {weights_name!r}.")
    weights = require_file(root / weights_name, f"{where}.weights: {str(root / weights_name)!r}",
                           "the weights file (.pth, .pt, .safetensors)")
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
        raise unknown_arch(arch, FOLDER_ARCHS, "arch", "model architecture")
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

