"""Deliberately broken variants used by tests/test_breakages.py (importable by spawned workers)."""

from __future__ import annotations

import shutil

import torch


def wrong_seed_worker(cfg: dict, root: str | None, threads: int) -> str:
    """A run_many worker that trains seed + 10 (in a folder of its own) and files that run under the
    asked-for run's folder."""
    import tempfile

    from mlgcn_core.config import ExperimentConfig
    from mlgcn_core.runs import run_path
    from mlgcn_core.train import run_experiment

    torch.set_num_threads(threads)
    asked = ExperimentConfig.from_dict(cfg)
    r = run_experiment(asked.replace(seed=asked.seed + 10), tempfile.mkdtemp(prefix="wrong-seed-"), progress=False)
    shutil.copytree(r.path, run_path(asked, root))
    shutil.rmtree(r.path.parent)
    return str(run_path(asked, root))
