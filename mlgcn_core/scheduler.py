"""Several runs at once: :func:`run_many` trains the runs of a list of configs (in order, finished
runs read back), in parallel processes when they are small CPU runs — the scheduler above the
engine (``train.py``) and the run store (``runs.py``)."""

from __future__ import annotations

import atexit
import dataclasses
import os
from collections.abc import Sequence

import torch

from .config import ExperimentConfig
from .features import prepare_features
from .runs import RunResult, run_path
from .train import run_experiment


def parallel_jobs(todo: Sequence[ExperimentConfig], jobs: int, threads: int) -> int:
    """How many processes :func:`run_many` uses for the runs ``todo``: ``jobs``, capped by the
    runs and by ``threads``; 1 unless every run is a CPU run on cached inputs (features or top mode)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    if not all(c.mode in ("features", "top") and c.device == "cpu" for c in todo):
        return 1
    return max(1, min(jobs, len(todo), threads))


def _feature_source(c: ExperimentConfig) -> tuple:
    """What decides the cached inputs of a run (its data, frozen backbone, and whether its head reads
    the pooled vector or the map): runs that agree on it share one cache, prepared once."""
    from .config import MODELS
    from .data.catalog import dataset

    entry = dataset(c.dataset)
    data = (getattr(c, entry.scenes), None) if entry.embedded else (None, c.selection)
    return (c.dataset, c.data_root, *data, c.val_fraction, c.backbone, c.weights, c.image_size, c.mode,
            c.trainable_blocks, c.mode == "features" and MODELS[c.model].needs_map)


_POOL: tuple[str, object] | None = None  # (what the workers were started with, the executor)


def _workers(jobs: int):
    """This process's pool of ``jobs`` spawned training processes, kept between calls: a worker
    imports torch and reads each cache file once (``io.load_npz``), not once per call of
    :func:`run_many` (a tuned cell calls it once per stage). A pool started under another
    environment or working directory (what its workers read their caches and data by), with another
    size, or broken (a worker killed) is shut down and started again."""
    import hashlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _POOL
    key = hashlib.sha256(repr((jobs, os.getcwd(), sorted(os.environ.items()))).encode()).hexdigest()
    if _POOL is not None and (_POOL[0] != key or getattr(_POOL[1], "_broken", False)):
        _POOL[1].shutdown(cancel_futures=True)
        _POOL = None
    if _POOL is None:
        _POOL = (key, ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_ignore_interrupts))
    return _POOL[1]


def _shut_down() -> None:
    """This process's workers stopped and joined, at exit (before the interpreter's teardown: no
    noise from a pool collected late)."""
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=True, cancel_futures=True)
        _POOL = None


atexit.register(_shut_down)


def _ignore_interrupts() -> None:
    """A worker leaves Ctrl-C (a kernel's interrupt, its shutdown) to its parent, which stops the
    pool; otherwise every idle worker prints a KeyboardInterrupt traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _train_in_worker(cfg: dict, root: str | None, threads: int) -> str:
    torch.set_num_threads(threads)
    return str(run_experiment(ExperimentConfig.from_dict(cfg), root, progress=False).path)


def run_many(configs: Sequence[ExperimentConfig], root: str | os.PathLike | None = None,
             jobs: int = 1) -> list[RunResult]:
    """:func:`run_experiment` for each config (in order; finished runs are read back).

    ``jobs`` > 1 trains the runs not done yet in that many spawned processes (kept for the next
    call: :func:`_workers`), each with an equal share of this process's torch threads — only when
    all of them are CPU runs in features mode (small heads on cached features train faster as
    one-thread processes side by side than as one process with all the threads:
    ``benchmarks/parallel_runs.py``), never more processes than this process has threads (inside a
    parallel sweep point: one), and never under ``torchrun`` (the processes there are DDP ranks).
    The results are the same runs as with ``jobs=1``: same configs, same run folders.
    """
    todo = list({c.run_name(): c for c in configs
                 if not (run_path(c, root) / "metrics.json").is_file()}.values())
    threads = torch.get_num_threads()
    jobs = parallel_jobs(todo, jobs, threads)
    if jobs > 1:
        for c in {_feature_source(c): c for c in todo}.values():
            prepare_features(c)  # once per feature cache; the workers only read it
        list(_workers(jobs).map(_train_in_worker, [c.to_dict() for c in todo],
                                [str(root) if root else None] * len(todo), [threads // jobs] * len(todo)))
    trained = {c.run_name() for c in todo} if jobs > 1 else set()
    out = []
    for c in configs:
        r = run_experiment(c, root, progress=False)
        out.append(dataclasses.replace(r, reused=False) if c.run_name() in trained else r)
    return out
