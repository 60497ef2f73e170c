"""Worker processes for the experiments' runs: every core trains a model of its own.

A small Keras model keeps one CPU core busy, not two, so :func:`run_all` spreads independent runs over
``workers`` processes (each with one TensorFlow thread) and returns their results in order. The numbers do
not depend on which worker ran what: every run is seeded by its own seed and TensorFlow's ops are
deterministic in every worker. ``workers=0`` runs everything in this process instead.

The pool is started once (``spawn``: a fresh interpreter, safe inside Jupyter) and kept for later calls; its
processes print nothing, so a notebook's output stays clean.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

_POOL = None
_POOL_SIZE = 0
_CACHE: dict = {}


def default_workers() -> int:
    """Worker processes to use: ``FLATGAP_WORKERS`` if set, else the CPU count, at most 4 (0: in this process)."""
    value = os.environ.get("FLATGAP_WORKERS")
    if value is not None:
        if not value.isdigit():
            raise ValueError(f"FLATGAP_WORKERS must be a whole number of processes (0: none), got {value!r}")
        return int(value)
    return min(4, os.cpu_count() or 1)


def _start_worker() -> None:
    """Initializer of every worker: silent, one thread, deterministic ops (before TensorFlow is imported)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.environ["OMP_NUM_THREADS"] = "1"
    # isort: off
    import flatgap  # noqa: F401  (first: quiets TensorFlow before it loads)
    import tensorflow as tf

    # isort: on

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()


def _ping() -> int:
    return os.getpid()


def start(workers: int | None = None) -> None:
    """Start the worker processes now, without waiting: they load TensorFlow while the notebook prepares its data."""
    workers = default_workers() if workers is None else workers
    if workers:
        pool = _pool(workers)
        for _ in range(workers):
            pool.submit(_ping)


def _work(tasks: list[dict]) -> list[dict]:
    from flatgap.experiments.runs import train_run

    return [train_run(**task, cache=_CACHE) for task in tasks]


def _cost(task: dict) -> int:
    """A run's relative cost before it runs: pixels per epoch (a small set is repeated to ``min_epoch_steps`` batches)."""
    parts = task["train"] if isinstance(task["train"], list) else [task["train"]]
    batch = task.get("batch_size", 64)
    return sum(max(len(y), task.get("min_epoch_steps", 0) * batch) * int(np.prod(np.shape(x)[1:3])) for x, y in parts)


def _jobs(tasks: Sequence[dict], workers: int) -> list[list[int]]:
    """One job per run, the costliest first, and the runs of one model next to each other among equals.

    A free worker takes the next job at once, so the long runs start first and the last ones are short
    (longest-processing-time-first): at the barrier that ends a round of runs, a worker waits for the other at most
    one short run, not a whole model's share of the runs. A worker keeps every model it has traced (the cache of
    :func:`flatgap.experiments.runs.train_run`), so interleaving the models costs at most one trace per model and
    worker. The results do not depend on which worker trains a run.
    """
    from flatgap.experiments.runs import _key

    keys = [_key(task["config"], task.get("batch_size", 64)) for task in tasks]
    first: dict[str, int] = {}  # a model's rank: the order in which its first run appears
    for key in keys:
        first.setdefault(key, len(first))
    order = sorted(range(len(tasks)), key=lambda i: (-_cost(tasks[i]), first[keys[i]], i))
    return [[index] for index in order]


def _pool(workers: int):
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE != workers:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if _POOL is not None:
            _POOL.shutdown()
        _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker)
        _POOL_SIZE = workers
    return _POOL


def run_all(tasks: Sequence[dict], workers: int | None = None, store=None) -> list[dict]:
    """Run :func:`flatgap.experiments.runs.train_run` on every task (a dict of its keyword arguments); results in task order.

    Args:
        tasks: the runs' keyword arguments. workers: processes (default :func:`default_workers`; 0: this process).
        store: a :class:`flatgap.experiments.store.RunStore` to look finished runs up in and keep new ones in; by
            default the one ``FLATGAP_RUN_STORE`` names (the book's build sets it), else none: every run is trained.
    """
    from flatgap.experiments.store import run_key, store_from_environment

    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a whole number of processes (0: run in this process), got {workers!r}")
    store = store_from_environment() if store is None else store
    in_process = workers == 0 or len(tasks) <= 1
    keys = [run_key(task, "in-process" if in_process else "worker") for task in tasks] if store is not None else []
    results: list = [None] * len(tasks)
    if store is not None:
        for index, key in enumerate(keys):
            results[index] = store.get(key)
    missing = [index for index, result in enumerate(results) if result is None]
    if in_process:
        from flatgap.experiments.runs import train_run

        for index in missing:
            results[index] = train_run(**tasks[index], cache=_CACHE)
    elif missing:
        jobs = [[missing[i] for i in job] for job in _jobs([tasks[i] for i in missing], workers)]
        for job, outs in zip(jobs, _pool(workers).map(_work, [[tasks[i] for i in job] for job in jobs]), strict=True):
            for index, out in zip(job, outs, strict=True):
                results[index] = out
    if store is not None:
        for index in missing:
            store.put(keys[index], results[index])
    return results


def shutdown() -> None:
    """Stop the worker processes (they also stop when the notebook's kernel does)."""
    global _POOL, _POOL_SIZE
    if _POOL is not None:
        _POOL.shutdown()
    _POOL, _POOL_SIZE = None, 0
