"""`medmix merge apply`: the merged checkpoint loads strictly into plain segment_anything; provenance recorded."""

import json

import pytest
import torch
import yaml

from medmix.errors import ConfigError
from medmix.merging.apply import apply_recipe
from medmix.merging.recipe import recipe_from_dict


@pytest.mark.slow
def test_vit_b_merge_loads_strictly_into_segment_anything(tmp_path):
    from segment_anything import sam_model_registry

    from medmix.models.sam import build_sam

    torch.manual_seed(0)
    base = build_sam("vit_b").state_dict()
    torch.save(base, tmp_path / "base.pth")
    tuned = {k: v.clone() for k, v in base.items()}
    tuned["image_encoder.blocks.10.mlp.lin1.weight"] += 0.1  # a specialist that moved one tensor
    torch.save({"model": {f"module.{k}": v for k, v in tuned.items()}}, tmp_path / "medsam_like.pth")
    recipe = {"arch": "vit_b", "pool": [{"name": "sam", "path": "base.pth"}, {"name": "medsam", "path":
                                        "medsam_like.pth"}],
              "units": {"scheme": "medsamix", "granularity": 2},
              "default": {"method": "linear", "weights": [1.0, 0.0]},
              "recipe": {"encoder_blocks_10_11": {"method": "task_arithmetic", "lam": 0.5}},
              "preprocessing": {"kind": "medsam"}}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    out = apply_recipe(tmp_path / "recipe.yaml", tmp_path / "merged")
    sam = sam_model_registry["vit_b"](checkpoint=str(out / "merged.pth"))  # strict load_state_dict upstream
    merged = sam.state_dict()
    key = "image_encoder.blocks.10.mlp.lin1.weight"
    torch.testing.assert_close(merged[key], base[key] + 0.05)
    torch.testing.assert_close(merged["image_encoder.blocks.1.mlp.lin1.weight"],
                               base["image_encoder.blocks.1.mlp.lin1.weight"])
    provenance = json.loads((out / "provenance.json").read_text())
    assert [i["name"] for i in provenance["inputs"]] == ["sam", "medsam"]
    assert all(len(i["sha256"]) == 64 for i in provenance["inputs"])
    model_json = json.loads((out / "model.json").read_text())
    assert model_json["arch"] == "vit_b" and model_json["preprocessing"]["kind"] == "medsam"
    from safetensors.torch import load_file

    assert torch.equal(load_file(out / "merged.safetensors")[key], merged[key])


def test_recipe_validation_names_the_field():
    base = {"arch": "tiny", "pool": [{"name": "a", "path": "a.pth"}, {"name": "b", "path": "b.pth"}],
            "units": {"scheme": "medsamix", "granularity": 1}, "default": {"method": "linear", "weights": [1, 0]}}
    with pytest.raises(ConfigError, match=r"recipe.default.weights: expected one value per pool member \(2\)"):
        recipe_from_dict({**base, "default": {"method": "linear", "weights": [1]}})
    with pytest.raises(ConfigError, match="unknown parameter"):
        recipe_from_dict({**base, "recipe": {"encoder_neck": {"method": "ties", "drop": 0.2, "lam": 1, "k": 3}}})
    with pytest.raises(ConfigError, match="recipe.recipe.encoder_neck.method"):
        recipe_from_dict({**base, "recipe": {"encoder_neck": {"method": "tie"}}})
    with pytest.raises(Exception, match="Did you mean 'encoder_neck'"):
        recipe_from_dict({**base, "recipe": {"encoder_nek": {"method": "linear", "weights": [0, 1]}}})
    round_trip = recipe_from_dict(yaml.safe_load(recipe_from_dict(base).to_yaml()))
    assert round_trip.to_dict() == recipe_from_dict(base).to_dict()


# ------------------------------------------------------------------------------------------ validation first

TINY = {"arch": "tiny", "pool": [{"name": "a", "path": "a.pth"}, {"name": "b", "path": "b.pth"}],
        "units": {"scheme": "medsamix", "granularity": 1}, "default": {"method": "linear", "weights": [1, 0]}}


def _with(**changes):
    return {**TINY, **changes}


