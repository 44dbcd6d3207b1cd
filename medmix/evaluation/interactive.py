"""Iterative refinement with simulated clicks (`prompt.kind: iterative`, reference.md §10), and its scores.

Per slice: predict from the start prompt (a box: click index 0; the centre point: click index 1), then per round
place the next click by RITM's rule (`medmix.data.prompts.next_click`, on the image the model is shown) and
predict again with every click so far, fed the previous low-resolution logits as SAM's `mask_input`. A SAM-family
model encodes each slice once and only its prompt encoder and decoder run per click; any other model is asked
again with all the clicks (no mask input). Every slice gets the run's `rounds` clicks; after that a slice keeps
being clicked, up to the NoC cap, only while its IoU is below the largest NoC threshold (0.90), as an annotator
who stops on a good slice would, and a slice with no error left stops.

Per case (its slices stacked): Dice, IoU and NSD after every click index of the rounds (`clicks.csv`, with each
slice's Dice and IoU), the Dice and NSD AUC over those indices, and NoC@85 / NoC@90 from the case's IoU after
every click up to the cap (the cap, and a failure, when never reached).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medmix.data.prompts import NOC_THRESHOLDS, curve_auc, next_click, noc

#: Case-level interactive metrics: name → higher is better (leaderboards and summaries rank on them).
INTERACTIVE_METRICS = {"dice_auc": True, "nsd_auc": True, "noc85": False, "noc90": False,
                       "noc85_failed": False, "noc90_failed": False}
CLICK_COLUMNS = ["task", "case", "slice", "label", "click", "metric", "value"]


@dataclass
class SliceInteraction:
    """One slice's run: its masks at click indices first..first+rounds (model view), intersection / prediction
    sizes at every index it reached, the reference size, and the clicks placed ((x, y, positive), model view)."""

    masks: list
    intersection: list = field(default_factory=list)
    predicted: list = field(default_factory=list)
    reference: int = 0
    clicks: list = field(default_factory=list)

    def at(self, values: list, index_offset: int):
        """The value at an index offset, the last one when the slice stopped earlier (its prediction froze)."""
        return values[min(index_offset, len(values) - 1)]


def first_click_index(spec) -> int:
    return 0 if spec.start == "box" else 1


def interact(model, images, references, start_prompts, spec, *, extend_for_noc: bool = True
             ) -> list[SliceInteraction]:
    """Run `spec`'s rounds (and, with `extend_for_noc`, the NoC clicks) on slices given in the model's view:
    images, bool references and start `SlicePrompt`s (one object each)."""
    first = first_click_index(spec)
    last_row = first + spec.rounds
    last = max(last_row, spec.noc_cap) if extend_for_noc else last_row
    fast = hasattr(model, "encode_slices") and hasattr(model, "decode_prompted")
    refs = [np.asarray(r, dtype=bool) for r in references]
    prompts = list(start_prompts)
    if fast:
        encoded = model.encode_slices(images)
        masks, low_res = model.decode_prompted(encoded, prompts)
    else:
        masks, low_res = model.predict_prompted(images, prompts), None
    runs = [SliceInteraction([m]) for m in masks]
    for run, mask, ref in zip(runs, masks, refs):
        run.reference = int(ref.sum())
        _record(run, mask, ref)
    current = list(masks)
    active = list(range(len(runs)))
    for index in range(first + 1, last + 1):
        todo = []
        for i in active:
            run = runs[i]
            if index > last_row and run.intersection[-1] >= NOC_THRESHOLDS[-1] * _union(run, -1):
                continue  # past the rounds, a slice at the largest NoC threshold is left alone
            click = next_click(current[i], refs[i], [(c.x, c.y) for c in run.clicks])
            if click is None:
                continue  # no error left to click: the prediction stays
            run.clicks.append(click)
            prompts[i] = _with_click(prompts[i], click)
            todo.append(i)
        active = todo  # a slice skipped once stays as it is
        if not todo:
            break
        if fast:
            given = [low_res[i] for i in todo] if spec.mask_input else None
            out, fresh = model.decode_prompted(encoded.subset(todo), [prompts[i] for i in todo], mask_inputs=given)
            for i, logits in zip(todo, fresh):
                low_res[i] = logits
        else:
            out = model.predict_prompted([images[i] for i in todo], [prompts[i] for i in todo])
        position = index - first
        for i, mask in zip(todo, out):
            run = runs[i]
            current[i] = mask
            _pad(run.intersection, position)
            _pad(run.predicted, position)
            _record(run, mask, refs[i])
            if index <= last_row:
                _pad(run.masks, position)
                run.masks.append(mask)
    for run in runs:
        _pad(run.masks, last_row - first + 1)
    return runs


def _pad(values: list, length: int) -> None:
    """Repeat the last value (a prediction that did not change) up to `length` entries."""
    while len(values) < length:
        values.append(values[-1])


@dataclass
class CaseInteraction:
    """A case's iterative run: the predictions (case grid) at click indices first..first+rounds, the case IoU at
    every click index from `first` up to where its slices stopped, and the frozen-prompt records."""

    first: int
    predictions: list
    iou: list
    records: list
    slices: dict


def predict_case_interactive(model, case, card, seed: int | None, *, orientation: str = "display",
                             stream_index: int | None = None, prompts: dict | None = None, chunk_slices: int = 32,
                             extend_for_noc: bool = True) -> CaseInteraction:
    """Run the card's iterative prompt on every reference-foreground slice of a case (chunks of `chunk_slices`,
    each encoded once)."""
    from medmix.data.slices import place_slice, prompted_slices, to_case_orientation

    spec = card.prompt
    axis = case.slice_axis if case.ndim == 3 else None
    transpose = orientation == "display" and case.ndim == 3
    first = first_click_index(spec)
    items = list(prompted_slices(case, card, orientation=orientation, seed=seed, stream_index=stream_index,
                                 prompts=prompts))
    runs: dict[int, SliceInteraction] = {}
    for start in range(0, len(items), chunk_slices):
        chunk = items[start:start + chunk_slices]
        out = interact(model, [s.image for s in chunk], [s.reference for s in chunk], [s.prompt for s in chunk],
                       spec, extend_for_noc=extend_for_noc)
        runs.update({item.index: run for item, run in zip(chunk, out)})
    predictions = []
    for position in range(spec.rounds + 1):
        volume = np.zeros(case.spatial_shape, dtype=bool)
        for index, run in runs.items():
            place_slice(volume, to_case_orientation(run.masks[position], case, orientation), index, axis)
        predictions.append(volume)
    length = max((len(r.intersection) for r in runs.values()), default=0)
    iou = []
    for position in range(length):
        inter = sum(r.at(r.intersection, position) for r in runs.values())
        union = sum(r.at(r.predicted, position) + r.reference - r.at(r.intersection, position)
                    for r in runs.values())
        iou.append(inter / union if union else 1.0)
    records = []
    for item in items:
        record = {"slice": item.index, "objects": item.case_prompt.to_json()}
        clicks = [(c.y, c.x) if transpose else (c.x, c.y) for c in runs[item.index].clicks]
        record["clicks"] = [[int(x), int(y), int(c.positive)] for (x, y), c in zip(clicks, runs[item.index].clicks)]
        records.append(record)
    return CaseInteraction(first, predictions, iou, records, runs)


def nsd_metric(metrics) -> str:
    """The NSD the click curves use: the run's first `nsd…` metric (its tolerance), else NSD at 1 mm."""
    return next((m for m in metrics if m.partition(":")[0] == "nsd"), "nsd")


