"""The SMAC merge search on a tiny generalist + specialist pool made from phantom25."""

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
import yaml

from medmix.errors import ConfigError, MedmixError
from medmix.merging.recipe import UnitRecipe, load_recipe
from medmix.merging.search import run_search, search_config_from_dict
from medmix.merging.toy import ToyPoolRecipe, make_toy_pool

TASKS = ["phantom_flare22_liver", "phantom_flare22_spleen", "phantom_kits_kidney_tumour",
         "phantom_promise12_prostate"]
FAST_POOL = ToyPoolRecipe()


@pytest.fixture(scope="module")
def pool(medmix_cache):
    return make_toy_pool(medmix_cache / "toy", FAST_POOL)


def config_dict(pool, **search):
    return {
        "arch": "tiny",
        "pool": [{"name": "generalist", "path": str(pool["generalist"])},
                 {"name": "specialist", "path": str(pool["specialist"])}],
        "units": {"scheme": "medsamix", "granularity": 1},
        "objective": {"suite": "phantom25", "tasks": TASKS, "max_slices_per_task": 16, "batch_size": 32},
        "search": {"n_trials": 20, "seed": 0, "n_random_initial": 3, **search},
    }


def test_search_beats_both_sources_on_the_multi_task_objective(pool, tmp_path):
    result = run_search(search_config_from_dict(config_dict(pool)), tmp_path)
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert len(trials) == 20
    dice_cols = [f"dice:{t}" for t in TASKS]
    trials["mean"] = trials[dice_cols].mean(axis=1)
    warm = trials[trials["origin"] == "warm start"]
    generalist, specialist = warm["mean"].iloc[0], warm["mean"].iloc[1]  # pure models come first
    assert specialist < generalist  # the specialist forgot the other tasks
    assert result.best["mean_dice"] > max(generalist, specialist)
    assert result.best["mean_dice"] == pytest.approx(trials["mean"].max())
    # ParEGO was really passed to SMAC, with one objective per task.
    smac_run = json.loads((tmp_path / "smac" / "runhistory.json").read_text())
    assert len(smac_run["data"][0]["cost"]) == len(TASKS)
    assert (tmp_path / "pareto.csv").is_file() and (tmp_path / "best_so_far.png").stat().st_size > 1000
    assert {"merge_s", "eval_s", "optimiser_s", "config"} <= set(trials.columns)
    recipe = load_recipe(tmp_path / "best_recipe.yaml")
    assert recipe.arch == "tiny" and len(recipe.recipe) >= 10
    from medmix.models.checkpoints import load_into
    from medmix.models.sam import build_tiny_sam

    load_into(build_tiny_sam(0), torch.load(tmp_path / "best" / "merged.pth", weights_only=True), strict=True)
    summary = json.loads((tmp_path / "search_summary.json").read_text())
    assert 0 < summary["timings"]["busy_fraction"] <= 1
    assert summary["best_mean_dice"] == pytest.approx(result.best["mean_dice"])


@pytest.mark.parametrize("search", [
    {"facade": "gp", "n_trials": 6},
    {"facade": "random", "n_trials": 6},
    {"aggregation": "mean", "n_trials": 6},
    {"multi_fidelity": True, "n_trials": 24, "eta": 3, "min_budget": 21},
    {"racing": True, "n_trials": 8},
    {"pipeline_depth": 4, "retrain_after": 4, "n_trials": 10},
])
def test_search_variants_run(pool, tmp_path, search):
    result = run_search(search_config_from_dict(config_dict(pool, **search)), tmp_path)
    assert result.best["mean_dice"] > 0.3
    trials = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
    if search.get("multi_fidelity"):
        assert len({t["budget"] for t in trials}) > 1  # Hyperband really varied the number of slices
    if search.get("racing"):
        assert {t["instance"] for t in trials} <= set(TASKS) and all(t["instance"] for t in trials)


def test_single_task_search(pool, tmp_path):
    cfg = config_dict(pool, n_trials=8)
    cfg["objective"]["tasks"] = ["phantom_kits_kidney_tumour"]
    result = run_search(search_config_from_dict(cfg), tmp_path)
    assert list(result.best["scores"]) == ["phantom_kits_kidney_tumour"]
    warm = [t["scores"]["phantom_kits_kidney_tumour"] for t in result.trials if t["origin"] == "warm start"]
    generalist, specialist = warm[:2]  # the warm start's pure models come first
    assert specialist > generalist + 0.1  # the specialist's gain on its task
    assert result.best["mean_dice"] >= specialist  # at least as good as the specialist: it is in the warm start


