"""Score a model (or a folder of predictions) on a suite of task cards; resumable, one part file per case.

Every card is first rewritten by the run's protocol (`medmix.evaluation.protocol`: "medmix" by default, or
"medsamix" for MedSAMix's released evaluation). Per case: the card's intensity handling, one box prompt per
reference-foreground slice (or per component), the model's predictions stacked into a 3D mask (empty on slices
without a prompt), then volumetric metrics on the 3D mask, the MedSAMix slice-wise Dice/IoU on every
reference-foreground slice, and size-only staging when the card has a rule. Outputs under `out_dir`: cases.csv /
cases.parquet (long form), staging.csv, summary.json, config.resolved.yaml, provenance.json, and optionally
predictions/<task>/<case>.nii.gz with the source affine.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from medmix.errors import InputError, MedmixError
from medmix.atomic import atomic_save, atomic_write_text
from medmix.evaluation.run_prompts import cap_case_slices, prompt_cards, prompt_flags, prompt_record, slice_budgets
from medmix.evaluation.store import ResultStore, fingerprint
from medmix.evaluation.summary import summarise

SPLITS = ("test", "calibration", "all")


@dataclass
class EvaluationConfig:
    """What to evaluate and where to write it (the CLI builds one of these; so can a user)."""

    suite: str
    out_dir: str
    model: str | dict | None = None  # adapter spec ("tiny", "sam:vit_b:/ckpt.pth", {...}) unless `predictions`
    predictions: str | None = None  # a folder of precomputed masks named by case
    prediction_labels: list[int] | None = None  # ids that count as the target in prediction files
    split: str = "test"
    data_root: str | None = None
    tasks: list[str] | None = None  # a subset of the suite's task names
    metrics: list[str] | None = None  # overrides each card's metric list
    seed: int | None = None  # prompt-jitter seed; None: each card's own prompt.seed
    protocol: str | dict | None = None  # "medmix" | "medsamix[:drop_last_volume=true]"; None: the suite's
    device: str | None = None
    batch_size: int | None = None
    preprocessing: dict | None = None
    max_cases: int | None = None  # per task, for quick looks
    prompt: str | dict | None = None  # a prompt kind for every task ("iterative:rounds=3"); None: each card's own
    prompts: str | None = None  # a frozen prompt file (prompts.json of an earlier run) to replay
    max_slices_per_task: int | None = None  # at most this many prompted slices per task, for quick looks
    workers: int = 1  # > 1: cases on a local Dask cluster of this many workers (one device each)
    scheduler: str | None = None  # or an existing Dask cluster's scheduler address
    save_predictions: bool = False
    overwrite: bool = False
    allow_calibration_leak: bool = field(default=True, repr=False)

    def __post_init__(self):
        if self.split not in SPLITS:
            raise InputError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}.")
        if (self.model is None) == (self.predictions is None):
            raise InputError("give exactly one of a model (--model) or a predictions folder (--predictions).")
        if self.prompt is not None and self.prompts is not None:
            raise InputError("give a prompt kind (--prompt) or a frozen prompt file (--prompts), not both: a replay "
                             "uses the kind the file was written with.")
        if self.predictions is not None and (self.prompt is not None or self.prompts is not None):
            raise InputError("--prompt / --prompts choose what a model is shown; a predictions folder was made with "
                             "its own prompts. Drop them, or evaluate the model itself.")
        from medmix.models.sam_family import positive_int

        if self.max_slices_per_task is not None:
            self.max_slices_per_task = positive_int(self.max_slices_per_task, "max_slices_per_task")
        self.workers = positive_int(self.workers, "workers")

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("allow_calibration_leak",)}


@dataclass
class EvaluationResult:
    out_dir: Path
    cases: Any  # pandas DataFrame, long form
    staging: Any
    summary: dict
    lesions: Any = None  # pandas DataFrame of per-lesion rows (lesions.csv) when lesion-wise metrics were asked
    clicks: Any = None  # pandas DataFrame of per-click rows (clicks.csv) of iterative runs


def predict_case(model, case, card, seed: int | None, chunk_slices: int = 32, orientation: str = "display",
                 stream_index: int | None = None, prompts: dict | None = None, records: list | None = None
                 ) -> np.ndarray:
    """Binary prediction on the case's grid: the card's prompt on every reference-foreground slice, empty
    elsewhere (box prompts go through `predict_slices`, others through `predict_prompted`).

    prompts: {slice: SlicePrompt} to replay instead of generating them; records: a list that receives each
    slice's prompt ({slice, objects}, case grid) for the run's frozen prompt file.
    The model sees the slices `medmix.data.slices.prompted_slices` makes (orientation "display" transposes 3-D
    slices, "array" does not); predictions come back on the case's grid. Metrics do not depend on the
    orientation; the model's input does. stream_index: the case's position in its sorted split (MedSAMix's
    fundus jitter).
    """
    from medmix.data.slices import place_slice, prompted_slices, to_case_orientation

    axis = case.slice_axis if case.ndim == 3 else None
    pred = np.zeros(case.spatial_shape, dtype=bool)
    chunk: list = []

    def flush() -> None:
        if all(s.prompt.box_only for s in chunk):
            masks = model.predict_slices([s.image for s in chunk], [s.boxes for s in chunk])
        else:
            masks = model.predict_prompted([s.image for s in chunk], [s.prompt for s in chunk])
        for item, mask in zip(chunk, masks):
            place_slice(pred, to_case_orientation(mask, case, orientation), item.index, axis)
        chunk.clear()

    for item in prompted_slices(case, card, orientation=orientation, seed=seed, stream_index=stream_index,
                                prompts=prompts):
        if records is not None:
            records.append({"slice": item.index, "objects": item.case_prompt.to_json()})
        chunk.append(item)
        if len(chunk) == chunk_slices:
            flush()
    if chunk:
        flush()
    return pred


def score_case(pred: np.ndarray, case, card, metrics: list[str], slice_dice_epsilon: float = 0.0
               ) -> tuple[list[dict], dict | None, list[dict]]:
    """Long rows (volumetric + slice-wise), the staging record and the per-lesion rows (when lesion-wise
    metrics are asked for) of one case.

    slice_dice_epsilon: added to the slice Dice's denominator (MedSAMix's protocol: 1e-8); the rows keep the
    metric name "dice".
    """
    from medmix.metrics import compute_metrics, compute_slicewise

    gt = case.label.astype(bool)
    rows = []
    from medmix.metrics.lesion_metrics import last_case_lesions

    result = compute_metrics(pred, gt, metrics, case.spacing)
    lesions = [{"task": card.name, "case": case.case_id, "label": card.target.name, **row}
               for row in last_case_lesions()]
    for key, value in result.values.items():
        rows.append({"task": card.name, "case": case.case_id, "slice": "volume", "label": card.target.name,
                     "metric": key, "value": float(value), "empty_gt": result.empty_gt,
                     "empty_pred": result.empty_pred})
    slice_metrics = [f"dice:epsilon={slice_dice_epsilon!r}" if slice_dice_epsilon else "dice", "iou"]
    if case.ndim == 2:  # a 2D image is its own (only) slice
        slice_results = [(0, compute_metrics(pred, gt, slice_metrics, case.spacing))] if gt.any() else []
    else:
        slice_results = [(item.index, item.result) for item in
                         compute_slicewise(pred, gt, axis=case.slice_axis, metrics=slice_metrics,
                                           spacing=case.spacing)]
    for index, res in slice_results:
        for key, value in res.values.items():
            rows.append({"task": card.name, "case": case.case_id, "slice": str(index), "label": card.target.name,
                         "metric": key.partition(":")[0], "value": float(value), "empty_gt": res.empty_gt,
                         "empty_pred": res.empty_pred})
    staging = None
    if card.staging is not None:
        staging = stage_case(pred, gt, case, card)
    return rows, staging, lesions


def stage_case(pred: np.ndarray, gt: np.ndarray, case, card) -> dict:
    from medmix.staging import stage_mask

    spec = card.staging
    kwargs = {"feret": spec.feret, "convention": spec.convention}
    if case.ndim == 3:
        kwargs["slice_axis"] = case.slice_axis
    true = stage_mask(gt, case.spacing, spec.rule, **kwargs)
    guess = stage_mask(pred, case.spacing, spec.rule, **kwargs)
    return {"task": card.name, "case": case.case_id, "true_category": true.category,
            "pred_category": guess.category, "true_diameter_mm": float(true.greatest_dimension_mm),
            "pred_diameter_mm": float(guess.greatest_dimension_mm), "true_lesions": len(true.lesions),
            "pred_lesions": len(guess.lesions)}


def _resolve_model(config: EvaluationConfig, model, protocol):
    if model is not None:
        from medmix.models import CallableModel, PredictionFolder, SegmentationModel
        from medmix.models.ensemble import FolderEnsemble

        if isinstance(model, SegmentationModel):
            return apply_protocol_to_model(model, protocol, explicit=False)
        if isinstance(model, (PredictionFolder, FolderEnsemble)):
            return model
        if callable(model):
            return CallableModel(model)
        raise InputError(f"model must be a SegmentationModel or a callable predict(image, box), got {type(model)}.")
    if config.predictions is not None:
        from medmix.models import PredictionFolder

        return PredictionFolder(config.predictions, labels=config.prediction_labels)
    from medmix.models import load_model

    loaded = load_model(config.model, device=config.device, batch_size=config.batch_size,
                        preprocessing=config.preprocessing)
    explicit = config.preprocessing is not None or (isinstance(config.model, dict)
                                                    and config.model.get("preprocessing") is not None)
    return apply_protocol_to_model(loaded, protocol, explicit=explicit)


def apply_protocol_to_model(model, protocol, *, explicit: bool):
    """Give a SAM-family model the protocol's preprocessing (MedSAMix: SAM's for every model). An explicitly
    configured preprocessing that the protocol would replace is an error rather than silently overridden."""
    from medmix.models import SamFamilyModel
    from medmix.models.ensemble import EnsembleModel

    if isinstance(model, EnsembleModel):  # each member sees what it would see evaluated alone
        for member, own in zip(model.members, model.explicit_preprocessing):
            apply_protocol_to_model(member, protocol, explicit=explicit or own)
        return model
    if not isinstance(model, SamFamilyModel):
        return model
    wanted = protocol.model_preprocessing(model.preprocessing)
    if wanted != model.preprocessing:
        if explicit:
            raise InputError(f"protocol {protocol.name!r} feeds every model through SAM's preprocessing, but this run "
                             f"also sets preprocessing {model.preprocessing.to_dict()}; drop one of the two (or use "
                             "--protocol medmix to keep a model's own preprocessing).")
        model.preprocessing = wanted
    return model


def resolve_protocol(config: EvaluationConfig, suite):
    """The run's protocol: the config's, else the suite's, else medmix."""
    from medmix.evaluation.protocol import parse_protocol

    spec = config.protocol if config.protocol is not None else suite.protocol
    return parse_protocol(spec, where="protocol")


