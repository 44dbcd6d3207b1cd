"""Radiomics agreement between predicted and reference masks: a compact shape and first-order feature set with
PyRadiomics 3.1.0's definitions, and per-feature ICCs over cases.

Inputs: an image (float array, 2-D (y, x) or 3-D (z, y, x), any axis order as long as the spacing follows it), a
binary mask of the same shape (bool, or numbers 0/1) and the voxel spacing in mm per array axis (for an array from
SimpleITK's GetArrayFromImage that is GetSpacing()[::-1]; for nibabel's get_fdata, the header zooms as they are).
PyRadiomics' settings this matches: label 1, no resampling, no normalisation, no re-segmentation, binWidth 25
(`bin_width`), voxelArrayShift 0. Checked live against PyRadiomics in tests/test_radiomics_peer.py: every
feature to ~1e-13 relative when given PyRadiomics' (SimpleITK's) axis order; in another axis order the four mesh
features (mesh_volume, surface_area, surface_volume_ratio, sphericity) of masks with edge- or corner-only voxel
contacts move slightly (see `medmix.validation.mask_mesh`), everything else is unchanged.

Shape (`FEATURES["shape"]`; 3-D: PyRadiomics `shape`, 2-D: `shape2D`; meshes as in `medmix.validation.mask_mesh`):

| name                     | 3-D                                                 | 2-D analogue                        |
|--------------------------|-----------------------------------------------------|-------------------------------------|
| voxel_volume             | VoxelVolume: N voxels × voxel volume (mm³)          | PixelSurface: N × pixel area (mm²)  |
| mesh_volume              | MeshVolume: volume inside the marching-cubes mesh   | MeshSurface: area inside the contour (mm²) |
| surface_area             | SurfaceArea: mesh area (mm²)                        | Perimeter: contour length (mm)      |
| surface_volume_ratio     | SurfaceVolumeRatio: A / V (1/mm)                    | PerimeterSurfaceRatio: P / A        |
| sphericity               | Sphericity: (36 π V²)^(1/3) / A                     | Sphericity: 2 √(π A) / P            |
| maximum_diameter         | Maximum3DDiameter: largest distance between mesh vertices (mm) | MaximumDiameter    |
| major_axis_length        | MajorAxisLength: 4 √λ₁                              | MajorAxisLength: 4 √λ₁              |
| minor_axis_length        | MinorAxisLength: 4 √λ₂                              | MinorAxisLength: 4 √λ₂              |
| least_axis_length        | LeastAxisLength: 4 √λ₃                              | NaN (no third axis)                 |
| elongation               | Elongation: √(λ₂ / λ₁)                              | Elongation: √(λ₂ / λ₁)              |
| flatness                 | Flatness: √(λ₃ / λ₁)                                | NaN                                 |

λ₁ ≥ λ₂ ≥ λ₃: eigenvalues of the population covariance of the voxel-centre coordinates in mm (not the mesh).
Mesh vertices sit halfway between inside and outside voxel centres, so the maximum diameter is about one voxel
longer than the largest centre-to-centre distance. V and A in the ratios are the mesh volume and area.

First order (`FEATURES["firstorder"]`, PyRadiomics `firstorder`, on the N intensities x inside the mask):
mean, median, minimum, maximum, percentile_10 / percentile_90 (10Percentile / 90Percentile; numpy's linear
percentiles), interquartile_range (P75 − P25), range, mean_absolute_deviation (mean |x − x̄|),
robust_mean_absolute_deviation (the same over the x within the closed [P10, P90]), root_mean_squared
(√(Σx² / N)), energy (Σx², no voxel volume), total_energy (voxel volume in mm³ × Σx²), standard_deviation and
variance (population: ddof = 0; PyRadiomics' StandardDeviation is deprecated there, enable it by name),
skewness (m₃ / m₂^1.5) and kurtosis (m₄ / m₂², NOT excess: a normal distribution gives 3, IBSI's value + 3) with
central moments mₖ = mean((x − x̄)ᵏ), and 0 for both on a flat region (as PyRadiomics), entropy
(−Σ p log₂(p + ε), ε = 2.2e-16) and uniformity (Σ p²) of the histogram p of gray levels discretised with a fixed
bin width: level = floor(x / w) − floor(min / w) + 1 (bins anchored at multiples of w, PyRadiomics' binWidth;
computed as PyRadiomics does, by np.digitize on the edges arange(min − min mod w, max + 2w, w)).

Empty masks: every feature of that mask is NaN (PyRadiomics refuses an empty ROI); in `radiomics_agreement` such
a case drops out of the ICCs and counts in n_missing. A one-voxel mask has 0 axis lengths and NaN
elongation/flatness (0/0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from medmix.errors import InputError, UnknownNameError
from medmix.validation.icc import ICC_FORMS, icc
from medmix.validation.mask_mesh import mesh_measures_2d, mesh_measures_3d

__all__ = ["FEATURES", "FEATURE_NAMES", "ICC_FORMS", "PYRADIOMICS_NAMES", "agreement_summary", "icc",
           "koo_li_band", "radiomics_agreement", "radiomics_cases", "radiomics_features"]

FEATURES: dict[str, tuple[str, ...]] = {
    "shape": ("voxel_volume", "mesh_volume", "surface_area", "surface_volume_ratio", "sphericity",
              "maximum_diameter", "major_axis_length", "minor_axis_length", "least_axis_length", "elongation",
              "flatness"),
    "firstorder": ("mean", "median", "minimum", "maximum", "percentile_10", "percentile_90", "interquartile_range",
                   "range", "mean_absolute_deviation", "robust_mean_absolute_deviation", "root_mean_squared",
                   "energy", "total_energy", "standard_deviation", "variance", "skewness", "kurtosis", "entropy",
                   "uniformity"),
}
FEATURE_NAMES: tuple[str, ...] = FEATURES["shape"] + FEATURES["firstorder"]
_GROUP_OF = {name: group for group, names in FEATURES.items() for name in names}

# medmix name → (PyRadiomics 3-D feature, 2-D feature); None: not defined in 2-D.
PYRADIOMICS_NAMES: dict[str, tuple[str, str | None]] = {
    "voxel_volume": ("shape_VoxelVolume", "shape2D_PixelSurface"),
    "mesh_volume": ("shape_MeshVolume", "shape2D_MeshSurface"),
    "surface_area": ("shape_SurfaceArea", "shape2D_Perimeter"),
    "surface_volume_ratio": ("shape_SurfaceVolumeRatio", "shape2D_PerimeterSurfaceRatio"),
    "sphericity": ("shape_Sphericity", "shape2D_Sphericity"),
    "maximum_diameter": ("shape_Maximum3DDiameter", "shape2D_MaximumDiameter"),
    "major_axis_length": ("shape_MajorAxisLength", "shape2D_MajorAxisLength"),
    "minor_axis_length": ("shape_MinorAxisLength", "shape2D_MinorAxisLength"),
    "least_axis_length": ("shape_LeastAxisLength", None),
    "elongation": ("shape_Elongation", "shape2D_Elongation"),
    "flatness": ("shape_Flatness", None),
    **{name: (f"firstorder_{py}",) * 2 for name, py in (
        ("mean", "Mean"), ("median", "Median"), ("minimum", "Minimum"), ("maximum", "Maximum"),
        ("percentile_10", "10Percentile"), ("percentile_90", "90Percentile"),
        ("interquartile_range", "InterquartileRange"), ("range", "Range"),
        ("mean_absolute_deviation", "MeanAbsoluteDeviation"),
        ("robust_mean_absolute_deviation", "RobustMeanAbsoluteDeviation"), ("root_mean_squared", "RootMeanSquared"),
        ("energy", "Energy"), ("total_energy", "TotalEnergy"), ("standard_deviation", "StandardDeviation"),
        ("variance", "Variance"), ("skewness", "Skewness"), ("kurtosis", "Kurtosis"), ("entropy", "Entropy"),
        ("uniformity", "Uniformity"))},
}


def _checked(image, mask, spacing_mm, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.asarray(image, dtype=float)
    mask = np.asarray(mask)
    if image.ndim not in (2, 3):
        raise InputError(f"{where}: the image must be 2-D or 3-D, got shape {image.shape}; squeeze channel or "
                         "batch axes first.")
    if mask.shape != image.shape:
        raise InputError(f"{where}: the mask's shape {mask.shape} differs from the image's {image.shape}; give the "
                         "mask on the image's grid.")
    if mask.dtype != bool:
        values = np.unique(mask)
        if not np.isin(values, (0, 1)).all():
            raise InputError(f"{where}: the mask must be binary (bool or 0/1), got values {values[:6].tolist()}"
                             f"{' …' if len(values) > 6 else ''}; pass `labels == k` for label k.")
        mask = mask.astype(bool)
    spacing = np.asarray(spacing_mm, dtype=float).reshape(-1)
    if spacing.size != image.ndim or not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise InputError(f"{where}: spacing_mm must be {image.ndim} positive numbers (mm per array axis, in the "
                         f"array's axis order), got {spacing_mm!r}.")
    inside = image[mask]
    if not np.all(np.isfinite(inside)):
        raise InputError(f"{where}: the image has {int(np.sum(~np.isfinite(inside)))} non-finite values inside the "
                         "mask; fill or exclude them before computing features.")
    return image, mask, spacing


def _shape(mask: np.ndarray, spacing: np.ndarray) -> dict[str, float]:
    n = int(mask.sum())
    coordinates = np.argwhere(mask) * spacing
    coordinates -= coordinates.mean(axis=0)
    covariance = coordinates.T @ coordinates / n
    # ascending; PSD up to rounding, whose tiny negatives PyRadiomics also rounds to 0
    eigen = np.clip(np.linalg.eigvalsh(covariance), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sqrt(eigen / eigen[-1])
    axes = 4.0 * np.sqrt(eigen)
    out = {"voxel_volume": n * float(np.prod(spacing))}
    if mask.ndim == 3:
        volume, area, diameter = mesh_measures_3d(mask, spacing)
        out.update(mesh_volume=volume, surface_area=area, sphericity=(36 * math.pi * volume**2) ** (1 / 3) / area,
                   major_axis_length=axes[2], minor_axis_length=axes[1], least_axis_length=axes[0],
                   elongation=ratio[1], flatness=ratio[0])
    else:
        volume, area, diameter = mesh_measures_2d(mask, spacing)  # 2-D: "volume" is the area, "area" the perimeter
        out.update(mesh_volume=volume, surface_area=area, sphericity=2 * math.sqrt(math.pi * volume) / area,
                   major_axis_length=axes[1], minor_axis_length=axes[0], least_axis_length=math.nan,
                   elongation=ratio[0], flatness=math.nan)
    out.update(surface_volume_ratio=area / volume, maximum_diameter=diameter)
    return {name: float(out[name]) for name in FEATURES["shape"]}


def _discretised(values: np.ndarray, bin_width: float) -> np.ndarray:
    """Gray levels 1, 2, … of `values` for a fixed bin width, as PyRadiomics' getBinEdges + np.digitize."""
    minimum, maximum = values.min(), values.max()
    edges = np.arange(minimum - minimum % bin_width, maximum + 2 * bin_width, bin_width)
    return np.digitize(values, edges)