def _unit(**spec):
    return _with(recipe={"encoder_blocks_1_1": spec})


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    from medmix.models.sam import build_tiny_sam

    root = tmp_path_factory.mktemp("tiny_pool")
    for name, seed in (("a", 0), ("b", 1)):
        torch.save(build_tiny_sam(seed).state_dict(), root / f"{name}.pth")
    return root


@pytest.mark.parametrize("data, message", [
    (_unit(method="ties", drop=1.5, lam=1.0),
     r"recipe.recipe.encoder_blocks_1_1.drop: ties drop must lie in \[0, 1\) .*got 1.5"),
    (_unit(method="ties", drop=-0.1, lam=1.0), r"encoder_blocks_1_1.drop: ties drop must lie in \[0, 1\)"),
    (_unit(method="dare_ties", drop=1.0, lam=1.0), r"encoder_blocks_1_1.drop: dare_ties drop must lie in \[0, 1\)"),
    (_unit(method="dare_linear", drop=1.2, lam=1.0), r"dare_linear drop must lie in \[0, 1\)"),
    (_unit(method="breadcrumbs", density=1.2, gamma=0.0, lam=1.0), r"breadcrumbs density must lie in \[0, 1\]"),
    (_unit(method="breadcrumbs", density=0.5, gamma=-0.1, lam=1.0), r"breadcrumbs gamma must lie in \[0, 1\]"),
    (_unit(method="breadcrumbs", density=0.95, gamma=0.1, lam=1.0), r"density \+ gamma ≤ 1.*0.95 \+ 0.1"),
    (_unit(method="linear", weights=[1.0, -0.5]), r"encoder_blocks_1_1.weights: linear weights must be ≥ 0"),
    (_unit(method="slerp", weights=[0, 0]), r"encoder_blocks_1_1.weights: all slerp weights are zero"),
    (_unit(method="slerp", t=1.5), r"encoder_blocks_1_1.t: slerp t must lie in \[0, 1\]"),
    (_unit(method="slerp", t=0.5, weights=[1, 1]), r"slerp takes weights or t, not both"),
    (_unit(method="task_arithmetic", lam=float("nan")), r"encoder_blocks_1_1.lam: expected a finite number"),
    (_unit(method="task_arithmetic", lam="1e-3"), r"lam: expected a number, got the text '1e-3' .*write 1.0e-3"),
    (_unit(method="task_arithmetic", lam=True), r"lam: expected a number, got True"),
    (_unit(method="dare_ties", drop=0.3, lam=1.0, seed=1.5), r"encoder_blocks_1_1.seed: expected an integer"),
    (_with(seed="zero"), r"recipe.seed: expected an integer"),
    (_with(recipe=["encoder_neck"]), r"recipe.recipe: expected a mapping"),
    (_with(pool=[{"name": "a", "path": "a.pth"}, {"name": "a", "path": "b.pth"}]), r"pool\[1\].name: 'a' is already"),
    (_with(units={"scheme": "per_block", "granularity": 2}), r"units.granularity: applies to the medsamix scheme only"),
    (_with(units={"scheme": "medsamix", "granularity": "two"}), r"units.granularity: expected an integer ≥ 1"),
    (_with(units={"scheme": "litemedsam"}), r"units.scheme: scheme 'litemedsam' is for LiteMedSAM, but arch is"),
    (_with(preprocessing={"kind": "sam", "image_size": 4}), r"recipe.preprocessing.image_size"),
])
def test_hard_limits_and_bad_values_are_refused_with_the_field_path(data, message):
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(data)