def _cards(config: EvaluationConfig):
    from medmix.evaluation.suites import load_suite

    suite = load_suite(config.suite)
    cards = list(suite.cards)
    if config.tasks:
        known = {c.name: c for c in cards}
        twice = sorted({t for t in config.tasks if config.tasks.count(t) > 1})
        if twice:
            raise InputError(f"task {twice[0]!r} is given twice (--task); each task once, or its cases would be "
                             "counted twice.")
        missing = [t for t in config.tasks if t not in known]
        if missing:
            from medmix.errors import UnknownNameError

            raise UnknownNameError(f"task in suite {suite.name}", missing[0], known)
        cards = [known[t] for t in config.tasks]
    protocol = resolve_protocol(config, suite)
    return suite, [protocol.apply(c) for c in cards], protocol


def _plan(config: EvaluationConfig, cards) -> tuple[list[tuple[Any, str, int, int | None]], dict[str, str]]:
    """(card, case id, position in its sorted split, slice budget or None) for every case to score, and {task:
    (what is missing, why)} for the tasks left out because their data is not prepared. Cases a slice cap leaves
    no slice are not planned."""
    from medmix.data.sources import case_ids
    from medmix.errors import MissingDataError

    plan, missing = [], {}
    for card in cards:
        try:
            ids = case_ids(card, config.data_root, config.split)
        except MissingDataError as exc:
            missing[card.name] = (exc.what, str(exc))
            continue
        if config.max_cases is not None:
            ids = ids[: config.max_cases]
        budgets = slice_budgets(len(ids), config.max_slices_per_task)
        plan.extend((card, case_id, position, budget) for (position, case_id), budget in zip(enumerate(ids), budgets)
                    if budget != 0)
    return plan, missing


