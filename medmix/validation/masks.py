"""Find and pair mask files of several readers / models by case: the inputs of the validation protocols.

A mask source is a folder of mask files (NIfTI, PNG, NPZ, NPY; any depth) or an evaluation run folder written
with saved predictions (its `predictions/` folder is used). A case key is the file's path relative to the
folder without its extension: `liver/case_001` for `liver/case_001.nii.gz`, so task subfolders keep tasks apart.
"""

from __future__ import annotations

from pathlib import Path

from medmix.errors import InputError

MASK_SUFFIXES = (".nii.gz", ".nii", ".png", ".npz", ".npy")


def _key(path: Path, root: Path) -> str | None:
    relative = path.relative_to(root).as_posix()
    for suffix in MASK_SUFFIXES:
        if relative.lower().endswith(suffix):
            return relative[: -len(suffix)]
    return None


def mask_index(source: str | Path, role: str = "masks") -> dict[str, Path]:
    """case key → mask file under `source` (see the module docstring)."""
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"{role}: {root} is not a folder. Give a folder of mask files (NIfTI, PNG, NPZ, NPY) or an "
                         "evaluation run folder evaluated with saved predictions.")
    if (root / "cases.csv").is_file():
        if not (root / "predictions").is_dir():
            raise InputError(f"{role}: {root} is an evaluation run folder without predictions/; re-run `medmix "
                             "evaluate` with --save-predictions, or give the folder of mask files.")
        root = root / "predictions"
    index: dict[str, Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = _key(path, root)
        if key is None:
            continue
        if key in index:
            raise InputError(f"{role}: case {key!r} has two files ({index[key].name}, {path.name}); keep one.")
        index[key] = path
    if not index:
        raise InputError(f"{role}: no mask file ({', '.join(MASK_SUFFIXES)}) under {root}.")
    return index


def paired_cases(sources: dict[str, str | Path]) -> tuple[list[str], dict[str, dict[str, Path]], dict[str, list[str]]]:
    """(case keys every source has, role → index, role → keys that role lacks) for role → source folder."""
    indexes = {role: mask_index(folder, role) for role, folder in sources.items()}
    every = set.union(*(set(i) for i in indexes.values()))
    common = sorted(set.intersection(*(set(i) for i in indexes.values())))
    if not common:
        raise InputError("no case is in every mask source (" + "; ".join(
            f"{role}: {len(i)} cases, e.g. {next(iter(i))!r}" for role, i in indexes.items()) + "). Case keys are "
            "file paths relative to each folder without the extension; name the files alike.")
    lacking = {role: sorted(every - set(i)) for role, i in indexes.items()}
    return common, indexes, {role: keys for role, keys in lacking.items() if keys}
