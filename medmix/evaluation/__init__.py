"""Evaluation: task cards, suites, the runner, the result store and summaries.

- `TaskCard`, `load_card(path)`, `card_from_dict(mapping)` (`medmix.evaluation.cards`)
- `Suite`, `load_suite(name_or_path)`, `list_suites()`, `list_tasks()`, `find_card(task)`
  (`medmix.evaluation.suites`)
- `EvaluationConfig`, `evaluate(config, model=None)` (`medmix.evaluation.runner`)

Names load on first use, so `import medmix.evaluation` stays light.
"""

from __future__ import annotations

_LAZY = {
    "TaskCard": "medmix.evaluation.cards",
    "load_card": "medmix.evaluation.cards",
    "card_from_dict": "medmix.evaluation.cards",
    "Suite": "medmix.evaluation.suites",
    "load_suite": "medmix.evaluation.suites",
    "list_suites": "medmix.evaluation.suites",
    "list_tasks": "medmix.evaluation.suites",
    "find_card": "medmix.evaluation.suites",
    "EvaluationConfig": "medmix.evaluation.runner",
    "EvaluationResult": "medmix.evaluation.runner",
    "evaluate": "medmix.evaluation.runner",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'medmix.evaluation' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
