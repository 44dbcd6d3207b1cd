"""Brief, seeded fine-tuning of a SAM-family model on box-prompted slices of some tasks.

Used to make specialists for merging experiments (a tiny generalist and specialist from `phantom25` for tests
and the demo; LiteMedSAM fine-tuned on one MNI target for the GPU experiment). Loss: BCE + soft Dice on the
logits brought back to each slice's original size, as inference post-processes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _logits_at_original_size(low_res, geometry, prep):
    import torch.nn.functional as F

    size = prep.image_size
    if prep.kind != "medsam":
        low_res = F.interpolate(low_res, size=(size, size), mode="bilinear", align_corners=False)
        low_res = low_res[..., : geometry.new_height, : geometry.new_width]
    return F.interpolate(low_res, size=(geometry.height, geometry.width), mode="bilinear", align_corners=False)[:, 0]


def finetune(model, cards: Sequence, *, split: str = "calibration", data_root=None, steps: int = 100,
             lr: float = 1e-3, seed: int = 0, batch_size: int = 16, max_slices_per_task: int | None = None,
             train: str = "all") -> list[float]:
    """Fine-tune `model` (a `SamFamilyModel`) in place for `steps` Adam steps; returns the loss per step.

    train: "all" parameters, "decoder" (mask decoder only) or "encoder" (image encoder only). With "decoder" the
    frozen encoder's embeddings of the training slices are computed once, so a step costs only the prompt encoder
    and the decoder (what makes fine-tuning LiteMedSAM on a CPU a matter of minutes). Deterministic on the CPU for
    a given seed.
    """
    import torch

    from medmix.merging.calibration import build_calibration
    from medmix.models.adapters import decode_boxes

    torch.manual_seed(seed)
    calib = build_calibration(list(cards), model, split=split, data_root=data_root, batch_size=batch_size,
                              max_slices_per_task=max_slices_per_task, seed=seed,
                              allow_test_split=split != "calibration")
    batches = [b for task in calib.tasks for b in calib.batches[task]]
    module = model.module
    if train == "decoder":
        params = list(module.mask_decoder.parameters())
    elif train == "encoder":
        params = list(module.image_encoder.parameters())
    else:
        params = [p for name, p in module.named_parameters() if not name.startswith("prompt_encoder.pe_layer")]
    optimiser = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    frozen: dict[int, object] = {}
    if train == "decoder":
        module.eval()
        with torch.no_grad():
            # in the model's own encoder batch size: on the CPU a batch of 8 LiteMedSAM slices runs slower per slice
            frozen = {i: torch.cat([model.encode_cached(b.inputs[j:j + model.batch_size].float())
                                    for j in range(0, b.inputs.shape[0], model.batch_size)])
                      for i, b in enumerate(batches)}
    module.train()
    try:
        for _ in range(steps):
            index = int(rng.integers(len(batches)))
            batch = batches[index]
            embeddings = frozen[index] if frozen else module.image_encoder(batch.inputs.float())
            logits = decode_boxes(module, embeddings, batch.boxes)
            counts = [int(b.shape[0]) for b in batch.boxes]
            logits = _logits_at_original_size(logits, batch.geometry, model.preprocessing)
            if any(c != 1 for c in counts):  # several boxes on a slice: the union is the max of the logits
                logits = torch.stack([part.max(dim=0).values for part in torch.split(logits, counts)])
            target = batch.gt.float()
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
            prob = torch.sigmoid(logits)
            inter = (prob * target).sum(dim=(1, 2))
            dice = 1 - (2 * inter + 1) / (prob.sum(dim=(1, 2)) + target.sum(dim=(1, 2)) + 1)
            loss = bce + dice.mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
    finally:
        module.eval()
    return losses


def save_weights(model, path) -> None:
    """The model's state dict as a plain checkpoint (what `load_state_dict` and the merge pool read)."""
    import torch

    torch.save({k: v.detach().cpu() for k, v in model.module.state_dict().items()}, path)
