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
