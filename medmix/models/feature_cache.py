"""A bounded cache of image-encoder outputs, shared by every model in the process, keyed by content.

The image encoder is nearly all of a SAM-family model's cost, and evaluations often encode the same input twice:
several tasks on the same slices (FLARE22's five organs, the MNI brain / grey / white matter targets), or several
models that share their encoder (specialists fine-tuned only in their decoder, merges of them, ensembles). The key
is (a digest of the encoder's weights, a digest of the preprocessed input and its precision), so a hit is the
same computation, whichever model asks. The weights digest is recomputed only when a parameter changed (torch's
per-tensor version counters say so), so in-place merges never read stale features.

Off by default (size 0); `SamFamilyModel(feature_cache_mb=N)` or `MEDMIX_FEATURE_CACHE_MB=N` turns it on. Entries
live on the device that computed them; the least recently used go first once the cache holds `N` MB.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict

ENV = "MEDMIX_FEATURE_CACHE_MB"


def default_size_mb() -> int:
    try:
        return max(0, int(os.environ.get(ENV, "0")))
    except ValueError:
        return 0


class FeatureCache:
    """LRU map of (weights digest, input digest) → embedding tensor, bounded in bytes."""

    def __init__(self, max_mb: int):
        self.max_bytes = int(max_mb) * 2**20
        self.entries: OrderedDict[tuple[str, str], object] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key):
        value = self.entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key, value) -> None:
        size = value.element_size() * value.numel()
        if size > self.max_bytes:
            return
        if key in self.entries:
            return
        self.entries[key] = value
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.bytes -= old.element_size() * old.numel()

    def resize(self, max_mb: int) -> None:
        self.max_bytes = max(self.max_bytes, int(max_mb) * 2**20)


_SHARED: FeatureCache | None = None


def shared_cache(max_mb: int) -> FeatureCache | None:
    """The process-wide cache, grown to at least `max_mb` (None when `max_mb` is 0)."""
    global _SHARED
    if max_mb <= 0:
        return None
    if _SHARED is None:
        _SHARED = FeatureCache(max_mb)
    else:
        _SHARED.resize(max_mb)
    return _SHARED


def reset_shared_cache() -> None:
    """Drop the process-wide cache (its memory and its hit counts)."""
    global _SHARED
    _SHARED = None


class WeightsDigest:
    """Content digest of a module's parameters and buffers, recomputed only when one of them changed."""

    def __init__(self, module):
        self.module = module
        self._stamp = None
        self._digest = ""

    def __call__(self) -> str:
        tensors = list(self.module.state_dict(keep_vars=True).values())
        stamp = tuple((t.data_ptr(), t._version) for t in tensors)
        if stamp != self._stamp:
            digest = hashlib.blake2b(digest_size=16)
            for t in tensors:
                digest.update(tensor_bytes(t))
            self._digest, self._stamp = digest.hexdigest(), stamp
        return self._digest


def tensor_bytes(t) -> bytes:
    """The raw bytes of a tensor (on the CPU, contiguous), for hashing."""
    import torch

    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.contiguous().cpu().numpy().tobytes()


def input_digest(x, precision: str) -> str:
    return hashlib.blake2b(tensor_bytes(x) + precision.encode(), digest_size=16).hexdigest()


__all__ = ["ENV", "FeatureCache", "WeightsDigest", "default_size_mb", "input_digest", "reset_shared_cache",
           "shared_cache", "tensor_bytes"]