def test_fixed_method_space(pool, tmp_path):
    cfg = config_dict(pool, n_trials=6)
    cfg["space"] = {"mode": "fixed_method", "methods": ["task_arithmetic"]}
    result = run_search(search_config_from_dict(cfg), tmp_path)
    assert all(k.endswith(".task_arithmetic.lam") for k in result.best["config"])


@pytest.mark.parametrize("space", [{"mode": "fixed_method", "methods": ["breadcrumbs"]},
                                   {"mode": "per_unit_method", "methods": ["breadcrumbs"]}])
def test_breadcrumbs_search_runs_to_the_end(pool, tmp_path, space):
    # Independent density ∈ [0, 0.99] and gamma ∈ [0, 0.1] made density + gamma > 1 in most trials.
    cfg = config_dict(pool, n_trials=12, n_random_initial=8)
    cfg["objective"]["tasks"] = ["phantom_kits_kidney_tumour"]
    cfg["space"] = space
    result = run_search(search_config_from_dict(cfg), tmp_path)
    assert len(result.trials) == 12
    recipe = load_recipe(tmp_path / "best_recipe.yaml")
    searched = [r for r in recipe.recipe.values() if r.method == "breadcrumbs"]
    assert searched and all(r.params["density"] + r.params["gamma"] <= 1 + 1e-9 for r in searched)


@pytest.mark.parametrize("mode,methods", [("fixed_method", ("breadcrumbs",)),
                                          ("per_unit_method", ("ties", "breadcrumbs"))])
def test_sampled_breadcrumbs_configurations_are_always_valid(mode, methods):
    from medmix.merging.space import SearchSpace

    space = SearchSpace(["u0", "u1"], ["frozen"], 3, methods, mode)
    cs = space.configspace(seed=0)
    n_breadcrumbs = 0
    for config in cs.sample_configuration(2000):
        recipes = space.unit_recipes(config)
        for unit in space.units:
            r = recipes[unit]
            if r.method == "breadcrumbs":
                n_breadcrumbs += 1
                assert r.params["density"] + r.params["gamma"] <= 1, dict(config)
                assert 0 <= r.params["density"] <= 0.99 and 0 <= r.params["gamma"] <= 0.1
        # the inverse used by warm starts gives the configuration back
        back = space.config_values({u: recipes[u] for u in space.units})
        assert back.keys() == dict(config).keys()
        assert all(back[k] == pytest.approx(v, rel=1e-12, abs=1e-15) if isinstance(v, float) else back[k] == v
                   for k, v in dict(config).items())
    assert n_breadcrumbs > 1000
    if mode == "fixed_method":  # the default configuration is the method's defaults
        default = space.unit_recipes(cs.get_default_configuration())["u0"].params
        assert default == pytest.approx({"density": 0.9, "gamma": 0.01, "lam": 1.0})
    with pytest.raises(ConfigError, match="outside the search space"):
        space.config_values({u: UnitRecipe("breadcrumbs", {"density": 0.95, "gamma": 0.1, "lam": 1.0})
                             for u in space.units})


def test_test_split_is_refused_unless_asked(pool, tmp_path):
    cfg = config_dict(pool, n_trials=2)
    cfg["objective"]["split"] = "test"
    with pytest.raises(MedmixError, match="calibration split only"):
        run_search(search_config_from_dict(cfg), tmp_path / "a")
    cfg["objective"]["allow_test_split"] = True
    run_search(search_config_from_dict(cfg), tmp_path / "b")


def test_config_errors(pool):
    cfg = config_dict(pool)
    cfg["search"]["n_trails"] = 3
    with pytest.raises(ConfigError, match="did you mean 'n_trials'"):
        search_config_from_dict(cfg)
    cfg = config_dict(pool)
    cfg["search"]["facade"] = "tpe"
    with pytest.raises(ConfigError, match="facade"):
        search_config_from_dict(cfg)


SCRIPT = """
import sys, time
from medmix.merging import trial
from medmix.merging.search import load_search_config, run_search
original = trial.TrialEngine.run
def slow(self, *a, **k):
    time.sleep(float(sys.argv[3]))
    return original(self, *a, **k)
trial.TrialEngine.run = slow
run_search(load_search_config(sys.argv[1]), sys.argv[2])
"""


def test_resume_after_kill_loses_no_trial(pool, tmp_path):
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(config_dict(pool, n_trials=14)))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(script), str(config), str(out), "0.4"])
    log = out / "trials.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 4):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = log.read_text().splitlines()
    assert 4 <= len(before) < 14
    subprocess.run([sys.executable, str(script), str(config), str(out), "0"], check=True, timeout=300,
                   stdin=subprocess.DEVNULL)
    after = log.read_text().splitlines()
    assert after[: len(before)] == before  # finished trials kept as they were
    assert len(after) == 14
    assert (out / "best" / "merged.pth").is_file()