def _firstorder(values: np.ndarray, voxel_volume_mm3: float, bin_width: float) -> dict[str, float]:
    mean = values.mean()
    p10, p25, p75, p90 = np.percentile(values, [10, 25, 75, 90])
    centred = values - mean
    m2, m3, m4 = (np.mean(centred**p) for p in (2, 3, 4))
    flat = m2 == 0  # PyRadiomics returns 0 skewness and kurtosis for a flat region
    robust = values[(values >= p10) & (values <= p90)]
    energy = float(np.sum(values**2))
    std = float(np.std(values))
    _, counts = np.unique(_discretised(values, bin_width), return_counts=True)
    p = counts / values.size
    out = {
        "mean": mean, "median": np.median(values), "minimum": values.min(), "maximum": values.max(),
        "percentile_10": p10, "percentile_90": p90, "interquartile_range": p75 - p25,
        "range": values.max() - values.min(), "mean_absolute_deviation": np.mean(np.abs(centred)),
        "robust_mean_absolute_deviation": np.mean(np.abs(robust - robust.mean())),
        "root_mean_squared": math.sqrt(energy / values.size), "energy": energy,
        "total_energy": voxel_volume_mm3 * energy, "standard_deviation": std, "variance": std**2,
        "skewness": 0.0 if flat else m3 / m2**1.5, "kurtosis": 0.0 if flat else m4 / m2**2,
        "entropy": -np.sum(p * np.log2(p + np.spacing(1))), "uniformity": np.sum(p**2),
    }
    return {name: float(out[name]) for name in FEATURES["firstorder"]}


