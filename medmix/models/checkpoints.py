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

Before torch sees a file, its first bytes say what it is (`sniff_file_kind`): a plain pickle, a NumPy array, an
HDF5 file, a Git LFS pointer or an HTML page is named as such (torch's own warnings never reach the user). After
unwrapping, `check_finite_weights` refuses any tensor holding NaN or Inf, naming the key and the file: the one
check every weights loader uses (adapters, model folders, merge pools, `SamFamilyModel.load_weights`).
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

    Raises `InputError` for a missing, unreadable or empty path, a directory, a file that is not a checkpoint (a
    plain pickle, NumPy, HDF5, text / HTML or a Git LFS pointer: named as such, before torch sees it), a file that
    needs unsafe unpickling (refused), a file holding no state dict, or a tensor holding NaN / Inf
    (`check_finite_weights`); `MissingDependencyError` for ``.safetensors`` without the package.
    """
    from medmix.user_paths import require_file

    where = f"checkpoint file {str(path)!r}"
    p = require_file(path, where, "a weights file (.pth, .pt, .safetensors)",
                     dir_hint=" Pass the weights file inside it, or 'merged:<folder>' for a folder the merge step "
                              "wrote (it holds model.json).")
    head = _read_head(p, where)
    name = p.name.lower()
    kind = sniff_file_kind(head, p)
    if name.endswith(SAFETENSORS_SUFFIX) or kind == "safetensors":
        import safetensors.torch as safetensors_torch
        try:
            raw: Any = safetensors_torch.load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises SafetensorError / OSError for bad files
            raise InputError(f"{where}: cannot read it as safetensors ({type(exc).__name__}: {exc}).") from exc
    else:
        if kind not in ("torch_zip", "torch_legacy"):
            raise InputError(_not_a_checkpoint(kind, where))
        raw = _torch_load(p, where)
    state = unwrap_state_dict(raw, where=where)
    check_finite_weights(state, where)
    return state


def check_finite_weights(state: Mapping[str, Any], where: str) -> None:
    """Raise `InputError` naming the first floating tensor of `state` that holds NaN or Inf (and `where`: the file).

    One vectorised `torch.isfinite(t).all()` per floating tensor; integer tensors cannot hold either. Used wherever
    weights are loaded (every checkpoint file, `SamFamilyModel.load_weights`, merge pools), so the message is the
    same everywhere.
    """
    import torch

    for key, value in state.items():
        if not (isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())):
            continue
        if bool(torch.isfinite(value).all()):
            continue
        n_nan = int(torch.isnan(value).sum())
        n_inf = int(torch.isinf(value).sum())
        counts = ", ".join(part for part in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} Inf" if n_inf else "") if part)
        raise InputError(
            f"{where}: tensor {key!r} holds NaN or Inf values ({counts} of {value.numel()}); medmix refuses to score "
            "or merge such weights (every prediction would be meaningless). The checkpoint is corrupt or its "
            "training diverged: download or export it again (check with torch.isfinite(t).all() for every tensor)."
        )


# ----------------------------------------------------------------------------------------------- file kinds

#: Legacy (``_use_new_zipfile_serialization=False``) torch.save files open with a pickle of this magic number.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_EXPECTED = ("medmix expects a PyTorch state dict written by torch.save(model.state_dict(), path) (.pth / .pt), or "
             "a .safetensors file.")
#: What a file that is not a checkpoint is, and how to get a checkpoint from it (empty: nothing to say).
_NOT_A_CHECKPOINT = {
    "pickle": ("is a plain Python pickle (pickle.dump), not a torch.save file, and medmix does not unpickle "
               "arbitrary files",
               "If you trust it and it holds the weights, convert it once in your own Python session: "
               "obj = pickle.load(open(path, 'rb')); torch.save({k: torch.as_tensor(v) for k, v in obj.items()}, "
               "'weights.pth') — and pass 'weights.pth'."),
    "numpy": ("is a NumPy .npy array, not a checkpoint", ""),
    "npz": ("is a NumPy .npz archive, not a checkpoint",
            "Convert it: torch.save({k: torch.from_numpy(v) for k, v in np.load(path).items()}, 'weights.pth')."),
    "zip": ("is a ZIP archive but not a torch.save file (it holds no data.pkl)",
            "Unpack it and pass the weights file inside."),
    "hdf5": ("is an HDF5 file (Keras / TensorFlow weights?), not a PyTorch checkpoint", ""),
    "gzip": ("is gzip-compressed", "Decompress it first (gunzip) and pass the file inside."),
    "tar": ("is a tar archive", "Unpack it (tar -xf) and pass the weights file inside."),
    "lfs": ("is a Git LFS pointer (a small text file standing in for the real weights), not the weights",
            "Fetch them with `git lfs pull` in the repository, or download the file itself."),
    "html": ("is an HTML page (a failed or login-protected download?), not a checkpoint", "Download the file again."),
    "text": ("is a text file, not a checkpoint", ""),
    "unknown": ("is not a PyTorch checkpoint (unrecognised content)",
                "It may be corrupt or truncated: download or export it again."),
}


def _not_a_checkpoint(kind: str, where: str) -> str:
    what, fix = _NOT_A_CHECKPOINT[kind]
    return f"{where}: {what}. {_EXPECTED}" + (f" {fix}" if fix else "")


def _read_head(p: Path, where: str, n: int = 512) -> bytes:
    try:
        with open(p, "rb") as handle:
            return handle.read(n)
    except OSError as exc:
        raise InputError(f"{where}: cannot read it ({exc.strerror or exc}); check its permissions.") from exc


def sniff_file_kind(head: bytes, p: Path | None = None) -> str:
    """What a file is from its first bytes (and, for ZIP archives, its member names), without unpickling anything.

    Returns "torch_zip", "torch_legacy", "safetensors", or one of the keys of `_NOT_A_CHECKPOINT`.
    """
    if head.startswith(b"PK\x03\x04"):
        if p is None:
            return "torch_zip"
        import zipfile

        try:
            with zipfile.ZipFile(p) as archive:
                members = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "torch_zip"  # a damaged torch file: torch.load explains
        if any(m.rsplit("/", 1)[-1] == "data.pkl" for m in members):
            return "torch_zip"
        return "npz" if members and all(m.endswith(".npy") for m in members) else "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:  # pickle protocol 2–5
        return "torch_legacy" if p is None or _opens_with_torch_magic(p) else "pickle"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head[257:262] == b"ustar":
        return "tar"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "safetensors"  # 8-byte little-endian header length, then the JSON header
    text = head.lstrip().lower()
    if text.startswith(b"version https://git-lfs"):
        return "lfs"
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "html"
    if b"\x00" in head:
        return "unknown"
    for cut in range(4):  # the first bytes may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            continue
    return "unknown"


def _opens_with_torch_magic(p: Path) -> bool:
    """Whether the first pickle in `p` is torch's legacy magic number (read with pickletools: nothing is run)."""
    import pickletools

    try:
        with open(p, "rb") as handle:
            for count, (op, arg, _pos) in enumerate(pickletools.genops(handle)):
                if op.name in ("LONG1", "LONG4", "LONG", "INT") or count > 4:
                    return arg == _TORCH_LEGACY_MAGIC
    except Exception:  # not even one well-formed pickle
        return False
    return False


def _torch_load(p: Path, where: str) -> Any:
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch's own notes (pickle protocol, weights_only) are not for the user
            warnings.simplefilter("ignore")
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
