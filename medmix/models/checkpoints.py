"""Reading model checkpoints safely, unwrapping their formats, and explaining why one does not fit a model.

Formats understood by `load_state_dict` (all end up as a flat ``{key: tensor}`` with SAM's key names):

- plain state dict (SAM ``sam_vit_b_01ec64.pth``, released MedSAM ``medsam_vit_b.pth``, LiteMedSAM);
- ``{"model": state}`` or ``{"state_dict": state}``, keys optionally prefixed ``module.`` (DDP) or
  ``model.`` (Lightning) or ``_orig_mod.`` (torch.compile): MedSAM training checkpoints;
- micro-sam / MedicoSAM ``{"model_state": {"sam.<key>": …}, "decoder_state": …}`` and plain dicts whose keys all
  start with ``sam.``;
- ``.safetensors`` files (needs the ``safetensors`` package).

``.pth``/``.pt`` files are always read with ``torch.load(weights_only=True)``: a file that needs arbitrary
unpickling (e.g. SAM-Med2D's ``{"model": …, "optimizer": <pickled object>}``) is refused, never executed; the
refusal says how to extract the weights, naming the wrapper key the file holds (read from its pickle opcodes, not by
unpickling) and micro-sam's ``export_custom_sam_model`` for micro-sam / MedicoSAM training checkpoints.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medmix.errors import InputError

#: Sub-dicts tried, in order, when a checkpoint is a wrapper around the state dict.
WRAPPER_KEYS = ("model_state", "state_dict", "model", "module", "net", "weights")
#: Key prefixes stripped when *every* key carries them (applied repeatedly: ``module.sam.x`` → ``x``).
STRIP_PREFIXES = ("module.", "_orig_mod.", "model.", "sam.")
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
SAFETENSORS_SUFFIX = ".safetensors"

_SHA_CACHE: dict[tuple[str, int, int], str] = {}
_SHA_LOCK = threading.Lock()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 4 MiB chunks; cached per (resolved path, mtime_ns, size)."""
    p = Path(path).expanduser().resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(f"checkpoint file {str(path)!r}: cannot read it ({exc.strerror}).") from exc
    key = (str(p), st.st_mtime_ns, st.st_size)
    with _SHA_LOCK:
        if key in _SHA_CACHE:
            return _SHA_CACHE[key]
    digest = hashlib.sha256()
    with p.open("rb") as handle:
        for chunk in iter(lambda: handle.read(4 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _SHA_LOCK:
        _SHA_CACHE[key] = value
    return value


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file into a flat ``{key: torch.Tensor}`` on the CPU (formats: see the module docstring).

    Raises `InputError` for a missing/unreadable file, a file that needs unsafe unpickling (refused), or a
    file holding no state dict; `MissingDependencyError` for ``.safetensors`` without the package.
    """
    p = Path(path).expanduser()
    where = f"checkpoint file {str(path)!r}"
    if not p.exists():
        raise InputError(f"{where}: no such file. Check the path (relative paths start at {os.getcwd()!r}).")
    if p.is_dir():
        raise InputError(f"{where}: is a directory; pass the weights file (or use the 'merged:' adapter for a folder).")
    if p.stat().st_size == 0:
        raise InputError(f"{where}: the file is empty (0 bytes); it was probably not fully written.")
    name = p.name.lower()
    if name.endswith(SAFETENSORS_SUFFIX):
        import safetensors.torch as safetensors_torch
        try:
            raw: Any = safetensors_torch.load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises SafetensorError / OSError for bad files
            raise InputError(f"{where}: cannot read it as safetensors ({type(exc).__name__}: {exc}).") from exc
    else:
        raw = _torch_load(p, where)
    return unwrap_state_dict(raw, where=where)


def _torch_load(p: Path, where: str) -> Any:
    import pickle

    import torch

    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", message)
        if found:
            what = f" ({found.group(1)})"
            raise InputError(
                f"{where}: refused for safety. It contains pickled Python objects{what} that can only be loaded by "
                "running arbitrary code, and medmix only reads checkpoints with torch.load(weights_only=True). "
                + _extraction_hint(_wrapper_keys_in(p))
            ) from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", message)
        detail_text = detail.group(1).strip() if detail else message.strip().splitlines()[0]
        raise InputError(
            f"{where}: cannot read it as a PyTorch checkpoint (the weights-only unpickler stopped: "
            f"{detail_text[:200]}). The file is corrupt, truncated or not a torch.save file; download or export it "
            "again."
        ) from None
    except Exception as exc:  # corrupt zip, truncated file, not a torch file
        raise InputError(
            f"{where}: cannot read it as a PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:200]}). The file is "
            "corrupt, truncated or not a torch.save file; download or export it again."
        ) from exc


def _wrapper_keys_in(p: Path) -> list[str]:
    """The WRAPPER_KEYS named in a checkpoint's pickle, in WRAPPER_KEYS order, read without unpickling anything.

    pickletools only lists opcodes, it runs none. A name may also be a value rather than a key, so this only
    tailors the hint of a refusal; [] when the file cannot be scanned.
    """
    import pickletools
    import zipfile

    names: set[str] = set()

    def scan(handle, n_pickles: int) -> None:
        for _ in range(n_pickles):
            for op, arg, _pos in pickletools.genops(handle):
                if "UNICODE" in op.name:
                    names.add(arg)

    try:
        if zipfile.is_zipfile(p):  # torch.save's default format: the object's pickle is <archive>/data.pkl
            with zipfile.ZipFile(p) as archive:
                member = next(n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "data.pkl")
                with archive.open(member) as handle:
                    scan(handle, 1)
        else:
            with p.open("rb") as handle:  # legacy format: magic number, protocol, sys info, the object
                scan(handle, 4)
    except Exception:  # a file that cannot be scanned keeps the generic hint
        return []
    return [k for k in WRAPPER_KEYS if k in names]


def _extraction_hint(keys: list[str]) -> str:
    """How to turn a refused checkpoint into a plain state dict, for the wrapper keys it holds."""
    if "model_state" in keys:  # micro-sam / MedicoSAM training checkpoints: {"model_state": {"sam.<key>": …}, …}
        return ("It looks like a micro-sam / MedicoSAM training checkpoint (weights under 'model_state', keys "
                "'sam.<key>'). If you trust the file, export it once to a plain SAM state dict (one that "
                "segment_anything loads) with micro-sam: from micro_sam.util import export_custom_sam_model; "
                "export_custom_sam_model(path, model_type='vit_b', save_path='weights.pth') (the model type of the "
                "checkpoint: vit_b, vit_l, vit_h or vit_t); or in your own Python session: "
                "ckpt = torch.load(path, weights_only=False); torch.save(ckpt['model_state'], 'weights.pth') "
                "(medmix strips the 'sam.' prefixes) — and pass 'weights.pth'.")
    key = keys[0] if keys else "model"
    where_weights = "" if keys else (f" — or whichever key holds the weights (medmix looks for "
                                     f"{', '.join(WRAPPER_KEYS)})")
    return ("If you trust the file, extract the weights once in your own Python session: "
            f"ckpt = torch.load(path, weights_only=False); torch.save(ckpt['{key}'], 'weights.pth'){where_weights}"
            " — and pass 'weights.pth'.")


def unwrap_state_dict(obj: Any, *, where: str = "checkpoint") -> dict[str, Any]:
    """Find the state dict inside a loaded checkpoint object and strip wrapper prefixes (see module docstring)."""
    import torch

    if not isinstance(obj, Mapping):
        raise InputError(f"{where}: expected a state dict (a mapping of names to tensors), got {type(obj).__name__}.")
    state: Mapping = obj
    # Descend through wrappers ({"model": {...}}, {"model_state": {...}, "decoder_state": ...}) until tensors.
    for _ in range(3):
        if state and all(isinstance(v, torch.Tensor) for v in state.values()):
            break
        inner = next(
            (state[k] for k in WRAPPER_KEYS if isinstance(state.get(k), Mapping) and _has_tensors(state[k])), None
        )
        if inner is None:
            break
        state = inner
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    others = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not tensors:
        top = ", ".join(repr(str(k)) for k in list(obj)[:10])
        raise InputError(
            f"{where}: holds no tensors where a state dict was expected (top-level keys: {top}). medmix reads a "
            f"plain state dict or one wrapped under {', '.join(repr(k) for k in WRAPPER_KEYS)}."
        )
    if others:
        raise InputError(
            f"{where}: the state dict mixes tensors with {len(others)} non-tensor entries "
            f"({', '.join(repr(k) for k in others[:5])}); save model.state_dict() only."
        )
    return strip_prefixes(tensors)


def _has_tensors(mapping: Mapping) -> bool:
    import torch

    return any(isinstance(v, torch.Tensor) for v in mapping.values()) or any(
        isinstance(v, Mapping) and _has_tensors(v) for v in mapping.values()
    )


def strip_prefixes(state: Mapping[str, Any], prefixes: tuple[str, ...] = STRIP_PREFIXES) -> dict[str, Any]:
    """Strip a wrapper prefix from all keys while every key carries it (``module.sam.x`` → ``x``)."""
    out = dict(state)
    changed = True
    while changed and out:
        changed = False
        for prefix in prefixes:
            if all(k.startswith(prefix) for k in out):
                out = {k[len(prefix):]: v for k, v in out.items()}
                changed = True
    return out


# ----------------------------------------------------------------------------------------------- diffs

_INDEX = re.compile(r"^\d+$")
_MAX_ITEMS = 6


def _shape_of(value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", value)
    return tuple(int(s) for s in shape)


def _group(key: str) -> str:
    """``image_encoder.blocks.10.attn.qkv.weight`` → ``image_encoder.blocks.10.*``; keys without an index: as is."""
    parts = key.split(".")
    for i, part in enumerate(parts):
        if _INDEX.match(part):
            return ".".join(parts[: i + 1]) + ".*"
    return key


def _summarise(keys: list[str]) -> str:
    groups: dict[str, list[str]] = defaultdict(list)
    for key in sorted(keys, key=_natural):
        groups[_group(key)].append(key)
    items = [members[0] if len(members) == 1 else f"{name} ({len(members)})" for name, members in groups.items()]
    shown = ", ".join(items[:_MAX_ITEMS])
    more = f", … {len(items) - _MAX_ITEMS} more groups" if len(items) > _MAX_ITEMS else ""
    return shown + more


def _natural(key: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _block_count(keys, prefix: str = "image_encoder.blocks.") -> int:
    heads = (k[len(prefix):].split(".", 1)[0] for k in keys if k.startswith(prefix))
    idx = {int(h) for h in heads if h.isdigit()}
    return max(idx) + 1 if idx else 0


def diff_state_dict(expected: Mapping[str, Any], got: Mapping[str, Any]) -> str | None:
    """A readable difference between the keys/shapes a model expects and a checkpoint's, or None if they match.

    expected: key → shape (tuple / torch.Size) or tensor; got: key → tensor (or shape). Keys are grouped by their
    first numeric index (``image_encoder.blocks.10.*``) and each list is truncated, e.g.
    "missing 24 keys: image_encoder.blocks.10.* (12), image_encoder.blocks.11.* (12)".
    """
    exp = {k: _shape_of(v) for k, v in expected.items()}
    have = {k: _shape_of(v) for k, v in got.items()}
    missing = [k for k in exp if k not in have]
    unexpected = [k for k in have if k not in exp]
    mismatched = sorted((k for k in exp if k in have and exp[k] != have[k]), key=_natural)
    if not (missing or unexpected or mismatched):
        return None
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} key{'s' * (len(missing) != 1)}: {_summarise(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} key{'s' * (len(unexpected) != 1)}: {_summarise(unexpected)}")
    if mismatched:
        shown = "; ".join(f"{k}: model {exp[k]}, checkpoint {have[k]}" for k in mismatched[:_MAX_ITEMS])
        more = f"; … {len(mismatched) - _MAX_ITEMS} more" if len(mismatched) > _MAX_ITEMS else ""
        parts.append(f"{len(mismatched)} shape mismatch{'es' * (len(mismatched) != 1)}: {shown}{more}")
    hints = []
    n_exp, n_got = _block_count(exp), _block_count(have)
    if n_exp and n_got and n_exp != n_got:
        hints.append(f"the model has {n_exp} image-encoder blocks but the checkpoint has {n_got} (a different "
                     "architecture: vit_b 12, vit_l 24, vit_h 32 — pick the matching arch)")
    if unexpected and not (set(exp) & set(have)):
        hints.append("no key matches at all: the checkpoint is for another model or wraps its keys in a prefix "
                     f"(first checkpoint key {sorted(have)[0]!r}, first model key {sorted(exp)[0]!r})")
    return "; ".join(parts) + (". Hint: " + "; ".join(hints) if hints else "")


def load_into(model, state: Mapping[str, Any], *, strict: bool = True, where: str = "checkpoint") -> str | None:
    """Load `state` into `model` (an nn.Module), raising `InputError` with a readable diff when it does not fit.

    strict=True: keys and shapes must match exactly. strict=False: missing/unexpected keys are tolerated (and
    returned as the diff text) but shape mismatches still raise. Returns the diff, or None for an exact fit.
    """
    expected = model.state_dict()
    diff = diff_state_dict(expected, state)
    if diff is not None:
        shape_bad = any(k in expected and _shape_of(expected[k]) != _shape_of(v) for k, v in state.items())
        if strict or shape_bad:
            raise InputError(
                f"{where}: does not fit the {type(model).__name__} model: {diff}. Check that the checkpoint and "
                "the adapter/arch belong together."
            )
    if strict:
        model.load_state_dict(state, strict=True)
    else:
        model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    return diff
