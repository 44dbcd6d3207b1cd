"""Runs inside the lesion-peer venv (scripts/lesion_peers.sh): brats-evaluation / panoptica values for cases.

    python lesion_peer_values.py CASES.npz JOBS.json OUT.json

CASES.npz holds pred_<id>, gt_<id>, spacing_<id>; JOBS.json is a list of {"case", "config" (gli, ped, mets,
MenRT, …), "matcher" ("bipartite" | "greedy_iou"), "route" ("arrays" | "files")}. For each job OUT.json gets
{region: {panoptica key: value, ..., "parser": {the challenge parser's row for that region}}}. Arrays go to
Panoptica_Evaluator.evaluate with voxelspacing; files go through NIfTI and brats-evaluation's
evaluate_single_exam, as the package's CLI does. Not a medmix test on its own: tests/test_lesionwise_peers.py
drives it.
"""

import json
import math
import sys
import tempfile
import warnings
from importlib.resources import files
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from brats_evaluation import metrics_parser
from brats_evaluation.evaluation import evaluate_single_exam
from panoptica import Panoptica_Evaluator

warnings.filterwarnings("ignore")
GREEDY = "instance_matcher: !NaiveThresholdMatching {matching_metric: !Metric IOU, matching_threshold: 0.5, allow_many_to_one: false}\n"


def evaluator(config: str, matcher: str, tmp: Path) -> Panoptica_Evaluator:
    path = Path(str(files("brats_evaluation").joinpath("configs", f"config_{config}.yaml")))
    if matcher == "greedy_iou":
        lines = path.read_text().splitlines(keepends=True)
        start = next(i for i, line in enumerate(lines) if line.startswith("instance_matcher:"))
        end = start + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        path = tmp / f"config_{config}_greedy.yaml"
        path.write_text("".join(lines[:start] + [GREEDY] + lines[end:]))
    return Panoptica_Evaluator.load_from_config(str(path))


def plain(value):
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def parsed(subject: dict, config: str, tmp: Path) -> dict:
    """The challenge parser's CSV row (metrics_parser.parse_seg_results / parse_mets_results)."""
    js, csv = tmp / "summary.json", tmp / "parsed.csv"
    js.write_text(json.dumps({"metrics": [subject], "missings": []}, default=plain))
    if config == "mets":
        metrics_parser.parse_mets_results(str(js), 20.0, 0.1, str(csv))
    else:
        metrics_parser.parse_seg_results(str(js), str(csv))
    row = pd.read_csv(csv).iloc[0].to_dict()
    return {k: plain(float(v)) for k, v in row.items() if k != "subject_id"}


def main(cases_path: str, jobs_path: str, out_path: str) -> None:
    cases = np.load(cases_path)
    jobs = json.loads(Path(jobs_path).read_text())
    out = {}
    import contextlib, io

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for job in jobs:
            case, config = job["case"], job["config"]
            pred, gt = cases[f"pred_{case}"], cases[f"gt_{case}"]
            spacing = tuple(float(s) for s in cases[f"spacing_{case}"])
            with contextlib.redirect_stdout(io.StringIO()):
                ev = evaluator(config, job.get("matcher", "bipartite"), tmp)
                if job.get("route", "arrays") == "files":
                    affine = np.diag(spacing + (1.0,))
                    pred_path, gt_path = tmp / "pred.nii.gz", tmp / "gt.nii.gz"
                    nib.save(nib.Nifti1Image(pred.astype(np.uint8), affine), pred_path)
                    nib.save(nib.Nifti1Image(gt.astype(np.uint8), affine), gt_path)
                    subject = evaluate_single_exam(str(pred_path), str(gt_path), "00000-000", ev)
                else:
                    groups = ev.evaluate(pred.astype(np.uint8), gt.astype(np.uint8), voxelspacing=spacing)
                    subject = {k: r.to_dict(True) for k, r in groups.items()}
                    subject["subject_name"] = "00000-000"
                if "error" in subject:
                    raise RuntimeError(f"{job}: {subject['error']}")
                row = parsed(subject, config, tmp)
            result = {}
            for region, values in subject.items():
                if region == "subject_name":
                    continue
                result[region] = {k: plain(v) for k, v in values.items() if k != "reference_instances"}
                result[region]["parser"] = {k[: -len(region) - 1]: v for k, v in row.items() if k.endswith("_" + region)}
            out[job["id"]] = result
    Path(out_path).write_text(json.dumps(out, default=plain, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:4])
