"""Output-space ensembles: several models, one prediction per slice (or per case) from their outputs combined.

The baselines weight-space merging has to beat: every member runs (the cost of all of them) and their outputs
are fused per pixel by `method` (the functions of `medmix.models.fusion`):

- "mean":     the mean of the members' foreground probabilities (`predict_probabilities`, each member's own
              post-processing) > `threshold` (0.5). Members must give probabilities (SAM-family models, or
              other ensembles);
- "majority": foreground where more than half of the members' binary masks are; with an even member count a
              pixel marked by exactly half of them is background (`ties="background"`, the default) or
              foreground (`ties="foreground"`). Any `SegmentationModel` (and plain callables) can be a member;
- "staple":   binary STAPLE (Warfield et al. 2004, ITK's conventions: see `medmix.models.fusion`) of the
              members' binary masks; foreground where the posterior W ≥ `threshold` (0.5). Any member as for
              majority.

`EnsembleModel` fuses models that predict slices. STAPLE estimates each member's sensitivity and specificity
jointly over all slices of one `predict_slices` / `predict_prompted` call (one estimate per member per call; the
evaluation runner calls with up to 32 prompted slices of one case at a time); slices without a prompt are left
out of the estimate and stay empty. `FolderEnsemble` fuses folders of precomputed whole-case masks
(`PredictionFolder`), one STAPLE estimate per case. A mix of the two is refused: slices and whole cases do not
line up (save the models' predictions with ``medmix evaluate --save-predictions`` and ensemble the folders).

Members sharing an image encoder (specialists fine-tuned in their decoder only) share its work through the
feature cache (`medmix.models.feature_cache`) when it is on.

Spec form (the "ensemble" adapter, `ensemble_from_spec`)::

    adapter: ensemble
    options:
      method: staple            # mean (default) | majority | staple
      members: [tiny:seed=0, {adapter: tiny, seed: 1}, ...]   # ≥ 2 specs load_model takes, or
                                # {predictions: /dir, labels: [1]} prediction folders (all members then)
      names: [a, b, ...]        # optional, one per member (default member_0, member_1, ...)
      threshold: 0.5            # mean / staple only
      ties: background          # majority only
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from medmix.errors import ConfigError, InputError, MedmixError, MissingDependencyError, close_match_hint
from medmix.models.base import SegmentationModel
from medmix.models.fusion import (
    STAPLE_MAX_ITERATIONS,
    STAPLE_TOLERANCE,
    TIE_RULES,
    majority_vote,
    mean_probability,
    staple,
    vote_fraction,
)

ENSEMBLE_METHODS = ("mean", "majority", "staple")
#: Keys of the ensemble adapter's `options`.
ENSEMBLE_OPTIONS = ("method", "members", "names", "threshold", "ties")
#: Keys of a prediction-folder member in the spec form.
FOLDER_MEMBER_KEYS = ("predictions", "labels")
DEFAULT_THRESHOLD = 0.5


def fusion_settings(method: Any, threshold: Any = None, ties: Any = None, *, where: str = "ensemble"
                    ) -> tuple[str, float, str | None]:
    """(method, threshold, ties) checked and defaulted: threshold 0.5 for mean / staple (majority cuts its vote
    fraction at 0.5 and takes no other); ties "background" for majority, None (refused when given) otherwise.
    `where` is the field path errors name."""
    if not isinstance(method, str) or method not in ENSEMBLE_METHODS:
        raise ConfigError(f"{where}.method: unknown ensemble method {method!r}"
                          f"{close_match_hint(method, ENSEMBLE_METHODS)}; choose one of {', '.join(ENSEMBLE_METHODS)}.")
    if threshold is not None:
        if isinstance(threshold, str):
            try:
                threshold = float(threshold)
            except ValueError:
                pass
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or \
                not 0 < threshold < 1:
            raise ConfigError(f"{where}.threshold: expected a number with 0 < threshold < 1, got {threshold!r}.")
        if method == "majority" and threshold != DEFAULT_THRESHOLD:
            raise ConfigError(f"{where}.threshold: method 'majority' takes no threshold (foreground: more than half of "
                              f"the members; ties by 'ties'), got {threshold!r}; drop it, or use 'mean' / 'staple'.")
    if ties is not None:
        if method != "majority":
            raise ConfigError(f"{where}.ties: only method 'majority' has ties (method is {method!r}); drop it.")
        if ties not in TIE_RULES:
            raise ConfigError(f"{where}.ties: expected one of {', '.join(TIE_RULES)}, got {ties!r}"
                              f"{close_match_hint(ties, TIE_RULES)}.")
    elif method == "majority":
        ties = "background"
    return method, float(DEFAULT_THRESHOLD if threshold is None else threshold), ties


def _names(names: Sequence[str] | None, count: int, where: str) -> list[str]:
    if names is None:
        return [f"member_{i}" for i in range(count)]
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise ConfigError(f"{where}.names: expected a list of {count} names, got {names!r}.")
    out = list(names)
    if len(out) != count or not all(isinstance(n, str) and n for n in out):
        raise ConfigError(f"{where}.names: expected {count} non-empty names (one per member), got {out!r}.")
    twice = sorted({n for n in out if out.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}.names: {twice[0]!r} is given twice; each member needs its own name.")
    return out


def _fuse(method: str, stack: np.ndarray, threshold: float, ties: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(score float32, mask bool) of `stack` (n_members, ...): probabilities for mean, bool masks otherwise.
    score: the mean probability, the vote fraction, or the STAPLE posterior."""
    if method == "mean":
        return stack.mean(axis=0).astype(np.float32), mean_probability(stack, threshold)
    if method == "majority":
        return vote_fraction(stack), majority_vote(stack, ties=ties or "background")
    posterior = staple(stack).posterior
    return posterior.astype(np.float32), posterior >= threshold


