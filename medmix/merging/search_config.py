"""Search configs (`medmix merge search --config C.yaml`): the YAML validated at the edge into a `SearchConfig`.

Sections: arch, pool (base first; paths relative to the config file's folder), preprocessing (of the merged
model), units, space (mode, methods), objective (suite, tasks, split, protocol, prompt, data_root, max_slices_per_task,
batch_size, device) and search (`SearchSettings`: trials, facade, aggregation, fidelity, racing, acquisition
settings, pipelining, workers). Unknown keys are refused with the field path and a did-you-mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from medmix.errors import ConfigError, MedmixError
from medmix.evaluation.config_file import UnknownConfigName, did_you_mean, field_path
from medmix.evaluation.runner import SPLITS
from medmix.evaluation.store import fingerprint
from medmix.merging.methods import MERGE_METHODS
from medmix.merging.recipe import validate_pool_entries
from medmix.merging.space import DEFAULT_METHODS
from medmix.merging.trial import EngineSetup


FACADES = ("rf", "gp", "cma", "random")  # the search strategy (medmix.merging.strategies)
AGGREGATIONS = ("parego", "mean")
MODES = ("per_unit_method", "fixed_method")


@dataclass
class SearchSettings:
    n_trials: int = 120
    walltime_s: float | None = None
    seed: int = 0
    facade: str = "rf"
    aggregation: str = "parego"
    multi_fidelity: bool = False
    min_budget: int | None = None
    eta: int = 3
    racing: bool = False
    n_random_initial: int = 10
    warm_start: bool = True
    challengers: int = 1000
    local_search_iterations: int = 10
    retrain_after: int = 8  # asks per random-forest refit and acquisition search (SMAC's default)
    # Proposals asked ahead per device: enough to ride out a refit (≈1.8 s on MedSAMix's space) while 0.35 s trials
    # run (bench/optimiser_latency.py); fewer keeps the strategy more adaptive.
    pipeline_depth: int = 6
    optimiser_process: bool = True  # the strategy asks in its own process (False: in the trial loop's, as before)
    workers: int = 1
    scheduler: str | None = None
    evaluate_test: bool = True


@dataclass
class SearchConfig:
    setup: EngineSetup
    settings: SearchSettings
    source: dict = field(default_factory=dict)  # the config as written
    base_dir: Path | None = None  # the config file's folder: relative paths in it resolve against it
    where: str = "search config"  # field-path prefix of messages ("FILE: " when read from a file)

    def fingerprint(self) -> str:
        # Everything that changes what a trial means; n_trials / walltime / workers may change between resumes.
        s = self.settings
        fields = {"setup": self.setup.key(), "seed": s.seed, "facade": s.facade, "aggregation": s.aggregation,
                  "multi_fidelity": s.multi_fidelity, "min_budget": s.min_budget, "eta": s.eta, "racing": s.racing}
        if s.multi_fidelity and s.aggregation == "parego" and not s.racing:
            fields["scalarisation"] = "medmix-parego"  # was the mean before: an older folder is another search
        return fingerprint(fields)


_SECTIONS = {"arch", "pool", "preprocessing", "units", "space", "objective", "search"}
_SPACE = {"mode", "methods", "search_identical_units"}
_OBJECTIVE = {"suite", "tasks", "split", "allow_test_split", "data_root", "max_slices_per_task", "batch_size",
              "device", "protocol", "prompt"}


def _refuse_unknown(mapping: dict, allowed: set, where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        import difflib

        name = sorted(unknown)[0]
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown key {name!r}{hint}; allowed: {', '.join(sorted(allowed))}.")


def _settings_types(search: dict, where: str) -> None:
    """Each search setting has its field's type (int / float / bool / text, or null where the field allows it)."""
    import typing

    hints = typing.get_type_hints(SearchSettings)
    for key, value in search.items():
        hint = hints[key]
        optional = type(None) in typing.get_args(hint)
        base = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
        if value is None and optional:
            continue
        ok = (isinstance(value, bool) if base is bool else
              isinstance(value, int) and not isinstance(value, bool) if base is int else
              isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              if base is float else isinstance(value, str) and bool(value))
        if not ok:
            kind = {bool: "true or false", int: "an integer", float: "a number", str: "text"}[base]
            raise ConfigError(f"{field_path(where, 'search.' + key)}: expected {kind}"
                              f"{' or null' if optional else ''}, got {value!r}.")


def _positive_int(value, where: str, *, none: bool = False):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected an integer ≥ 1{' or null' if none else ''}, got {value!r}.")
    return value


def _section(data: dict, key: str, where: str, *, required: bool = False) -> dict:
    value = data.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{field_path(where, key)}: required.")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{field_path(where, key)}: expected a mapping, got {value!r}.")
    return dict(value)


