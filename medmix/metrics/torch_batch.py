"""Dice and IoU for large batches of 2D masks on the device (the merge-search objective's hot path)."""

from __future__ import annotations

from medmix.metrics.registry import EmptyPolicy


def batch_dice_iou(pred, gt, empty_policy: EmptyPolicy | None = None, dice_epsilon: float = 0.0):
    """Dice and IoU per item of boolean tensors shaped [B, ...] on any device, without leaving it.

    Returns two float64 tensors of shape [B]; empty masks follow the policy (both empty → 1, one empty → 0).
    dice_epsilon is added to Dice's denominator (MedSAMix's protocol uses 1e-8).
    """
    import torch

    from medmix.errors import InputError

    if pred.shape != gt.shape:
        raise InputError(f"pred and gt must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}.")
    if pred.dim() < 2:
        raise InputError(f"expected a batch shaped [B, ...], got shape {tuple(pred.shape)}.")
    for name, t in (("pred", pred), ("gt", gt)):
        if t.dtype != torch.bool and not ((t == 0) | (t == 1)).all():
            raise InputError(f"{name}: expected binary masks (bool or 0/1); threshold probabilities first.")
    policy = empty_policy or EmptyPolicy()
    p = pred.reshape(pred.shape[0], -1).bool()
    g = gt.reshape(gt.shape[0], -1).bool()
    if p.device.type == "cpu":
        # torch's CPU reductions over bool are several times slower than numpy's popcount-based counting.
        import numpy as np

        pn, gn = p.numpy(), g.numpy()
        tp, n_p, n_g = (torch.from_numpy(np.count_nonzero(a, axis=1).astype(np.int64))
                        for a in (pn & gn, pn, gn))
    else:
        tp = (p & g).sum(1, dtype=torch.int64)
        n_p = p.sum(1, dtype=torch.int64)
        n_g = g.sum(1, dtype=torch.int64)
    denom = n_p + n_g
    dice = (2 * tp).double() / (denom.clamp(min=1).double() + dice_epsilon)
    iou = tp.double() / (denom - tp).clamp(min=1).double()
    both = denom == 0
    one = (n_p == 0) ^ (n_g == 0)
    for t in (dice, iou):
        t[both] = policy.both_empty_overlap
        t[one] = policy.one_empty_overlap
    return dice, iou