def _ensemble_settings(members, names, method, threshold, ties):
    """(method, threshold, ties, member names) of an ensemble, checked; at least 2 members."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least 2 members, got {len(members)}.")
    return (*fusion_settings(method, threshold, ties, where="ensemble"), _names(names, len(members), "ensemble"))


def _check_member_outputs(outputs, shapes: list[tuple[int, int]], name: str) -> list[np.ndarray]:
    outputs = list(outputs)
    if len(outputs) != len(shapes):
        raise InputError(f"ensemble member {name!r}: returned {len(outputs)} predictions for {len(shapes)} images.")
    out = []
    for i, (arr, shape) in enumerate(zip(outputs, shapes)):
        arr = np.asarray(arr)
        if arr.shape != shape:
            raise InputError(f"ensemble member {name!r}: returned shape {arr.shape} for image {i} of shape {shape}.")
        out.append(arr)
    return out


class EnsembleModel(SegmentationModel):
    """Members (`SegmentationModel`s, or callables ``fn(image, box)`` wrapped as `CallableModel`) fused per pixel by
    `method` (see the module docstring; STAPLE estimates jointly over the slices of each call).

    threshold: mean: mean probability > threshold; staple: posterior ≥ threshold (both default 0.5); majority
    takes none. ties: majority only ("background" by default).
    """

    def __init__(self, members: Sequence[Any], *, names: Sequence[str] | None = None, method: str = "mean",
                 threshold: float | None = None, ties: str | None = None, name: str = "ensemble"):
        from medmix.models.predictions import CallableModel, PredictionFolder

        self.method, self.threshold, self.ties, self.names = _ensemble_settings(members, names, method, threshold,
                                                                                ties)
        self.members: list[SegmentationModel] = []
        for i, (member, member_name) in enumerate(zip(members, self.names)):
            if isinstance(member, (PredictionFolder, FolderEnsemble)):
                raise ConfigError(f"ensemble member {i} ({member_name!r}) is a folder of precomputed whole-case masks, "
                                  "but an EnsembleModel fuses models that predict slices; ensemble folders only with "
                                  "folders (FolderEnsemble, or the ensemble adapter with every member "
                                  "{predictions: DIR}), or save the models' predictions with `medmix evaluate "
                                  "--save-predictions` and ensemble those folders.")
            if not isinstance(member, SegmentationModel):
                if not callable(member):
                    raise ConfigError(f"ensemble member {i} ({member_name!r}): expected a SegmentationModel or a "
                                      f"callable fn(image, box), got {type(member).__name__}.")
                member = CallableModel(member, name=member_name)
            if self.method == "mean" and not hasattr(member, "predict_probabilities"):
                raise ConfigError(f"ensemble member {i} ({member_name!r}, {type(member).__name__}) gives no "
                                  "probabilities, which method 'mean' averages; use method 'majority' or 'staple' "
                                  "(they fuse binary masks, from any model).")
            self.members.append(member)
        self.name = name
        #: Per member: its spec set a preprocessing (the runner refuses to replace it by a protocol's).
        self.explicit_preprocessing = [False] * len(self.members)

    def _combine(self, per_member: list[list[np.ndarray]], shapes: list[tuple[int, int]], keep: list[bool],
                 dtype) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(scores, masks) per image from each member's outputs per image; images with `keep` False (no prompt)
        are left out of the fusion (and of STAPLE's joint estimate) and come back empty."""
        checked = [_check_member_outputs(out, shapes, n) for out, n in zip(per_member, self.names)]
        scores = [np.zeros(s, dtype=np.float32) for s in shapes]
        masks = [np.zeros(s, dtype=bool) for s in shapes]
        todo = [i for i, k in enumerate(keep) if k]
        if not todo:
            return scores, masks
        # One flat stack (n_members, pixels of all kept images): images may differ in shape, and STAPLE estimates
        # over all of them jointly.
        stack = np.stack([np.concatenate([out[i].astype(dtype, copy=False).ravel() for i in todo])
                          for out in checked])
        score, mask = _fuse(self.method, stack, self.threshold, self.ties)
        offsets = np.cumsum([0] + [int(np.prod(shapes[i])) for i in todo])
        for j, i in enumerate(todo):
            scores[i] = score[offsets[j]:offsets[j + 1]].reshape(shapes[i])
            masks[i] = mask[offsets[j]:offsets[j + 1]].reshape(shapes[i])
        return scores, masks

    def _predict(self, images, boxes) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if len(images) != len(boxes):
            raise InputError(f"{self.name}: got {len(images)} images but {len(boxes)} box arrays; one per image.")
        shapes = [tuple(np.asarray(im).shape[:2]) for im in images]
        keep = [len(np.asarray(b).reshape(-1, 4)) > 0 for b in boxes]
        if self.method == "mean":
            outputs = [m.predict_probabilities(images, boxes) for m in self.members]
            return self._combine(outputs, shapes, keep, np.float32)
        return self._combine([m.predict_slices(images, boxes) for m in self.members], shapes, keep, bool)

    def predict_probabilities(self, images, boxes) -> list[np.ndarray]:
        """Float32 (H, W) fused foreground score per image: the mean probability (mean), the fraction of members
        voting foreground (majority) or the STAPLE posterior (staple); so ensembles can be members of a "mean"
        ensemble."""
        return self._predict(images, boxes)[0]

    def predict_slices(self, images, boxes) -> list[np.ndarray]:
        """Bool (H, W) fused mask per image (see the class docstring for the threshold of each method)."""
        return self._predict(images, boxes)[1]

    @property
    def box_only(self) -> bool:  # type: ignore[override]
        return any(getattr(m, "box_only", False) for m in self.members)

    def predict_prompted(self, images, prompts, *, probabilities: bool = False) -> list[np.ndarray]:
        """Prompts of any kind: each member's output for them (probabilities for mean, masks otherwise), fused as
        for boxes. probabilities: return the fused scores instead of masks."""
        if len(images) != len(prompts):
            raise InputError(f"{self.name}: got {len(images)} images but {len(prompts)} prompts; one per image.")
        if all(p.box_only for p in prompts):
            boxes = [p.boxes for p in prompts]
            return self.predict_probabilities(images, boxes) if probabilities else self.predict_slices(images, boxes)
        shapes = [tuple(np.asarray(im).shape[:2]) for im in images]
        keep = [len(p) > 0 for p in prompts]
        if self.method == "mean":
            outputs = [m.predict_prompted(images, prompts, probabilities=True) for m in self.members]
            scores, masks = self._combine(outputs, shapes, keep, np.float32)
        else:
            outputs = [m.predict_prompted(images, prompts) for m in self.members]
            scores, masks = self._combine(outputs, shapes, keep, bool)
        return scores if probabilities else masks

    def describe(self) -> dict[str, Any]:
        """Adapter name, the fusion (method, threshold, ties / STAPLE conventions), each member's describe() under
        its name, and the run's cost fields: parameters (all members', since all of them run) and device (when
        every member is on the same one)."""
        members = {n: m.describe() for n, m in zip(self.names, self.members)}
        out: dict[str, Any] = {"adapter": self.name, **_fusion_record(self.method, self.threshold, self.ties,
                                                                      "all prompted slices of one predict call")}
        counts = [d.get("parameters") for d in members.values()]
        if all(isinstance(c, int) for c in counts):
            out["parameters"] = sum(counts)
        devices = {str(d.get("device")) for d in members.values()}
        if len(devices) == 1 and "None" not in devices:
            out["device"] = devices.pop()
        out["members"] = members
        return out


