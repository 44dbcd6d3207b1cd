"""What makes real models affordable on a CPU without changing results: the shared feature cache, channels_last,
encoder reuse in the search's trial loop, decoder-only fine-tuning; and the output-space ensemble built on
`predict_probabilities`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medmix.errors import ConfigError
from medmix.models import feature_cache, load_model
from medmix.models.ensemble import EnsembleModel
from medmix.models.sam_family import SamFamilyModel


@pytest.fixture(autouse=True)
def fresh_cache():
    feature_cache.reset_shared_cache()
    yield
    feature_cache.reset_shared_cache()


def _slices(n=3, seed=0):
    rng = np.random.default_rng(seed)
    images, boxes = [], []
    for _ in range(n):
        image = rng.uniform(0, 60, (48, 64)).astype(np.float32)
        y0, x0 = rng.integers(4, 16, 2)
        image[y0:y0 + 20, x0:x0 + 30] += 150
        images.append(image)
        boxes.append(np.array([[x0, y0, x0 + 29, y0 + 19]], dtype=float))
    return images, boxes


def _count_encoder_runs(model) -> list[int]:
    calls = [0]
    encode = model.encode

    def counting(batch):
        calls[0] += batch.shape[0]
        return encode(batch)

    model.encode = counting
    return calls


def test_feature_cache_answers_repeats_and_sees_weight_changes():
    images, boxes = _slices()
    cached = load_model({"adapter": "tiny", "feature_cache_mb": 64})
    plain = load_model({"adapter": "tiny", "feature_cache_mb": 0})
    runs = _count_encoder_runs(cached)
    first = cached.predict_slices(images, boxes)
    again = cached.predict_slices(images, boxes)
    assert runs[0] == len(images)  # the second call never ran the encoder
    for a, b, c in zip(first, again, plain.predict_slices(images, boxes)):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    # another model with the same encoder weights shares the entries (specialists fine-tuned in the decoder only)
    twin = load_model({"adapter": "tiny", "feature_cache_mb": 64})
    twin_runs = _count_encoder_runs(twin)
    twin.predict_slices(images, boxes)
    assert twin_runs[0] == 0
    # an in-place weight change (what the merge engine does) changes the key: no stale features
    with torch.no_grad():
        for p in cached.module.image_encoder.parameters():
            p.mul_(1.5)
    changed = cached.predict_slices(images, boxes)
    assert runs[0] == 2 * len(images)
    with torch.no_grad():
        for p in plain.module.image_encoder.parameters():
            p.mul_(1.5)
    for a, b in zip(changed, plain.predict_slices(images, boxes)):
        assert np.array_equal(a, b)


def test_feature_cache_is_bounded_and_least_recently_used_goes_first():
    cache = feature_cache.FeatureCache(max_mb=1)
    block = torch.zeros(2**16, dtype=torch.float32)  # 256 KiB: four fill the 1 MB cache
    for i in range(4):
        cache.put(("w", str(i)), block.clone())
    assert cache.get(("w", "0")) is not None  # touch 0: now 1 is the oldest
    cache.put(("w", "4"), block.clone())
    assert cache.bytes <= cache.max_bytes and cache.get(("w", "1")) is None and cache.get(("w", "0")) is not None
    cache.put(("w", "huge"), torch.zeros(2**19))  # larger than the whole cache: not stored
    assert cache.get(("w", "huge")) is None


def test_channels_last_keeps_the_masks_and_is_litemedsams_cpu_default():
    images, boxes = _slices()
    default = load_model("tiny")
    nhwc = load_model({"adapter": "tiny", "channels_last": True})
    assert default.describe()["channels_last"] is False and nhwc.describe()["channels_last"] is True
    for a, b in zip(default.predict_slices(images, boxes), nhwc.predict_slices(images, boxes)):
        assert (a != b).mean() < 1e-3
    module = load_model("tiny").module
    as_lite = SamFamilyModel(module, default.preprocessing, arch="litemedsam", device="cpu")
    assert as_lite.channels_last is True  # CHANNELS_LAST_BY_DEFAULT: measured 1.4× on the CPU, same masks
    assert SamFamilyModel(module, default.preprocessing, arch="litemedsam", device="cpu",
                          channels_last=False).channels_last is False


@pytest.mark.parametrize("kind", ["sam", "medsam", "litemedsam"])
def test_probabilities_above_one_half_are_the_masks(kind):
    images, boxes = _slices(seed=1)
    from medmix.models.archs import TINY_CONFIG
    from medmix.models.preprocess import Preprocessing

    model = load_model("tiny", preprocessing=Preprocessing(kind, image_size=TINY_CONFIG["img_size"]))
    probabilities = model.predict_probabilities(images, boxes)
    masks = model.predict_slices(images, boxes)
    for p, m in zip(probabilities, masks):
        assert p.dtype == np.float32 and p.shape == m.shape and 0 <= p.min() and p.max() <= 1
        assert np.array_equal(p > 0.5, m)
    empty = model.predict_probabilities([images[0]], [np.zeros((0, 4))])[0]
    assert empty.shape == images[0].shape and not empty.any()


def test_ensemble_means_member_probabilities():
    images, boxes = _slices(seed=2)
    a, b = load_model("tiny:seed=0"), load_model("tiny:seed=1")
    ensemble = EnsembleModel([a, b], names=["a", "b"])
    expected = [(pa + pb) / 2 > 0.5 for pa, pb in zip(a.predict_probabilities(images, boxes),
                                                       b.predict_probabilities(images, boxes))]
    for got, want in zip(ensemble.predict_slices(images, boxes), expected):
        assert np.array_equal(got, want)
    # a model ensembled with itself is the model
    for got, want in zip(EnsembleModel([a, a]).predict_slices(images, boxes), a.predict_slices(images, boxes)):
        assert np.array_equal(got, want)
    assert set(ensemble.describe()["members"]) == {"a", "b"}
    with pytest.raises(ConfigError, match="at least 2 members"):
        EnsembleModel([a])
    with pytest.raises(ConfigError, match="gives no probabilities"):
        EnsembleModel([a, lambda image, box: image > 0])


def test_calibration_reuses_embeddings_while_the_encoder_key_stays():
    from medmix.evaluation.suites import load_suite
    from medmix.merging.calibration import build_calibration, score_calibration

    model = load_model("tiny")
    card = load_suite("phantom25").card("phantom_flare22_liver")
    calib = build_calibration([card], model, max_slices_per_task=12, batch_size=4)
    runs = _count_encoder_runs(model)
    reference = score_calibration(model, calib)
    assert runs[0] == 12
    first = score_calibration(model, calib, encoder_key="recipe-a")
    second = score_calibration(model, calib, encoder_key="recipe-a")
    assert runs[0] == 24  # the second call with the same key ran only the decoder
    assert first == second == reference
    score_calibration(model, calib, encoder_key="recipe-b")
    assert runs[0] == 36  # a new encoder recipe recomputes


def test_decoder_only_finetuning_leaves_the_rest_untouched():
    from medmix.evaluation.suites import load_suite
    from medmix.models.training import finetune

    card = load_suite("phantom25").card("phantom_flare22_liver")
    runs = []
    for _ in range(2):
        model = load_model("tiny")
        before = {k: v.clone() for k, v in model.module.state_dict().items()}
        losses = finetune(model, [card], split="train", steps=3, lr=1e-3, seed=5, batch_size=4,
                          max_slices_per_task=8, train="decoder")
        after = model.module.state_dict()
        changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
        assert changed == {"mask_decoder"}
        runs.append(losses)
    assert runs[0] == runs[1] and len(runs[0]) == 3  # seeded: the same losses twice
