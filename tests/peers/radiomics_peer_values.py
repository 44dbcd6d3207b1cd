"""Runs inside the PyRadiomics venv (scripts/radiomics_peer.sh): PyRadiomics 3.1.0 feature values for NIfTI cases.

    python radiomics_peer_values.py JOBS.json OUT.json

JOBS.json: {"features": {"shape": [...], "shape2D": [...], "firstorder": [...]} (PyRadiomics feature names),
"jobs": [{"id", "image": path, "mask": path}]}. OUT.json gets {id: {"<class>_<feature>": value, "version": ...}}.
Settings: label 1, binWidth 25, no resampling, no normalisation, no re-segmentation; shape for 3-D images,
shape2D for 2-D ones. Not a medmix test on its own: tests/test_radiomics_peer.py drives it.
"""

import json
import logging
import sys

import radiomics
import SimpleITK as sitk
from radiomics import featureextractor


def main(jobs_path: str, out_path: str) -> None:
    radiomics.setVerbosity(logging.ERROR)
    spec = json.loads(open(jobs_path).read())
    out = {}
    for job in spec["jobs"]:
        image, mask = sitk.ReadImage(job["image"]), sitk.ReadImage(job["mask"])
        extractor = featureextractor.RadiomicsFeatureExtractor(
            binWidth=25, label=1, normalize=False, resampledPixelSpacing=None, resegmentRange=None)
        extractor.disableAllFeatures()
        shape = "shape" if image.GetDimension() == 3 else "shape2D"
        # by name, so that the deprecated StandardDeviation is computed too
        extractor.enableFeaturesByName(**{shape: spec["features"][shape],
                                          "firstorder": spec["features"]["firstorder"]})
        result = extractor.execute(image, mask, label=1)
        values = {key[len("original_"):]: float(value) for key, value in result.items()
                  if key.startswith("original_")}
        values["version"] = radiomics.__version__
        out[job["id"]] = values
    open(out_path, "w").write(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:3])
