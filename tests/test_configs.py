"""Every file in configs/ is run as its header comment instructs, with stand-ins where the header names real data.

- search_phantom_tiny.yaml: its header's `medmix merge search` command, end to end on the CPU, with `--n-trials 6`
  and a temporary `--out` (the pool is the one shipped in medmix/assets/toy_pool, where the config points).
- the ViT-B search configs need the real checkpoints, prepared datasets and a GPU: they are validated fully
  (`load_search_config`, suite and tasks, the space built from the vit_b units, pool paths resolving to
  checkpoints/ at the repository root), and their header's command is run without the checkpoints, where it must
  stop before any work with the path-rule message and leave nothing behind.
- recipe_example.yaml and model_medsam.yaml: run from a copy of the repository layout (configs/ + checkpoints/)
  holding random-initialised ViT-B stand-ins at the real shapes (93.7 M parameters) stored in **float16**
  (187 MB per file instead of 375 MB in fp32; the merge still computes in fp32). The three pool members are the
  random base and two copies with seeded noise added. About 10 s on 2 CPU cores for both configs together.
"""

import shlex
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from medmix.cli.main import app

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
REPO = CONFIGS.parent
VIT_B_POOL = ("sam_vit_b_01ec64.pth", "medsam_vit_b.pth", "medicosam_vit_b.pt")
VIT_B_SEARCHES = ("search_medsamix25_vit_b.yaml", "search_medsamix_exact_vit_b.yaml", "search_single_task_vit_b.yaml")
RULE = "relative paths in a config resolve against the config file's folder"
runner = CliRunner()


