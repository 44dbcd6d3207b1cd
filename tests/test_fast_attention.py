"""The SDPA attention forward computes what segment_anything's does (CPU, fp32)."""

import torch

from medmix.models.fast_attention import disable_sdpa, enable_sdpa
from medmix.models.sam import build_tiny_sam


def test_sdpa_encoder_matches_segment_anything():
    model = build_tiny_sam(seed=3).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eager = model.image_encoder(x)
        assert enable_sdpa(model) == 2  # one attention per block
        fused = model.image_encoder(x)
        assert disable_sdpa(model) == 2
        again = model.image_encoder(x)
    torch.testing.assert_close(fused, eager, rtol=1e-5, atol=1e-5)
    assert torch.equal(again, eager)


def test_sdpa_on_a_vit_b_block_with_relative_positions():
    from segment_anything.modeling.image_encoder import Block

    torch.manual_seed(0)
    block = Block(dim=768, num_heads=12, use_rel_pos=True, window_size=14, input_size=(64, 64)).eval()
    with torch.no_grad():
        block.attn.rel_pos_h.normal_()
        block.attn.rel_pos_w.normal_()
        x = torch.randn(1, 64, 64, 768)
        eager = block(x)
        enable_sdpa(block)
        fused = block(x)
    torch.testing.assert_close(fused, eager, rtol=1e-4, atol=1e-4)


def test_adapter_records_the_attention_path():
    from medmix.models import load_model

    model = load_model("tiny", device="cpu")
    assert model.describe()["attention"] == "eager"
