"""Config files, one rule for the paths in them, and the evaluation config that `medmix evaluate --config` reads.

The rule, for every medmix config file (merge recipes, search configs, model configs, evaluation configs):
**a relative path in a config file resolves against the folder of the file it appears in** (``~`` is expanded
first; absolute paths are used as they are). A config given as a Python mapping, read from no file, resolves
relative paths against the working directory. Paths typed on the command line resolve against the working
directory, as usual. Every "not found" error for a path from a config says the path as written, the resolved
path and the rule: "relative paths in a config resolve against the config file's folder: <folder>".

Evaluation config (YAML mapping of `medmix.evaluation.runner.EvaluationConfig` fields; all optional, so that
command-line options can fill in or override them)::

    suite: medsamix25                 # a built-in suite name, or a suite file (path rule)
    out_dir: ../runs/sam              # path rule
    model: {adapter: sam, arch: vit_b, checkpoint: ../checkpoints/sam_vit_b_01ec64.pth}
                                      # or a spec string ("sam:vit_b:../checkpoints/x.pth", checkpoint: path rule)
                                      # or a model config file ("model_medsam.yaml": path rule; its own
                                      # checkpoint resolves against *its* folder)
    predictions: ../runs/preds        # instead of model (path rule); prediction_labels: [1]
    split: test                       # test | calibration | all
    data_root: ~/medmix-data          # path rule
    tasks: [flare22_liver]            # names in the suite
    metrics: [dice, hd95]
    seed: 0
    protocol: medmix                  # or medsamix, or a mapping
    device: cuda
    batch_size: 8
    preprocessing: {kind: medsam}
    max_cases: 3
    prompt: iterative:rounds=3        # or a mapping {kind: iterative, rounds: 3}; every task's prompt
    prompts: ../runs/a/prompts.json   # instead of prompt: replay a run's frozen prompts (path rule)
    max_slices_per_task: 20
    workers: 2                        # cases on a local Dask cluster (or scheduler: tcp://host:8786)
    save_predictions: false
    overwrite: false
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medmix.errors import ConfigError, InputError, UnknownNameError

PATH_RULE = "relative paths in a config resolve against the config file's folder"


# ------------------------------------------------------------------------------------------- the path rule


def path_rule(base_dir: str | os.PathLike | None) -> str:
    """The rule as error messages state it, with the folder it applies to."""
    if base_dir is None:
        return f"relative paths in a config given without a file resolve against the working directory: {Path.cwd()}"
    return f"{PATH_RULE}: {base_dir}"


def resolve_config_path(value: str | os.PathLike, base_dir: str | os.PathLike | None) -> Path:
    """`value` (a path from a config file) resolved by the rule: ``~`` expanded, then relative to `base_dir`
    (the config file's folder; the working directory when None). The result is absolute and normalised."""
    path = Path(os.path.expanduser(os.fspath(value)))
    if not path.is_absolute():
        path = Path(base_dir if base_dir is not None else Path.cwd()) / path
    return Path(os.path.normpath(path.absolute()))


def missing_path_error(where: str, written: Any, resolved: str | os.PathLike, base_dir: str | os.PathLike | None,
                       what: str = "file") -> InputError:
    """The "not found" error for a path from a config: as written, resolved, and the rule."""
    return InputError(f"{where}: {what} {str(written)!r} not found (resolved to {resolved}); {path_rule(base_dir)}.")


def existing_config_path(value: str | os.PathLike, base_dir: str | os.PathLike | None, where: str,
                         what: str = "file", *, kind: str = "any") -> Path:
    """`resolve_config_path`, and the path must exist (kind "file", "dir" or "any")."""
    path = resolve_config_path(value, base_dir)
    ok = {"file": path.is_file, "dir": path.is_dir, "any": path.exists}[kind]()
    if not ok:
        if path.exists():  # there, but the wrong kind
            expected = "a file" if kind == "file" else "a folder"
            raise InputError(f"{where}: {what} {str(value)!r} (resolved to {path}) is not {expected}.")
        raise missing_path_error(where, value, path, base_dir, what)
    return path


# ------------------------------------------------------------------------------------------- shared checks


class UnknownConfigName(UnknownNameError, ConfigError):
    """An unknown name in a config field: the field path, then the did-you-mean and the choices. Both an
    `UnknownNameError` (what a registry lookup raises) and a `ConfigError` (a bad config field)."""

    def __init__(self, where: str, kind: str, name: str, choices: Iterable[str]):
        super().__init__(kind, name, choices)
        self.args = (f"{where}: {self.args[0]}",)


def field_path(where: str, key: object) -> str:
    """`where` + `key` as a field path: "recipe" + "default" → "recipe.default"; a file prefix ending in ": "
    ("configs/r.yaml: ") + "default" → "configs/r.yaml: default"."""
    return f"{where}{key}" if where.endswith(": ") else f"{where}.{key}"


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """" Did you mean 'x'?" for the closest choice, or ""."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def refuse_unknown_keys(mapping: Mapping, allowed: Iterable[str], where: str) -> None:
    """`ConfigError` naming the first unknown key's field path, with a did-you-mean and the allowed keys."""
    allowed = sorted(allowed)
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        name = unknown[0]
        more = f" (and {', '.join(repr(u) for u in unknown[1:])})" if len(unknown) > 1 else ""
        raise ConfigError(f"{field_path(where, name)}: unknown key{more}.{did_you_mean(name, allowed)} "
                          f"Allowed: {', '.join(allowed)}.")


def read_yaml_mapping(path: str | os.PathLike, what: str = "config") -> tuple[dict, Path]:
    """A config file's mapping and its folder (resolved), with readable errors for a missing file or bad YAML."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{what} {str(path)!r}: no such file (resolved to {p.absolute()}; relative paths on the "
                          "command line start at the working directory).")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc}).") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: expected a mapping of {what} fields, got {type(data).__name__}.")
    return dict(data), p.parent.resolve()


def looks_like_path(text: str) -> bool:
    """Whether a suite / model value names a file rather than a registered name."""
    return text.endswith((".yaml", ".yml", ".json")) or "/" in text or os.sep in text or text.startswith("~")


# ------------------------------------------------------------------------------------------- model configs


def load_model_config(path: str | os.PathLike) -> dict[str, Any]:
    """A model config file (YAML/JSON mapping of model-spec fields, optionally under a top-level `model:`) as a
    mapping for `load_model` / `EvaluationConfig.model`, its `checkpoint` resolved against the file's folder and
    checked to exist. Unknown fields are refused (`medmix.models.parse_spec`)."""
    import json

    p = Path(path).expanduser()
    if p.suffix.lower() == ".json" and p.is_file():
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: not valid JSON ({exc}).") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{p}: expected a mapping of model fields, got {type(data).__name__}.")
        base_dir = p.parent.resolve()
    else:
        data, base_dir = read_yaml_mapping(p, "model config")
    if set(data) == {"model"} and isinstance(data["model"], Mapping):
        data = dict(data["model"])
    return model_mapping(data, base_dir, where=f"{p}: ")


def model_mapping(data: Mapping[str, Any], base_dir: Path | None, where: str) -> dict[str, Any]:
    """Validate a model mapping from a config file and resolve its checkpoint by the path rule."""
    from medmix.models import parse_spec

    out = dict(data)
    parse_spec(out, where=where[:-2] if where.endswith(": ") else where)  # unknown fields, types
    _check_adapter(out.get("adapter"), field_path(where, "adapter"))
    checkpoint = out.get("checkpoint")
    if isinstance(checkpoint, (str, os.PathLike)) and "://" not in str(checkpoint):
        out["checkpoint"] = str(existing_config_path(checkpoint, base_dir, field_path(where, "checkpoint"),
                                                     "checkpoint"))
    if out.get("adapter") == "ensemble":
        out = _ensemble_members(out, base_dir, where)
    return out


def _ensemble_members(data: dict[str, Any], base_dir: Path | None, where: str) -> dict[str, Any]:
    """An ensemble's member specs resolved by the path rule like any model field (checkpoints, model config files,
    prediction folders); the ensemble adapter validates the rest."""
    options = data.get("options")
    members = options.get("members") if isinstance(options, Mapping) else None
    if not isinstance(members, list):
        return data
    resolved = []
    for i, member in enumerate(members):
        at = field_path(where, f"options.members[{i}]")
        if isinstance(member, Mapping) and isinstance(member.get("predictions"), (str, os.PathLike)):
            folder = existing_config_path(member["predictions"], base_dir, f"{at}.predictions", "prediction folder",
                                          kind="dir")
            resolved.append({**member, "predictions": str(folder)})
        elif isinstance(member, (str, Mapping)) and base_dir is not None:
            resolved.append(_model_field(member, base_dir, at))
        else:
            resolved.append(member)
    return {**data, "options": {**options, "members": resolved}}


def _check_adapter(name: Any, where: str) -> None:
    from medmix.models import ADAPTERS

    if isinstance(name, str) and name not in ADAPTERS:
        raise ConfigError(f"{where}: {UnknownNameError('model adapter', name, ADAPTERS.names())}")


def _model_field(value: Any, base_dir: Path, where: str) -> str | dict:
    """EvaluationConfig.model from a config file: a spec string, a mapping or a model config file."""
    if isinstance(value, Mapping):
        return model_mapping(value, base_dir, where)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a model spec ('sam:vit_b:../checkpoints/sam_vit_b_01ec64.pth'), a "
                          f"mapping with 'adapter', or a model config file, got {value!r}.")
    if value.lower().endswith((".yaml", ".yml", ".json")):
        return load_model_config(existing_config_path(value, base_dir, where, "model config", kind="file"))
    from medmix.models import ModelSpec, parse_spec

    spec = parse_spec(value, where=where)
    if spec.checkpoint is None:
        _check_adapter(spec.adapter, f"{where} (adapter)")
        return value
    # A spec string with a checkpoint: the same spec as a mapping, its checkpoint resolved by the rule.
    defaults = ModelSpec(adapter=spec.adapter)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ModelSpec):
        v = getattr(spec, f.name)
        if v != getattr(defaults, f.name) or f.name == "adapter":
            out[f.name] = v.to_dict() if f.name == "preprocessing" else (dict(v) if f.name == "options" else v)
    return model_mapping(out, base_dir, where)


# ------------------------------------------------------------------------------------------- evaluation configs

#: EvaluationConfig fields a file may not set (internal switches).
_INTERNAL_FIELDS = ("allow_calibration_leak",)


def _int(value: Any, where: str, *, minimum: int | None = None, none: bool = True) -> int | None:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" ≥ {minimum}"
        raise ConfigError(f"{where}: expected an integer{bound}, got {value!r}.")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected text, got {value!r}.")
    return value


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of names, got {value!r}.")
    return list(value)


def load_evaluation_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate an evaluation config file; returns keyword arguments for `EvaluationConfig`.

    The file is a YAML mapping of `EvaluationConfig` fields (module docstring), all optional: the result holds
    exactly the fields the file sets, validated (unknown keys refused with a did-you-mean, the file name and the
    field path), with every path resolved against the file's folder (out_dir, predictions, data_root, a suite file,
    model checkpoints and model config files; predictions, data_root, suite files and checkpoints must exist).
    A caller merges command-line options over it, then builds ``EvaluationConfig(**kwargs)``, which checks that
    exactly one of model / predictions is given.
    """
    from medmix.evaluation.runner import SPLITS, EvaluationConfig

    data, base_dir = read_yaml_mapping(path, "evaluation config")
    where = f"{Path(path)}: "
    fields = [f.name for f in dataclasses.fields(EvaluationConfig) if f.name not in _INTERNAL_FIELDS]
    refuse_unknown_keys(data, fields, where)
    if data.get("model") is not None and data.get("predictions") is not None:
        raise ConfigError(f"{Path(path)}: give model or predictions, not both.")
    out: dict[str, Any] = {}
    for key, value in data.items():
        at = field_path(where, key)
        if value is None:
            out[key] = None
        elif key == "suite":
            out[key] = _suite_field(value, base_dir, at)
        elif key == "out_dir":
            out[key] = str(resolve_config_path(_text(value, at), base_dir))
        elif key in ("predictions", "data_root"):
            what = "predictions folder" if key == "predictions" else "data root"
            out[key] = str(existing_config_path(_text(value, at), base_dir, at, what, kind="dir"))
        elif key == "model":
            out[key] = _model_field(value, base_dir, at)
        elif key == "split":
            if value not in SPLITS:
                raise ConfigError(f"{at}: expected one of {', '.join(SPLITS)}, got {value!r}."
                                  f"{did_you_mean(str(value), SPLITS)}")
            out[key] = value
        elif key in ("tasks", "metrics"):
            out[key] = _names(value, at)
        elif key == "prediction_labels":
            labels = [value] if isinstance(value, int) and not isinstance(value, bool) else value
            if not isinstance(labels, list) or not labels or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in labels):
                raise ConfigError(f"{at}: expected a label id or a list of them, got {value!r}.")
            out[key] = labels
        elif key == "seed":
            out[key] = _int(value, at)
        elif key == "prompt":
            from medmix.data.prompts import as_prompt_spec

            as_prompt_spec(value, where=at)
            out[key] = value
        elif key == "prompts":
            out[key] = str(existing_config_path(_text(value, at), base_dir, at, "prompt file", kind="file"))
        elif key == "scheduler":
            out[key] = _text(value, at)
        elif key in ("batch_size", "max_cases", "max_slices_per_task", "workers"):
            out[key] = _int(value, at, minimum=1)
        elif key in ("save_predictions", "overwrite"):
            if not isinstance(value, bool):
                raise ConfigError(f"{at}: expected true or false, got {value!r}.")
            out[key] = value
        elif key == "protocol":
            from medmix.evaluation.protocol import parse_protocol

            parse_protocol(value, where=at)
            out[key] = value
        elif key == "preprocessing":
            from medmix.models.preprocess import Preprocessing

            Preprocessing.from_spec(value, where=at)
            out[key] = value
        elif key == "device":
            out[key] = _text(value, at)
        else:  # a field added to EvaluationConfig after this reader: passed on as written
            out[key] = value
    if out.get("tasks") and out.get("suite"):
        from medmix.evaluation.suites import load_suite

        suite = load_suite(out["suite"])
        for task in out["tasks"]:
            try:
                suite.card(task)
            except UnknownNameError as exc:
                raise ConfigError(f"{field_path(where, 'tasks')}: {exc}") from None
    return out


def _suite_field(value: Any, base_dir: Path, where: str) -> str:
    """A built-in suite name (did-you-mean when unknown) or a suite file resolved by the path rule."""
    text = _text(value, where)
    if looks_like_path(text):
        return str(existing_config_path(text, base_dir, where, "suite file", kind="file"))
    from medmix.evaluation.suites import list_suites

    names = list_suites()
    if text not in names:
        candidate = resolve_config_path(text, base_dir)
        if candidate.is_file():  # a suite file named without a folder or suffix
            return str(candidate)
        raise ConfigError(f"{where}: {UnknownNameError('suite', text, names)}")
    return text
