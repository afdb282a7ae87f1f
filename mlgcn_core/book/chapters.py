"""The chapters' shared configuration: the compared variants, the one config every training chapter
starts from (:func:`chapter_config`), and the ablation chapters' sweep set-up."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import report

# name → config overrides; GMP/GAP: global max / average pooling of the same frozen backbone
VARIANTS: dict[str, dict] = {
    "baseline (GMP)": dict(model="baseline", pooling="max"),
    "baseline (GAP)": dict(model="baseline", pooling="avg"),
    "ML-GCN (binary)": dict(model="mlgcn", graph="binary", pooling="max"),
    "ML-GCN (re-weighted)": dict(model="mlgcn", graph="reweighted", pooling="max"),
}


def run_variants(base, names: list[str], seeds: list[int], jobs: int = 1) -> dict[str, list]:
    """Train (or read back) each variant of :data:`VARIANTS` on ``base`` for every seed:
    ``{variant: [RunResult per seed]}``. ``jobs``: runs trained in parallel processes on the CPU
    (see :func:`mlgcn_core.runs.run_many`)."""
    from ..runs import run_many

    runs = iter(run_many([base.replace(seed=s, **VARIANTS[n]) for n in names for s in seeds], jobs=jobs))
    return {n: [next(runs) for _ in seeds] for n in names}


def chapter_config(preset: str = "default", data_root: str = "", *, data_seed: int = 0,
                   n_train: int = 6000, n_val: int = 1500, n_test: int = 3000, seeds: list = (0,),
                   smoke_seeds: int = 2, **fields):
    """The base config every result chapter starts from, and the training seeds.

    ``preset`` names a config preset (``python -m mlgcn_core presets``): ``default`` is the embedded
    benchmark, whose size ``data_seed``/``n_train``/``n_val``/``n_test`` set; a preset on a real
    dataset needs ``data_root``, the folder made by ``python -m mlgcn_core prepare``. ``fields`` are
    config fields; ``None`` keeps the preset's value. Changing ``epochs`` moves the lr steps in
    proportion (15 of 20 → 4 of 6). Under ``MLGCN_SMOKE=1``: the tiny benchmark, 3 epochs and the
    first ``smoke_seeds`` seeds. Chapters that share these arguments share their runs (02's runs
    are reused by 07, 08 and 09, not retrained). Returns ``(config, seeds)``."""
    from ..config import load_preset
    from ..data import SMOKE, OutfitsConfig
    from .notebook import smoke_mode

    base = load_preset(preset)
    changes = {k: v for k, v in fields.items() if v is not None}
    seeds = list(seeds)
    if base.dataset == "outfits":
        changes["outfits"] = SMOKE if smoke_mode() else OutfitsConfig(
            seed=data_seed, n_train=n_train, n_val=n_val, n_test=n_test)
    elif not data_root:
        raise ValueError(f"preset {preset!r} trains on {base.dataset}: set data_root to the folder "
                         f"made by 'python -m mlgcn_core prepare {base.dataset} …'")
    else:
        changes["data_root"] = str(Path(data_root).expanduser().resolve())
    if smoke_mode():
        changes["epochs"], seeds = 3, seeds[:smoke_seeds]
    if "epochs" in changes:
        scale = changes["epochs"] / base.epochs
        changes["lr_steps"] = tuple(max(1, int(s * scale)) for s in base.lr_steps)
    return base.replace(**changes), seeds


def dataset_label(cfg, seeds: list) -> str:
    """The 'ours' column label of a chapter's tables: dataset, backbone, input size, mode, seeds."""
    from ..data.sources import DATASET_NAMES

    return (f"ours ({DATASET_NAMES[cfg.dataset]}, {cfg.backbone} @ {cfg.image_size}, {cfg.mode} mode, "
            f"mean ± std over {len(seeds)} seed{'s' if len(seeds) != 1 else ''})")


def sweep_setup(sweep: str, smoke_grid: dict, preset: str = "default", data_root: str = "",
                seeds: list | None = None, epochs: int | None = None,
                point_parameters: dict | None = None) -> tuple[dict, dict, dict]:
    """An ablation chapter's sweep: ``(spec, grid, fixed parameters)`` from the sweep file
    ``sweep`` (relative to the project). ``preset``/``data_root`` are passed to every point when
    not the embedded benchmark; ``seeds``/``epochs`` replace the file's when given, and
    ``point_parameters`` (more parameters of the point notebook, e.g. ``{"device": "cuda:1"}``)
    are added. Under ``MLGCN_SMOKE=1``: ``smoke_grid`` and seed 0."""
    from ..paths import PROJECT_ROOT
    from .notebook import smoke_mode
    from .sweep import load_spec

    spec = load_spec(PROJECT_ROOT / sweep)
    fixed = dict(spec["parameters"])
    if preset != "default":
        fixed.update(preset=preset, data_root=data_root)
    fixed.update({k: v for k, v in (("seeds", seeds), ("epochs", epochs)) if v is not None})
    fixed.update(point_parameters or {})
    if smoke_mode():
        return spec, dict(smoke_grid), dict(fixed, seeds=[0])
    return spec, spec["grid"], fixed


def run_ablation(spec: dict, grid: dict, fixed: dict, jobs: int = 1, executor: str = "local",
                 address: str | None = None, gpus_per_point: int | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An ablation chapter's sweep (see :func:`sweep_setup`): ``(tidy table, failed points)``.
    ``executor``/``address``/``gpus_per_point`` as for ``python -m mlgcn_core sweep`` (``"local"``:
    ``jobs`` GPU-pinned processes here; ``"ray"``: one Ray task per point on the cluster at
    ``address``, None or "" for a local one)."""
    from .sweep import run_sweep

    table = run_sweep(spec["notebook"], grid, fixed, jobs=jobs, name=spec["name"], executor=executor,
                      address=address or None, gpus_per_point=gpus_per_point)
    failed = report.failed_points(table)
    print(f"{len(table)} rows; {len(failed)} failed point(s)")
    return table, failed