@pytest.mark.parametrize("data, message", [
    (_with(defualt={}), r"recipe.defualt: unknown key. Did you mean 'default'"),
    (_with(arch="tinyy"), r"recipe.arch: Unknown arch 'tinyy'. Did you mean 'tiny'"),
    (_unit(method="tie", drop=0.1, lam=1), r"recipe.recipe.encoder_blocks_1_1.method: .*Did you mean 'ties'"),
    (_unit(method="task_arithmetic", lamb=1), r"encoder_blocks_1_1.lamb: unknown parameter.*Did you mean 'lam'"),
    (_with(recipe={"encoder_blocks_1": {"method": "linear", "weights": [0, 1]}}),
     r"recipe.recipe.encoder_blocks_1: Unknown unit of scheme 'medsamix_g1' 'encoder_blocks_1'. Did you mean "
     r"'encoder_blocks_1_1'"),
    (_with(recipe={"encoder_blocks_5_5": {"method": "linear", "weights": [0, 1]}}),
     r"Unknown unit of scheme 'medsamix_g1' 'encoder_blocks_5_5'"),  # tiny has 2 blocks: no unit for block 5
    (_with(units={"scheme": "medsamx"}),
     r"recipe.units.scheme: Unknown unit scheme 'medsamx'. Did you mean 'medsamix'"),
    (_with(units={"sheme": "medsamix"}), r"recipe.units.sheme: unknown key. Did you mean 'scheme'"),
    (_with(units={"units": {"all": ["**"]}, "exlude": []}),
     r"recipe.units.exlude: unknown key. Did you mean 'exclude'"),
    (_with(preprocessing={"kind": "medsma"}), r"recipe.preprocessing.kind: Unknown preprocessing kind 'medsma'. Did "
                                              r"you mean 'medsam'"),
    (_with(preprocessing={"kind": "sam", "image_sise": 64}), r"preprocessing.image_sise: unknown key. Did you mean "
                                                               r"'image_size'"),
    (_with(pool=[{"name": "a", "pth": "a.pth"}, {"name": "b", "path": "b.pth"}]), r"pool\[0\].pth: unknown key"),
    (_unit(method="dare_ties", drop=0.3, lam=1, rescale="invers"),
     r"rescale: expected one of .*Did you mean 'inverse'"),
])
def test_unknown_names_get_the_field_path_and_a_did_you_mean(data, message):
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(data)


@pytest.mark.parametrize("lam", [7.5, -3.0, 1.5])
def test_lambda_outside_the_searched_range_is_allowed_and_said(lam, tiny_files, tmp_path):
    recipe = recipe_from_dict(_with(default={"method": "task_arithmetic", "lam": lam}), base_dir=tiny_files)
    [note] = recipe.range_notes()
    assert note.startswith(f"recipe.default.lam = {lam:g} lies outside the range the search samples, [0, 1]")
    out = apply_recipe(recipe, tmp_path / "merged")
    assert json.loads((out / "provenance.json").read_text())["outside_search_range"] == [note]
    inside = recipe_from_dict(_with(default={"method": "ties", "drop": 0.995, "lam": 0.5}), base_dir=tiny_files)
    assert [n.split(" = ")[0] for n in inside.range_notes()] == ["recipe.default.drop"]  # [0.99, 1): allowed, said


