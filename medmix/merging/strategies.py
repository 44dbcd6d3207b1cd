"""Search strategies behind one ask / tell interface: SMAC3 (random forest "rf", Gaussian process "gp", "random")
and CMA-ES ("cma", the `cma` package, as mergekit-evolve and Sakana's evolutionary model merging use).

A strategy proposes configurations (`Proposal`: hyper-parameter values, budget, instance, origin) and is told
each one's cost. medmix runs the trials; no strategy ever calls a target function.

What a trial's cost is (`cost_mode`):
- "instance": racing over tasks as SMAC instances: 1 − the raced task's Dice;
- "smac_multi": several tasks, SMAC's own multi-objective (ParEGO or mean) over one cost per task;
- "parego": several tasks where SMAC cannot take several objectives (Hyperband) or the strategy takes one cost
  (CMA-ES): medmix's ParEGO scalarisation max_i(w_i c_i) + 0.05 Σ_i w_i c_i of the per-task costs c_i = 1 − Dice
  (already on one [0, 1] scale, so not renormalised), with fresh weights w per proposal, uniform on the simplex and
  seeded by (seed, proposal number); the Pareto front is still taken from the per-task scores;
- "mean": 1 − the mean Dice over tasks (one task, or `aggregation: mean`).

CMA-ES works on the unit cube: a float hyper-parameter maps linearly (log-scaled ones logarithmically) onto its
range, a categorical one (a unit's method) takes the bin floor(x · k); hyper-parameters whose condition is not
met are left out. The warm-start configurations are proposed first and then injected into the next population;
generations are told whole, so a strategy between generations proposes nothing until the last results arrive.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

STRATEGIES = ("rf", "gp", "cma", "random")
PAREGO_RHO = 0.05


@dataclass
class Proposal:
    """A configuration to try. number: its position among all proposals of the search (resumed ones included)."""

    number: int
    values: dict
    budget: float | None
    instance: str | None
    origin: str
    token: Any = None  # the strategy's own handle (SMAC's TrialInfo, CMA's slot); stays where the strategy runs


def values_key(values: dict) -> str:
    """A configuration's identity (floats to 12 decimals, so a decoded copy of it is the same key)."""
    import json

    return json.dumps({k: (round(v, 12) if isinstance(v, float) else v) for k, v in sorted(values.items())},
                      sort_keys=True)


def cost_mode(settings, tasks: list[str]) -> str:
    if settings.racing:
        return "instance"
    if len(tasks) < 2 or settings.aggregation == "mean":
        return "mean"
    if settings.multi_fidelity or settings.facade == "cma":
        return "parego"
    return "smac_multi"


def parego_weights(seed: int, number: int, n: int) -> np.ndarray:
    """Uniform weights on the (n−1)-simplex for proposal `number` (the same in any process)."""
    w = np.random.default_rng([int(seed), int(number), 7]).exponential(size=n)
    return w / w.sum()


def trial_cost(scores: dict[str, float], tasks: list[str], mode: str, instance: str | None = None,
               weights=None):
    """What the strategy is told for a trial's per-task Dice `scores` (see the module docstring)."""
    if mode == "instance" or instance is not None:
        return 1.0 - scores[instance]
    costs = np.array([1.0 - scores[t] for t in tasks])
    if mode == "smac_multi":
        return [float(c) for c in costs]
    if mode == "parego":
        weighted = np.asarray(weights, dtype=float) * costs
        return float(weighted.max() + PAREGO_RHO * weighted.sum())
    return float(costs.mean())


