"""Prompts from a reference mask: kinds and options (`spec`), boxes (`boxes`), points (`points`), the prompt
objects of a slice (`objects`), simulated corrective clicks (`clicks`) and frozen prompt files (`frozen`)."""

from medmix.data.prompts.boxes import medsamix_jitter_box, medsamix_stream, slice_boxes, take_slice, tight_box
from medmix.data.prompts.clicks import NOC_THRESHOLDS, Click, curve_auc, next_click, noc
from medmix.data.prompts.objects import ObjectPrompt, SlicePrompt, slice_prompts
from medmix.data.prompts.points import center_point, padded_edt, random_points
from medmix.data.prompts.spec import (BOX_KINDS, DEFAULT_NOC_CAP, DEFAULT_ROUNDS, MEDSAMIX_JITTER_SEED, PROMPT_KINDS,
                                      JitterSpec, PromptSpec, as_prompt_spec, parse_prompt_mapping,
                                      parse_prompt_text)

__all__ = ["BOX_KINDS", "Click", "DEFAULT_NOC_CAP", "DEFAULT_ROUNDS", "JitterSpec", "MEDSAMIX_JITTER_SEED",
           "NOC_THRESHOLDS", "ObjectPrompt", "PROMPT_KINDS", "PromptSpec", "SlicePrompt", "as_prompt_spec",
           "center_point", "curve_auc", "medsamix_jitter_box", "medsamix_stream", "next_click", "noc", "padded_edt",
           "parse_prompt_mapping", "parse_prompt_text", "random_points", "slice_boxes", "slice_prompts",
           "take_slice", "tight_box"]