def test_the_cli_prints_the_notes_and_the_recipe_file_prefix(tiny_files, tmp_path):
    from typer.testing import CliRunner

    from medmix.cli.main import app

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_with(pool=[{"name": "a", "path": str(tiny_files / "a.pth")},
                                               {"name": "b", "path": str(tiny_files / "b.pth")}],
                                         default={"method": "task_arithmetic", "lam": 7.5})))
    result = CliRunner().invoke(app, ["merge", "apply", "--recipe", str(path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert f"note: {path}: default.lam = 7.5 lies outside" in " ".join(result.output.split())


def test_a_bad_value_is_refused_before_the_pool_loads(tmp_path):
    bad = _unit(method="ties", drop=1.5, lam=1.0)  # pool files that do not exist: the drop is reported, not them
    with pytest.raises(ConfigError, match="drop"):
        apply_recipe(recipe_from_dict(bad, base_dir=tmp_path), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_recipe_leaves_nothing_and_the_corrected_one_runs(tiny_files, tmp_path):
    data = _with(preprocessing={"kind": "medsma"})
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({**data, "pool": [{"name": "a", "path": str(tiny_files / "a.pth")},
                                                     {"name": "b", "path": str(tiny_files / "b.pth")}]}))
    with pytest.raises(ConfigError, match=f"{path}: preprocessing.kind"):
        apply_recipe(path, tmp_path / "merged")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]
    path.write_text(path.read_text().replace("medsma", "medsam"))
    out = apply_recipe(path, tmp_path / "merged")
    assert sorted(p.name for p in out.iterdir()) == ["merged.pth", "merged.safetensors", "model.json",
                                                     "provenance.json", "recipe.yaml"]


def test_the_merged_folder_is_written_atomically(tiny_files, tmp_path, monkeypatch):
    import safetensors.torch
    from medmix.errors import InputError

    recipe = recipe_from_dict(TINY, base_dir=tiny_files)
    out = tmp_path / "merged"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(safetensors.torch, "save_file", broken)  # after merged.pth, before model.json
        with pytest.raises(OSError):
            apply_recipe(recipe, out)
    assert list(tmp_path.iterdir()) == []  # no half-written folder, no partial sibling
    first = apply_recipe(recipe, out)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    assert {p.name: p.read_bytes() for p in apply_recipe(recipe, out).iterdir()} == before  # the same again
    other = recipe_from_dict(_with(default={"method": "linear", "weights": [0, 1]}), base_dir=tiny_files)
    with pytest.raises(InputError, match="holds a previous merge of another recipe .*--overwrite"):
        apply_recipe(other, out)
    with monkeypatch.context() as m:
        m.setattr(safetensors.torch, "save_file", broken)  # after merged.pth, before model.json
        with pytest.raises(OSError):
            apply_recipe(other, out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous merge is untouched
    apply_recipe(other, out, overwrite=True)
    assert (out / "merged.pth").read_bytes() != before["merged.pth"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]
    stray = tmp_path / "notes"
    stray.mkdir()
    (stray / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match="holds files a merge does not write .*mine.txt"):
        apply_recipe(recipe, stray, overwrite=True)
    assert (stray / "mine.txt").read_text() == "keep"


def test_the_scheme_and_the_checkpoints_are_checked_against_the_arch(tiny_files, tmp_path):
    from medmix.errors import InputError

    orphan = _with(units={"units": {"encoder": ["image_encoder.**"]}})  # nothing claims the decoder
    with pytest.raises(ConfigError, match=r"recipe.units on arch 'tiny': .*no unit claims these keys"):
        apply_recipe(recipe_from_dict(orphan, base_dir=tmp_path / "missing"), tmp_path / "out")
    wrong_arch = recipe_from_dict(_with(arch="vit_b", units={"scheme": "medsamix", "granularity": 2}),
                                  base_dir=tiny_files)
    with pytest.raises(InputError, match="recipe.arch: the pool's base 'a' .* does not have the keys of arch 'vit_b'"):
        apply_recipe(wrong_arch, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_folder_copy_of_the_recipe_has_absolute_pool_paths(tiny_files, tmp_path):
    path = tiny_files / "relative.yaml"
    path.write_text(yaml.safe_dump(TINY))  # pool paths a.pth / b.pth, beside the recipe file
    out = apply_recipe(path, tmp_path / "merged")
    stored = yaml.safe_load((out / "recipe.yaml").read_text())
    assert [m["path"] for m in stored["pool"]] == [str(tiny_files / "a.pth"), str(tiny_files / "b.pth")]
    again = apply_recipe(out / "recipe.yaml", tmp_path / "again")  # the copy stands on its own
    assert (again / "merged.pth").read_bytes() == (out / "merged.pth").read_bytes()


def test_the_recipe_names_match_the_registries():
    from medmix.merging.recipe import ARCHS, BUILTIN_SCHEMES
    from medmix.merging.units import get_scheme
    from medmix.models.adapters import FOLDER_ARCHS

    assert set(ARCHS) == set(FOLDER_ARCHS)
    for name in BUILTIN_SCHEMES:
        get_scheme(name)
    with pytest.raises(Exception, match="Choices: " + ", ".join(sorted(BUILTIN_SCHEMES))):
        get_scheme("other")


def test_non_finite_merged_weights_are_not_written(tmp_path):
    import pytest
    import torch

    from medmix.errors import InputError
    from medmix.merging.apply import write_merged_folder
    from medmix.merging.recipe import recipe_from_dict
    from medmix.models.sam import build_tiny_sam

    for i in (0, 1):
        torch.save(build_tiny_sam(i).state_dict(), tmp_path / f"m{i}.pth")
    recipe = recipe_from_dict({"arch": "tiny", "pool": [{"name": f"m{i}", "path": str(tmp_path / f"m{i}.pth")}
                                                        for i in (0, 1)],
                               "units": {"scheme": "medsamix", "granularity": 1},
                               "default": {"method": "linear", "weights": [1.0, 0.0]}})
    state = build_tiny_sam(0).state_dict()
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].clone().fill_(float("inf"))
    with pytest.raises(InputError, match=f"merged weights.*{key}"):
        write_merged_folder(state, recipe, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
