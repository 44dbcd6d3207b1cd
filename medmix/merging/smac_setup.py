"""SMAC3 for the merge search: the facade, scenario, initial design and objective for a search config.

`make_smac` builds the optimiser the ask/tell loop drives (SMAC never calls a target function: medmix runs the
trials); what SMAC is told for a trial's per-task scores is `medmix.merging.strategies.trial_cost`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from medmix.merging.search_config import SearchConfig, SearchSettings


def make_smac(config: SearchConfig, space, tasks: list[str], out_dir: Path, n_slices: int):
    from smac import BlackBoxFacade, HyperparameterOptimizationFacade, MultiFidelityFacade, RandomFacade, Scenario
    from smac.multi_objective.aggregation_strategy import MeanAggregationStrategy
    from smac.multi_objective.parego import ParEGO

    s = config.settings
    cs = space.configspace(seed=s.seed)
    multi = multi_objective(s, tasks)
    kwargs: dict[str, Any] = dict(configspace=cs, name="smac", output_directory=out_dir / "smac",
                                  deterministic=True, n_trials=10 ** 9, seed=s.seed,
                                  objectives=[f"1-dice:{t}" for t in tasks] if multi else "cost")
    if s.racing:
        kwargs["instances"] = list(tasks)
        kwargs["instance_features"] = {t: [float(i == j) for j in range(len(tasks))] for i, t in enumerate(tasks)}
    if s.multi_fidelity:
        kwargs["min_budget"] = s.min_budget or max(len(tasks), n_slices // 9)
        kwargs["max_budget"] = n_slices
    scenario = Scenario(**kwargs)
    facade = {"rf": HyperparameterOptimizationFacade, "gp": BlackBoxFacade, "random": RandomFacade}[s.facade]
    if s.multi_fidelity:
        facade = MultiFidelityFacade
    extra: dict[str, Any] = {}
    if multi:
        extra["multi_objective_algorithm"] = (ParEGO(scenario) if s.aggregation == "parego"
                                              else MeanAggregationStrategy(scenario))
    warm = []
    if s.warm_start:
        from ConfigSpace import Configuration

        warm = [Configuration(cs, values=v, allow_inactive_with_values=False) for v in space.warm_start()]
        for c in warm:
            c.origin = "warm start"
    design_kwargs = {"additional_configs": warm}
    if facade is not RandomFacade:
        design_kwargs["n_configs"] = s.n_random_initial
    extra["initial_design"] = facade.get_initial_design(scenario, **design_kwargs)
    if facade in (HyperparameterOptimizationFacade, MultiFidelityFacade):
        extra["acquisition_maximizer"] = facade.get_acquisition_maximizer(
            scenario, challengers=s.challengers, local_search_iterations=s.local_search_iterations)
    if facade is not RandomFacade:
        extra["config_selector"] = facade.get_config_selector(scenario, retrain_after=s.retrain_after)
    if s.racing:
        extra["intensifier"] = facade.get_intensifier(scenario, max_config_calls=len(tasks)) \
            if facade is not MultiFidelityFacade else facade.get_intensifier(scenario)

    def unused_target(config, seed: int = 0, budget=None, instance=None):  # ask/tell only: SMAC never calls it
        raise RuntimeError("trials are run by medmix, not by SMAC")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SMAC 2.4 calls ConfigSpace's get_dictionary()
        return facade(scenario, unused_target, overwrite=True, logging_level=40, **extra), cs


def multi_objective(settings: SearchSettings, tasks: list[str]) -> bool:
    """SMAC gets one objective per task only in `cost_mode` "smac_multi": with Hyperband (which SMAC 2.4 does not
    combine with multi-objective intensification) medmix scalarises the tasks itself (ParEGO, fresh weights per
    proposal; `medmix.merging.strategies`)."""
    from medmix.merging.strategies import cost_mode

    return cost_mode(settings, tasks) == "smac_multi"