def test_resume_refuses_a_different_search(pool, tmp_path):
    run_search(search_config_from_dict(config_dict(pool, n_trials=2)), tmp_path)
    with pytest.raises(MedmixError, match=r"different search \(pool, space, objective, protocol or seed\)"):
        run_search(search_config_from_dict(config_dict(pool, n_trials=2, seed=1)), tmp_path)


@pytest.mark.slow
def test_dask_workers(pool, tmp_path):
    pytest.importorskip("distributed")
    result = run_search(search_config_from_dict(config_dict(pool, n_trials=6, workers=2)), tmp_path)
    assert len(result.trials) == 6


def test_cli_search_and_apply(pool, tmp_path):
    from typer.testing import CliRunner

    from medmix.cli.main import app

    config = tmp_path / "search.yaml"
    cfg = config_dict(pool, n_trials=5)
    cfg["objective"]["tasks"] = ["phantom_kits_kidney_tumour"]  # one task keeps the test-split evaluation short
    config.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "search"
    result = CliRunner().invoke(app, ["merge", "search", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "best trial" in result.output and (out / "eval_test" / "summary.json").is_file()
    applied = tmp_path / "applied"
    result = CliRunner().invoke(app, ["merge", "apply", "--recipe", str(out / "best_recipe.yaml"), "--out",
                                      str(applied)])
    assert result.exit_code == 0, result.output
    a = torch.load(out / "best" / "merged.pth", weights_only=True)
    b = torch.load(applied / "merged.pth", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    bad = CliRunner().invoke(app, ["merge", "search", "--config", str(tmp_path / "none.yaml"), "--out", str(out)])
    assert bad.exit_code == 2 and "no such file" in bad.output


def test_search_under_the_medsamix_protocol_records_it(pool, tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    data = config_dict(pool, n_trials=3)
    data["objective"]["protocol"] = "medsamix"
    config = search_config_from_dict(data)
    assert config.setup.protocol == {"name": "medsamix", "drop_last_volume": False}
    run_search(config, tmp_path / "search")
    summary = json.loads((tmp_path / "search" / "search_summary.json").read_text())
    assert summary["protocol"]["name"] == "medsamix"
    model = json.loads((tmp_path / "search" / "best" / "model.json").read_text())
    assert model["provenance"]["search"]["protocol"]["name"] == "medsamix"
    evaluation = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path / "eval"), max_cases=1,
                                  model=f"merged:{tmp_path / 'search' / 'best'}", tasks=TASKS[:1])
    assert "searched under protocol 'medsamix'" in evaluate(evaluation).summary["protocol_note"]


def test_a_cut_last_line_is_repaired_and_later_trials_are_not_lost(pool, tmp_path):
    run_search(search_config_from_dict(config_dict(pool, n_trials=6)), tmp_path)
    log = tmp_path / "trials.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:4]) + "\n" + lines[4][:25])  # a crash in the middle of writing trial 4
    with pytest.warns(UserWarning, match="cut by an interrupted write"):
        run_search(search_config_from_dict(config_dict(pool, n_trials=8)), tmp_path)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["trial"] for r in records] == list(range(8))
    result = run_search(search_config_from_dict(config_dict(pool, n_trials=8)), tmp_path)
    assert len(result.trials) == 8  # a third run reads every record back
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n")
    with pytest.raises(MedmixError, match="line 2 is not a complete JSON record"):
        run_search(search_config_from_dict(config_dict(pool, n_trials=9)), tmp_path)


def test_a_failed_search_does_not_stamp_its_folder_and_a_busy_one_is_refused(pool, tmp_path):
    import os

    from medmix.errors import UnknownNameError
    from medmix.run_folder import RunFolderBusy, RunLock

    bad = config_dict(pool, n_trials=3)
    bad["objective"]["tasks"] = ["phantom_flare22_livr"]
    with pytest.raises(UnknownNameError, match="phantom_flare22_liver"):
        run_search(search_config_from_dict(bad), tmp_path)
    assert not (tmp_path / "search.json").exists() and not (tmp_path / "trials.jsonl").exists()
    good = config_dict(pool, n_trials=3)
    good["objective"]["tasks"] = ["phantom_flare22_liver"]
    with RunLock(tmp_path, "merge search"):
        with pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
            run_search(search_config_from_dict(good), tmp_path)
    assert len(run_search(search_config_from_dict(good), tmp_path).trials) == 3