def search_config_from_dict(data: dict, *, where: str = "search config", base_dir: Path | None = None
                            ) -> SearchConfig:
    """Validate a search config mapping (see configs/ for examples) before any checkpoint or data is read: keys,
    names (arch, unit scheme, methods, suite, tasks, preprocessing kind) and values, with field paths.

    Relative paths (pool paths, objective.data_root, objective.suite when it is a file) resolve against `base_dir`,
    the config file's folder (the working directory for a mapping given without one); whether the files exist is
    checked by `check_search_inputs`, so a config can be validated where its checkpoints are not.
    where: the field-path prefix ("search config" for a mapping, "FILE: " for a file)."""
    from medmix.evaluation.config_file import looks_like_path, resolve_config_path
    from medmix.merging.recipe import (
        check_scheme_on_arch,
        default_units,
        scheme_for,
        validate_arch,
        validate_preprocessing,
        validate_units,
    )

    root = where[:-2] if where.endswith(": ") else where
    if not isinstance(data, dict):
        raise ConfigError(f"{root}: expected a mapping of search config sections, got {type(data).__name__}.")
    _refuse_unknown(data, _SECTIONS, root)
    for key in ("arch", "pool", "objective"):
        if key not in data:
            raise ConfigError(f"{field_path(where, key)}: required.")
    arch = validate_arch(data["arch"], field_path(where, "arch"))
    entries = [(m["name"], str(resolve_config_path(m["path"], base_dir)))
               for m in validate_pool_entries(data["pool"], field_path(where, "pool"))]
    units_where = field_path(where, "units")
    units = validate_units(data.get("units") or default_units(arch), arch, units_where)
    check_scheme_on_arch(scheme_for(units, arch, units_where), arch, units_where)
    preprocessing = validate_preprocessing(data.get("preprocessing"), field_path(where, "preprocessing"))

    space = _section(data, "space", where)
    _refuse_unknown(space, _SPACE, field_path(where, "space"))
    mode = space.get("mode", "per_unit_method")
    if mode not in MODES:
        raise UnknownConfigName(field_path(where, "space.mode"), "search space mode", str(mode), MODES)
    methods = space.get("methods", list(DEFAULT_METHODS))
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, list) or not methods:
        raise ConfigError(f"{field_path(where, 'space.methods')}: expected a list of merge methods, got {methods!r}.")
    for i, name in enumerate(methods):
        if not isinstance(name, str) or name not in MERGE_METHODS:
            raise UnknownConfigName(field_path(where, f"space.methods[{i}]"), "merge method", str(name),
                                    MERGE_METHODS.names())
    if mode == "fixed_method" and len(methods) != 1:
        raise ConfigError(f"{field_path(where, 'space.methods')}: mode fixed_method needs exactly one method, got "
                          f"{methods}.")
    if not isinstance(space.get("search_identical_units", False), bool):
        raise ConfigError(f"{field_path(where, 'space.search_identical_units')}: expected true or false.")

    objective = _section(data, "objective", where, required=True)
    _refuse_unknown(objective, _OBJECTIVE, field_path(where, "objective"))
    if "suite" not in objective:
        raise ConfigError(f"{field_path(where, 'objective.suite')}: required (e.g. phantom25, mni, medsamix25 or a "
                          "suite file).")
    suite_at = field_path(where, "objective.suite")
    suite_name = objective["suite"]
    if not isinstance(suite_name, str) or not suite_name:
        raise ConfigError(f"{suite_at}: expected a suite name or a suite file, got {suite_name!r}.")
    if looks_like_path(suite_name):
        suite_name = str(resolve_config_path(suite_name, base_dir))
    suite = _validated_suite(suite_name, objective["suite"], base_dir, suite_at)
    tasks = objective.get("tasks") or []
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise ConfigError(f"{field_path(where, 'objective.tasks')}: expected a list of task names, got {tasks!r}.")
    for i, task in enumerate(tasks):
        if not isinstance(task, str) or task not in suite.task_names:
            raise UnknownConfigName(field_path(where, f"objective.tasks[{i}]"), f"task in suite {suite.name!r}",
                                    str(task), suite.task_names)
    split = objective.get("split", "calibration")
    if split not in SPLITS:
        raise UnknownConfigName(field_path(where, "objective.split"), "split", str(split), SPLITS)
    for key in ("allow_test_split",):
        if not isinstance(objective.get(key, False), bool):
            raise ConfigError(f"{field_path(where, 'objective.' + key)}: expected true or false.")
    data_root = objective.get("data_root")
    if data_root is not None:
        if not isinstance(data_root, str) or not data_root:
            raise ConfigError(f"{field_path(where, 'objective.data_root')}: expected a folder, got {data_root!r}.")
        data_root = str(resolve_config_path(data_root, base_dir))
    max_slices = _positive_int(objective.get("max_slices_per_task"), field_path(where, "objective.max_slices_per_task"),
                               none=True)
    batch_size = _positive_int(objective.get("batch_size", 16), field_path(where, "objective.batch_size"))
    device = objective.get("device")
    if device is not None and (not isinstance(device, str) or not device):
        raise ConfigError(f"{field_path(where, 'objective.device')}: expected a device name (cpu, cuda, cuda:1), got "
                          f"{device!r}.")

    search = _section(data, "search", where)
    fields = set(SearchSettings.__dataclass_fields__)
    _refuse_unknown(search, fields, field_path(where, "search"))
    _settings_types(search, where)
    settings = SearchSettings(**search)
    if settings.facade not in FACADES:
        raise ConfigError(f"{field_path(where, 'search.facade')}: expected one of {FACADES}, got {settings.facade!r}."
                          f"{did_you_mean(settings.facade, FACADES)}")
    if settings.aggregation not in AGGREGATIONS:
        raise ConfigError(f"{field_path(where, 'search.aggregation')}: expected one of {AGGREGATIONS}, got "
                          f"{settings.aggregation!r}.{did_you_mean(settings.aggregation, AGGREGATIONS)}")
    if settings.n_trials < 1:
        raise ConfigError(f"{field_path(where, 'search.n_trials')}: must be ≥ 1.")
    if settings.pipeline_depth < 1 or settings.retrain_after < 1:
        raise ConfigError(f"{field_path(where, 'search')}: pipeline_depth and retrain_after must be ≥ 1.")
    protocol = _objective_protocol({**objective, "suite": suite_name}, where)
    prompt = None
    if objective.get("prompt") is not None:
        from medmix.data.prompts import as_prompt_spec

        prompt = as_prompt_spec(objective["prompt"], where=field_path(where, "objective.prompt")).to_dict()
    setup = EngineSetup(
        pool=tuple(entries), arch=arch, preprocessing=preprocessing, units=units, suite=suite_name,
        tasks=tuple(tasks), methods=tuple(methods), mode=mode,
        search_identical_units=bool(space.get("search_identical_units")), split=split,
        allow_test_split=bool(objective.get("allow_test_split")), data_root=data_root,
        max_slices_per_task=max_slices, batch_size=batch_size, seed=settings.seed, device=device,
        protocol=protocol.to_dict(), prompt=prompt,
    )
    return SearchConfig(setup, settings, dict(data), base_dir, where)


