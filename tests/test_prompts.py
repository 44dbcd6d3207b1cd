"""Box prompts (medmix.data.prompts) and intensity handling (medmix.data.intensity)."""

from __future__ import annotations

import numpy as np
import pytest

from medmix.data.intensity import IntensitySpec, apply_intensity
from medmix.data.prompts import JitterSpec, PromptSpec, as_prompt_spec, slice_boxes, take_slice, tight_box
from medmix.errors import ConfigError, InputError

JITTER = PromptSpec("jittered_box", jitter=JitterSpec(shift_px=(2, 5), scale_frac=(0.0, 0.2)), seed=3)


# --- tight boxes ----------------------------------------------------------------------------------------------


def test_tight_box_2d_exact_coordinates():
    mask = np.zeros((20, 30), dtype=bool)
    mask[3:6, 10:15] = True  # rows 3..5, columns 10..14
    boxes = slice_boxes(mask, None)
    assert list(boxes) == [0]
    np.testing.assert_array_equal(boxes[0], [[10, 3, 14, 5]])  # x = column, y = row, max inclusive
    assert boxes[0].dtype == np.float64
    np.testing.assert_array_equal(tight_box(mask), [10, 3, 14, 5])
    assert tight_box(np.zeros((4, 4))) is None


def test_tight_boxes_per_slice_of_a_volume():
    volume = np.zeros((16, 12, 8), dtype=np.uint8)  # (x, y, z), slices along z
    volume[4:9, 2:5, 2:4] = 1
    volume[10, 7, 5] = 1
    boxes = slice_boxes(volume, 2)
    assert sorted(boxes) == [2, 3, 5]  # slices 0, 1, 4, 6, 7 have no foreground: no entry
    # take_slice(volume, 2, axis=2) has rows = x (axis 0), columns = y (axis 1)
    np.testing.assert_array_equal(boxes[2], [[2, 4, 4, 8]])
    np.testing.assert_array_equal(boxes[5], [[7, 10, 7, 10]])
    plane = take_slice(volume, 2, 2)
    assert plane.shape == (16, 12)
    np.testing.assert_array_equal(boxes[2][0], tight_box(plane))
    along_x = slice_boxes(volume, 0)
    assert sorted(along_x) == [4, 5, 6, 7, 8, 10]
    np.testing.assert_array_equal(along_x[4], [[2, 2, 3, 4]])  # slice (y, z): rows y 2..4, columns z 2..3


def test_empty_masks_get_no_boxes():
    assert slice_boxes(np.zeros((5, 6, 7)), 2) == {}
    assert slice_boxes(np.zeros((5, 6)), None) == {}
    assert slice_boxes(np.zeros((5, 6, 7)), 2, JITTER, case_key="x") == {}


def test_per_component_boxes():
    mask = np.zeros((12, 12), dtype=bool)
    mask[1:3, 1:3] = True
    mask[3, 3] = True  # diagonal neighbour: same component (8-connectivity)
    mask[8:11, 5:10] = True
    spec = PromptSpec(per_component=True)
    boxes = slice_boxes(mask, None, spec)[0]
    np.testing.assert_array_equal(boxes, [[1, 1, 3, 3], [5, 8, 9, 10]])
    np.testing.assert_array_equal(slice_boxes(mask, None)[0], [[1, 1, 9, 10]])
    volume = np.stack([mask, np.zeros_like(mask), mask[::-1]], axis=2)
    per_slice = slice_boxes(volume, 2, {"kind": "tight_box", "per_component": True})
    assert sorted(per_slice) == [0, 2] and per_slice[0].shape == (2, 4) and per_slice[2].shape == (2, 4)


def test_shape_and_axis_errors():
    with pytest.raises(InputError, match="axis=None expects a 2D mask"):
        slice_boxes(np.ones((3, 3, 3)), None)
    with pytest.raises(InputError, match="expected a 3D mask"):
        slice_boxes(np.ones((3, 3)), 0)
    with pytest.raises(InputError, match="out of range"):
        slice_boxes(np.ones((3, 3, 3)), 3)


# --- jitter ----------------------------------------------------------------------------------------------------


def _volume():
    volume = np.zeros((64, 48, 10), dtype=bool)
    for z in range(1, 9):
        volume[20:30 + z, 10:25, z] = True
    return volume


def test_jitter_is_reproducible_and_seeded():
    volume = _volume()
    a = slice_boxes(volume, 2, JITTER, case_key="task/case_0")
    b = slice_boxes(volume, 2, JITTER, case_key="task/case_0")
    assert sorted(a) == list(range(1, 9))
    for z in a:
        np.testing.assert_array_equal(a[z], b[z])
    other_seed = slice_boxes(volume, 2, JITTER, seed=4, case_key="task/case_0")
    other_case = slice_boxes(volume, 2, JITTER, case_key="task/case_1")
    assert any(not np.array_equal(a[z], other_seed[z]) for z in a)
    assert any(not np.array_equal(a[z], other_case[z]) for z in a)
    assert all(np.array_equal(a[z], slice_boxes(volume, 2, JITTER, seed=3, case_key="task/case_0")[z]) for z in a)
    # a slice's box does not depend on the other slices
    single = np.zeros_like(volume)
    single[..., 4] = volume[..., 4]
    np.testing.assert_array_equal(slice_boxes(single, 2, JITTER, case_key="task/case_0")[4], a[4])


