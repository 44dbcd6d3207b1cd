"""Merge units: exact block-index matching and the built-in schemes' key counts on SAM ViT-B."""

import pytest
import torch

from medmix.errors import ConfigError, InputError
from medmix.merging.units import assign_units, get_scheme, key_matches, scheme_from_config


@pytest.fixture(scope="module")
def vit_b_keys():
    from segment_anything import sam_model_registry

    with torch.device("meta"):  # no memory, no init cost
        return list(sam_model_registry["vit_b"]().state_dict())


def test_block_indices_match_exactly():
    assert key_matches("image_encoder.blocks.1.**", "image_encoder.blocks.1.attn.qkv.weight")
    assert not key_matches("image_encoder.blocks.1.**", "image_encoder.blocks.10.attn.qkv.weight")
    assert key_matches("image_encoder.blocks.{0,1}.**", "image_encoder.blocks.0.mlp.lin1.bias")
    assert not key_matches("image_encoder.blocks.{0,1}.**", "image_encoder.blocks.11.mlp.lin1.bias")
    assert key_matches("image_encoder.pos_embed", "image_encoder.pos_embed")
    assert not key_matches("image_encoder.pos_embed", "image_encoder.pos_embed.extra")
    assert key_matches("*.neck.**", "image_encoder.neck.0.weight")


def test_medsamix_scheme_on_vit_b(vit_b_keys):
    a = assign_units(vit_b_keys, get_scheme("medsamix", granularity=2))
    counts = a.counts()
    assert len(counts) == 19
    assert [counts[f"encoder_blocks_{i}_{i + 1}"] for i in range(0, 12, 2)] == [28] * 6  # 14 tensors per block
    assert counts["encoder_pos_embed"] == 1 and counts["encoder_patch_embed"] == 2 and counts["encoder_neck"] == 6
    assert counts["decoder_two_way_layers"] == 72 and counts["decoder_hypernetwork_mlps"] == 24
    assert a.excluded == ["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]
    assert sum(counts.values()) + len(a.excluded) == 314
    assert "image_encoder.blocks.10.attn.qkv.weight" in a.keys["encoder_blocks_10_11"]
    assert not any(".blocks.10." in k for k in a.keys["encoder_blocks_0_1"])


@pytest.mark.parametrize("granularity, n_units", [(1, 25), (3, 17), (4, 16), (5, 16), (12, 14)])
def test_granularity(vit_b_keys, granularity, n_units):
    assert len(assign_units(vit_b_keys, get_scheme("medsamix", granularity=granularity)).keys) == n_units


def test_per_component_and_per_block(vit_b_keys):
    comp = assign_units(vit_b_keys, get_scheme("per_component")).counts()
    assert comp["block_0_attention"] == 6 and comp["block_0_mlp"] == 4 and comp["block_0_norms"] == 4
    assert len(assign_units(vit_b_keys, get_scheme("per_block")).keys) == 25


def test_unclaimed_keys_are_an_error():
    scheme = scheme_from_config({"units": {"enc": ["image_encoder.**"]}})
    with pytest.raises(InputError, match="no unit claims these keys: mask_decoder.x"):
        assign_units(["image_encoder.a", "mask_decoder.x"], scheme)


def test_custom_scheme_validation():
    with pytest.raises(ConfigError, match="unknown keys"):
        scheme_from_config({"units": {"a": ["x.**"]}, "unit": {}})
    with pytest.raises(ConfigError, match="may only end"):
        scheme_from_config({"units": {"a": ["x.**.y"]}})


def test_unknown_unit_names_get_the_field_path_and_a_did_you_mean():
    from medmix.errors import UnknownNameError
    from medmix.merging.units import check_unit_names

    scheme = get_scheme("medsamix", depth=12, granularity=2)
    check_unit_names(["encoder_blocks_0_1", "decoder_iou_head"], scheme, "recipe")
    with pytest.raises(ConfigError, match=r"recipe.encoder_block_0_1: Unknown unit of scheme 'medsamix_g2' "
                                          r"'encoder_block_0_1'. Did you mean 'encoder_blocks_0_1'") as info:
        check_unit_names(["encoder_neck", "encoder_block_0_1"], scheme, "recipe")
    assert isinstance(info.value, UnknownNameError)  # also what a registry lookup raises
    with pytest.raises(ConfigError, match="'encoder_blocks_0_0'"):  # a unit of granularity 1, not of 2
        check_unit_names(["encoder_blocks_0_0"], scheme, "recipe")


def test_a_single_exclude_pattern_is_one_pattern(vit_b_keys):
    from medmix.merging.recipe import scheme_for

    units = {"units": {"everything": ["image_encoder.**", "mask_decoder.**", "prompt_encoder.**"]},
             "exclude": "prompt_encoder.pe_layer.**"}
    scheme = scheme_for(units, "vit_b")
    assert scheme.exclude == ("prompt_encoder.pe_layer.**",)  # not one "pattern" per character
    assert assign_units(vit_b_keys, scheme).excluded == ["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]
