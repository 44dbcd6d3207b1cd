#!/usr/bin/env bash
# A separate virtual environment with PyRadiomics 3.1.0, for the live cross-check of medmix.validation.radiomics
# (tests/test_radiomics_peer.py). PyRadiomics compiles C extensions against the numpy it finds, so it gets its
# own environment rather than medmix's.
#   bash scripts/radiomics_peer.sh        # creates .venv-radiomics (MEDMIX_RADIOMICS_VENV overrides)
# Idempotent: reinstalls only when this script changes. Needs a C compiler.
#
# The 3.1.0 sdist on PyPI is broken twice over: its pyproject.toml says version 3.0.1a1, so
# `pip install pyradiomics==3.1.0` discards it ("inconsistent version"); and it lacks radiomics/src/cshape.h and
# cmatrices.h, so the build fails ("cmatrices.h: No such file or directory"). So: download that sdist by URL
# (sha256-checked), add the two headers (function prototypes, verbatim from the v3.1.0 tag) and build it without
# build isolation. pip then lists it as 3.0.1a1; `radiomics.__version__` says v3.1.0, which is checked below.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${MEDMIX_RADIOMICS_VENV:-.venv-radiomics}"
python="${PYTHON:-python3}"
stamp="$venv/.installed"
want="$(sha256sum scripts/radiomics_peer.sh | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
sdist_url="https://files.pythonhosted.org/packages/03/c1/20fc2c50ab1e3304da36d866042a1905a2b05a1431ece35448ab6b4578f2/pyradiomics-3.1.0.tar.gz"
sdist_sha256="24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
py="$(cd "$venv" && pwd)/bin/python"
pip() {
  "$py" -m pip --disable-pip-version-check "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
  return "${PIPESTATUS[0]}"
}
echo "[medmix] installing PyRadiomics 3.1.0 into $venv"
# build requirements first: --no-build-isolation builds against these
pip install --progress-bar off -q numpy scipy SimpleITK PyWavelets pykwalify six versioneer wheel \
  "setuptools>=61,<70"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip download --no-deps --no-build-isolation -q -d "$work" "$sdist_url#sha256=$sdist_sha256"
tar -xzf "$work/pyradiomics-3.1.0.tar.gz" -C "$work"
src="$work/pyradiomics-3.1.0/radiomics/src"
cat > "$src/cshape.h" <<'EOF'
int calculate_coefficients(char *mask, int *size, int *strides, double *spacing,
                           double *surfaceArea, double *volume, double *diameters);
int calculate_coefficients2D(char *mask, int *size, int *strides, double *spacing,
                             double *perimeter, double *surface, double *diameter);
EOF
cat > "$src/cmatrices.h" <<'EOF'
int calculate_glcm(int *image, char *mask, int *size, int *bb, int *strides, int *angles, int Na, int Nd, double *glcm, int Ng);
int calculate_glszm(int *image, char *mask, int *size, int *bb, int *strides, int *angles, int Na, int Nd, int *tempData, int Ng, int Ns, int Nvox);
int fill_glszm(int *tempData, double *glszm, int Ng, int maxRegion);
int calculate_glrlm(int *image, char *mask, int *size, int *bb, int *strides, int *angles, int Na, int Nd, double *glrlm, int Ng, int Nr);
int calculate_ngtdm(int *image, char *mask, int *size, int *bb, int *strides, int *angles, int Na, int Nd, double *ngtdm, int Ng);
int calculate_gldm(int *image, char *mask, int *size, int *bb, int *strides, int *angles, int Na, int Nd, double *gldm, int Ng, int alpha);
int get_angle_count(int *size, int *distances, int Nd, int n_dist, char bidirectional, int force2Ddim);
int build_angles(int *size, int *distances, int Nd, int n_dist, int force2Ddim, int Na, int *angles);
EOF
pip install --progress-bar off -q --no-build-isolation --no-deps --force-reinstall "$work/pyradiomics-3.1.0"
# checked from an empty folder: the extracted sources' radiomics/ would shadow the install
mkdir "$work/check"
(cd "$work/check" && "$py" -c "
import radiomics
from radiomics import cShape, featureextractor  # the C extensions load
assert radiomics.__version__ == 'v3.1.0', radiomics.__version__
")
echo "$want" > "$stamp"
echo "[medmix] PyRadiomics peer ready: $venv"