def _selected(features: Iterable[str] | None) -> tuple[str, ...]:
    if features is None:
        return FEATURE_NAMES
    if isinstance(features, str):
        features = [features]
    chosen: list[str] = []
    for name in features:
        if name in FEATURES:
            chosen.extend(FEATURES[name])
        elif name in _GROUP_OF:
            chosen.append(name)
        else:
            raise UnknownNameError("radiomics feature (or group)", str(name), (*FEATURES, *FEATURE_NAMES))
    return tuple(dict.fromkeys(chosen))


def _features(image, mask, spacing_mm, bin_width: float, groups: Sequence[str], where: str) -> dict[str, float]:
    image, mask, spacing = _checked(image, mask, spacing_mm, where)
    names = [name for group in groups for name in FEATURES[group]]
    if not mask.any():
        return dict.fromkeys(names, math.nan)
    out: dict[str, float] = {}
    if "shape" in groups:
        out.update(_shape(mask, spacing))
    if "firstorder" in groups:
        out.update(_firstorder(image[mask], float(np.prod(spacing)), bin_width))
    return {name: out[name] for name in names}


def _check_bin_width(bin_width: float) -> float:
    if not (isinstance(bin_width, (int, float)) and math.isfinite(bin_width) and bin_width > 0):
        raise InputError(f"bin_width must be a positive number (intensity units per bin; PyRadiomics' default is "
                         f"25), got {bin_width!r}.")
    return float(bin_width)


