"""Custom metrics from installed packages (entry-point group `medmix.metrics`) and from plugin files."""

import sys
import textwrap

import numpy as np
import pytest

from medmix.errors import InputError, MedmixError
from medmix.metrics import compute_metrics, get_metric, load_plugin
from medmix.metrics import plugins as plugin_module
from medmix.metrics.registry import METRICS


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """A minimal installed distribution advertising a metric module under `medmix.metrics`."""
    (tmp_path / "fake_medmix_metrics.py").write_text(textwrap.dedent("""
        import medmix

        @medmix.metric("ep_voxel_error", higher_is_better=False, units="voxels",
                       convention="|P| - |G| in absolute value")
        def ep_voxel_error(pred, gt, spacing=None):
            return abs(int(pred.sum()) - int(gt.sum()))
    """))
    dist = tmp_path / "fake_medmix_metrics-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-medmix-metrics\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[medmix.metrics]\nvoxel_error = fake_medmix_metrics\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugin_module, "_ENTRY_POINTS_LOADED", False)
    yield
    METRICS.remove("ep_voxel_error")
    sys.modules.pop("fake_medmix_metrics", None)


def test_entry_point_metric_is_registered(fake_distribution):
    assert plugin_module.load_entry_point_plugins() == ["voxel_error"]
    spec = get_metric("ep_voxel_error")
    assert not spec.higher_is_better and spec.units == "voxels"
    p = np.zeros((4, 4), bool)
    p[:2] = True
    assert compute_metrics(p, p[::-1] | p, ["ep_voxel_error"])["ep_voxel_error"] == 8


def test_plugin_file_loads_once_and_registers(tmp_path):
    plugin = tmp_path / "my_metrics.py"
    plugin.write_text(textwrap.dedent("""
        import medmix

        @medmix.metric("file_fp_voxels", higher_is_better=False, units="voxels", empty={"both": 0, "one": -1})
        def fp_voxels(pred, gt, spacing=None):
            return float((pred & ~gt).sum())
    """))
    try:
        module = load_plugin(plugin)
        assert load_plugin(str(plugin)) is module  # a second load is a no-op, not a duplicate registration
        g = np.zeros((5, 5), bool)
        g[1:3, 1:3] = True
        p = g.copy()
        p[4, 4] = True
        assert compute_metrics(p, g, ["file_fp_voxels"])["file_fp_voxels"] == 1.0
        assert compute_metrics(p, np.zeros_like(g), ["file_fp_voxels"])["file_fp_voxels"] == -1
    finally:
        METRICS.remove("file_fp_voxels")


def test_plugin_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_plugin(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(InputError, match=r"broken\.py.*failed to import: RuntimeError: boom"):
        load_plugin(broken)


def test_registration_rejects_bad_declarations():
    import medmix

    with pytest.raises(MedmixError, match="snake_case"):
        medmix.metric("Bad Name", higher_is_better=True)(lambda pred, gt, spacing=None: 0.0)
    with pytest.raises(MedmixError, match="needs keys 'both' and 'one'"):
        medmix.metric("half_empty", higher_is_better=True, empty={"both": 1.0})


def test_plugin_path_messages(tmp_path):
    import pytest

    from medmix.errors import InputError
    from medmix.metrics import load_plugin

    with pytest.raises(InputError, match="is a directory, but a .py file that registers metrics"):
        load_plugin(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        load_plugin(tmp_path / "nope.py")
