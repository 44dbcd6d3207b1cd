"""Suites: named lists of task cards (`eval/suites/<name>.yaml`).

Suite file format:

    name: medsamix25                  # optional; defaults to the file stem
    description: ...                  # optional
    protocol: medmix                  # optional; medmix (default) | medsamix | {name: medsamix, drop_last_volume:
                                      #   true}: how runs score the suite unless they pick one (--protocol)
    prompt: {kind: iterative}         # optional; every card's prompt (a card's prompt: block, or text such as
                                      #   "iterative:rounds=3"); --prompt overrides it
    cards:                            # card paths, relative to eval/tasks/ (built-in suites) or, for a suite
      - medsamix25/flare22_liver.yaml #   file given by path, to the suite file's folder first, then eval/tasks/
      - ...

Where eval/ is found (first that exists): $MEDMIX_EVAL_DIR; the source checkout, `Path(medmix.__file__).parents[1]
/ "eval"` (eval/ sits next to medmix/ in the repository, and an editable install points there); the package
resource `medmix/_eval` (for a wheel whose build copies eval/ there); `<sys.prefix>/share/medmix/eval` (for a wheel
that installs eval/ as data files). A directory counts when it holds `suites/`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from medmix.errors import ConfigError, InputError, UnknownNameError, close_match_hint
from medmix.evaluation.cards import TaskCard, load_card

EVAL_ENV = "MEDMIX_EVAL_DIR"
_SUITE_KEYS = ("name", "description", "protocol", "prompt", "cards")


@dataclass(frozen=True)
class Suite:
    """A named, ordered collection of task cards (names unique within the suite)."""

    name: str
    cards: tuple[TaskCard, ...]
    description: str = ""
    protocol: object = None  # medmix.evaluation.protocol.Protocol (medmix when the suite names none)
    path: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.protocol is None:
            from medmix.evaluation.protocol import Protocol

            object.__setattr__(self, "protocol", Protocol())

    def card(self, task: str) -> TaskCard:
        """The card of task `task` (`UnknownNameError` with a did-you-mean otherwise)."""
        for card in self.cards:
            if card.name == task:
                return card
        raise UnknownNameError(f"task in suite {self.name!r}", task, [c.name for c in self.cards])

    @property
    def task_names(self) -> list[str]:
        return [c.name for c in self.cards]

    def __len__(self) -> int:
        return len(self.cards)

    def __iter__(self):
        return iter(self.cards)


def eval_dir() -> Path:
    """The eval/ folder holding tasks/ and suites/ (see the module docstring for the search order)."""
    for candidate in _eval_candidates():
        if candidate is not None and (candidate / "suites").is_dir():
            return candidate
    raise InputError(
        "medmix cannot find its eval/ folder (task cards and suites). Set MEDMIX_EVAL_DIR to a folder holding "
        "tasks/ and suites/, or install medmix from a source checkout (pip install -e .)."
    )


def _eval_candidates():
    env = os.environ.get(EVAL_ENV)
    if env:
        yield Path(env).expanduser()
    import medmix

    yield Path(medmix.__file__).resolve().parents[1] / "eval"
    try:
        from importlib.resources import files

        resource = files("medmix") / "_eval"
        yield Path(str(resource))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - zip imports
        pass
    yield Path(sys.prefix) / "share" / "medmix" / "eval"


def list_suites() -> list[str]:
    """Names of the built-in suites (eval/suites/*.yaml), sorted."""
    try:
        folder = eval_dir() / "suites"
    except InputError:
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def list_tasks() -> list[str]:
    """Names (file stems) of every built-in task card under eval/tasks/, sorted."""
    try:
        folder = eval_dir() / "tasks"
    except InputError:
        return []
    return sorted(p.stem for p in folder.rglob("*.yaml"))


def find_card(task: str) -> TaskCard:
    """The built-in card of task `task` (eval/tasks/**/<task>.yaml); `UnknownNameError` otherwise."""
    folder = eval_dir() / "tasks"
    matches = sorted(folder.rglob(f"{task}.yaml")) if task and "/" not in task else []
    if not matches:
        raise UnknownNameError("task", task, list_tasks())
    return load_card(matches[0])


def load_suite(name_or_path: str | Path) -> Suite:
    """A built-in suite by name (`list_suites()`), or a suite YAML file by path; every card is validated."""
    text = str(name_or_path)
    as_path = Path(text).expanduser()
    looks_like_path = isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or os.sep in text \
        or "/" in text
    if looks_like_path or as_path.is_file():
        if not as_path.is_file():
            raise InputError(f"suite file {text!r} not found.")
        return _load_suite_file(as_path, builtin=False)
    names = list_suites()
    if text not in names:
        raise UnknownNameError("suite", text, names)
    return _load_suite_file(eval_dir() / "suites" / f"{text}.yaml", builtin=True)


def _load_suite_file(path: Path, *, builtin: bool) -> Suite:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}).") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'cards' (a list of card paths), got "
                          f"{type(data).__name__}.")
    for key in data:
        if key not in _SUITE_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r}{close_match_hint(key, _SUITE_KEYS)}. Allowed keys: "
                              f"{', '.join(_SUITE_KEYS)}.")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: name: expected text, got {name!r}.")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{path}: description: expected text, got {description!r}.")
    from medmix.evaluation.protocol import parse_protocol

    protocol = parse_protocol(data.get("protocol"), where=f"{path}: protocol")
    entries = data.get("cards")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: cards: expected a non-empty list of card paths (relative to eval/tasks/).")
    tasks_dir = _tasks_dir_or_none()
    cards = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry:
            raise ConfigError(f"{path}: cards[{i}]: expected a card path such as 'medsamix25/flare22_liver.yaml', "
                              f"got {entry!r}.")
        card_path = _resolve_card(entry, path, tasks_dir, builtin)
        if card_path is None:
            raise ConfigError(f"{path}: cards[{i}]: card {entry!r} not found"
                              f"{'' if tasks_dir is None else f' under {tasks_dir}'}"
                              f"{'' if builtin else f' or {path.parent}'}.")
        card = load_card(card_path)
        if card.name in seen:
            raise ConfigError(f"{path}: cards[{i}]: task {card.name!r} is already in the suite "
                              f"(cards[{seen[card.name]}]); task names must be unique within a suite.")
        seen[card.name] = i
        cards.append(card)
    if data.get("prompt") is not None:
        cards = _with_prompt(cards, data["prompt"], path)
    return Suite(name=name, cards=tuple(cards), description=description, protocol=protocol, path=path)


def _with_prompt(cards: list[TaskCard], value, path: Path) -> list[TaskCard]:
    """Every card with the suite's `prompt` (a mapping or KIND[:options] text)."""
    from dataclasses import replace

    from medmix.data.prompts import parse_prompt_mapping, parse_prompt_text

    spec = (parse_prompt_text(value, where=f"{path}: prompt") if isinstance(value, str)
            else parse_prompt_mapping(value, where="prompt", file=str(path)))
    for card in cards:
        if spec.kind == "medsamix_jitter" and card.slice_axis is not None:
            raise ConfigError(f"{path}: prompt: 'medsamix_jitter' is MedSAMix's 2-D (fundus) jitter; task "
                              f"{card.name} is a volume.")
    return [replace(card, prompt=spec) for card in cards]