def radiomics_features(image, mask, spacing_mm, *, bin_width: float = 25.0) -> dict[str, float]:
    """Shape and first-order features (see the module docstring) of `image` inside `mask`.

    image: (z, y, x) or (y, x) float array; mask: same shape, bool or 0/1; spacing_mm: mm per array axis, same
    order; bin_width: intensity units per histogram bin (entropy, uniformity). Returns name → value for every
    name in `FEATURE_NAMES` (mm, mm², mm³ as the table says); an empty mask gives NaN for all."""
    return _features(image, mask, spacing_mm, _check_bin_width(bin_width), tuple(FEATURES), "radiomics_features")


def koo_li_band(value: float) -> str:
    """Koo & Li's (2016, J Chiropr Med 15:155) reliability band of an ICC: "poor" (< 0.5), "moderate" (0.5 to < 0.75), "good"
    (0.75 to 0.9), "excellent" (> 0.9); "undefined" for NaN. Koo & Li advise judging by the interval's ends
    too: a band from the point estimate alone is optimistic for few cases."""
    if value is None or not math.isfinite(value):
        return "undefined"
    if value < 0.5:
        return "poor"
    if value < 0.75:
        return "moderate"
    return "good" if value <= 0.9 else "excellent"


def radiomics_cases(pairs: Iterable, *, features: Iterable[str] | None = None,
                    bin_width: float = 25.0) -> pd.DataFrame:
    """The long per-case table of features of predicted and reference masks.

    pairs: iterable of (case_id, image, predicted_mask, reference_mask, spacing_mm), read once (a generator that
    loads one case at a time keeps memory flat); features: names and/or group names ("shape", "firstorder"),
    default all. Returns one row per case and feature: case, group, feature, predicted, reference (NaN for an
    empty mask)."""
    names = _selected(features)
    bin_width = _check_bin_width(bin_width)
    groups = tuple(group for group in FEATURES if any(_GROUP_OF[n] == group for n in names))
    rows: list[tuple] = []
    seen: set[str] = set()
    for position, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 5:
            raise InputError(f"radiomics pairs[{position}]: expected (case_id, image, predicted_mask, "
                             f"reference_mask, spacing_mm), got {type(pair).__name__} of length "
                             f"{len(pair) if hasattr(pair, '__len__') else '?'}.")
        case, image, predicted, reference, spacing = pair
        case = str(case)
        if case in seen:
            raise InputError(f"radiomics pairs[{position}]: case id {case!r} appears twice; give each case once.")
        seen.add(case)
        values = {role: _features(image, mask, spacing, bin_width, groups, f"case {case!r}, {role} mask")
                  for role, mask in (("predicted", predicted), ("reference", reference))}
        rows.extend((case, _GROUP_OF[n], n, values["predicted"][n], values["reference"][n]) for n in names)
    return pd.DataFrame(rows, columns=["case", "group", "feature", "predicted", "reference"])