def _fusion_record(method: str, threshold: float, ties: str | None, estimated_over: str) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "threshold": threshold}
    if method == "majority":
        out["ties"] = ties
    if method == "staple":
        out["staple"] = {"prior": "mean foreground fraction of the members' masks", "start": "vote fraction",
                         "estimated_over": estimated_over, "max_iterations": STAPLE_MAX_ITERATIONS,
                         "tolerance": STAPLE_TOLERANCE, "mask": "posterior >= threshold"}
    return out


class FolderEnsemble:
    """Folders of precomputed whole-case masks (`PredictionFolder`) fused per case by method "majority" or
    "staple" (one STAPLE estimate per case, over all its voxels). Like a `PredictionFolder` it is not a
    `SegmentationModel`: the evaluation runner asks it for whole-case masks via `mask_for`."""

    def __init__(self, members: Sequence[Any], *, names: Sequence[str] | None = None, method: str = "majority",
                 threshold: float | None = None, ties: str | None = None, name: str = "ensemble"):
        from medmix.models.predictions import PredictionFolder

        self.method, self.threshold, self.ties, self.names = _ensemble_settings(members, names, method, threshold,
                                                                                ties)
        if self.method == "mean":
            raise ConfigError("ensemble of prediction folders: method 'mean' averages probabilities, but folders hold "
                              "binary masks; use method 'majority' or 'staple'.")
        for i, member in enumerate(members):
            if not isinstance(member, (PredictionFolder, FolderEnsemble)):
                raise ConfigError(f"ensemble member {i} ({self.names[i]!r}): a FolderEnsemble takes prediction "
                                  f"folders only, got {type(member).__name__}; ensemble models with EnsembleModel.")
        self.members = list(members)
        self.name = name

    def mask_for(self, task: str, case_id: str, shape: Sequence[int] | None = None,
                 labels: int | Sequence[int] | None = None, affine: np.ndarray | None = None) -> np.ndarray:
        """The fused bool mask of `case_id` on the reference grid (arguments as `PredictionFolder.mask_for`)."""
        stack = np.stack([m.mask_for(task, case_id, shape, labels=labels, affine=affine) for m in self.members])
        return _fuse(self.method, stack, self.threshold, self.ties)[1]

    @property
    def notes(self) -> list[str]:
        """The members' reorientation notes (see `PredictionFolder`)."""
        return [note for m in self.members for note in m.notes]

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, **_fusion_record(self.method, self.threshold, self.ties, "each case"),
                "members": {n: m.describe() for n, m in zip(self.names, self.members)}}