def evaluate(config: EvaluationConfig, model=None, *, progress: bool = False) -> EvaluationResult:
    """Run (or resume) an evaluation and write its outputs; returns the merged tables and the summary.

    `model` may be a `SegmentationModel` or a callable `predict(image_2d, box) -> mask or logits`; otherwise
    `config.model` (an adapter spec) or `config.predictions` (a folder of masks) is used. Everything is validated
    and the model loaded before the run folder is touched; the folder is locked while this process writes it. Tasks
    whose dataset is not prepared are left out and listed (summary "missing_tasks"), the others are evaluated.
    """
    from medmix.metrics import parse_metric
    from medmix.models import PredictionFolder
    from medmix.models.ensemble import FolderEnsemble
    from medmix.progress import Progress
    from medmix.run_folder import RunLock

    for requested in config.metrics or ():
        parse_metric(requested)  # a bad name or option value stops here, before data or model load
    suite, cards, protocol = _cards(config)
    cards, frozen = prompt_cards(config, cards)
    plan, missing_data = _plan(config, cards)
    missing = {task: why for task, (_, why) in missing_data.items()}
    if not plan and missing:
        from medmix.errors import MissingDataError

        raise MissingDataError(f"suite {suite.name!r}: no case to evaluate in split {config.split!r}. No task has "
                               f"its data: {_missing_text(missing_data)}")
    if not plan:
        raise MedmixError(f"suite {suite.name!r}: no case to evaluate in split {config.split!r}.")
    runner_model = _resolve_model(config, model, protocol)
    is_folder = isinstance(runner_model, (PredictionFolder, FolderEnsemble))  # whole-case masks, no prompts
    metrics_by_task = {c.name: list(config.metrics or c.metrics) for c in cards}
    described = runner_model.describe()
    identity = {
        "model": _model_identity(described),
        "suite": suite.name, "cards": [c.to_dict() for c in cards], "split": config.split, "seed": config.seed,
        "protocol": protocol.to_dict(), "metrics": metrics_by_task, "max_cases": config.max_cases,
        "data_root": config.data_root,
    }
    if frozen is not None:
        identity["replayed_prompts"] = frozen.digest
    if config.max_slices_per_task is not None:
        identity["max_slices_per_task"] = config.max_slices_per_task
    key = fingerprint(identity)
    out_dir = Path(config.out_dir)
    started = time.time()
    _reset_peak_memory(described)
    timings = {"predict_s": 0.0, "score_s": 0.0, "n_slices": 0}
    name = described.get("adapter") or described.get("name") or "model"
    with RunLock(out_dir, "evaluation"):
        store = ResultStore(out_dir, key, overwrite=config.overwrite)
        with Progress("evaluate", len(plan), enabled=progress, context=f"model {name}") as bar:
            for task, why in missing.items():
                bar.note(f"skipped {task}: {why}")
            todo = []
            for card, case_id, position, budget in plan:
                if store.done(card.name, case_id):
                    bar.advance(text=f"{card.name} (resumed)", resumed=True)
                else:
                    todo.append((card, case_id, position, budget))
            args = (config, protocol, frozen, metrics_by_task, out_dir)
            if config.workers > 1 or config.scheduler:
                from medmix.evaluation.distributed import distributed_cases

                parts = distributed_cases(todo, model, runner_model, is_folder,
                                          args, workers=config.workers, scheduler=config.scheduler)
            else:
                parts = ((item, compute_case(runner_model, is_folder, *item, *args)) for item in todo)
            for (card, case_id, _, _), part in parts:
                timings["predict_s"] += part["predict_s"]
                timings["score_s"] += part["score_s"]
                timings["n_slices"] += part["n_slices"]  # kept in the part: the cost block survives a resume
                store.write(card.name, case_id, part.pop("rows"), part.pop("staging"), part)
                bar.advance(text=card.name)
        order = [(card.name, case_id) for card, case_id, _, _ in plan]
        cases, staging = store.merge(order)
        lesions = store.lesions(order)
        clicks = store.clicks(order)
        categories = {c.name: list(c.staging.rule.categories) for c in cards if c.staging is not None}
        summary = summarise(cases, staging, [c.name for c in cards], categories)
        summary["suite"] = suite.name
        summary["split"] = config.split
        summary["protocol"] = protocol.to_dict()
        if missing:
            summary["missing_tasks"] = dict(missing)
        note = protocol_note(described, protocol)
        if note:
            summary["protocol_note"] = note
        digest = None
        if not is_folder:
            from medmix.data.prompts.frozen import PROMPTS_FILE, prompts_document

            document = prompts_document({c.name: c.prompt for c in cards}, store.prompts(order))
            digest = document["digest"]
            atomic_write_text(out_dir / PROMPTS_FILE, json.dumps(document))
        summary["prompts"] = prompt_record(cards, frozen, digest)
        flags = prompt_flags(runner_model, cards)
        if flags:
            summary["prompt_flags"] = flags
        if config.max_slices_per_task is not None:
            summary["max_slices_per_task"] = config.max_slices_per_task
        if len(clicks):
            from medmix.evaluation.interactive import summarise_clicks

            summary["interactive"] = summarise_clicks(clicks)
            atomic_save(out_dir / "clicks.csv", lambda p: clicks.to_csv(p, index=False))
        summary["model"] = described
        # machine- and load-dependent, so kept out of summary.json (same inputs and seed → same summary)
        atomic_write_text(out_dir / COST_FILE, json.dumps(run_cost(described, store.costs(order), is_folder),
                                                         indent=2) + "\n")
        _write_outputs(out_dir, config, suite, cards, described, cases, staging, summary, started, timings)
        if len(lesions):
            atomic_save(out_dir / "lesions.csv", lambda p: lesions.to_csv(p, index=False))
    return EvaluationResult(out_dir, cases, staging, summary, lesions, clicks)


