"""Size-only clinical T staging from segmentation masks (reference.md §2).

Greatest dimension = 3D maximum Feret diameter in mm, measured by default between voxel *corners* (the voxelised
object's extent; voxel centres under-read it by about one voxel), on connected-component lesions (full
connectivity). Rules are AJCC 8th edition size bands, compared after rounding half-up to 0.1 mm (breast: 1 mm);
no lesion is "T0". Report the result as "size-only cT": invasion descriptors cannot be read off a mask.

- `max_feret_diameter(mask, spacing=None, convention="corners") -> mm`
- `longest_in_slice_diameter(mask, spacing=None, axis=0, convention="corners") -> mm` (RECIST-style)
- `lesions(mask, spacing=None, connectivity=None) -> list[Lesion]`, largest first
- `stage_mask(mask, spacing, rule, feret="3d" | "in_slice") -> StageResult`
- `get_rule(name)`, `list_rules()`, `register_rule(rule)`, `rule_from_config(card_mapping) -> StagingRule`
- `staging_accuracy(true_categories, pred_categories, categories) -> StagingReport` (accuracy, confusion matrix,
  linearly weighted κ, ±1-category accuracy)
"""

from medmix.staging.accuracy import StagingReport, linear_weighted_kappa, staging_accuracy
from medmix.staging.feret import CONVENTIONS, Lesion, lesions, longest_in_slice_diameter, max_feret_diameter
from medmix.staging.rules import (
    NO_TUMOUR,
    RULES,
    StageResult,
    StagingRule,
    Threshold,
    get_rule,
    list_rules,
    register_rule,
    rule_from_config,
    stage_mask,
)

__all__ = [
    "CONVENTIONS", "Lesion", "NO_TUMOUR", "RULES", "StageResult", "StagingReport", "StagingRule", "Threshold",
    "get_rule", "lesions", "linear_weighted_kappa", "list_rules", "longest_in_slice_diameter", "max_feret_diameter",
    "register_rule", "rule_from_config", "stage_mask", "staging_accuracy",
]
