"""The search strategy in a process of its own, so that asking never stalls the trial loop.

SMAC's `ask` on MedSAMix's 190-dimensional space takes 0.2–1.9 s (random-forest refit + acquisition search). Run in
the trial loop's process it competes with the loop for the interpreter lock and for the device's launch queue;
here it runs in a spawned process (`OptimiserProcess`) that keeps `depth` proposals asked ahead of the tells: after
each tell it asks the next proposal while the trials run. The sequence of strategy calls is the in-process one
(`LocalOptimiser`, kept for comparison and for tests): `depth` asks, then after every tell the asks that bring the
proposals out or queued back to `depth` (one, usually), before any later message is read; tells come in the order
the proposals were handed out. So the sequence depends only on the order of tells, never on timing, and a seed
gives the same search either way, run after run.

Messages (a `multiprocessing` pipe; the strategy's own objects never leave its process):
  ("replay", records)   rebuild the strategy's state from the trial log (resume), then fill the queue;
  ("next",)             → a `Proposal` without its token, or None while the strategy waits for results;
  ("tell", number, cost, time_s);  ("save",) → True;  ("close",).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace

from medmix.errors import MedmixError


class _Server:
    """The strategy plus its queue of proposals asked ahead; the same code serves both optimisers."""

    def __init__(self, factory, depth: int, limit: int, first_number: int):
        self.strategy = factory()
        self.depth = max(1, int(depth))
        self.limit = int(limit)  # proposals this session may ask (n_trials − resumed ones)
        self.number = first_number
        self.asked = 0
        self.queue: deque = deque()  # asked, not yet handed out
        self.out: dict = {}  # handed out, not yet told: number → Proposal (with its token)
        self.blocked = False  # the strategy waits for tells (CMA-ES between generations)
        self.ask_s: dict[int, float] = {}

    def replay(self, records: list[dict]) -> None:
        self.strategy.replay_all(records)

    def fill(self) -> bool:
        """Ask one more if the queue is short; False when nothing was asked."""
        if self.blocked or self.asked >= self.limit or len(self.queue) + len(self.out) >= self.depth:
            return False
        t0 = time.perf_counter()
        proposal = self.strategy.ask(self.number)
        if proposal is None:
            self.blocked = True
            return False
        self.ask_s[proposal.number] = time.perf_counter() - t0
        self.number += 1
        self.asked += 1
        self.queue.append(proposal)
        return True

    def fill_all(self) -> None:
        """Ask until `depth` proposals are out or queued. Called right after every tell (and once at the start),
        and only then, so the order of strategy calls depends on nothing but the order of tells."""
        while self.fill():
            pass

    def next(self):
        if not self.queue:
            self.blocked = False
            self.fill()
        if not self.queue:
            return None
        proposal = self.queue.popleft()
        self.out[proposal.number] = proposal
        return replace(proposal, token=None), self.ask_s.pop(proposal.number, 0.0)

    def tell(self, number: int, cost, time_s: float) -> None:
        self.strategy.tell(self.out.pop(number), cost, time_s)
        self.blocked = False


class LocalOptimiser:
    """The strategy in this process (asks run when the loop asks; the comparison baseline)."""

    def __init__(self, factory, *, depth: int, limit: int, first_number: int, records: list[dict]):
        self.server = _Server(factory, depth, limit, first_number)
        self.server.replay(records)
        self.server.fill_all()
        self.wait_s = 0.0

    def next(self):
        t0 = time.perf_counter()
        out = self.server.next()
        self.wait_s += time.perf_counter() - t0
        return out

    def tell(self, number: int, cost, time_s: float) -> None:
        self.server.tell(number, cost, time_s)
        self.server.fill_all()  # the next asks happen now, in the loop's process, as before

    def save(self) -> None:
        self.server.strategy.save()

    def close(self) -> None:
        pass


def fast_configuration_equality() -> None:
    """ConfigSpace 1.2 compares two Configurations value by value in Python, and SMAC tests every proposal for
    membership in lists of every configuration seen: O(trials × hyper-parameters) interpreted steps per ask, 0.2–0.4
    s of each ask at 60–80 trials on MedSAMix's 190-dimensional space. Compare the value vectors of two
    configurations of one space instead (equal values ⇔ equal vectors, NaN marking inactive ones); anything else
    keeps ConfigSpace's comparison. Applied only in the optimiser's own process."""
    import numpy as np
    from ConfigSpace import Configuration

    original = Configuration.__eq__
    if getattr(original, "_medmix_fast", False):
        return

    def __eq__(self, other):
        if isinstance(other, Configuration) and self.config_space is other.config_space:
            return bool(np.array_equal(self._vector, other._vector, equal_nan=True))
        return original(self, other)

    __eq__._medmix_fast = True
    Configuration.__eq__ = __eq__


def _serve(conn, factory, depth: int, limit: int, first_number: int, records: list[dict]) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    fast_configuration_equality()
    try:
        server = _Server(factory, depth, limit, first_number)
        server.replay(records)
        server.fill_all()
        conn.send(("ready", None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        try:
            if kind == "next":
                conn.send(("ok", server.next()))
            elif kind == "tell":
                server.tell(*message[1:])
                server.fill_all()  # the next asks happen now, while the parent runs trials
            elif kind == "save":
                server.strategy.save()
                conn.send(("ok", True))
            elif kind == "close":
                return
        except BaseException as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return


class _main_module_hidden:
    """Spawn re-imports the parent's main script in the child unless it cannot find it; the strategy needs nothing
    from it, and a script without an `if __name__ == "__main__":` guard would start a second search there."""

    def __enter__(self):
        import sys

        self.main = sys.modules.get("__main__")
        self.saved = {k: getattr(self.main, k) for k in ("__file__", "__spec__") if hasattr(self.main, k)}
        for k in self.saved:
            if k == "__file__":
                delattr(self.main, k)
            else:
                setattr(self.main, k, None)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            setattr(self.main, k, v)


class _fixed_hash_seed:
    """Start the strategy's process with PYTHONHASHSEED=0. SMAC iterates sets of configurations, which hash by
    their text, so with Python's per-process random string hashing one seed gave another search from trial 21 on
    (measured on the demo's multi-task search); a fixed hash seed in that process makes the search repeat."""

    def __enter__(self):
        import os

        self.saved = os.environ.get("PYTHONHASHSEED")
        os.environ["PYTHONHASHSEED"] = "0"

    def __exit__(self, *exc):
        import os

        if self.saved is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = self.saved


class OptimiserProcess:
    """The strategy in a spawned process (module docstring). `factory` builds it there (picklable)."""

    def __init__(self, factory, *, depth: int, limit: int, first_number: int, records: list[dict]):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # no fork of a process that may hold CUDA or a thread pool
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, factory, depth, limit, first_number, records),
                                   name="medmix-optimiser", daemon=True)
        with _main_module_hidden(), _fixed_hash_seed():
            self.process.start()
        child.close()
        self.wait_s = 0.0
        self._receive()  # the strategy is built and the log replayed

    def _receive(self):
        try:
            status, payload = self.conn.recv()
        except EOFError:
            raise MedmixError("the optimiser process stopped unexpectedly (out of memory?); re-run the same "
                              "command to resume from the trial log.") from None
        if status == "error":
            raise MedmixError(f"the search strategy failed in its process: {payload}")
        return payload

    def next(self):
        t0 = time.perf_counter()
        self.conn.send(("next",))
        out = self._receive()
        self.wait_s += time.perf_counter() - t0
        return out

    def tell(self, number: int, cost, time_s: float) -> None:
        self.conn.send(("tell", number, cost, time_s))

    def save(self) -> None:
        self.conn.send(("save",))
        self._receive()

    def close(self) -> None:
        try:
            self.conn.send(("close",))
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


__all__ = ["LocalOptimiser", "OptimiserProcess"]