def _model_identity(described: dict) -> dict:
    """The model's describe() without what may change between resumes of one run (device, dtype, batch size), in
    ensemble members too."""
    out = {k: v for k, v in described.items() if k not in ("device", "dtype", "batch_size", "box_only")}
    if isinstance(out.get("members"), dict):
        out["members"] = {name: _model_identity(m) if isinstance(m, dict) else m for name, m in out["members"].items()}
    return out


def compute_case(model, is_folder: bool, card, case_id: str, position: int, budget: int | None, config, protocol,
                 frozen, metrics_by_task: dict, out_dir: Path) -> dict:
    """Load, predict and score one planned case (and save its prediction when asked): the part the store writes,
    plus "n_slices". The same function runs in this process or on a Dask worker."""
    from medmix.data.sources import load_case

    case = load_case(card, case_id, config.data_root)
    if budget is not None:
        case = cap_case_slices(case, budget)
    part = _run_case(model, is_folder, case, card, position, config, protocol, frozen, metrics_by_task[card.name],
                     capped=budget is not None)
    pred = part.pop("pred")
    if config.save_predictions:
        _save_prediction(out_dir, card.name, case, pred)
    part["n_slices"] = 0 if is_folder else _prompted_slices(case)
    return part


def _run_case(model, is_folder: bool, case, card, position: int, config, protocol, frozen, metrics: list[str], *,
              capped: bool) -> dict:
    """Predict and score one case: {rows, staging, pred, predict_s, score_s, lesions, prompts, clicks}."""
    t0 = time.perf_counter()
    records: list = []
    interaction = None
    replay = None if frozen is None else frozen.for_case(card.name, case.case_id)
    if is_folder:
        pred = model.mask_for(card.name, case.case_id, case.spatial_shape, affine=case.affine)
    elif card.prompt.interactive:
        from medmix.evaluation.interactive import predict_case_interactive

        interaction = predict_case_interactive(model, case, card, config.seed, orientation=protocol.orientation,
                                               stream_index=position, prompts=replay)
        pred, records = interaction.predictions[-1], interaction.records
    else:
        pred = predict_case(model, case, card, config.seed, orientation=protocol.orientation,
                            stream_index=position, prompts=replay, records=records)
    t1 = time.perf_counter()
    scored_card = replace(card, staging=None) if capped else card  # staging needs the whole lesion
    rows, staging, lesions = score_case(pred, case, scored_card, metrics, protocol.slice_dice_epsilon)
    clicks: list = []
    if interaction is not None:
        from medmix.evaluation.interactive import score_interactive

        clicks, case_rows = score_interactive(interaction, case, card, metrics, protocol.slice_dice_epsilon)
        rows.extend(case_rows)
    t2 = time.perf_counter()
    return {"rows": rows, "staging": staging, "pred": pred, "predict_s": t1 - t0, "score_s": t2 - t1,
            "lesions": lesions, "prompts": records, "clicks": clicks}