def suite_table(suite: Suite) -> list[dict[str, str]]:
    """One row per task for `medmix suites show` and the README: task, data (entries), labels, provenance label
    and its evidence or reason."""
    rows = []
    for card in suite.cards:
        data = " + ".join(e.name + (f" {list(e.labels)}" if e.labels else "") for e in card.entries)
        prov = card.provenance
        rows.append({
            "task": card.name, "data": f"{card.source}: {data}", "modality": card.modality,
            "labels": ", ".join(str(i) for i in card.target.labels) + f" ({card.target.name})",
            "provenance": prov.label() if prov else "not stated",
            "kind": prov.kind if prov else "", "medsamix_key": (prov.medsamix_key or "") if prov else "",
            "guess": bool(prov.guess) if prov else False,
            "note": (prov.evidence or prov.reason) if prov else "",
        })
    return rows


def _tasks_dir_or_none() -> Path | None:
    try:
        return eval_dir() / "tasks"
    except InputError:
        return None


def _resolve_card(entry: str, suite_path: Path, tasks_dir: Path | None, builtin: bool) -> Path | None:
    p = Path(entry).expanduser()
    if p.is_absolute():
        return p if p.is_file() else None
    candidates = [] if builtin else [suite_path.parent / p]
    if tasks_dir is not None:
        candidates.append(tasks_dir / p)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


__all__ = ["Suite", "eval_dir", "find_card", "list_suites", "list_tasks", "load_suite", "suite_table"]