def agreement_summary(cases: pd.DataFrame, *, form: str = "ICC3_1", confidence: float = 0.95) -> pd.DataFrame:
    """Per feature of a `radiomics_cases` table: the ICC of (predicted, reference) over cases with its interval.

    Columns: feature, group, form, icc, ci_low, ci_high (two-sided `confidence`), n_cases (cases with both values),
    n_missing (cases with a NaN, e.g. an empty mask: dropped), mean_predicted, mean_reference (over the n_cases),
    mean_relative_difference (mean of (predicted − reference) / |reference| over those cases whose reference is
    not 0; a fraction, not %), band (`koo_li_band` of icc). Rows in the order features first appear."""
    missing = {"case", "feature", "predicted", "reference"} - set(cases.columns)
    if missing:
        raise InputError(f"agreement_summary: the cases table lacks columns {sorted(missing)}; pass the table "
                         "radiomics_cases returns.")
    if form not in ICC_FORMS:
        raise UnknownNameError("ICC form", str(form), ICC_FORMS)
    rows = []
    for feature, block in cases.groupby("feature", sort=False):
        predicted = block["predicted"].to_numpy(dtype=float)
        reference = block["reference"].to_numpy(dtype=float)
        complete = np.isfinite(predicted) & np.isfinite(reference)
        value, low, high = icc(np.column_stack([predicted, reference])[complete], form, confidence=confidence)
        pred, ref = predicted[complete], reference[complete]
        nonzero = ref != 0
        rows.append({
            "feature": feature, "group": _GROUP_OF.get(feature, ""),
            "form": form, "icc": value, "ci_low": low, "ci_high": high, "n_cases": int(complete.sum()),
            "n_missing": int((~complete).sum()),
            "mean_predicted": float(pred.mean()) if pred.size else math.nan,
            "mean_reference": float(ref.mean()) if ref.size else math.nan,
            "mean_relative_difference": float(np.mean((pred[nonzero] - ref[nonzero]) / np.abs(ref[nonzero])))
            if nonzero.any() else math.nan,
            "band": koo_li_band(value),
        })
    return pd.DataFrame(rows, columns=["feature", "group", "form", "icc", "ci_low", "ci_high", "n_cases",
                                       "n_missing", "mean_predicted", "mean_reference", "mean_relative_difference",
                                       "band"])


