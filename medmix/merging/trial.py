"""One search trial, wherever it runs: merge in place, score the calibration slices, report per-task Dice.

`EngineSetup` is the small, picklable description of everything a process needs (pool paths, units, space,
objective); `get_engine(setup)` builds the engine once per process and caches it, so Dask workers load the pool
from disk once and every task they receive carries only a configuration, never weights.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from medmix.evaluation.store import fingerprint


@dataclass(frozen=True)
class EngineSetup:
    pool: tuple[tuple[str, str], ...]  # (name, path), base first
    arch: str
    preprocessing: dict | None
    units: dict
    suite: str
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    mode: str = "per_unit_method"
    search_identical_units: bool = False
    split: str = "calibration"
    allow_test_split: bool = False
    data_root: str | None = None
    max_slices_per_task: int | None = None
    batch_size: int = 16
    seed: int = 0
    device: str | None = None
    protocol: dict = field(default_factory=lambda: {"name": "medmix", "drop_last_volume": False})
    extra: dict = field(default_factory=dict)
    prompt: dict | None = None  # the objective's prompt kind for every task (None: each card's own)

    def key(self) -> str:
        fields = asdict(self)
        if fields["prompt"] is None:
            del fields["prompt"]  # searches without one keep the key they had before prompts could be chosen
        return fingerprint(fields)


class TrialEngine:
    """Live model + in-place merger + calibration slices + search space, for one device."""

    def __init__(self, setup: EngineSetup, device=None):
        from medmix.evaluation.suites import load_suite
        from medmix.merging.calibration import build_calibration
        from medmix.merging.engine import InPlaceMerger, live_tensors
        from medmix.merging.pool import MergePool, distance_report
        from medmix.merging.recipe import scheme_for
        from medmix.merging.space import SearchSpace, searched_units
        from medmix.merging.units import assign_units
        from medmix.models.adapters import SamFamilyModel, build_arch, default_preprocessing
        from medmix.models.preprocess import Preprocessing

        self.setup = setup
        self.pool = MergePool.from_files(setup.pool, arch=setup.arch, preprocessing=setup.preprocessing)
        scheme = scheme_for(setup.units, setup.arch)
        self.assignment = assign_units(self.pool.base.keys(), scheme)
        self.report = distance_report(self.pool, self.assignment)
        # Units that touch the image encoder: while their recipes stay, its embeddings stay (see `run`).
        self.encoder_units = sorted(unit for unit, keys in self.assignment.keys.items()
                                    if any(k.startswith("image_encoder.") for k in keys))
        units, pinned = searched_units(self.report, setup.search_identical_units)
        self.space = SearchSpace(units, pinned, len(self.pool.members), tuple(setup.methods), setup.mode)
        from medmix.evaluation.protocol import parse_protocol

        self.protocol = parse_protocol(setup.protocol, where="objective.protocol")
        prep = (Preprocessing.from_spec(setup.preprocessing) if setup.preprocessing
                else default_preprocessing(setup.arch))
        # The objective scores under the search's protocol (MedSAMix: SAM's preprocessing for every model); the
        # merged checkpoint keeps the configured preprocessing, which a medmix-protocol evaluation uses.
        module = build_arch(setup.arch)
        self.model = SamFamilyModel(module, self.protocol.model_preprocessing(prep), name="merge-search",
                                    arch=setup.arch, device=device or setup.device, batch_size=setup.batch_size)
        self.merger = InPlaceMerger(self.pool, scheme, live_tensors(self.model.module), self.model.device)
        suite = load_suite(setup.suite)
        cards = [suite.card(t) for t in setup.tasks] if setup.tasks else list(suite.cards)
        cards = [self.protocol.apply(c) for c in cards]
        if setup.prompt is not None:
            from dataclasses import replace

            from medmix.data.prompts import as_prompt_spec

            spec = as_prompt_spec(setup.prompt, where="objective.prompt")
            cards = [replace(c, prompt=spec) for c in cards]
        self.tasks = [c.name for c in cards]
        self.calibration = build_calibration(cards, self.model, split=setup.split, data_root=setup.data_root,
                                             max_slices_per_task=setup.max_slices_per_task, seed=setup.seed,
                                             batch_size=setup.batch_size, allow_test_split=setup.allow_test_split,
                                             orientation=self.protocol.orientation,
                                             dice_epsilon=self.protocol.slice_dice_epsilon)

    def run(self, values: dict, budget: float | None = None, instance: str | None = None) -> dict:
        """Merge the configuration's recipe into the live model and score it; times in seconds.

        The calibration embeddings are reused while the units touching the image encoder keep their recipes (a
        search whose pool differs only in the decoder never reruns the encoder after its first trial).
        """
        from medmix.merging.calibration import CalibrationSet, score_calibration

        t0 = time.perf_counter()
        recipes = self.space.unit_recipes(values)
        self.merger.apply(recipes, seed=self.setup.seed)
        self._sync()
        t1 = time.perf_counter()
        calib = self.calibration
        if instance is not None:  # racing over task shards: score one task
            calib = CalibrationSet([instance], {instance: calib.batches[instance]}, {instance: calib.n_slices[instance]},
                                   calib.dice_epsilon)
        encoder_key = tuple(sorted((u, repr(recipes[u])) for u in self.encoder_units if u in recipes))
        scores = score_calibration(self.model, calib, budget, encoder_key=(self.setup.seed, encoder_key))
        t2 = time.perf_counter()
        return {"scores": scores, "merge_s": t1 - t0, "eval_s": t2 - t1}

    def _sync(self) -> None:
        if self.model.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.model.device)


_ENGINES: dict[str, TrialEngine] = {}


def get_engine(setup: EngineSetup, device=None) -> TrialEngine:
    key = setup.key() + str(device)
    if key not in _ENGINES:
        _ENGINES.clear()  # one engine per process: a new setup replaces the old one and frees its memory
        _ENGINES[key] = TrialEngine(setup, device)
    return _ENGINES[key]


def worker_trial(setup: EngineSetup, values: dict, budget: float | None, instance: str | None) -> dict:
    """Dask task: runs on a worker with that worker's cached engine (one GPU per worker when there are GPUs)."""
    from medmix.models.sam_family import dask_worker_device

    engine = get_engine(setup, dask_worker_device())
    return engine.run(values, budget, instance)
