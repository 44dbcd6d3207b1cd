"""Every example config in configs/ validates (files it names are the user's to provide)."""

from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("search_*.yaml")), ids=lambda p: p.name)
def test_search_configs(path):
    from medmix.merging.search import load_search_config
    from medmix.merging.space import SearchSpace

    cfg = load_search_config(path)
    assert cfg.settings.n_trials >= 1 and len(cfg.setup.pool) >= 2
    from medmix.evaluation.suites import load_suite

    suite = load_suite(cfg.setup.suite)
    for task in cfg.setup.tasks:
        suite.card(task)
    space = SearchSpace(["u"], [], len(cfg.setup.pool), cfg.setup.methods, cfg.setup.mode)
    assert space.configspace() is not None


def test_medsamix_space_has_190_hyperparameters():
    from medmix.merging.space import SearchSpace
    from medmix.merging.units import get_scheme

    units = [u.name for u in get_scheme("medsamix", granularity=2).units]
    space = SearchSpace(units, [], 3, ("linear", "task_arithmetic", "ties", "slerp"))
    assert len(units) == 19 and len(list(space.configspace().values())) == 190


def test_recipe_example():
    from medmix.merging.recipe import recipe_from_dict

    recipe = recipe_from_dict(yaml.safe_load((CONFIGS / "recipe_example.yaml").read_text()))
    assert recipe.for_unit("encoder_neck").method == "slerp"
    assert recipe.for_unit("encoder_blocks_2_3").method == "task_arithmetic"


def test_model_config():
    from medmix.models.adapters import parse_spec

    spec = parse_spec(yaml.safe_load((CONFIGS / "model_medsam.yaml").read_text()))
    assert spec.adapter == "medsam" and spec.preprocessing.kind == "medsam"
