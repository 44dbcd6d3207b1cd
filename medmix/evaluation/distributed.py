"""Evaluation cases on a Dask cluster: `medmix evaluate --workers N` (a local cluster, one process and one device
per worker) or `--scheduler ADDRESS` (an existing cluster, e.g. dask-jobqueue on SLURM).

Each worker loads the model once (an adapter spec is loaded there, on the worker's device; a model object given
through the Python API, or a predictions folder, is sent to every worker once) and runs the same
`compute_case` as a single-process run; the parent writes every finished case into the run's resumable store as
it arrives, so an interrupted distributed run resumes like any other, and the merged tables are in plan order
whatever the completion order. Data, checkpoints and the run folder must be reachable from the workers under the
same paths (a shared file system on a cluster).

Devices: the run's `device` when given; otherwise worker i of a local cluster takes cuda:(i mod #GPUs) when CUDA
is available, else the CPU, with torch's threads split evenly between the local workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

from medmix.errors import MedmixError

_WORKER_MODELS: dict = {}  # per worker process: the model this evaluation loaded there
IN_FLIGHT_PER_WORKER = 2  # cases queued per worker: enough to keep it busy, few enough to bound memory


def distributed_cases(todo: list, user_model, runner_model, is_folder: bool, args: tuple, *, workers: int,
                      scheduler: str | None) -> Iterator[tuple[tuple, dict]]:
    """(planned case, part) for every case of `todo`, as the workers finish them."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise MedmixError("--workers / --scheduler need dask.distributed: pip install 'dask[distributed]'") from exc
    config = args[0]
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        threads = max(1, (os.cpu_count() or 1) // n_workers) if cluster is not None else None
        if user_model is not None or is_folder:
            model = client.scatter(runner_model, broadcast=True)  # sent once, kept in every worker's memory
            spec = None
        else:
            model, spec = None, {"config": config, "protocol": args[1], "threads": threads}
        pending = list(todo)
        running = as_completed()
        items: dict = {}

        def submit_next() -> None:
            item = pending.pop(0)
            future = client.submit(_worker_case, model, spec, is_folder, item, args, pure=False)
            items[future.key] = item
            running.add(future)

        for _ in range(min(len(pending), n_workers * IN_FLIGHT_PER_WORKER)):
            submit_next()
        for future in running:
            part = future.result()
            item = items.pop(future.key)
            if pending:
                submit_next()
            yield item, part
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _worker_case(model, spec: dict | None, is_folder: bool, item: tuple, args: tuple) -> dict:
    from medmix.evaluation.runner import compute_case

    if model is None:
        model = _worker_model(spec)
    return compute_case(model, is_folder, *item, *args)


def _worker_model(spec: dict):
    """The model of this evaluation on this worker, loaded on first use."""
    from medmix.evaluation.runner import _resolve_model
    from medmix.evaluation.store import fingerprint

    config = spec["config"]
    key = fingerprint({"model": config.model, "device": config.device, "preprocessing": config.preprocessing,
                       "batch_size": config.batch_size, "protocol": spec["protocol"].to_dict()})
    if key not in _WORKER_MODELS:
        _WORKER_MODELS.clear()  # one evaluation's model per worker at a time
        import torch

        if spec["threads"]:
            torch.set_num_threads(spec["threads"])
        from medmix.models.sam_family import dask_worker_device

        device = config.device or dask_worker_device() or "cpu"
        _WORKER_MODELS[key] = _resolve_model(replace(config, device=device), None, spec["protocol"])
    return _WORKER_MODELS[key]


__all__ = ["distributed_cases"]
