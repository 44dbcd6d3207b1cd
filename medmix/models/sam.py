"""Builders for SAM-architecture models (ViT-B/L/H and a tiny random one for tests), built empty and never from a
checkpoint path: weights are loaded afterwards with `medmix.models.checkpoints.load_into` (safe loader).

`segment_anything.sam_model_registry[arch](checkpoint=...)` is not used: it calls `torch.load` without
`weights_only`/`map_location`.
"""

from __future__ import annotations

from functools import partial
from types import MappingProxyType
from typing import Any

from medmix.errors import UnknownNameError

#: Hyper-parameters of the released SAM image encoders (segment_anything/build_sam.py). All three share the prompt
#: encoder / mask decoder (prompt embed dim 256, 1024-px input, 64×64 image embedding, patch 16, window 14).
SAM_ARCHS: MappingProxyType = MappingProxyType({
    name: MappingProxyType({"embed_dim": dim, "depth": depth, "num_heads": heads, "global_attn_indexes": glob})
    for name, dim, depth, heads, glob in (
        ("vit_b", 768, 12, 12, (2, 5, 8, 11)),
        ("vit_l", 1024, 24, 16, (5, 11, 17, 23)),
        ("vit_h", 1280, 32, 16, (7, 15, 23, 31)),
    )
})
SAM_IMAGE_SIZE = 1024

#: The tiny SAM used in tests and demos: ViT-B's module/key layout (same key names up to the number of encoder
#: blocks; block 1 is a global-attention block like ViT-B's block 2) with small widths. 64-px input, patch 8 →
#: 8×8 image embedding, window 4 (2×2 windows), width 32 everywhere, 2-layer two-way transformer with MLP width 64;
#: low-res mask logits 32×32. 86,380 parameters (174 state-dict keys). Use "sam" preprocessing at
#: image_size = img_size (64).
TINY_CONFIG: MappingProxyType = MappingProxyType({
    "img_size": 64,
    "patch_size": 8,
    "embed_dim": 32,
    "depth": 2,
    "num_heads": 2,
    "mlp_ratio": 4.0,
    "window_size": 4,
    "global_attn_indexes": (1,),
    "prompt_embed_dim": 32,
    "mask_in_chans": 16,
    "decoder_depth": 2,
    "decoder_num_heads": 2,
    "decoder_mlp_dim": 64,
    "iou_head_hidden_dim": 32,
})


def _build(*, img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float,
           window_size: int, global_attn_indexes, prompt_embed_dim: int, mask_in_chans: int, decoder_depth: int,
           decoder_num_heads: int, decoder_mlp_dim: int, iou_head_hidden_dim: int):
    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = img_size // patch_size
    model = Sam(
        image_encoder=ImageEncoderViT(
            depth=depth, embed_dim=embed_dim, img_size=img_size, mlp_ratio=mlp_ratio,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=num_heads, patch_size=patch_size,
            qkv_bias=True, use_rel_pos=True, global_attn_indexes=tuple(global_attn_indexes), window_size=window_size,
            out_chans=prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_embed_dim, image_embedding_size=(grid, grid), input_image_size=(img_size, img_size),
            mask_in_chans=mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=decoder_depth, embedding_dim=prompt_embed_dim,
                                          mlp_dim=decoder_mlp_dim, num_heads=decoder_num_heads),
            transformer_dim=prompt_embed_dim, iou_head_depth=3, iou_head_hidden_dim=iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return model.eval()


def build_sam(arch: str = "vit_b", *, device: Any = None):
    """An empty (randomly initialised) `segment_anything` Sam of the given arch ("vit_b", "vit_l", "vit_h").

    device: where to build it; ``torch.device("meta")`` builds it without allocating (for key/shape checks).
    Load weights with `load_into(model, load_state_dict(path))`.
    """
    import torch

    if arch not in SAM_ARCHS:
        raise UnknownNameError("SAM arch", arch, SAM_ARCHS)
    hp = SAM_ARCHS[arch]
    with torch.device(device if device is not None else "cpu"):
        return _build(img_size=SAM_IMAGE_SIZE, patch_size=16, embed_dim=hp["embed_dim"], depth=hp["depth"],
                      num_heads=hp["num_heads"], mlp_ratio=4.0, window_size=14,
                      global_attn_indexes=hp["global_attn_indexes"], prompt_embed_dim=256, mask_in_chans=16,
                      decoder_depth=2, decoder_num_heads=8, decoder_mlp_dim=2048, iou_head_hidden_dim=256)


def build_tiny_sam(seed: int = 0, *, device: Any = None):
    """A seeded random-initialised tiny SAM (`TINY_CONFIG`, 86,380 parameters) with ViT-B's key layout.

    Same seed → bit-identical weights (built on the CPU under a forked RNG, so the global RNG is untouched).
    SAM zero-initialises `pos_embed` and the relative-position tables; here they get small seeded noise
    (std 0.02) so that every tensor differs between seeds (useful for merge tests).
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        with torch.device("cpu"):
            model = _build(**TINY_CONFIG)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith("pos_embed") or ".rel_pos_" in name:
                    param.normal_(0.0, 0.02)
    return model.to(device) if device is not None else model
