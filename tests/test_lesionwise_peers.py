"""Live cross-check against brats-evaluation 0.0.10 / panoptica 2.1.7, run in their own venv
(`bash scripts/lesion_peers.sh`, which scripts/test.sh runs): equality to 1e-9 on seeded multi-lesion cases with
anisotropic spacing, for every challenge config, both matchers, the metastasis parser and the NIfTI route."""

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lesion_cases import edge_cases, glioma_case
from medmix.metrics.lesionwise import lesionwise

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = Path(os.environ.get("MEDMIX_PEER_VENV", ROOT / ".venv-lesion-peers")) / "bin" / "python"
CONFIG_CHALLENGE = {"gli": "glioma", "mets": "metastases", "ped": "paediatric", "MenPre": "meningioma"}

pytestmark = [
    pytest.mark.peer,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif(not PEER_PYTHON.exists() and not os.environ.get("CI"),
                       reason="no lesion-peer venv: run bash scripts/lesion_peers.sh"),
]


def _cases():
    cases = {f"seed{s}": glioma_case(s) for s in range(5)}
    for name, (pred, gt, spacing) in edge_cases().items():
        cases[name] = (pred, gt, spacing)
    # paediatric labels 1–4
    pred, gt, spacing = glioma_case(11)
    cases["ped"] = (np.where(pred == 3, 4, pred), np.where(gt == 2, 4, gt), spacing)
    return cases


def _jobs(cases):
    jobs = []
    for case in cases:
        configs = ["ped"] if case == "ped" else ["gli", "mets", "MenPre"]
        for config in configs:
            jobs.append({"id": f"{case}/{config}", "case": case, "config": config})
        if case.startswith("seed"):
            jobs.append({"id": f"{case}/gli/greedy", "case": case, "config": "gli", "matcher": "greedy_iou"})
            jobs.append({"id": f"{case}/gli/files", "case": case, "config": "gli", "route": "files"})
    return jobs


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    if not PEER_PYTHON.exists():
        pytest.fail(f"{PEER_PYTHON} missing: scripts/test.sh creates it with scripts/lesion_peers.sh")
    tmp = tmp_path_factory.mktemp("peers")
    cases = _cases()
    np.savez(tmp / "cases.npz", **{f"{k}_{name}": v for name, (p, g, s) in cases.items()
                                  for k, v in (("pred", p), ("gt", g), ("spacing", np.array(s)))})
    jobs = _jobs(cases)
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run([str(PEER_PYTHON), str(ROOT / "tests/peers/lesion_peer_values.py"), str(tmp / "cases.npz"),
                    str(tmp / "jobs.json"), str(tmp / "out.json")], check=True, timeout=600,
                   env={**os.environ, "PYTHONPATH": ""})
    return cases, jobs, json.loads((tmp / "out.json").read_text())


def _peer_value(region: dict, key: str):
    parser = region["parser"]
    for source, name in ((region, key), (parser, key), (parser, key.replace("global_bin_", "global_"))):
        if name in source:
            return float(source[name])
    return None


def test_panoptica_definition_equals_brats_evaluation(peer):
    cases, jobs, out = peer
    compared, worst = 0, 0.0
    for job in jobs:
        pred, gt, spacing = cases[job["case"]]
        if job.get("route") == "files":
            # NIfTI zooms are float32, and the package's file route hands SimpleITK's (x, y, z) spacing to
            # arrays in nibabel's axis order: reversed, as `score_lesionwise_files(compat=True)` reproduces
            spacing = tuple(float(np.float32(s)) for s in spacing[::-1])
        res = lesionwise(pred, gt, spacing, definition="panoptica", challenge=CONFIG_CHALLENGE[job["config"]],
                         matcher=job.get("matcher", "bipartite"), compat=True)
        assert set(res) == set(out[job["id"]]), job
        for region, result in res.items():
            for key, value in result.raw.items():
                want = _peer_value(out[job["id"]][region], key)
                if want is None:
                    continue
                compared += 1
                if math.isnan(want) or math.isinf(want):
                    assert (math.isnan(value) and math.isnan(want)) or value == want, (job, region, key, value, want)
                    continue
                assert abs(value - want) <= 1e-9, (job, region, key, value, want)
                worst = max(worst, abs(value - want))
    assert compared > 1500
    print(f"compared {compared} values, max |difference| {worst:.2e}")


def test_default_mode_differs_from_the_package_only_in_global_units(peer):
    cases, jobs, out = peer
    pred, gt, spacing = cases["seed0"]
    default = lesionwise(pred, gt, spacing, definition="panoptica")
    peer_wt = out["seed0/gli"]["wt"]
    assert default["wt"].raw["sq_hd95"] == pytest.approx(float(peer_wt["sq_hd95"]), abs=1e-9)
    assert default["wt"].raw["global_bin_hd95"] != pytest.approx(float(peer_wt["global_bin_hd95"]), abs=1e-6)


def test_score_files_compat_reproduces_the_package_file_route(peer, tmp_path):
    import nibabel as nib

    from medmix.scoring import score_lesionwise_files

    cases, _, out = peer
    pred, gt, spacing = cases["seed1"]
    for name, arr in (("pred", pred), ("gt", gt)):
        nib.save(nib.Nifti1Image(arr.astype(np.uint8), np.diag(spacing + (1.0,))), tmp_path / f"{name}.nii.gz")
    report = score_lesionwise_files(tmp_path / "pred.nii.gz", tmp_path / "gt.nii.gz", "panoptica", compat=True)
    honest = score_lesionwise_files(tmp_path / "pred.nii.gz", tmp_path / "gt.nii.gz", "panoptica")
    for region, result in report.regions.items():
        for key in ("sq_hd95", "sq_nsd", "sq_dsc", "global_bin_hd95", "rq"):
            want = _peer_value(out["seed1/gli/files"][region], key)
            if want is not None and math.isfinite(want):
                assert abs(result.raw[key] - want) <= 1e-9, (region, key)
    assert honest.regions["wt"].raw["sq_hd95"] != pytest.approx(report.regions["wt"].raw["sq_hd95"], abs=1e-6)
