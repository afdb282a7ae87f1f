"""The chapters' shared configuration: the compared variants, the one config every training chapter
starts from (:func:`chapter_config`), and the ablation chapters' sweep set-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from . import report

# name → config overrides: the one table of compared models, for every chapter. GMP/GAP: global
# max / average pooling of the same frozen backbone; the ML-GCN rows differ in the graph alone
# (or, for the random and one-hot rows, in the node features): the controls of "Does the graph help?"
_GCN = dict(model="mlgcn", pooling="max", word_vectors="glove6b50d")
VARIANTS: dict[str, dict] = {
    "baseline (GMP)": dict(model="baseline", pooling="max"),
    "baseline (GAP)": dict(model="baseline", pooling="avg"),
    "ML-GCN (binary)": dict(model="mlgcn", graph="binary", pooling="max"),
    "ML-GCN (re-weighted)": dict(model="mlgcn", graph="reweighted", pooling="max"),
    # the paper's graph (Eq. 6-8) from the whole training label corpus instead of the run's annotations
    "ML-GCN (corpus graph)": dict(_GCN, graph="reweighted", graph_labels="corpus"),
    "ML-GCN (identity graph)": dict(_GCN, graph="identity"),  # Â = I: no propagation
    "ML-GCN (shuffled graph)": dict(_GCN, graph="shuffled"),  # P A' Pᵀ: same degrees, wrong labels
    "ML-GCN (shuffled corpus graph)": dict(_GCN, graph="shuffled", graph_labels="corpus"),
    # the same from the label counts the dataset publishes (COCO 2014 train's 82,081 images for the
    # COCO-shaped benchmark), the images staying the run's; and its shuffled twin
    "ML-GCN (public graph)": dict(_GCN, graph="reweighted", graph_labels="public"),
    "ML-GCN (shuffled public graph)": dict(_GCN, graph="shuffled", graph_labels="public"),
    "ML-GCN (oracle graph)": dict(_GCN, graph="oracle"),  # the generator's true P(L_j | L_i)
    "ML-GCN (shuffled oracle)": dict(_GCN, graph="shuffled_oracle"),
    "ML-GCN (random vectors)": dict(_GCN, graph="reweighted", word_vectors="random"),  # drawn per seed
    # one-hot node features and no graph: every label's classifier has parameters of its own — the
    # uncoupled head (the identity graph on GloVe still couples the labels through their vectors)
    "uncoupled (one-hot, identity)": dict(_GCN, graph="identity", word_vectors="onehot"),
}


def run_variants(base, names: list[str], seeds: list[int], jobs: int = 1) -> dict[str, list]:
    """Train (or read back) each variant of :data:`VARIANTS` on ``base`` for every seed:
    ``{variant: [RunResult per seed]}``. ``jobs``: runs trained in parallel processes on the CPU
    (see :func:`mlgcn_core.scheduler.run_many`)."""
    from ..scheduler import run_many

    runs = iter(run_many([base.replace(seed=s, **VARIANTS[n]) for n in names for s in seeds], jobs=jobs))
    return {n: [next(runs) for _ in seeds] for n in names}


def chapter_config(preset: str = "default", data_root: str = "", config: dict | None = None,
                   seeds: list = (0,), smoke_seeds: int = 2, smoke: bool = False):
    """The one configuration every training chapter starts from, and its training seeds.

    Every chapter that trains takes the same three parameters — ``preset``, ``data_root`` and
    ``config`` — and passes them here, so that a book-wide override (``make book
    PARAMS="config.tau=0.3"``) reaches every chapter alike. ``preset`` names a config preset
    (``python -m mlgcn_core presets``; ``default`` is the embedded benchmark); a preset on a real
    dataset needs ``data_root``, the folder made by ``python -m mlgcn_core prepare``. ``config``
    maps fields of :class:`~mlgcn_core.config.ExperimentConfig` to values (``{"tau": 0.3,
    "epochs": 30, "outfits.n_train": 3000}``), type-checked like ``--set``. Changing ``epochs``
    moves the lr steps in proportion (15 of 20 → 4 of 6) unless ``lr_steps`` is given. ``smoke``
    (the book's smoke profile): the tiny benchmark, 3 epochs and the first ``smoke_seeds`` seeds. Chapters
    with the same arguments share their runs (02's runs are reused by 03, 09 and 10, not
    retrained). Returns ``(config, seeds)``."""
    from ..config import load_preset
    from ..data.catalog import dataset

    base = load_preset(preset)
    entry = dataset(base.dataset)
    changes = dict(config or {})
    seeds = list(seeds)
    if not entry.embedded:
        if not data_root:
            raise ValueError(f"preset {preset!r} trains on {base.dataset}: set data_root to the folder "
                             f"made by 'python -m mlgcn_core prepare {base.dataset} …'")
        changes["data_root"] = str(Path(data_root).expanduser().resolve())
    if smoke:
        changes["epochs"], seeds = 3, seeds[:smoke_seeds]
        if entry.embedded:  # the benchmark's smoke settings replace any of its fields
            field = entry.scenes
            changes = {k: v for k, v in changes.items() if k != field and not k.startswith(f"{field}.")}
            changes[field] = dataclasses.asdict(entry.smoke)
    if "epochs" in changes and "lr_steps" not in changes:
        scale = changes["epochs"] / base.epochs
        changes["lr_steps"] = [max(1, int(s * scale)) for s in base.lr_steps]
    return base.with_overrides(changes), seeds


def training_labels(cfg):
    """(n_train, C) {0, 1}: the labels of the training images ``cfg`` trains on (what the
    label-frequency bins count)."""
    from ..data.sources import load_splits, split_labels

    return split_labels(load_splits(cfg).train)


def benchmark_name(cfg) -> str:
    """The name a reader knows ``cfg``'s data by ("Fashion outfits", "PASCAL VOC 2007", …): what the
    first page groups the claims by."""
    from ..data.sources import DATASET_NAMES

    return DATASET_NAMES[cfg.dataset]


def dataset_label(cfg, seeds: list) -> str:
    """The 'ours' column label of a chapter's tables: dataset, backbone, input size, mode, seeds."""
    return (f"ours ({benchmark_name(cfg)}, {cfg.backbone} @ {cfg.image_size}, {cfg.mode} mode, "
            f"mean ± std over {len(seeds)} seed{'s' if len(seeds) != 1 else ''})")


def sweep_setup(sweep: str, smoke_grid: dict, preset: str = "default", data_root: str = "",
                config: dict | None = None, seeds: list | None = None,
                grid: dict | None = None, smoke: bool = False) -> tuple[dict, dict, dict]:
    """An ablation chapter's sweep: ``(spec, grid, fixed parameters)`` from the sweep file
    ``sweep`` (relative to the project). ``preset`` is passed to every point (chapter 02's own
    default is the COCO-shaped benchmark), ``data_root`` when given; ``config`` (training fields,
    as every chapter takes them) is merged over the sweep file's ``config`` and passed to every
    point; ``seeds`` replace the file's when given; ``grid`` replaces the file's values of the axes
    it names (e.g. the paper's full τ grid). ``smoke`` (the book's smoke profile): ``smoke_grid``,
    seed 0, and every point in the smoke profile."""
    from ..paths import PROJECT_ROOT
    from .sweep import load_spec

    spec = load_spec(PROJECT_ROOT / sweep)
    fixed = dict(spec["parameters"])
    fixed["preset"] = preset  # always: the point notebook's own default may be another benchmark
    if data_root:
        fixed["data_root"] = data_root
    if config:
        fixed["config"] = {**fixed.get("config", {}), **config}
    if seeds is not None:
        fixed["seeds"] = seeds
    unknown = sorted(set(grid or {}) - set(spec["grid"]))
    if unknown:
        raise ValueError(f"grid: {unknown} are not axes of {sweep} (its axes: {sorted(spec['grid'])})")
    if smoke:
        return spec, dict(smoke_grid), dict(fixed, seeds=[0], profile="smoke")
    return spec, {**spec["grid"], **(grid or {})}, fixed


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


