"""Search strategies (SMAC RF / GP / random, CMA-ES), the optimiser in its own process, medmix's ParEGO
scalarisation (multi-task + Hyperband), and evaluation cases on Dask workers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medmix.merging.search import run_search, search_config_from_dict
from medmix.merging.space import SearchSpace
from medmix.merging.strategies import CmaStrategy, CubeCodec, parego_weights, trial_cost
from medmix.merging.units import get_scheme
from tests.test_merge_search import FAST_POOL, config_dict

METHODS = ("linear", "task_arithmetic", "ties", "slerp")


@pytest.fixture(scope="module")
def pool(medmix_cache):
    from medmix.merging.toy import make_toy_pool

    return make_toy_pool(medmix_cache / "toy", FAST_POOL)


def medsamix_space() -> SearchSpace:
    units = [u.name for u in get_scheme("medsamix", granularity=2).units]
    return SearchSpace(units, [], 3, METHODS)


def test_cube_codec_round_trips_every_warm_start_and_decodes_valid_configurations():
    space = medsamix_space()
    cs = space.configspace(seed=0)
    codec = CubeCodec(cs)
    assert len(codec.hps) == 190
    for values in space.warm_start():
        decoded = codec.decode(codec.encode(values))
        assert decoded.keys() == values.keys()
        for k, v in values.items():
            assert decoded[k] == v if isinstance(v, str) else decoded[k] == pytest.approx(v, abs=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):  # any point of the cube is a configuration the space accepts
        values = codec.decode(rng.random(len(codec.hps)))
        assert all(f"{u}.method" in values for u in space.units)


class _Settings:
    seed, warm_start = 3, False


class _Config:
    settings = _Settings()


def _quadratic(values: dict) -> float:
    return sum((v - 0.3) ** 2 for k, v in values.items() if isinstance(v, float))


def test_cma_es_improves_is_deterministic_and_replays_a_log(tmp_path):
    space = SearchSpace(["a", "b"], [], 2, ("linear",), mode="fixed_method")

    def run(n: int, replay: list | None = None):
        strategy = CmaStrategy(_Config(), space, ["t"], tmp_path, 0, popsize=6)
        if replay:
            strategy.replay_all(replay)
        records, waiting = [], []
        for number in range(n):
            proposal = strategy.ask(number)
            if proposal is None:  # between generations: tell what is running first
                for p in waiting:
                    strategy.tell(p, _quadratic(p.values), 0.0)
                waiting = []
                proposal = strategy.ask(number)
            waiting.append(proposal)
            records.append({"config": proposal.values, "cost": _quadratic(proposal.values), "eval_s": 0.0})
        for p in waiting:
            strategy.tell(p, _quadratic(p.values), 0.0)
        return records, strategy

    records, strategy = run(36)
    again, _ = run(36)
    assert [r["config"] for r in records] == [r["config"] for r in again]
    assert strategy.es.countiter >= 5
    first, last = [r["cost"] for r in records[:6]], [r["cost"] for r in records[-6:]]
    assert np.mean(last) < np.mean(first)
    resumed, _ = run(6, replay=records[:18])  # the state after 3 generations, rebuilt from the log
    assert [r["config"] for r in resumed] == [r["config"] for r in records[18:24]]


def test_parego_scalarisation_and_weights():
    w = parego_weights(0, 5, 3)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()
    assert np.array_equal(w, parego_weights(0, 5, 3)) and not np.array_equal(w, parego_weights(0, 6, 3))
    scores = {"a": 0.9, "b": 0.5}
    cost = trial_cost(scores, ["a", "b"], "parego", weights=[0.25, 0.75])
    assert cost == pytest.approx(max(0.25 * 0.1, 0.75 * 0.5) + 0.05 * (0.25 * 0.1 + 0.75 * 0.5))
    assert trial_cost(scores, ["a", "b"], "smac_multi") == pytest.approx([0.1, 0.5])
    assert trial_cost(scores, ["a", "b"], "mean") == pytest.approx(0.3)


def test_optimiser_process_gives_the_search_the_loop_would_have_given(pool, tmp_path):
    local = run_search(search_config_from_dict(config_dict(pool, n_trials=14, optimiser_process=False)),
                       tmp_path / "local")
    remote = run_search(search_config_from_dict(config_dict(pool, n_trials=14, optimiser_process=True)),
                        tmp_path / "remote")
    assert [t["config"] for t in local.trials] == [t["config"] for t in remote.trials]
    assert len(remote.trials) == 14 and all("wait_s" in t for t in remote.trials)


def test_multi_task_hyperband_search_scalarises_and_keeps_the_pareto_front(pool, tmp_path):
    result = run_search(search_config_from_dict(config_dict(pool, n_trials=16, multi_fidelity=True)), tmp_path)
    budgets = {t["budget"] for t in result.trials}
    assert len(budgets) > 1  # Hyperband really ran several fidelities
    for t in result.trials:
        costs = [1.0 - t["scores"][k] for k in result.tasks]
        w = np.array(t["parego_weights"])
        assert t["cost"] == pytest.approx(float((w * costs).max() + 0.05 * (w * costs).sum()))
    front = pd.read_csv(tmp_path / "pareto.csv")
    assert len(front) >= 1 and {f"dice:{k}" for k in result.tasks} <= set(front.columns)


def test_cma_es_and_random_searches_run_to_the_end(pool, tmp_path):
    origins = {}
    for strategy, n in (("cma", 26), ("random", 12)):  # cma: the warm starts (17 here), then its population
        result = run_search(search_config_from_dict(config_dict(pool, n_trials=n, facade=strategy)),
                            tmp_path / strategy)
        assert len(result.trials) == n
        assert (tmp_path / strategy / "best" / "merged.pth").is_file()
        origins[strategy] = {t["origin"] for t in result.trials}
    assert origins["cma"] == {"warm start", "cma-es"}  # the warm starts, then CMA-ES's first population
    state = json.loads((tmp_path / "cma" / "cma" / "state.json").read_text())
    assert state["generations"] >= 0 and state["sigma"] > 0


def test_evaluation_on_two_dask_workers_equals_one_process(tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    base = dict(suite="phantom25", model="tiny", tasks=["phantom_flare22_liver", "phantom_fundus_domain1_optic_cup"],
                max_cases=3)
    one = evaluate(EvaluationConfig(out_dir=str(tmp_path / "one"), **base))
    two = evaluate(EvaluationConfig(out_dir=str(tmp_path / "two"), workers=2, **base))
    pd.testing.assert_frame_equal(one.cases, two.cases)
    pd.testing.assert_frame_equal(one.staging, two.staging)
    assert one.summary["tasks"] == two.summary["tasks"]
