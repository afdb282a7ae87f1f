"""The run store: a run's folder, its files and provenance, and reading a finished run back.

A run lives in ``runs/<model>-<config hash>/``: ``config.json`` (the config and its provenance:
package version, git commit, torch, Python, world size), ``history.csv`` (one line per epoch),
``checkpoint.pt`` (every epoch; what ``--resume`` continues from), ``model.pt`` (the selected
epoch, :func:`checkpoint_payload`) and, written last, ``metrics.json``.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
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
