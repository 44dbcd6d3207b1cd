"""Prompt kinds beyond one tight box (medmix.data.prompts): the click rule against an independent implementation of
RITM's rule, centre and random points, the prompt objects of every kind, spec parsing, and the NoC / AUC scores."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from medmix.data.prompts import (Click, PromptSpec, SlicePrompt, center_point, curve_auc, next_click, noc,
                                 parse_prompt_text, slice_prompts)
from medmix.errors import ConfigError, InputError

# --- the click rule ----------------------------------------------------------------------------------------------


def brute_edt_padded(mask: np.ndarray) -> np.ndarray:
    """Distance of every mask pixel to the nearest pixel outside the mask, the outside including a one-pixel frame
    around the image: a brute-force scan, independent of scipy."""
    h, w = mask.shape
    outside = [(r, c) for r in range(-1, h + 1) for c in range(-1, w + 1)
               if not (0 <= r < h and 0 <= c < w) or not mask[r, c]]
    out = np.zeros((h, w))
    pts = np.array(outside, dtype=float)
    for r in range(h):
        for c in range(w):
            if mask[r, c]:
                out[r, c] = np.sqrt(((pts - (r, c)) ** 2).sum(axis=1)).min()
    return out


def ritm_click(pred: np.ndarray, gt: np.ndarray, clicked=()):
    """RITM's Clicker rule, written out: EDT of padded FN / FP, clicked pixels zeroed, positive iff FN max > FP max,
    first pixel in raster order at the chosen maximum."""
    fn = brute_edt_padded(gt & ~pred)
    fp = brute_edt_padded(pred & ~gt)
    for x, y in clicked:
        fn[y, x] = fp[y, x] = 0.0
    if fn.max() == 0 and fp.max() == 0:
        return None
    positive = fn.max() > fp.max()
    chosen = fn if positive else fp
    rows, cols = np.where(chosen == chosen.max())
    return (int(cols[0]), int(rows[0]), bool(positive))


@pytest.mark.parametrize("seed", range(40))
def test_next_click_matches_ritm_rule_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(3, 13, size=2))
    gt = rng.random(shape) < rng.uniform(0.2, 0.8)
    pred = rng.random(shape) < rng.uniform(0.2, 0.8)
    clicked = [(int(rng.integers(shape[1])), int(rng.integers(shape[0]))) for _ in range(int(rng.integers(0, 4)))]
    ours = next_click(pred, gt, clicked)
    expected = ritm_click(pred, gt, clicked)
    assert (None if ours is None else tuple(ours)) == expected


def test_next_click_cases_by_hand():
    gt = np.zeros((9, 9), bool)
    gt[2:7, 2:7] = True
    click = next_click(np.zeros_like(gt), gt)  # nothing predicted: the centre of the object, positive
    assert click == Click(4, 4, True)
    pred = np.zeros_like(gt)
    pred[:, :] = True
    click = next_click(pred, gt)  # everything predicted: a negative click on the border frame of FP
    assert click.positive is False
    assert not gt[click.y, click.x]
    assert next_click(gt, gt) is None  # no error left
    # A tie (one FN pixel, one FP pixel, both at distance 1) gives a negative click.
    pred = gt.copy()
    pred[4, 4] = False
    pred[0, 8] = True
    assert next_click(pred, gt) == Click(8, 0, False)
    with pytest.raises(InputError, match="two 2-D masks of one shape"):
        next_click(np.zeros((3, 3)), np.zeros((3, 4)))


def test_center_point_border_counts_as_background_and_ties_go_raster_first():
    mask = np.zeros((6, 10), bool)
    mask[:, :4] = True  # touches the border: the farthest pixel is not at column 0
    x, y = center_point(mask)
    assert mask[int(y), int(x)] and 0 < x < 3
    square = np.zeros((8, 8), bool)
    square[2:6, 2:6] = True  # four pixels tie at distance 2: the first in raster order
    np.testing.assert_array_equal(center_point(square), [3, 3])
    assert center_point(np.zeros((4, 4))) is None


# --- points and prompt objects --------------------------------------------------------------------------------


def _blob_volume() -> np.ndarray:
    vol = np.zeros((20, 24, 6), np.uint8)
    vol[4:12, 5:15, 1:5] = 1
    vol[15:18, 18:22, 2:4] = 1
    return vol


def test_random_points_are_seeded_per_case_and_slice_and_fall_where_they_should():
    vol = _blob_volume()
    spec = PromptSpec("random_points", positive=3, negative=2, band_px=2, seed=5)
    a = slice_prompts(vol, 2, spec, case_key="t/c1")
    b = slice_prompts(vol, 2, spec, case_key="t/c1")
    c = slice_prompts(vol, 2, spec, case_key="t/c2")
    assert a == b and a != c
    alone = vol.copy()
    alone[:, :, [1, 3, 4]] = 0  # the other slices emptied: slice 2 keeps its points
    assert slice_prompts(alone, 2, spec, case_key="t/c1")[2] == a[2]
    for index, prompt in a.items():
        plane = vol[:, :, index] != 0
        (obj,) = prompt.objects
        assert obj.box is None and list(obj.labels) == [1, 1, 1, 0, 0]
        for (x, y), label in zip(obj.points.astype(int), obj.labels):
            assert plane[y, x] == bool(label)
        from scipy import ndimage

        band = ndimage.binary_dilation(plane, np.ones((3, 3), bool), iterations=2) & ~plane
        assert all(band[int(y), int(x)] for (x, y), lab in zip(obj.points, obj.labels) if lab == 0)


def test_random_points_are_the_same_in_another_process():
    code = ("import json, numpy as np; from medmix.data.prompts import PromptSpec, slice_prompts;"
            "v = np.zeros((20, 24, 6), np.uint8); v[4:12, 5:15, 1:5] = 1; v[15:18, 18:22, 2:4] = 1;"
            "p = slice_prompts(v, 2, PromptSpec('random_points', positive=3, negative=2, seed=5), case_key='t/c1');"
            "print(json.dumps({k: s.to_json() for k, s in p.items()}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    here = slice_prompts(_blob_volume(), 2, PromptSpec("random_points", positive=3, negative=2, seed=5),
                         case_key="t/c1")
    assert json.loads(out) == {str(k): s.to_json() for k, s in here.items()}


def test_prompt_objects_of_each_kind():
    vol = _blob_volume()
    tight = slice_prompts(vol, 2, PromptSpec())
    assert all(p.box_only and len(p) == 1 for p in tight.values())
    centre = slice_prompts(vol, 2, PromptSpec("center_point", per_component=True))
    assert len(centre[2]) == 2 and len(centre[1]) == 1  # slice 2 holds both blobs
    for prompt in centre.values():
        assert all(o.box is None and list(o.labels) == [1] for o in prompt.objects)
    both = slice_prompts(vol, 2, PromptSpec("box_and_point"))
    obj = both[2].objects[0]
    np.testing.assert_array_equal(obj.box, tight[2].boxes[0])
    np.testing.assert_array_equal(obj.points[0], center_point(vol[:, :, 2]))
    start_box = slice_prompts(vol, 2, PromptSpec("iterative"))
    start_point = slice_prompts(vol, 2, PromptSpec("iterative", start="point"))
    assert start_box == tight and all(not p.box_only for p in start_point.values())
    # Transposing twice is the identity; JSON round trip.
    assert SlicePrompt.from_json(both[2].to_json()) == both[2] == both[2].transposed().transposed()


# --- spec parsing -----------------------------------------------------------------------------------------------


def test_prompt_text_and_its_errors():
    spec = parse_prompt_text("iterative:start=point,rounds=3,mask_input=false")
    assert (spec.kind, spec.start, spec.rounds, spec.mask_input, spec.noc_cap) == ("iterative", "point", 3, False, 20)
    jit = parse_prompt_text("jittered_box:shift_px=5,scale_frac=-0.1..0.2")
    assert jit.jitter.shift_px == (5.0, 5.0) and jit.jitter.scale_frac == (-0.1, 0.2)
    assert parse_prompt_text("random_points:positive=2,negative=1").label() == "random_points:positive=2,negative=1"
    for text, pattern in [
        ("iterativ", "did you mean 'iterative'"),
        ("iterative:round=3", r"unknown key 'round' \(did you mean 'rounds'\?\)"),
        ("iterative:per_component=true", "unknown key 'per_component'"),
        ("center_point:positive=2", "'positive' belongs to kind random_points"),
        ("jittered_box", "needs a jitter block"),
        ("random_points:positive=0,negative=2", "at least one positive"),
        ("iterative:rounds=-1", "rounds: expected an integer ≥ 0"),
        ("jittered_box:shift_px=a..b", "a number or a range"),
        ("iterative:rounds", "key=value"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            parse_prompt_text(text)


def test_box_specs_keep_their_form():
    # Run fingerprints hash to_dict(): the box kinds must write what they wrote before points existed.
    assert PromptSpec().to_dict() == {"kind": "tight_box", "per_component": False, "seed": 0}
    assert PromptSpec("medsamix_jitter", seed=42).to_dict() == {"kind": "medsamix_jitter", "per_component": False,
                                                                 "seed": 42}


# --- interactive scores ---------------------------------------------------------------------------------------


def test_noc_and_auc():
    iou = [0.5, 0.8, 0.86, 0.95]
    assert noc(iou, 0.85, 20) == (2, False)
    assert noc(iou, 0.90, 20) == (3, False)
    assert noc(iou, 0.99, 20) == (20, True)
    assert noc(iou, 0.85, 20, first_click=1) == (3, False)  # a point start: the first value is click 1
    assert noc(iou, 0.95, 2) == (2, True)  # reached only after the cap: a failure
    assert curve_auc([0.5, 0.7, 0.9]) == pytest.approx(0.6 + 0.8)
    assert curve_auc([0.7]) == 0.0