def test_jitter_stays_within_bounds():
    volume = _volume()
    tight = slice_boxes(volume, 2)
    for seed in range(20):
        boxes = slice_boxes(volume, 2, JITTER, seed=seed, case_key="k")
        for z, box in boxes.items():
            (x0, y0, x1, y1), (tx0, ty0, tx1, ty1) = box[0], tight[z][0]
            assert 0 <= x0 <= x1 <= 47 and 0 <= y0 <= y1 <= 63
            shift_x = (x0 + x1) / 2 - (tx0 + tx1) / 2
            shift_y = (y0 + y1) / 2 - (ty0 + ty1) / 2
            assert 1.0 <= abs(shift_x) <= 6.0 and 1.0 <= abs(shift_y) <= 6.0  # 2–5 px, ± rounding
            ratio = (x1 - x0 + 1) / (tx1 - tx0 + 1)
            assert 0.9 <= ratio <= 1.3  # scale 0–20 %, ± rounding


def test_jitter_is_clipped_to_the_image():
    mask = np.zeros((10, 10), dtype=bool)
    mask[0:2, 0:2] = True
    spec = PromptSpec("jittered_box", jitter=JitterSpec(shift_px=(30, 40)))
    for seed in range(10):
        box = slice_boxes(mask, None, spec, seed=seed)[0][0]
        assert np.all(box >= 0) and np.all(box <= 9) and box[0] <= box[2] and box[1] <= box[3]


def test_shift_frac_scales_with_the_box():
    mask = np.zeros((200, 200), dtype=bool)
    mask[50:150, 80:120] = True  # 40 wide, 100 high
    spec = PromptSpec("jittered_box", jitter=JitterSpec(shift_frac=(0.1, 0.1)))
    box = slice_boxes(mask, None, spec, case_key="c")[0][0]
    tight = slice_boxes(mask, None)[0][0]
    assert abs((box[0] + box[2]) / 2 - (tight[0] + tight[2]) / 2) == pytest.approx(4.0, abs=0.6)
    assert abs((box[1] + box[3]) / 2 - (tight[1] + tight[3]) / 2) == pytest.approx(10.0, abs=0.6)


def test_prompt_spec_validation():
    with pytest.raises(ConfigError, match="needs a jitter block"):
        PromptSpec("jittered_box")
    with pytest.raises(ConfigError, match="not both"):
        JitterSpec(shift_px=(0, 1), shift_frac=(0, 1))
    with pytest.raises(ConfigError, match="unknown key 'shfit_px'"):
        as_prompt_spec({"kind": "jittered_box", "jitter": {"shfit_px": [0, 1]}})
    spec = as_prompt_spec({"kind": "jittered_box", "jitter": {"shift_px": [0, 3]}, "seed": 2})
    assert spec == PromptSpec("jittered_box", jitter=JitterSpec(shift_px=(0.0, 3.0)), seed=2)
    assert as_prompt_spec(spec.to_dict()) == spec


def test_take_slice():
    volume = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(take_slice(volume, 1, 2), volume[:, :, 1])
    np.testing.assert_array_equal(take_slice(volume, 2, 1), volume[:, 2, :])
    rgb = np.zeros((5, 6, 3))
    assert take_slice(rgb, 0, None) is rgb
    with pytest.raises(InputError):
        take_slice(rgb, 1, None)


# --- intensity -------------------------------------------------------------------------------------------------


def test_ct_window_maps_level_and_width():
    spec = IntensitySpec("ct_window", level=40, width=400)
    hu = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0], dtype=np.float32)
    out = apply_intensity(hu, spec)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.0, 0.0, 127.5, 255.0, 255.0])
    lung = apply_intensity(np.array([-1350.0, -600.0, 150.0]), {"kind": "ct_window", "level": -600, "width": 1500})
    np.testing.assert_allclose(lung, [0.0, 127.5, 255.0])


def test_percentile_scope_nonzero_vs_all():
    rng = np.random.default_rng(0)
    image = np.zeros((40, 40, 10), dtype=np.float32)
    image[10:30, 10:30] = rng.uniform(100, 200, size=(20, 20, 10))
    original = image.copy()
    nonzero = apply_intensity(image, {"kind": "percentile", "low": 1, "high": 99})
    everything = apply_intensity(image, IntensitySpec("percentile", low=1, high=99, scope="all"))
    np.testing.assert_array_equal(image, original)  # input untouched
    inside = image > 0
    lo, hi = np.percentile(image[inside], [1, 99])
    np.testing.assert_allclose(nonzero[inside], np.clip((image[inside] - lo) / (hi - lo), 0, 1) * 255, rtol=1e-5,
                               atol=1e-3)
    assert nonzero[inside].min() == 0.0 and nonzero[inside].max() == 255.0
    # with scope "all" the low percentile is the zero background, so the foreground is not stretched from 0
    assert everything[inside].min() > 100


def test_minmax_none_and_edge_cases():
    np.testing.assert_allclose(apply_intensity(np.array([2.0, 4.0, 6.0]), {"kind": "minmax"}), [0, 127.5, 255])
    assert np.all(apply_intensity(np.full((3, 3), 7.0), {"kind": "minmax"}) == 0)
    rgb = np.random.default_rng(1).integers(0, 256, size=(8, 8, 3)).astype(np.uint8)
    np.testing.assert_array_equal(apply_intensity(rgb, {"kind": "none"}), rgb.astype(np.float32))
    np.testing.assert_allclose(apply_intensity(np.array([0.0, 0.5, 1.0]), None), [0, 127.5, 255])
    with pytest.raises(InputError, match="0–255 scale"):
        apply_intensity(np.array([-5.0, 300.0]), {"kind": "none"})
    out = apply_intensity(np.array([np.nan, 0.0, 1000.0]), {"kind": "ct_window", "level": 40, "width": 400})
    np.testing.assert_allclose(out, [0.0, 102.0, 255.0])
    with pytest.raises(ConfigError, match="width"):
        IntensitySpec("ct_window", level=40, width=0)
    with pytest.raises(ConfigError, match="unknown key"):
        apply_intensity(np.zeros(3), {"kind": "minmax", "lvl": 1})