def build_ensemble(members: Sequence[Any], **kwargs) -> EnsembleModel | FolderEnsemble:
    """A `FolderEnsemble` when every member is a prediction folder, else an `EnsembleModel` (which refuses a mix);
    kwargs as theirs."""
    from medmix.models.predictions import PredictionFolder

    if members and all(isinstance(m, (PredictionFolder, FolderEnsemble)) for m in members):
        return FolderEnsemble(members, **kwargs)
    return EnsembleModel(members, **kwargs)


#: Spec fields an ensemble takes only per member (the ensemble passes device, batch_size and preprocessing down).
_PER_MEMBER_FIELDS = {"precision": "auto", "channels_last": None, "compile_encoder": False, "feature_cache_mb": None}


def ensemble_from_spec(spec, *, where: str = "model",
                       load: Callable[..., Any] | None = None) -> EnsembleModel | FolderEnsemble:
    """The ensemble a `ModelSpec` with adapter "ensemble" describes (options: see the module docstring).

    Every member spec is loaded with `load_model` (`load`), errors naming its field path
    (``model.options.members[1]``); the ensemble's device / batch_size / preprocessing, when set, override the
    members' as `load_model`'s arguments do.
    """
    from medmix.models.predictions import PredictionFolder
    from medmix.models.specs import load_model, parse_spec

    load = load or load_model
    for key, default in _PER_MEMBER_FIELDS.items():
        if getattr(spec, key) != default:
            raise ConfigError(f"{where}.{key}: an ensemble takes {key!r} per member; set it in each of "
                              f"{where}.options.members.")
    options = dict(spec.options)
    unknown = sorted(str(k) for k in options if k not in ENSEMBLE_OPTIONS)
    if unknown:
        raise ConfigError(f"{where}.options.{unknown[0]}: unknown option"
                          f"{close_match_hint(unknown[0], ENSEMBLE_OPTIONS)}; an ensemble takes "
                          f"{', '.join(ENSEMBLE_OPTIONS)}.")
    method, threshold, ties = fusion_settings(options.get("method", "mean"), options.get("threshold"),
                                              options.get("ties"), where=f"{where}.options")
    members = options.get("members")
    if members is None:
        raise ConfigError(f"{where}.options.members: missing; list at least 2 member specs, e.g. "
                          "{adapter: ensemble, options: {method: majority, members: [tiny:seed=0, tiny:seed=1]}} "
                          "(the mapping form: a spec string cannot hold members).")
    if isinstance(members, (str, bytes, Mapping)) or not isinstance(members, Sequence):
        raise ConfigError(f"{where}.options.members: expected a list of model specs, got {members!r}.")
    if len(members) < 2:
        raise ConfigError(f"{where}.options.members: an ensemble needs at least 2 members, got {len(members)}.")
    names = _names(options.get("names"), len(members), f"{where}.options")
    overrides = {k: getattr(spec, k) for k in ("device", "batch_size", "preprocessing") if getattr(spec, k) is not None}
    loaded = []
    for i, member in enumerate(members):
        at = f"{where}.options.members[{i}]"
        try:
            if isinstance(member, Mapping) and "predictions" in member:
                loaded.append(_folder_member(member, at, names[i]))
            elif isinstance(member, Mapping) and member.get("adapter") == "ensemble":
                # Built here rather than through load_model, so that its errors name this nested field path.
                nested = dataclasses.replace(parse_spec(member, where=at), **overrides)
                for key in ("arch", "checkpoint", "seed"):
                    if getattr(nested, key) is not None:
                        raise ConfigError(f"{at}.{key}: adapter 'ensemble' does not take {key!r} (it takes options).")
                loaded.append(ensemble_from_spec(nested, where=at, load=load))
            else:
                if not isinstance(member, (str, os.PathLike, Mapping)):
                    raise ConfigError(f"{at}: expected a model spec (a string such as 'tiny:seed=1' or a mapping "
                                      f"with 'adapter'), got {type(member).__name__} {member!r}.")
                loaded.append(load(member, where=at, **overrides))
        except MissingDependencyError:
            raise
        except MedmixError as exc:
            if at in str(exc):
                raise
            raise ConfigError(f"{at}: {exc}") from exc
    folders = [isinstance(m, (PredictionFolder, FolderEnsemble)) for m in loaded]
    if any(folders) and not all(folders):
        raise ConfigError(f"{where}.options.members: mixes prediction folders (whole-case masks) with models (which "
                          "predict slices); ensemble folders with folders, or save the models' predictions with "
                          "`medmix evaluate --save-predictions` and list those folders.")
    model = build_ensemble(loaded, names=names, method=method, threshold=threshold, ties=ties, name=spec.adapter)
    if isinstance(model, EnsembleModel):
        model.explicit_preprocessing = [spec.preprocessing is not None or _sets_preprocessing(m) for m in members]
    return model


def _sets_preprocessing(member) -> bool:
    if isinstance(member, Mapping):
        return member.get("preprocessing") is not None
    return isinstance(member, str) and ":preprocessing=" in member


def _folder_member(member: Mapping, where: str, name: str):
    from medmix.models.predictions import PredictionFolder

    unknown = sorted(str(k) for k in member if k not in FOLDER_MEMBER_KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key{close_match_hint(unknown[0], FOLDER_MEMBER_KEYS)}; a "
                          f"prediction-folder member takes {', '.join(FOLDER_MEMBER_KEYS)}.")
    root = member["predictions"]
    if not isinstance(root, (str, os.PathLike)):
        raise ConfigError(f"{where}.predictions: expected a folder path, got {root!r}.")
    return PredictionFolder(root, labels=member.get("labels"), name=name)


__all__ = ["DEFAULT_THRESHOLD", "ENSEMBLE_METHODS", "ENSEMBLE_OPTIONS", "EnsembleModel", "FolderEnsemble",
           "build_ensemble", "ensemble_from_spec", "fusion_settings"]
