"""`medmix merge search`: the whole config is validated when it is loaded (before a checkpoint or a slice is read),
and `best/` is written like `merge apply`'s folder: built beside, renamed into place."""

import json

import pytest
import yaml

from medmix.errors import ConfigError, UnknownNameError
from medmix.merging.search import load_search_config, run_search, search_config_from_dict
from medmix.merging.toy import make_toy_pool

TASKS = ["phantom_flare22_liver", "phantom_kits_kidney_tumour"]


def config(pool=None, **sections):
    data = {"arch": "tiny",
            "pool": [{"name": "generalist", "path": str(pool["generalist"]) if pool else "g.pth"},
                     {"name": "specialist", "path": str(pool["specialist"]) if pool else "s.pth"}],
            "units": {"scheme": "medsamix", "granularity": 1},
            "objective": {"suite": "phantom25", "tasks": TASKS, "max_slices_per_task": 4, "batch_size": 32},
            "search": {"n_trials": 3, "seed": 0, "n_random_initial": 1, "evaluate_test": False}}
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    return data


@pytest.mark.parametrize("changes, message", [
    ({"arch": "tinyy"}, r"search config.arch: Unknown arch 'tinyy'. Did you mean 'tiny'"),
    ({"units": {"scheme": "medsamx"}}, r"search config.units.scheme: Unknown unit scheme 'medsamx'"),
    ({"units": {"scheme": "medsamix", "granularity": 0}}, r"units.granularity: expected an integer ≥ 1"),
    ({"preprocessing": {"kind": "medsma"}}, r"search config.preprocessing.kind: .*Did you mean 'medsam'"),
    ({"space": {"methods": ["linear", "tie"]}}, r"search config.space.methods\[1\]: .*Did you mean 'ties'"),
    ({"space": {"mode": "fixed"}}, r"search config.space.mode: .*Did you mean 'fixed_method'"),
    ({"space": {"mode": "fixed_method", "methods": ["ties", "linear"]}}, r"needs exactly one method"),
    ({"objective": {"suite": "phantom52"}}, r"search config.objective.suite: Unknown suite 'phantom52'"),
    ({"objective": {"tasks": ["phantom_flare22_livr"]}},
     r"search config.objective.tasks\[0\]: .*Did you mean 'phantom_flare22_liver'"),
    ({"objective": {"split": "calib"}}, r"search config.objective.split: Unknown split 'calib'"),
    ({"objective": {"batch_size": "32"}}, r"objective.batch_size: expected an integer ≥ 1"),
    ({"objective": {"max_slices_per_task": 0}}, r"objective.max_slices_per_task: expected an integer ≥ 1 or null"),
    ({"search": {"n_trials": "many"}}, r"search config.search.n_trials: expected an integer, got 'many'"),
    ({"search": {"walltime_s": "1h"}}, r"search.walltime_s: expected a number or null"),
    ({"search": {"racing": "yes"}}, r"search.racing: expected true or false"),
    ({"search": {"facade": "rff"}}, r"search.facade: expected one of .*Did you mean 'rf'"),
])
def test_the_whole_search_config_is_validated_when_loaded(changes, message):
    with pytest.raises(ConfigError, match=message):
        search_config_from_dict(config(**changes))  # the pool files do not even exist


def test_an_unknown_task_is_also_an_unknown_name_error():
    with pytest.raises(UnknownNameError, match="phantom_flare22_liver"):
        search_config_from_dict(config(objective={"tasks": ["phantom_flare22_livr"]}))


def test_a_config_file_names_itself_in_the_field_path(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(config(arch="vit_bb")))
    with pytest.raises(ConfigError, match=f"{path}: arch: Unknown arch 'vit_bb'. Did you mean 'vit_b'"):
        load_search_config(path)


def test_best_folder_is_replaced_whole_or_not_at_all(medmix_cache, tmp_path, monkeypatch):
    import safetensors.torch

    pool = make_toy_pool(medmix_cache / "toy")
    run_search(search_config_from_dict(config(pool)), tmp_path)
    best = tmp_path / "best"

    def files():  # the inode shows a file rewritten with the same bytes (a resumed search may keep its best)
        return {p.name: (p.stat().st_ino, p.read_bytes()) for p in best.iterdir()}

    before = files()
    assert json.loads(before["model.json"][1])["weights_sha256"]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:  # a resumed search that fails while writing best/
        m.setattr(safetensors.torch, "save_file", broken)  # after merged.pth, before model.json
        with pytest.raises(OSError):
            run_search(search_config_from_dict(config(pool, search={"n_trials": 5})), tmp_path)
    assert files() == before  # the previous best/ is intact, not one file of it rewritten
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".best.")]
    run_search(search_config_from_dict(config(pool, search={"n_trials": 5})), tmp_path)
    from medmix.models import load_model

    assert load_model(f"merged:{best}", device="cpu").arch == "tiny"  # weights and model.json agree
