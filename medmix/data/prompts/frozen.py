"""Frozen prompt files: the exact prompts of a run, written next to its results and replayed by a later run
(`medmix evaluate --prompts FILE`), so every model of a leaderboard sees the same prompts (SAM-Med2D's
`prompt_path`).

`prompts.json` holds, per task, the prompt spec, and per (task, case, slice) the start prompt's objects on the
case's own slice grid (x = column, y = row of `take_slice`; independent of the protocol's orientation). For
iterative runs each entry also lists the clicks placed ([x, y, label], in order); they depend on the model's
predictions, so a replay recomputes them from its own predictions and only the start prompt is replayed.
`digest` is the sha256 of the specs and start prompts (not the clicks): two runs with one digest saw the same
prompts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medmix.data.prompts.objects import SlicePrompt
from medmix.data.prompts.spec import PromptSpec, parse_prompt_mapping
from medmix.errors import InputError

PROMPTS_FORMAT = "medmix-prompts"
PROMPTS_VERSION = 1
PROMPTS_FILE = "prompts.json"


@dataclass
class FrozenPrompts:
    """A read prompt file: per task its spec and {case: {slice: SlicePrompt}}; `digest` and `path`."""

    specs: dict[str, PromptSpec]
    prompts: dict[str, dict[str, dict[int, SlicePrompt]]] = field(default_factory=dict)
    digest: str = ""
    path: str | None = None

    def for_case(self, task: str, case_id: str) -> dict[int, SlicePrompt]:
        """{slice: prompt} of a case; an empty dict for a case the file knows no prompted slice of."""
        if task not in self.specs:
            raise InputError(f"prompt file {self.path}: no prompts for task {task!r} (it has "
                             f"{', '.join(sorted(self.specs))}); replay it on the tasks it was written for.")
        return self.prompts.get(task, {}).get(case_id, {})


def prompts_digest(specs: Mapping[str, Mapping], entries: Sequence[Mapping]) -> str:
    """sha256 of the specs and the start prompts of `entries` (clicks left out), in a canonical order."""
    start = sorted(([e["task"], e["case"], int(e["slice"]), e["objects"]] for e in entries),
                   key=lambda e: (e[0], e[1], e[2]))
    text = json.dumps({"specs": {k: specs[k] for k in sorted(specs)}, "prompts": start}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def prompts_document(specs: Mapping[str, PromptSpec], entries: Sequence[Mapping]) -> dict:
    """The JSON document of a prompt file (entries: {task, case, slice, objects[, clicks]})."""
    spec_dicts = {task: spec.to_dict() for task, spec in specs.items()}
    return {"format": PROMPTS_FORMAT, "version": PROMPTS_VERSION,
            "digest": prompts_digest(spec_dicts, entries), "tasks": spec_dicts, "entries": list(entries)}


def read_prompts(path: str | Path) -> FrozenPrompts:
    """Read and check a prompt file written by a run (see the module docstring)."""
    where = f"prompt file {str(path)!r}"
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{where} does not exist; give the prompts.json a run wrote (e.g. "
                         "runs/eval_tiny/prompts.json).") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{where} could not be read as JSON: {exc}.") from None
    if not isinstance(data, Mapping) or data.get("format") != PROMPTS_FORMAT:
        raise InputError(f"{where} is not a medmix prompt file (no \"format\": \"{PROMPTS_FORMAT}\").")
    if data.get("version") != PROMPTS_VERSION:
        raise InputError(f"{where}: version {data.get('version')!r} is not readable by this medmix (reads "
                         f"version {PROMPTS_VERSION}).")
    tasks, entries = data.get("tasks"), data.get("entries")
    if not isinstance(tasks, Mapping) or not isinstance(entries, list):
        raise InputError(f"{where}: expected 'tasks' (a mapping) and 'entries' (a list).")
    specs = {task: parse_prompt_mapping(spec, where=f"tasks.{task}", file=where) for task, spec in tasks.items()}
    frozen = FrozenPrompts(specs, path=str(path))
    for n, entry in enumerate(entries):
        here = f"{where}: entries[{n}]"
        if not isinstance(entry, Mapping) or not {"task", "case", "slice", "objects"} <= set(entry):
            raise InputError(f"{here}: expected task, case, slice and objects.")
        task, case_id, index = entry["task"], str(entry["case"]), entry["slice"]
        if task not in specs:
            raise InputError(f"{here}: task {task!r} has no spec under 'tasks'.")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InputError(f"{here}: slice must be an integer ≥ 0, got {index!r}.")
        by_case = frozen.prompts.setdefault(task, {}).setdefault(case_id, {})
        if index in by_case:
            raise InputError(f"{here}: slice {index} of {task}/{case_id} appears twice.")
        prompt = SlicePrompt.from_json(entry["objects"], f"{here}.objects")
        spec = specs[task]
        if spec.kind == "iterative" and len(prompt) != 1:
            raise InputError(f"{here}: an iterative run starts from one object per slice, got {len(prompt)}.")
        by_case[index] = prompt
    frozen.digest = prompts_digest(tasks, entries)
    if data.get("digest") not in (None, frozen.digest):
        raise InputError(f"{where}: its digest does not match its prompts (the file was edited after it was "
                         "written); write it again from a run, or remove the 'digest' field to accept the edit.")
    return frozen


__all__ = ["FrozenPrompts", "PROMPTS_FILE", "PROMPTS_FORMAT", "PROMPTS_VERSION", "prompts_digest",
           "prompts_document", "read_prompts"]
