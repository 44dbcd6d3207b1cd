"""One rule for relative paths in every config file: they resolve against the folder of the file they appear in,
and every "not found" error says the path as written, the resolved path and the rule.

Each test runs from a working directory elsewhere, so a path resolved against the working directory fails.
"""

from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from medmix.cli.main import app
from medmix.errors import ConfigError, InputError

RULE = "relative paths in a config resolve against the config file's folder"
TASK = "phantom_flare22_liver"


@pytest.fixture()
def layout(tmp_path, monkeypatch):
    """tmp/project/{configs,ckpt} with two tiny checkpoints; the working directory is tmp/elsewhere."""
    from medmix.models.sam import build_tiny_sam

    project = tmp_path / "project"
    (project / "configs").mkdir(parents=True)
    (project / "ckpt").mkdir()
    for name, seed in (("a", 0), ("b", 1)):
        torch.save(build_tiny_sam(seed).state_dict(), project / "ckpt" / f"{name}.pth")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def _assert_rule(message: str, written: str, resolved: Path, folder: Path) -> None:
    text = _flat(message)
    assert f"{written!r} not found (resolved to {resolved})" in text, text
    assert f"{RULE}: {folder}" in text, text


POOL = [{"name": "a", "path": "../ckpt/a.pth"}, {"name": "b", "path": "../ckpt/b.pth"}]


# ------------------------------------------------------------------------------------------ recipes


def test_recipe_pool_paths_resolve_against_the_recipe_file(layout):
    from medmix.merging.apply import apply_recipe

    path = layout / "configs" / "recipe.yaml"
    recipe = {"arch": "tiny", "pool": POOL, "units": {"scheme": "medsamix", "granularity": 1},
              "default": {"method": "linear", "weights": [0.5, 0.5]}}
    path.write_text(yaml.safe_dump(recipe))
    out = apply_recipe(path, "merged")  # --out is a command-line path: the working directory's
    assert out.resolve() == (Path.cwd() / "merged").resolve() and (out / "merged.pth").is_file()
    path.write_text(yaml.safe_dump({**recipe, "pool": [POOL[0], {"name": "b", "path": "../ckpt/missing.pth"}]}))
    with pytest.raises(InputError) as info:
        apply_recipe(path, "merged2")
    assert f"{path}: pool[1].path" in str(info.value)
    _assert_rule(str(info.value), "../ckpt/missing.pth", layout / "ckpt" / "missing.pth", layout / "configs")
    assert not Path("merged2").exists()


# ------------------------------------------------------------------------------------------ search configs


def _search(**objective):
    return {"arch": "tiny", "pool": POOL, "units": {"scheme": "medsamix", "granularity": 1},
            "objective": {"suite": "phantom25", "tasks": [TASK], "max_slices_per_task": 4, **objective},
            "search": {"n_trials": 2, "n_random_initial": 1}}


def test_search_config_paths_resolve_against_the_config_file(layout):
    from medmix.evaluation.suites import eval_dir
    from medmix.merging.search import check_search_inputs, load_search_config

    path = layout / "configs" / "search.yaml"
    suite_file = layout / "configs" / "suites" / "mine.yaml"
    suite_file.parent.mkdir()
    suite_file.write_text(yaml.safe_dump({"name": "mine", "cards": [str(p) for p in sorted(
        (eval_dir() / "tasks").rglob(f"{TASK}.yaml"))]}))
    (layout / "data").mkdir()
    path.write_text(yaml.safe_dump(_search(suite="suites/mine.yaml", data_root="../data")))
    cfg = load_search_config(path)
    assert [p for _, p in cfg.setup.pool] == [str(layout / "ckpt" / "a.pth"), str(layout / "ckpt" / "b.pth")]
    assert cfg.setup.suite == str(suite_file) and cfg.setup.data_root == str(layout / "data")
    check_search_inputs(cfg)
    path.write_text(yaml.safe_dump(_search(data_root="../no-data")))
    with pytest.raises(InputError) as info:
        check_search_inputs(load_search_config(path))
    assert f"{path}: objective.data_root" in str(info.value)
    _assert_rule(str(info.value), "../no-data", layout / "no-data", layout / "configs")
    path.write_text(yaml.safe_dump(_search(suite="suites/other.yaml")))
    with pytest.raises(InputError) as info:
        load_search_config(path)
    _assert_rule(str(info.value), "suites/other.yaml", layout / "configs" / "suites" / "other.yaml",
                 layout / "configs")


def test_merge_search_refuses_a_missing_pool_file_before_any_work(layout, tmp_path):
    path = layout / "configs" / "search.yaml"
    data = _search()
    data["pool"] = [POOL[0], {"name": "b", "path": "b.pth"}]  # beside the config: not there
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["merge", "search", "--config", str(path), "--out", "run"])
    assert result.exit_code == 2, result.output
    assert f"{path}: pool[1].path" in _flat(result.output)
    _assert_rule(result.output, "b.pth", layout / "configs" / "b.pth", layout / "configs")
    assert not Path("run").exists()  # nothing that would block the corrected re-run


# ------------------------------------------------------------------------------------------ model configs


