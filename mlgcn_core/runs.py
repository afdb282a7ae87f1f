"""The run store: a run's folder, its files and provenance, reading a finished run back, and the
scheduler that trains several runs in parallel processes.

A run lives in ``runs/<model>-<config hash>/``: ``config.json`` (the config and its provenance:
package version, git commit, torch, Python, world size), ``history.csv`` (one line per epoch),
``checkpoint.pt`` (every epoch; what ``--resume`` continues from), ``model.pt`` (the selected
epoch, :func:`checkpoint_payload`) and, written last, ``metrics.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import ExperimentConfig
from .io import atomic_path
from .paths import PROJECT_ROOT, runs_root

CHECKPOINT_FORMAT = "mlgcn-checkpoint/1"


@dataclass
class RunResult:
    config: ExperimentConfig
    path: Path
    metrics: dict  # test metrics (13 scalars + per-class "AP")
    val_metrics: dict  # validation metrics of the selected epoch
    best_epoch: int
    history: list[dict]
    reused: bool  # True when read back from an earlier run


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def atomic_save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def jsonable(metrics: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in metrics.items()}


def write_history(path: Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)


def provenance(cfg: ExperimentConfig, world: int = 1) -> dict:
    """What ``config.json`` holds: the config and where it ran (package, git commit, torch, Python)."""
    return {"config": cfg.to_dict(), "package_version": __version__, "git_commit": git_commit(),
            "torch": torch.__version__, "python": platform.python_version(), "world_size": world}


def checkpoint_payload(cfg: ExperimentConfig, classes: list[str], model_state: dict, **extra) -> dict:
    """Our checkpoint layout (loadable with ``torch.load(weights_only=True)``)."""
    return {"format": CHECKPOINT_FORMAT, "config": cfg.to_dict(), "classes": list(classes),
            "model": model_state, "package_version": __version__, **extra}


def load_run(path: str | os.PathLike) -> RunResult:
    path = Path(path)
    cfg = ExperimentConfig.from_dict(json.loads((path / "config.json").read_text())["config"])
    m = json.loads((path / "metrics.json").read_text())
    with open(path / "history.csv") as f:
        history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    test = dict(m["test"], AP=np.asarray(m["test"]["AP"], dtype=float))
    return RunResult(cfg, path, test, m["val"], int(m["best_epoch"]), history, reused=True)


def run_path(cfg: ExperimentConfig, root: str | os.PathLike | None = None) -> Path:
    """The run folder of ``cfg``: ``root/<run_name>`` (``root``: ``runs_root()``)."""
    return (Path(root) if root else runs_root()) / cfg.run_name()


def parallel_jobs(todo: Sequence[ExperimentConfig], jobs: int, threads: int) -> int:
    """How many processes :func:`run_many` uses for the runs ``todo``: ``jobs``, capped by the
    runs and by ``threads``; 1 unless every run is a CPU run on cached inputs (features or top mode)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    if not all(c.mode in ("features", "top") and c.device == "cpu" for c in todo):
        return 1
    return max(1, min(jobs, len(todo), threads))


def _train_in_worker(cfg: dict, root: str | None, threads: int) -> str:
    torch.set_num_threads(threads)
    from .train import run_experiment

    return str(run_experiment(ExperimentConfig.from_dict(cfg), root, progress=False).path)


def run_many(configs: Sequence[ExperimentConfig], root: str | os.PathLike | None = None,
             jobs: int = 1) -> list[RunResult]:
    """:func:`run_experiment` for each config (in order; finished runs are read back).

    ``jobs`` > 1 trains the runs not done yet in that many spawned processes, each with an equal
    share of this process's torch threads — only when all of them are CPU runs in features mode
    (small heads on cached features: chapter 02's 12 runs train 1.4× faster as two one-thread
    processes than as one two-thread process on 2 cores, ``benchmarks/parallel_runs.py``), never
    more processes than this process has threads (inside a parallel sweep point: one), and never
    under ``torchrun`` (the processes there are DDP ranks).
    The results are the same runs as with ``jobs=1``: same configs, same run folders.
    """
    from .train import prepare_features, run_experiment

    todo = list({c.run_name(): c for c in configs
                 if not (run_path(c, root) / "metrics.json").is_file()}.values())
    threads = torch.get_num_threads()
    jobs = parallel_jobs(todo, jobs, threads)
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        for c in todo:
            prepare_features(c)  # once per feature cache; the workers only read it
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(_train_in_worker, [c.to_dict() for c in todo],
                          [str(root) if root else None] * len(todo), [threads // jobs] * len(todo)))
    trained = {c.run_name() for c in todo} if jobs > 1 else set()
    out = []
    for c in configs:
        r = run_experiment(c, root, progress=False)
        out.append(dataclasses.replace(r, reused=False) if c.run_name() in trained else r)
    return out
