"""The torch batch path (Dice/IoU for many 2D masks on the device) agrees with the numpy engine."""

import numpy as np
import pytest
import torch

from medmix.metrics import EmptyPolicy, dice, iou
from medmix.metrics.torch_batch import batch_dice_iou


def _batch(device):
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(12, 32, 32, generator=gen) > 0.6
    gt = torch.rand(12, 32, 32, generator=gen) > 0.6
    pred[0] = False
    gt[0] = False  # both empty
    pred[1] = False  # prediction empty
    return pred.to(device), gt.to(device)


def _check(device):
    pred, gt = _batch(device)
    d, j = batch_dice_iou(pred, gt)
    assert d.device.type == torch.device(device).type
    for i in range(pred.shape[0]):
        p, g = pred[i].cpu().numpy(), gt[i].cpu().numpy()
        assert d[i].item() == pytest.approx(dice(p, g), abs=1e-12)
        assert j[i].item() == pytest.approx(iou(p, g), abs=1e-12)
    assert d[0].item() == 1.0 and d[1].item() == 0.0
    d2, _ = batch_dice_iou(pred, gt, EmptyPolicy(both_empty_overlap=0.5))
    assert d2[0].item() == 0.5


def test_cpu_batch_matches_engine():
    _check("cpu")


@pytest.mark.gpu
def test_cuda_batch_matches_engine():
    _check("cuda")


def test_batch_shape_errors():
    from medmix.errors import InputError

    with pytest.raises(InputError, match="same shape"):
        batch_dice_iou(torch.zeros(2, 3, 3, dtype=torch.bool), torch.zeros(2, 3, 4, dtype=torch.bool))
    with pytest.raises(InputError, match=r"\[B, \.\.\.\]"):
        batch_dice_iou(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool))


def test_numpy_and_torch_inputs_agree():
    rng = np.random.default_rng(1)
    p, g = rng.random((2, 9, 9, 5)) > 0.5
    assert dice(torch.from_numpy(p), torch.from_numpy(g)) == dice(p, g)
