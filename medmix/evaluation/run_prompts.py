"""What an evaluation run does about prompts: the `--prompt` override or `--prompts` replay applied to the cards,
the `--max-slices-per-task` cap, the box-only flag, and the run's prompt record (prompts.json, summary block).

Slice cap: a task's budget of N slices is shared by its cases in plan order, ⌈N / n_cases⌉ each (the last ones
may get fewer, cases past the budget none), each case's slices evenly spaced over its reference-foreground
slices. Only those slices keep their reference, so every metric of a capped run (volumetric ones included)
covers the sampled slices only; staging, which needs the whole lesion, is left out. The share of a case depends
only on N, the number of cases and its position, so a capped run resumes like any other.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from medmix.errors import InputError


def prompt_cards(config, cards) -> tuple[list, object | None]:
    """(cards with the run's prompt applied, the frozen prompt file being replayed or None)."""
    from medmix.data.prompts import as_prompt_spec

    if config.prompt is not None:
        spec = as_prompt_spec(config.prompt, where="--prompt")
        for card in cards:
            if spec.kind == "medsamix_jitter" and card.slice_axis is not None:
                raise InputError(f"--prompt medsamix_jitter: task {card.name} is a volume; MedSAMix's jitter is for "
                                 "2-D (fundus) images. Choose another kind or leave that task out (--task).")
        return [replace(card, prompt=spec) for card in cards], None
    if config.prompts is not None:
        from medmix.data.prompts.frozen import read_prompts

        frozen = read_prompts(config.prompts)
        for card in cards:
            frozen.for_case(card.name, "")  # a task the file does not cover stops here, before any work
        return [replace(card, prompt=frozen.specs[card.name]) for card in cards], frozen
    return list(cards), None


def slice_budgets(n_cases: int, max_slices: int | None) -> list[int | None]:
    """Per case position: how many slices it keeps under the cap (None: uncapped)."""
    if max_slices is None:
        return [None] * n_cases
    share = math.ceil(max_slices / n_cases) if n_cases else 0
    return [max(0, min(share, max_slices - position * share)) for position in range(n_cases)]


def cap_case_slices(case, n: int):
    """The case with its reference kept on `n` evenly spaced reference-foreground slices only (2-D: as is)."""
    if case.ndim == 2:
        return case
    label = np.asarray(case.label)
    other = tuple(a for a in range(3) if a != case.slice_axis)
    indices = np.flatnonzero(label.any(axis=other))
    if len(indices) <= n:
        return case
    keep = indices[np.unique(np.round(np.linspace(0, len(indices) - 1, n)).astype(int))]
    where = np.zeros(label.shape[case.slice_axis], dtype=bool)
    where[keep] = True
    shape = [1, 1, 1]
    shape[case.slice_axis] = -1
    return replace(case, label=np.where(where.reshape(shape), label, 0).astype(label.dtype))


def prompt_flags(model, cards) -> list[str]:
    """Sentences for provenance and leaderboards: a box-only model scored with points."""
    if not getattr(model, "box_only", False):
        return []
    with_points = [c.name for c in cards if c.prompt.uses_points]
    if not with_points:
        return []
    kinds = sorted({c.prompt.kind for c in cards if c.prompt.uses_points})
    return [f"{getattr(model, 'name', 'the model')} was trained with box prompts only and is scored here with point "
            f"prompts ({', '.join(kinds)}) on {', '.join(with_points)}"]


def prompt_record(cards, frozen, digest: str | None) -> dict:
    """The summary's "prompts" block: each task's prompt label, the digest of the prompts used, and the file
    replayed (if any)."""
    out: dict = {"tasks": {c.name: c.prompt.label() for c in cards}}
    if digest is not None:
        out["digest"] = digest
    if frozen is not None:
        out["replayed_from"] = frozen.path
        out["replayed_digest"] = frozen.digest
    return out


__all__ = ["cap_case_slices", "prompt_cards", "prompt_flags", "prompt_record", "slice_budgets"]