def header(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return "\n".join(lines)


def header_commands(path: Path) -> list[list[str]]:
    """The `medmix …` command lines of a header, split like a shell would (trailing comments dropped)."""
    out = []
    for line in header(path).splitlines():
        if line.startswith("medmix "):
            out.append(shlex.split(line.split("  #")[0])[1:])
    return out


def with_option(args: list[str], option: str, value: str) -> list[str]:
    args = list(args)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


def test_every_config_is_covered_and_its_header_states_the_rule_and_the_test():
    covered = {"search_phantom_tiny.yaml", "recipe_example.yaml", "model_medsam.yaml", *VIT_B_SEARCHES}
    assert {p.name for p in CONFIGS.glob("*.yaml")} == covered  # a new config needs a test here
    for path in CONFIGS.glob("*.yaml"):
        text = header(path)
        assert RULE in text.replace("\n", " ").lower(), path.name
        assert "tests/test_configs.py" in text, path.name
        assert header_commands(path), f"{path.name}: the header shows no command to run"


# ------------------------------------------------------------------------------------------ search configs


def test_search_phantom_tiny_runs_as_its_header_says(tmp_path, monkeypatch):
    from medmix.merging.search import load_search_config
    from medmix.merging.toy import ASSETS, shipped_pool

    path = CONFIGS / "search_phantom_tiny.yaml"
    cfg = load_search_config(path)
    # The pool the header names (the shipped one, which scripts/make_toy_pool.py rewrites in place) is the one the
    # config's relative paths resolve to.
    assert [p for _, p in cfg.setup.pool] == [str(shipped_pool()[n]) for n in ("generalist", "specialist")]
    assert "ASSETS" in (REPO / "scripts" / "make_toy_pool.py").read_text() and ASSETS.is_dir()
    [command] = header_commands(path)
    monkeypatch.chdir(REPO)  # "From the repository root"
    out = tmp_path / "phantom-tiny"
    result = runner.invoke(app, with_option(with_option(command, "--out", str(out)), "--n-trials", "6"))
    assert result.exit_code == 0, result.output
    assert len((out / "trials.jsonl").read_text().splitlines()) == 6
    assert (out / "best" / "model.json").is_file() and (out / "eval_test" / "summary.json").is_file()
    assert not list(tmp_path.glob(".*partial*"))  # best/ was built beside and renamed into place


@pytest.mark.parametrize("name", VIT_B_SEARCHES)
def test_vit_b_search_configs_validate_fully(name, tmp_path, monkeypatch):
    from medmix.evaluation.suites import load_suite
    from medmix.merging.search import load_search_config
    from medmix.merging.space import SearchSpace

    path = CONFIGS / name
    cfg = load_search_config(path)
    assert [p for _, p in cfg.setup.pool] == [str(REPO / "checkpoints" / f) for f in VIT_B_POOL]
    suite = load_suite(cfg.setup.suite)
    assert cfg.setup.tasks and all(suite.card(t) for t in cfg.setup.tasks)
    scheme = cfg.setup.units
    assert scheme == {"scheme": "medsamix", "granularity": 2}
    from medmix.merging.recipe import check_scheme_on_arch, scheme_for

    units = scheme_for(scheme, cfg.setup.arch)
    check_scheme_on_arch(units, cfg.setup.arch, "units")  # every ViT-B key belongs to one of the 19 units
    space = SearchSpace([u.name for u in units.units], [], len(cfg.setup.pool), cfg.setup.methods, cfg.setup.mode)
    n_hps = len(list(space.configspace().values()))
    assert len(units.units) == 19 and (n_hps == 190 or "190" not in header(path))
    if cfg.source["objective"].get("data_root"):
        assert cfg.setup.data_root == str(Path(cfg.source["objective"]["data_root"]).expanduser())
    # The header's command, here without the checkpoints: refused before any work, saying the rule.
    monkeypatch.chdir(REPO)
    for command in header_commands(path):
        out = tmp_path / "run"
        result = runner.invoke(app, with_option(command, "--out", str(out)))
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "'../checkpoints/sam_vit_b_01ec64.pth' not found" in text
        assert str(REPO / "checkpoints" / "sam_vit_b_01ec64.pth") in text and f"{RULE}: {CONFIGS}" in text
        assert not out.exists()


def test_medsamix_space_has_190_hyperparameters():
    from medmix.merging.space import SearchSpace
    from medmix.merging.units import get_scheme

    units = [u.name for u in get_scheme("medsamix", granularity=2).units]
    space = SearchSpace(units, [], 3, ("linear", "task_arithmetic", "ties", "slerp"))
    assert len(units) == 19 and len(list(space.configspace().values())) == 190


# ------------------------------------------------------------------------------------------ ViT-B stand-ins


@pytest.fixture(scope="module")
def vit_b_repo(tmp_path_factory):
    """configs/ copied beside a checkpoints/ folder of float16 ViT-B stand-ins (see the module docstring)."""
    from medmix.models.sam import build_sam

    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(CONFIGS, root / "configs")
    (root / "checkpoints").mkdir()
    torch.manual_seed(0)
    base = {k: v.half() if v.is_floating_point() else v for k, v in build_sam("vit_b").state_dict().items()}
    generator = torch.Generator().manual_seed(1)
    states = [base]
    for _ in VIT_B_POOL[1:]:
        states.append({k: (v + (0.01 * torch.randn(v.shape, generator=generator)).half()) if v.is_floating_point()
                       else v for k, v in base.items()})
    for name, state in zip(VIT_B_POOL, states):
        torch.save(state, root / "checkpoints" / name)
    return root, states


def test_recipe_example_applies_end_to_end(vit_b_repo, monkeypatch):
    from medmix.merging.recipe import load_recipe
    from medmix.merging.units import get_scheme

    root, states = vit_b_repo
    path = root / "configs" / "recipe_example.yaml"
    recipe = load_recipe(path)
    scheme = {u.name for u in get_scheme("medsamix", depth=12, granularity=2).units}
    assert recipe.arch == "vit_b" and set(recipe.recipe) <= scheme  # every named unit is a vit_b medsamix unit
    assert recipe.range_notes() == []  # the example stays inside the searched ranges
    [command] = header_commands(CONFIGS / "recipe_example.yaml")
    monkeypatch.chdir(root)  # "from the repository root"
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    out = root / "runs" / "merged"
    from segment_anything import sam_model_registry

    merged = sam_model_registry["vit_b"](checkpoint=str(out / "merged.pth")).state_dict()  # strict upstream load
    key = "image_encoder.blocks.0.mlp.lin1.weight"  # encoder_blocks_0_1: linear 0.6 / 0.2 / 0.2
    expected = (0.6 * states[0][key].float() + 0.2 * states[1][key].float() + 0.2 * states[2][key].float()).half()
    torch.testing.assert_close(merged[key], expected.float(), rtol=1e-3, atol=1e-4)  # float16: 1 unit in last place
    key = "image_encoder.blocks.4.attn.qkv.weight"  # default: task arithmetic, λ = 0.5
    base = states[0][key].float()
    expected = base + 0.5 * ((states[1][key].float() - base) + (states[2][key].float() - base))
    torch.testing.assert_close(merged[key], expected.half().float(), rtol=1e-3, atol=1e-4)
    model_json = yaml.safe_load((out / "model.json").read_text())
    assert model_json["arch"] == "vit_b" and model_json["preprocessing"]["kind"] == "medsam"
    stored = yaml.safe_load((out / "recipe.yaml").read_text())
    assert stored["pool"][0]["path"] == str(root / "checkpoints" / VIT_B_POOL[0])  # absolute in the copy
    # Again, as the header says: the same recipe replaces its own merge; another recipe needs --overwrite.
    assert runner.invoke(app, command).exit_code == 0
    path.write_text(path.read_text().replace("lam: 0.5", "lam: 0.6"))
    again = runner.invoke(app, command)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(app, [*command, "--overwrite"]).exit_code == 0
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["merged"]


def test_model_config_loads_with_a_standin(vit_b_repo):
    from medmix.evaluation.config_file import load_model_config
    from medmix.models import load_model

    root, states = vit_b_repo
    path = root / "configs" / "model_medsam.yaml"
    spec = load_model_config(path)
    assert spec["checkpoint"] == str(root / "checkpoints" / "medsam_vit_b.pth")
    assert header_commands(CONFIGS / "model_medsam.yaml")[0][:3] == ["evaluate", "--model", "configs/model_medsam.yaml"]
    for model in (load_model(spec, device="cpu"), load_model(path, device="cpu")):
        assert model.preprocessing.kind == "medsam" and model.arch == "vit_b"
        key = "mask_decoder.iou_token.weight"
        torch.testing.assert_close(model.module.state_dict()[key], states[1][key].float())
