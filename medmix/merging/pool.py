"""A merge pool: the base checkpoint and the specialists fine-tuned from it, validated against each other.

The pool is loaded once (safely: `weights_only=True`), every state dict must share keys, shapes and dtypes with
the base (a readable diff otherwise), and no tensor may hold NaN or Inf. `distance_report` says per merge unit
how far each model moved from the base (relative norm of its task vector) and how the task vectors relate
(cosine), and flags units in which every model equals the base (e.g. MedSAM's frozen prompt encoder): searching
them is wasted effort.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from medmix.errors import InputError


@dataclass
class PoolMember:
    name: str
    state: dict[str, torch.Tensor]
    path: str | None = None
    sha256: str | None = None


@dataclass
class MergePool:
    """Base first, then the models to merge into it. Floating tensors are merged; others are copied from the base."""

    members: list[PoolMember]
    arch: str | None = None
    preprocessing: dict | None = None
    mergeable: list[str] = field(default_factory=list)

    def __post_init__(self):
        validate_pool(self.members)
        base = self.members[0].state
        self.mergeable = [k for k, v in base.items() if v.is_floating_point()]

    @property
    def base(self) -> dict[str, torch.Tensor]:
        return self.members[0].state

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def tensors(self, key: str) -> list[torch.Tensor]:
        return [m.state[key] for m in self.members]

    @classmethod
    def from_files(cls, entries: Sequence[tuple[str, str | Path]], *, arch: str | None = None,
                   preprocessing: dict | None = None) -> MergePool:
        """Load `(name, path)` pairs, base first, with medmix's safe checkpoint reader."""
        from medmix.models.checkpoints import load_state_dict, sha256_file

        members = []
        for name, path in entries:
            state = {k: v for k, v in load_state_dict(path).items() if isinstance(v, torch.Tensor)}
            members.append(PoolMember(name, state, str(path), sha256_file(path)))
        return cls(members, arch, preprocessing)


def validate_pool(members: Sequence[PoolMember]) -> None:
    """Same keys, shapes and dtypes as the base, finite values; raise `InputError` with a readable diff."""
    if len(members) < 2:
        raise InputError(f"a merge pool needs a base and at least one model, got {len(members)} member(s).")
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise InputError(f"pool member names must be unique, got {names}.")
    from medmix.models.checkpoints import check_finite_weights, diff_state_dict

    base = members[0]
    shapes = {k: tuple(v.shape) for k, v in base.state.items()}
    for member in members[1:]:
        diff = diff_state_dict(shapes, member.state)
        if diff:
            raise InputError(f"pool member {member.name!r} ({member.path or 'in memory'}) does not match the base "
                             f"{base.name!r}: {diff}. Merging needs models fine-tuned from the same architecture.")
        bad_dtype = [k for k, v in member.state.items() if v.dtype != base.state[k].dtype]
        if bad_dtype:
            k = bad_dtype[0]
            raise InputError(f"pool member {member.name!r}: {len(bad_dtype)} tensors differ in dtype from the base, "
                             f"e.g. {k}: {member.state[k].dtype} vs {base.state[k].dtype}. Convert the checkpoint "
                             "to the base's dtype first.")
    for member in members:
        check_finite_weights(member.state, f"pool member {member.name!r} ({member.path or 'in memory'})")


@dataclass
class UnitDistance:
    unit: str
    n_tensors: int
    n_values: int
    relative_norm: dict[str, float]  # ‖τi‖ / ‖θ0‖ per model
    cosine: dict[str, float]  # between task vectors, "a|b"
    identical: bool  # every model equals the base in this unit


def distance_report(pool: MergePool, assignment) -> list[UnitDistance]:
    """Per unit of `assignment` (from `medmix.merging.units.assign_units`): task-vector norms and cosines."""
    report = []
    models = pool.members[1:]
    for unit, keys in assignment.keys.items():
        keys = [k for k in keys if k in pool.mergeable]
        base_sq = sum(float(pool.base[k].double().pow(2).sum()) for k in keys)
        sq = {m.name: 0.0 for m in models}
        dots: dict[str, float] = {}
        for k in keys:
            b = pool.base[k].double()
            taus = {m.name: m.state[k].double() - b for m in models}
            for name, tau in taus.items():
                sq[name] += float(tau.pow(2).sum())
            for i, a in enumerate(models):
                for c in models[i + 1:]:
                    pair = f"{a.name}|{c.name}"
                    dots[pair] = dots.get(pair, 0.0) + float((taus[a.name] * taus[c.name]).sum())
        rel = {n: math.sqrt(v) / math.sqrt(base_sq) if base_sq > 0 else math.sqrt(v) for n, v in sq.items()}
        cos = {}
        for pair, dot in dots.items():
            a, c = pair.split("|")
            denom = math.sqrt(sq[a] * sq[c])
            cos[pair] = dot / denom if denom > 0 else 0.0
        report.append(UnitDistance(unit, len(keys), sum(pool.base[k].numel() for k in keys), rel, cos,
                                   all(v == 0.0 for v in sq.values())))
    return report


def state_from_mapping(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in state.items() if isinstance(v, torch.Tensor)}