def test_a_model_config_checkpoint_resolves_against_its_file(layout):
    from medmix.evaluation.config_file import load_model_config
    from medmix.models import load_model

    path = layout / "configs" / "model.yaml"
    path.write_text(yaml.safe_dump({"adapter": "tiny", "checkpoint": "../ckpt/b.pth"}))
    expected = torch.load(layout / "ckpt" / "b.pth", weights_only=True)
    key = "mask_decoder.iou_token.weight"
    for model in (load_model(path, device="cpu"), load_model(load_model_config(path), device="cpu")):
        torch.testing.assert_close(model.module.state_dict()[key], expected[key])
    path.write_text(yaml.safe_dump({"adapter": "tiny", "checkpoint": "ckpt/b.pth"}))
    for load in (load_model, load_model_config):
        with pytest.raises(InputError) as info:
            load(path)
        _assert_rule(str(info.value), "ckpt/b.pth", layout / "configs" / "ckpt" / "b.pth", layout / "configs")
    path.write_text(yaml.safe_dump({"adapter": "tiny", "chekpoint": "../ckpt/b.pth"}))
    with pytest.raises(ConfigError, match="chekpoint"):
        load_model_config(path)


def test_evaluate_cli_reads_a_model_config_by_the_rule(layout):
    from medmix.cli.evaluate_cmd import _model_spec

    path = layout / "configs" / "model.yaml"
    path.write_text(yaml.safe_dump({"adapter": "tiny", "checkpoint": "../ckpt/b.pth"}))
    assert _model_spec(str(path))["checkpoint"] == str(layout / "ckpt" / "b.pth")


# ------------------------------------------------------------------------------------------ evaluation configs


def test_load_evaluation_config_resolves_every_path_and_runs(layout):
    from medmix.evaluation.config_file import load_evaluation_config
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    configs = layout / "configs"
    (configs / "model.yaml").write_text(yaml.safe_dump({"adapter": "tiny", "checkpoint": "../ckpt/a.pth"}))
    path = configs / "eval.yaml"
    base = {"suite": "phantom25", "out_dir": "../runs/eval", "tasks": [TASK], "max_cases": 1, "split": "test",
            "seed": 0, "protocol": "medmix", "save_predictions": False}
    cases = {
        "mapping": {"adapter": "tiny", "checkpoint": "../ckpt/a.pth"},
        "string": "tiny:../ckpt/a.pth",
        "model file": "model.yaml",  # its checkpoint resolves against model.yaml's folder
    }
    for model in cases.values():
        path.write_text(yaml.safe_dump({**base, "model": model}))
        kwargs = load_evaluation_config(path)
        assert kwargs["out_dir"] == str(layout / "runs" / "eval")
        assert kwargs["model"]["checkpoint"] == str(layout / "ckpt" / "a.pth")
        assert set(kwargs) == set(base) | {"model"}
    result = evaluate(EvaluationConfig(**kwargs))
    assert result.out_dir.resolve() == (layout / "runs" / "eval").resolve()
    (layout / "preds").mkdir()
    path.write_text(yaml.safe_dump({"suite": "phantom25", "predictions": "../preds", "data_root": "../ckpt"}))
    assert load_evaluation_config(path) == {"suite": "phantom25", "predictions": str(layout / "preds"),
                                            "data_root": str(layout / "ckpt")}


@pytest.mark.parametrize("data, error, message", [
    ({"out_dri": "x"}, ConfigError, r"eval.yaml: out_dri: unknown key. Did you mean 'out_dir'"),
    ({"split": "tset"}, ConfigError, r"eval.yaml: split: expected one of .* Did you mean 'test'"),
    ({"suite": "phantom52"}, ConfigError, r"eval.yaml: suite: Unknown suite 'phantom52'. Did you mean 'phantom25'"),
    ({"suite": "phantom25", "tasks": ["phantom_flare22_livr"]}, ConfigError, r"tasks: .*Did you mean"),
    ({"model": "tiny", "predictions": "p"}, ConfigError, r"give model or predictions, not both"),
    ({"model": {"adapter": "tyni"}}, ConfigError, r"model.adapter: Unknown model adapter 'tyni'. Did you mean 'tiny'"),
    ({"batch_size": 0}, ConfigError, r"batch_size: expected an integer ≥ 1"),
    ({"overwrite": "yes"}, ConfigError, r"overwrite: expected true or false"),
    ({"predictions": "../nowhere"}, InputError, r"predictions: predictions folder '../nowhere' not found"),
    ({"data_root": "data"}, InputError, r"data_root: data root 'data' not found"),
    ({"model": "../ckpt/none.yaml"}, InputError, r"model config '../ckpt/none.yaml' not found"),
    ({"suite": "../suites/none.yaml"}, InputError, r"suite file '../suites/none.yaml' not found"),
])
def test_load_evaluation_config_refuses_with_the_file_and_field(layout, data, error, message):
    from medmix.evaluation.config_file import load_evaluation_config

    path = layout / "configs" / "eval.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(error, match=message) as info:
        load_evaluation_config(path)
    assert str(path) in str(info.value)
    if error is InputError:
        assert f"{RULE}: {layout / 'configs'}" in _flat(info.value)