def radiomics_agreement(pairs: Iterable, *, features: Iterable[str] | None = None, form: str = "ICC3_1",
                        bin_width: float = 25.0) -> pd.DataFrame:
    """Per-feature agreement of predicted with reference masks over cases: `agreement_summary` of
    `radiomics_cases(pairs, features=..., bin_width=...)` (see both). For the per-case long table as well, call
    the two in turn: `cases = radiomics_cases(pairs); summary = agreement_summary(cases, form=form)`."""
    if form not in ICC_FORMS:  # before the features are computed
        raise UnknownNameError("ICC form", str(form), ICC_FORMS)
    return agreement_summary(radiomics_cases(pairs, features=features, bin_width=bin_width), form=form)


def radiomics_figure(summary: pd.DataFrame):
    """ICC with its interval per feature (shape, then first-order), Koo & Li's bands shaded."""
    from medmix.leaderboard.plots import figure

    rows = summary.reset_index(drop=True)
    fig = figure(7.5, max(3.0, 0.22 * len(rows) + 1.2))
    ax = fig.subplots()
    for low, high, shade in ((-1.0, 0.5, "#fde0dd"), (0.5, 0.75, "#fff7bc"), (0.75, 0.9, "#e5f5e0"),
                             (0.9, 1.0, "#c7e9c0")):
        ax.axvspan(low, high, color=shade, zorder=0)
    y = np.arange(len(rows))
    finite = rows["icc"].notna()
    ax.errorbar(rows.loc[finite, "icc"], y[finite], xerr=[rows.loc[finite, "icc"] - rows.loc[finite, "ci_low"],
                                                          rows.loc[finite, "ci_high"] - rows.loc[finite, "icc"]],
                fmt="o", color="black", markersize=3, capsize=2, linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(rows["feature"], fontsize=6)
    ax.invert_yaxis()
    low = float(np.nanmin(rows["ci_low"])) if finite.any() else 0.0
    ax.set_xlim(max(-1.0, min(0.0, low - 0.05)), 1.0)
    form = rows["form"].iloc[0] if len(rows) else ""
    ax.set_xlabel(f"{form} (95% CI); bands: poor < 0.5 ≤ moderate < 0.75 ≤ good ≤ 0.9 < excellent", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.set_title(f"Radiomics agreement, predicted vs reference ({int(rows['n_cases'].max()) if len(rows) else 0} "
                 "cases)", fontsize=9)
    return fig


def radiomics_verdict(summary: pd.DataFrame) -> list[str]:
    """Per feature group: the median ICC and the count per Koo & Li band; then the three lowest features."""
    verdict = []
    for group in ("shape", "firstorder"):
        part = summary[summary["group"] == group]
        if not len(part):
            continue
        bands = part["band"].value_counts()
        verdict.append(f"{group}: {len(part)} features, median ICC {np.nanmedian(part['icc']):.3f}; "
                       + ", ".join(f"{n} {band}" for band, n in bands.items()) + ".")
    weakest = summary.dropna(subset=["icc"]).nsmallest(3, "icc")
    if len(weakest):
        verdict.append("lowest: " + ", ".join(f"{r['feature']} {r['icc']:.3f}" for r in weakest.to_dict("records"))
                       + ".")
    return verdict


def write_radiomics(summary: pd.DataFrame, out_dir, *, cases: pd.DataFrame | None = None) -> list:
    """`<out>/radiomics/` (agreement.csv, cases.csv when given, figure.png, result.json) and the report."""
    from medmix.validation.report import write_protocol

    verdict = radiomics_verdict(summary)
    tables = {"agreement": summary}
    if cases is not None:
        tables["cases"] = cases
    settings = {"form": summary["form"].iloc[0] if len(summary) else None,
                "n_cases": int(summary["n_cases"].max()) if len(summary) else 0,
                "bands": "Koo & Li 2016", "features": "PyRadiomics 3.1.0 definitions (shape, first-order)"}
    return write_protocol(out_dir, "radiomics", settings=settings, verdict=verdict, tables=tables,
                          figure=radiomics_figure(summary) if len(summary) else None)
