"""The mni source: real MRI from the MNI152 template that nilearn ships, without any network access."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest

pytest.importorskip("nilearn")

from medmix.data import mni  # noqa: E402
from medmix.data.sources import case_ids, load_case  # noqa: E402
from medmix.errors import MissingDependencyError, UnknownNameError  # noqa: E402
from medmix.evaluation.suites import load_suite  # noqa: E402


@pytest.fixture(scope="module")
def offline_volume():
    """Load the template with every socket refused, so a download attempt would fail loudly."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    saved = socket.socket, socket.create_connection, socket.getaddrinfo
    socket.socket, socket.create_connection, socket.getaddrinfo = refuse, refuse, refuse
    try:
        mni.load_mni_volume.cache_clear()
        volume = mni.load_mni_volume()
        cards = list(load_suite("mni"))
        cases = {card.target.name: [load_case(card, cid) for cid in case_ids(card, split="all")] for card in cards}
    finally:
        socket.socket, socket.create_connection, socket.getaddrinfo = saved
    return volume, cards, cases


def test_three_targets_and_slab_cases(offline_volume):
    volume, cards, cases = offline_volume
    assert [c.target.name for c in cards] == ["brain", "grey_matter", "white_matter"]
    assert volume.image.shape == volume.label.shape == (197, 233, 189) and volume.spacing == (1.0, 1.0, 1.0)
    card = cards[0]
    assert case_ids(card, split="all") == [f"slab_{i:02d}" for i in range(20)]
    assert case_ids(card, split="calibration") == ["slab_02", "slab_07", "slab_12", "slab_17"]
    test = case_ids(card, split="test")
    assert test == ["slab_03", "slab_04", "slab_08", "slab_09", "slab_13", "slab_14", "slab_18", "slab_19"]
    for name, slabs in cases.items():
        assert len(slabs) == 20
        for case in slabs:
            assert case.label.dtype == np.uint8 and case.image.dtype == np.float32 and case.ndim == 3
            assert case.task == f"mni_{name}"


def test_masks_are_non_trivial_and_consistent(offline_volume):
    volume, _, cases = offline_volume
    brain, grey, white = (cases[k] for k in ("brain", "grey_matter", "white_matter"))
    total = 0
    for b, g, w in zip(brain, grey, white):
        fraction = b.label.mean()
        assert 0.005 < fraction < 0.9, (b.case_id, fraction)
        assert not np.any(g.label & w.label)  # disjoint tissues
        assert np.all((g.label | w.label) <= b.label)  # inside the brain
        total += int(b.label.sum())
    assert total == int((volume.label > 0).sum())  # slabs tile the brain exactly
    middle = 10
    assert grey[middle].label.mean() > 0.05 and white[middle].label.mean() > 0.05
    # the image is real MRI: white matter is brighter than grey matter on this T1 template
    image = brain[middle].image
    assert image[white[middle].label == 1].mean() > image[grey[middle].label == 1].mean()


def test_slabs_are_contiguous_with_their_own_affine(offline_volume):
    volume, _, cases = offline_volume
    bounds = mni.slab_bounds(volume)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    for case, (z0, z1) in zip(cases["brain"], bounds):
        assert case.image.shape[2] == z1 - z0
        x0, y0 = case.meta["crop_xy"][0][0], case.meta["crop_xy"][1][0]
        np.testing.assert_allclose(case.affine[:3, 3], volume.affine[:3, :3] @ [x0, y0, z0] + volume.affine[:3, 3])
        np.testing.assert_array_equal(case.image, volume.image[x0:x0 + case.image.shape[0],
                                                               y0:y0 + case.image.shape[1], z0:z1])


def test_split_file_matches_the_rule_and_keeps_splits_apart():
    """eval/tasks/mni/split.json is what mni_split() computes; train, calibration and test never share a slab."""
    import json
    from pathlib import Path

    shipped = json.loads((Path(__file__).parents[1] / "eval/tasks/mni/split.json").read_text())
    computed = mni.mni_split()
    assert {k: shipped[k] for k in computed} == computed
    slabs = [s for part in computed.values() for s in part]
    assert sorted(slabs) == mni.mni_case_ids() and len(set(slabs)) == len(slabs)
    # every split spans base to vertex: its first slab in the lowest quarter, its last in the highest
    for part in computed.values():
        assert int(part[0][-2:]) < 5 and int(part[-1][-2:]) >= 15


def test_unknown_slab():
    with pytest.raises(UnknownNameError, match="slab_01"):
        mni.load_mni_case("slab_1")


def test_missing_nilearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nilearn", None)
    monkeypatch.setitem(sys.modules, "nilearn.datasets", None)
    mni.load_mni_volume.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"medmix\[demo\]"):
            mni.load_mni_volume()
    finally:
        mni.load_mni_volume.cache_clear()