class SmacStrategy:
    """SMAC3's facade for the search config (`medmix.merging.smac_setup.make_smac`)."""

    def __init__(self, config, space, tasks: list[str], out_dir, n_slices: int):
        from medmix.merging.smac_setup import make_smac

        self.smac, self.cs = make_smac(config, space, tasks, out_dir, n_slices)
        self.out_dir = out_dir

    def ask(self, number: int) -> Proposal | None:
        with warnings.catch_warnings():
            # SMAC 2.4's local search logs the mean of an empty list when no neighbour improves.
            warnings.simplefilter("ignore", RuntimeWarning)
            info = self.smac.ask()
        values = {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(info.config).items()}
        return Proposal(number, values, info.budget, info.instance, info.config.origin or "", info)

    def tell(self, proposal: Proposal, cost, time_s: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        # SMAC is told time 0, not the trial's wall time: its choices use the times it is told (measured: one
        # seed gave another search on a loaded machine from trial 21 on), and medmix optimises Dice, not runtime.
        # The trial log keeps the real times.
        self.smac.tell(proposal.token, TrialValue(cost=cost, time=0.0), save=False)

    def replay_all(self, records: list[dict]) -> None:
        for record in records:
            self.replay(record)

    def replay(self, record: dict) -> None:
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo, TrialValue

        info = TrialInfo(Configuration(self.cs, values=record["config"]), seed=0, budget=record["budget"],
                         instance=record["instance"])
        self.smac.tell(info, TrialValue(cost=record["cost"], time=0.0), save=False)  # as `tell` does

    def save(self) -> None:
        self.smac.runhistory.save(self.out_dir / "smac" / "runhistory.json")


class CubeCodec:
    """ConfigSpace configurations ↔ points of the unit cube (see the module docstring)."""

    def __init__(self, cs):
        self.cs = cs
        self.hps = list(cs.values())

    def encode(self, values: dict) -> np.ndarray:
        x = np.full(len(self.hps), 0.5)
        for i, hp in enumerate(self.hps):
            if hp.name not in values:
                continue
            v = values[hp.name]
            if hasattr(hp, "choices"):
                x[i] = (list(hp.choices).index(v) + 0.5) / len(hp.choices)
            elif hp.log:
                x[i] = (math.log(v) - math.log(hp.lower)) / (math.log(hp.upper) - math.log(hp.lower))
            else:
                x[i] = (v - hp.lower) / (hp.upper - hp.lower)
        return np.clip(x, 0.0, 1.0)

    def decode(self, x) -> dict:
        from ConfigSpace import Configuration

        raw = {}
        for value, hp in zip(np.clip(np.asarray(x, dtype=float), 0.0, 1.0), self.hps):
            if hasattr(hp, "choices"):
                raw[hp.name] = list(hp.choices)[min(int(value * len(hp.choices)), len(hp.choices) - 1)]
            elif hp.log:
                raw[hp.name] = float(math.exp(math.log(hp.lower) + value * (math.log(hp.upper) - math.log(hp.lower))))
            else:
                raw[hp.name] = float(hp.lower + value * (hp.upper - hp.lower))
        active = self.cs.get_active_hyperparameters(Configuration(self.cs, values=raw,
                                                                  allow_inactive_with_values=True))
        values = {k: v for k, v in raw.items() if k in active}
        Configuration(self.cs, values=values)  # a point the space accepts, or an error here
        return values


class CmaStrategy:
    """CMA-ES on the unit cube (module docstring): population `popsize` (cma's default 4 + 3 ln d when None),
    initial step 0.3, started at the space's default configuration."""

    def __init__(self, config, space, tasks: list[str], out_dir, n_slices: int, popsize: int | None = None):
        import cma

        s = config.settings
        self.cs = space.configspace(seed=s.seed)
        self.codec = CubeCodec(self.cs)
        options = {"bounds": [0.0, 1.0], "seed": int(s.seed) + 1, "verbose": -9}
        if popsize:
            options["popsize"] = int(popsize)
        x0 = self.codec.encode(dict(self.cs.get_default_configuration()))
        self.es = cma.CMAEvolutionStrategy(x0, 0.3, options)
        self.warm = deque(space.warm_start() if s.warm_start else [])
        self.pending: deque = deque()  # proposals made while replaying a log, handed out first
        self.generation: list = []
        self.generation_number = 0
        self.waiting: deque = deque()  # slots of the current generation not yet proposed
        self.costs: dict[int, float] = {}
        self.injected: list = []
        self.out_dir = out_dir

    def ask(self, number: int) -> Proposal | None:
        if self.pending:
            proposal = self.pending.popleft()
            proposal.number = number
            return proposal
        if self.warm:
            values = self.warm.popleft()
            return Proposal(number, values, None, None, "warm start", ("warm", None))
        if not self.waiting:
            if len(self.costs) < len(self.generation):
                return None  # the rest of this generation is still running
            if self.generation:
                self.es.tell(self.generation, [self.costs[i] for i in range(len(self.generation))])
            if self.injected:
                self.es.inject(self.injected, force=True)
                self.injected = []
            self.generation = self.es.ask()
            self.generation_number += 1
            self.costs = {}
            self.waiting = deque(range(len(self.generation)))
        slot = self.waiting.popleft()
        return Proposal(number, self.codec.decode(self.generation[slot]), None, None, "cma-es",
                        ("cma", self.generation_number, slot))

    def tell(self, proposal: Proposal, cost, time_s: float) -> None:
        token = proposal.token
        if token[0] == "warm":
            self.injected.append(self.codec.encode(proposal.values))
        elif token[1] == self.generation_number:
            self.costs[token[2]] = float(cost)

    def replay_all(self, records: list[dict]) -> None:
        """Rebuild the state from a log: proposals are deterministic, so propose again and tell each the recorded
        cost of the same configuration; the first proposal the log does not hold (a trial that was running when
        the search stopped) is kept and handed out first."""
        key = values_key
        by_key = {key(r["config"]): r for r in records}
        remaining = set(by_key)
        while remaining:
            proposal = self.ask(-1)
            if proposal is None:
                break
            record = by_key.get(key(proposal.values))
            if record is None:
                self.pending.append(proposal)
                break
            self.tell(proposal, record["cost"], record["eval_s"])
            remaining.discard(key(proposal.values))

    def save(self) -> None:
        import json

        from medmix.atomic import atomic_write_text

        folder = self.out_dir / "cma"
        folder.mkdir(parents=True, exist_ok=True)
        result = self.es.result
        atomic_write_text(folder / "state.json", json.dumps({
            "generations": int(self.es.countiter), "evaluations": int(self.es.countevals),
            "best_cost": None if result.fbest is None or not np.isfinite(result.fbest) else float(result.fbest),
            "sigma": float(self.es.sigma)}, indent=2))


def make_strategy(config, space, tasks: list[str], out_dir, n_slices: int):
    """The strategy `search.facade` names."""
    if config.settings.facade == "cma":
        return CmaStrategy(config, space, tasks, out_dir, n_slices)
    return SmacStrategy(config, space, tasks, out_dir, n_slices)


__all__ = ["CmaStrategy", "CubeCodec", "Proposal", "STRATEGIES", "SmacStrategy", "cost_mode", "make_strategy",
           "parego_weights", "trial_cost", "values_key"]