COST_FILE = "cost.json"


def _reset_peak_memory(described: dict) -> None:
    """On CUDA the allocator's peak is reset, so cost.json's peak is this run's; a CPU process's peak resident set
    cannot be reset (evaluate each model in its own process, as the CLI does, to compare them)."""
    if not str(described.get("device", "cpu")).startswith("cuda"):
        return
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    except ImportError:
        pass


def run_cost(described: dict, costs: dict, is_folder: bool) -> dict:
    """cost.json: parameters, ms per predicted slice (over every case of the run, resumed ones
    included: each case's part keeps its time), and this process's peak memory (CUDA: the allocator's peak; CPU:
    the process's peak resident set, which includes everything the process loaded)."""
    import resource

    n_slices, predict_s = costs["n_slices"], costs["predict_s"]
    out = {"parameters": described.get("parameters"), "device": described.get("device", "cpu"),
           "n_slices": n_slices, "predict_s": round(predict_s, 6),
           "ms_per_slice": round(1000.0 * predict_s / n_slices, 4) if n_slices and not is_folder else None}
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    out["peak_memory_mb"] = round(peak_rss_mb, 1)
    out["peak_memory_kind"] = "process peak RSS (this process, not only this run)"
    try:
        import torch

        if str(out["device"]).startswith("cuda") and torch.cuda.is_available():
            out["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
            out["peak_memory_kind"] = "CUDA max_memory_allocated (this run)"
    except ImportError:
        pass
    return out


def _missing_text(missing: dict[str, tuple[str, str]]) -> str:
    """Tasks grouped by what they miss, each reason said once (the first task's message stands for the group)."""
    groups: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for task, (what, why) in missing.items():
        groups.setdefault(what, []).append(task)
        first.setdefault(what, why.split(" For this task:")[0] if what == "data root" else why)
    return " ".join(f"[{', '.join(tasks)}] {first[what]}" for what, tasks in groups.items())


def _prompted_slices(case) -> int:
    """Slices that got a prompt (reference foreground) in a case."""
    if case.ndim == 2:
        return int(case.label.any())
    other = tuple(a for a in range(3) if a != case.slice_axis)
    return int(case.label.any(axis=other).sum())


def protocol_note(described: dict, protocol) -> str | None:
    """A sentence when a merged model was searched under another protocol than this evaluation's (allowed, but
    the numbers then mix two protocols)."""
    searched = ((described.get("provenance") or {}).get("search") or {}).get("protocol")
    if searched is None or searched.get("name") == protocol.name:
        return None
    return (f"this merge was searched under protocol {searched.get('name')!r} and is evaluated here under "
            f"{protocol.name!r}")


def _save_prediction(out_dir: Path, task: str, case, pred: np.ndarray) -> None:
    from medmix.data.io import save_mask

    folder = out_dir / "predictions" / task
    folder.mkdir(parents=True, exist_ok=True)
    save_mask(folder / f"{case.case_id}.nii.gz", pred.astype(np.uint8), spacing=case.spacing, affine=case.affine)


def _write_outputs(out_dir, config, suite, cards, described, cases, staging, summary, started, timings) -> None:
    import yaml

    atomic_save(out_dir / "cases.csv", lambda p: cases.to_csv(p, index=False))
    try:
        atomic_save(out_dir / "cases.parquet", lambda p: cases.to_parquet(p, index=False))
    except ImportError:  # pyarrow missing: the CSV is the canonical table
        pass
    atomic_save(out_dir / "staging.csv", lambda p: staging.to_csv(p, index=False))
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, allow_nan=False))
    resolved = {"evaluation": config.to_dict(), "suite": suite.name, "tasks": [c.to_dict() for c in cards],
                "model": described}
    atomic_write_text(out_dir / "config.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False))
    record = provenance(config, described, timings)
    record["protocol"] = summary["protocol"]
    if "protocol_note" in summary:
        record["protocol_note"] = summary["protocol_note"]
    record["prompts"] = summary.get("prompts")
    if summary.get("prompt_flags"):
        record["prompt_flags"] = summary["prompt_flags"]
    atomic_write_text(out_dir / "provenance.json", json.dumps(record, indent=2))


def provenance(config: EvaluationConfig, described: dict, timings: dict | None = None) -> dict:
    """Versions, git revision, device and seed: what is needed to reproduce the numbers."""
    import subprocess

    import numpy

    from medmix import __version__

    record = {"medmix": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
              "platform": platform.platform(), "seed": config.seed, "model": described}
    try:
        import torch

        record["torch"] = torch.__version__
        record["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        record["torch"] = None
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        record["git_revision"] = rev.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        record["git_revision"] = None
    if timings is not None:
        record["timings_this_session"] = timings
    return record