def _validated_suite(suite: str, written: str, base_dir: Path | None, where: str):
    """The suite a search config names: a built-in one (did-you-mean when unknown) or a suite file (path rule)."""
    from medmix.evaluation.config_file import looks_like_path, missing_path_error
    from medmix.evaluation.suites import list_suites, load_suite

    if looks_like_path(written):
        if not Path(suite).is_file():
            raise missing_path_error(where, written, suite, base_dir, "suite file")
        return load_suite(Path(suite))
    names = list_suites()
    if suite not in names:
        raise UnknownConfigName(where, "suite", suite, names)
    return load_suite(suite)


def _objective_protocol(objective: dict, where: str):
    """objective.protocol, else the suite's own protocol, else medmix (recorded in the search's provenance)."""
    from medmix.evaluation.protocol import parse_protocol

    if objective.get("protocol") is not None:
        return parse_protocol(objective["protocol"], where=f"{where}.objective.protocol")
    try:
        from medmix.evaluation.suites import load_suite

        return parse_protocol(load_suite(str(objective["suite"])).protocol)
    except MedmixError:  # an unknown suite is reported, with its did-you-mean, when the engine loads it
        return parse_protocol(None)


def load_search_config(path: str | Path) -> SearchConfig:
    """Read and validate a search config file; its relative paths resolve against the file's folder."""
    from medmix.evaluation.config_file import read_yaml_mapping

    data, base_dir = read_yaml_mapping(path, "search config")
    return search_config_from_dict(data, where=f"{Path(path)}: ", base_dir=base_dir)


def check_search_inputs(config: SearchConfig) -> None:
    """The files and folders a search config names exist (pool checkpoints, objective.data_root); otherwise an
    `InputError` with the path as written, the resolved path and the path rule. Call before `run_search`."""
    from medmix.evaluation.config_file import missing_path_error

    written = config.source.get("pool") or []
    for i, (name, path) in enumerate(config.setup.pool):
        if not Path(path).is_file():
            as_written = written[i]["path"] if i < len(written) and isinstance(written[i], dict) else path
            raise missing_path_error(field_path(config.where, f"pool[{i}].path"), as_written, path, config.base_dir,
                                     f"checkpoint of pool member {name!r}")
    root = config.setup.data_root
    if root is not None and not Path(root).is_dir():
        as_written = (config.source.get("objective") or {}).get("data_root", root)
        raise missing_path_error(field_path(config.where, "objective.data_root"), as_written, root, config.base_dir,
                                 "data root folder")


# ------------------------------------------------------------------------------------------------ the loop
