"""Label conventions (label id → tumour region groups) and the lesion-wise parameter sets of each challenge.

One registry, shared by task cards (`target: {convention: brats_glioma, region: wt}`), the lesion-wise engine
and `medmix score --lesionwise`. Group definitions follow reference.md §9 and the `brats-evaluation` configs.
"""

from __future__ import annotations

from dataclasses import dataclass

from medmix.errors import UnknownNameError

LABEL_CONVENTIONS: dict[str, dict[str, tuple[int, ...]]] = {
    # BraTS 2023+ adult glioma, sub-Saharan glioma, meningioma (pre-op) and metastases: 1 NETC, 2 SNFH, 3 ET, 4 RC
    "brats_glioma": {"et": (3,), "netc": (1,), "snfh": (2,), "rc": (4,), "tc": (1, 3), "wt": (1, 2, 3)},
    # BraTS 2024 paediatric: 1 ET, 2 NETC, 3 CC (cystic component), 4 ED
    "brats_paediatric": {"et": (1,), "netc": (2,), "cc": (3,), "ed": (4,), "tc": (1, 2, 3), "wt": (1, 2, 3, 4)},
    # BraTS 2024 meningioma radiotherapy: one gross tumour volume
    "brats_meningioma_rt": {"gtv": (1,)},
    # BraTS 2021 and earlier: 1 NCR/NET, 2 ED, 4 ET
    "brats2021": {"et": (4,), "tc": (1, 4), "wt": (1, 2, 4)},
}


@dataclass(frozen=True)
class Challenge:
    """Lesion-wise parameters of one BraTS challenge (reference.md §9).

    dilation_voxels / threshold_mm3: BraTS 2023 rules (GT dilation steps, strict volume threshold of counted
    lesions). The 2023 script reads every challenge's labels as 1 NETC, 2 SNFH, 3 ET and scores WT/TC/ET
    (`brats2023_regions` of `brats_glioma`); brats-evaluation reads them with the challenge's own `convention`
    and reports every group of its config (`panoptica_regions`). panoptica_parser: "glioma" (means
    over matches) or "metastases" (lesions ≥ 20 mm³, FP/FN penalised).
    """

    name: str
    dilation_voxels: int
    threshold_mm3: float
    convention: str
    brats2023_regions: tuple[str, ...]
    panoptica_regions: tuple[str, ...]
    panoptica_parser: str = "glioma"


CHALLENGES: dict[str, Challenge] = {
    c.name: c
    for c in (
        Challenge("glioma", 3, 50.0, "brats_glioma", ("wt", "tc", "et"), ("snfh", "et", "netc", "rc", "tc", "wt")),
        Challenge("ssa", 3, 50.0, "brats_glioma", ("wt", "tc", "et"), ("snfh", "et", "netc", "rc", "tc", "wt")),
        Challenge("paediatric", 3, 50.0, "brats_paediatric", ("wt", "tc", "et"),
                  ("et", "netc", "cc", "ed", "tc", "wt")),
        Challenge("meningioma", 1, 50.0, "brats_glioma", ("wt", "tc", "et"), ("et", "tc", "wt")),
        Challenge("metastases", 1, 2.0, "brats_glioma", ("wt", "tc", "et"), ("et", "rc", "tc", "wt"), "metastases"),
    )
}


def _choose(name: str, choices, what: str) -> str:
    if name not in choices:
        raise UnknownNameError(what, str(name), choices)
    return name


def get_challenge(name: str) -> Challenge:
    return CHALLENGES[_choose(name, CHALLENGES, "challenge")]


def region_labels(convention: str, region: str) -> tuple[int, ...]:
    """The label ids that make up `region` under `convention` (e.g. brats_glioma, wt → (1, 2, 3))."""
    groups = LABEL_CONVENTIONS[_choose(convention, LABEL_CONVENTIONS, "label convention")]
    return groups[_choose(region, groups, f"region of {convention}")]
