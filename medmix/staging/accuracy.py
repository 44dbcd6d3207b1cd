"""Agreement between predicted and reference T categories (reference.md §2).

Categories are ordinal, in the order a rule lists them (T0 first). Reported: exact-match accuracy, the confusion
matrix (rows = reference, columns = prediction), linearly weighted Cohen's κ, and ±1-category accuracy.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from medmix.errors import InputError
from medmix.staging.rules import StagingRule, get_rule


@dataclass(frozen=True)
class StagingReport:
    """Agreement over `n_cases` cases.

    `confusion[i][j]` counts cases with reference `labels[i]` and prediction `labels[j]`. `within_one_accuracy`
    counts predictions at most one category away in `labels` order (so T0 vs the first T1 category is within one).
    `kappa_linear` is Cohen's κ with weights |i − j| / (K − 1); when it is undefined (both sides put every case
    in the same single category, so agreement is perfect and chance agreement is too) it is 1.0, where
    scikit-learn would return NaN.
    """

    labels: tuple[str, ...]
    n_cases: int
    accuracy: float
    within_one_accuracy: float
    kappa_linear: float
    confusion: list[list[int]]

    def confusion_frame(self):
        """The confusion matrix as a pandas DataFrame (index: reference, columns: prediction)."""
        import pandas as pd

        return pd.DataFrame(
            self.confusion,
            index=pd.Index(self.labels, name="reference"),
            columns=pd.Index(self.labels, name="prediction"),
        )

    def as_dict(self) -> dict:
        return asdict(self)


def staging_accuracy(
    true_categories: Iterable[str],
    pred_categories: Iterable[str],
    categories: Sequence[str] | StagingRule | str,
) -> StagingReport:
    """Agreement of predicted with reference T categories, one entry per case in the same order.

    categories: the ordered category list (e.g. `rule.categories`), a `StagingRule` or a registered rule name.
    Labels outside `categories` raise `InputError`; so do unequal lengths and an empty input.
    """
    labels = _ordered_labels(categories)
    truth = _indices(true_categories, labels, "true_categories")
    pred = _indices(pred_categories, labels, "pred_categories")
    if truth.size != pred.size:
        raise InputError(
            f"true_categories has {truth.size} entries but pred_categories has {pred.size}; "
            "give one category per case on both sides, in the same case order."
        )
    if truth.size == 0:
        raise InputError("true_categories and pred_categories are empty; staging accuracy needs at least one case.")

    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (truth, pred), 1)
    distance = np.abs(truth - pred)
    return StagingReport(
        labels=labels,
        n_cases=int(truth.size),
        accuracy=float(np.mean(distance == 0)),
        within_one_accuracy=float(np.mean(distance <= 1)),
        kappa_linear=linear_weighted_kappa(confusion),
        confusion=confusion.tolist(),
    )


def linear_weighted_kappa(confusion) -> float:
    """Cohen's κ with linear weights from a K×K confusion matrix of counts (see `StagingReport` for the
    degenerate case, which returns 1.0 instead of NaN)."""
    observed = np.asarray(confusion, dtype=float)
    k = observed.shape[0]
    n = observed.sum()
    index = np.arange(k)
    weights = np.abs(index[:, None] - index[None, :]).astype(float)  # the 1/(K−1) scale cancels in the ratio
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    chance_disagreement = float((weights * expected).sum())
    if chance_disagreement == 0.0:
        # Every case in one category on both sides: observed disagreement is zero too.
        return 1.0
    return 1.0 - float((weights * observed).sum()) / chance_disagreement


def _ordered_labels(categories) -> tuple[str, ...]:
    if isinstance(categories, StagingRule):
        return categories.categories
    if isinstance(categories, str):
        return get_rule(categories).categories
    labels = tuple(categories)
    if not labels or not all(isinstance(c, str) for c in labels):
        raise InputError(
            f"categories: expected a non-empty ordered list of category names (e.g. rule.categories), got {labels!r}."
        )
    duplicates = sorted({c for c in labels if labels.count(c) > 1})
    if duplicates:
        raise InputError(f"categories: each category must appear once, got repeats of {duplicates} in {labels}.")
    return labels


def _indices(values: Iterable[str], labels: tuple[str, ...], name: str) -> np.ndarray:
    if isinstance(values, str):
        raise InputError(f"{name}: expected a list of categories (one per case), got the single string {values!r}.")
    position = {label: i for i, label in enumerate(labels)}
    out = []
    for case, value in enumerate(values):
        if not isinstance(value, str) or value not in position:
            close = difflib.get_close_matches(str(value), labels, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"{name}[{case}]: unknown category {value!r}; expected one of {', '.join(labels)}.{hint} "
                "Stage both sides with the same rule (a tumour-free case is 'T0')."
            )
        out.append(position[value])
    return np.asarray(out, dtype=np.int64)