def score_interactive(result: CaseInteraction, case, card, metrics, slice_dice_epsilon: float = 0.0
                      ) -> tuple[list[dict], list[dict]]:
    """(click rows for clicks.csv, case rows for cases.csv) of a case's iterative run (module docstring)."""
    from medmix.metrics import compute_metrics

    gt = case.label.astype(bool)
    spec = card.prompt
    nsd = nsd_metric(metrics)
    base = {"task": card.name, "case": case.case_id, "label": card.target.name}
    click_rows: list[dict] = []
    curves: dict[str, list[float]] = {"dice": [], "nsd": []}
    for position, pred in enumerate(result.predictions):
        click = result.first + position
        values = compute_metrics(pred, gt, ["dice", "iou", nsd], case.spacing).values
        for key, value in values.items():
            name = key.partition(":")[0]
            click_rows.append({**base, "slice": "volume", "click": click, "metric": key, "value": float(value)})
            if name in curves:
                curves[name].append(float(value))
        for index, run in sorted(result.slices.items()):
            inter, predicted = run.at(run.intersection, position), run.at(run.predicted, position)
            union = predicted + run.reference - inter
            dice = 2.0 * inter / (predicted + run.reference + slice_dice_epsilon)
            for name, value in (("dice", dice), ("iou", inter / union if union else 1.0)):
                click_rows.append({**base, "slice": str(index), "click": click, "metric": name,
                                   "value": float(value)})
    case_rows: list[dict] = []
    if not gt.any():
        return click_rows, case_rows  # nothing was prompted: no curve to score
    flags = {"empty_gt": False, "empty_pred": not result.predictions[-1].any()}
    values = {"dice_auc": curve_auc(curves["dice"]), "nsd_auc": curve_auc(curves["nsd"])}
    for threshold in NOC_THRESHOLDS:
        name = f"noc{round(threshold * 100)}"
        clicks, failed = noc(result.iou, threshold, spec.noc_cap, result.first)
        values[name] = float(clicks)
        values[f"{name}_failed"] = float(failed)
    for name, value in values.items():
        case_rows.append({**base, "slice": "volume", "metric": name, "value": value, **flags})
    return click_rows, case_rows


def summarise_clicks(clicks) -> dict:
    """Per task: the mean over cases of each volume metric after every click index ({metric: {click: mean}})."""
    out: dict = {}
    if clicks is None or not len(clicks):
        return out
    volume = clicks[clicks["slice"] == "volume"]
    for (task, metric), rows in volume.groupby(["task", "metric"], sort=False):
        means = rows.groupby("click")["value"].mean()
        out.setdefault(task, {})[metric] = {int(k): float(v) for k, v in means.items()}
    return out


def _record(run: SliceInteraction, mask, ref) -> None:
    m = np.asarray(mask, dtype=bool)
    run.intersection.append(int(np.count_nonzero(m & ref)))
    run.predicted.append(int(np.count_nonzero(m)))


def _union(run: SliceInteraction, k: int) -> int:
    return run.predicted[k] + run.reference - run.intersection[k]


def _with_click(prompt, click):
    from medmix.data.prompts import SlicePrompt

    (obj,) = prompt.objects
    return SlicePrompt([obj.with_point(click.x, click.y, click.positive)])


__all__ = ["CLICK_COLUMNS", "CaseInteraction", "INTERACTIVE_METRICS", "SliceInteraction", "first_click_index",
           "interact", "nsd_metric", "predict_case_interactive", "score_interactive", "summarise_clicks"]
