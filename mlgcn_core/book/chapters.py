"""The chapters' shared configuration: the compared variants, the one config every training chapter
starts from (:func:`chapter_config`), and the ablation chapters' sweep set-up."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd

from . import report

# name → config overrides: the one table of compared models, for every chapter. GMP/GAP: global
# max / average pooling of the same frozen backbone; the ML-GCN rows differ in the graph alone
# (or, for the random and one-hot rows, in the node features): the controls of "Does the graph help?"
_GCN = dict(model="mlgcn", pooling="max", word_vectors="glove6b50d")
_Q2L_GRAPH = dict(model="query2label_graph", optimizer="adamw", word_vectors="glove6b50d")
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
    # ML-GCN's successors on the frozen map (chapter "Where ML-GCN stands"), each with its official
    # recipe's optimizer (GUIDE §2d): CSRA with SGD; Query2Label and ML-Decoder with AdamW and a
    # one-cycle schedule — every head at the book's weight decay (a book-wide config reaches them all;
    # Query2Label's official 1e-2 is printed as a deviation)
    "CSRA": dict(model="csra"),
    "Query2Label": dict(model="query2label", optimizer="adamw"),
    "ML-Decoder": dict(model="mldecoder", optimizer="adamw"),
    # Query2Label with the label graph: its queries a GCN over the word vectors and the graph
    "Query2Label (graph queries)": dict(_Q2L_GRAPH, graph="reweighted"),
    "Query2Label (shuffled graph queries)": dict(_Q2L_GRAPH, graph="shuffled"),
    "Query2Label (public graph queries)": dict(_Q2L_GRAPH, graph="reweighted", graph_labels="public"),
}


def run_variants(base, names: list[str], seeds: list[int], jobs: int = 1,
                 per_variant: dict | None = None, lengthen: int = 0, tol: float = 0.2) -> dict[str, list]:
    """Train (or read back) each variant of :data:`VARIANTS` on ``base`` for every seed:
    ``{variant: [RunResult per seed]}``. ``jobs``: runs trained in parallel processes on the CPU
    (see :func:`mlgcn_core.scheduler.run_many`).

    ``per_variant`` maps a variant to training fields of its own over ``base`` (e.g. the lr it
    picked on validation: :func:`sweep_lrs`). ``lengthen``: chapter 04's doubling test
    (:func:`~mlgcn_core.book.tuning.doubling_gain`) on the first seed, before the other seeds train
    — the first seed trains at the budget and at twice as many epochs, the lr step at the same share
    (:func:`~mlgcn_core.book.tuning.longer`); where that gains more than ``tol`` validation mAP, the
    variant moves to the doubled budget (its first-seed run: the one just trained) and is tested
    again — ``lengthen`` doublings over ``base``'s epochs in all, those a ``per_variant`` budget
    already made included (a variant :func:`sweep_lrs` lengthened twice at the paper's setting is
    only tested at a point; still gaining, it reads "not converged" there:
    :func:`~mlgcn_core.book.report.variant_convergence` reads the test back). Then every seed trains
    at each variant's final budget. 0: no test, the runs as configured. A config without a
    validation split (``selection`` other than "val") is not tested."""
    from ..scheduler import run_many
    from .tuning import doubling_gain, longer, mean_ap

    own = {n: base.replace(**VARIANTS[n], **(per_variant or {}).get(n, {})) for n in names}
    made = {n: max(0, round(math.log2(own[n].epochs / base.epochs))) for n in names}  # doublings given
    todo = [n for n in names if lengthen and own[n].selection == "val"]
    for round_ in range(int(lengthen) + 1):
        if not todo:
            break
        got = iter(run_many([c for n in todo for c in (own[n].replace(seed=seeds[0]),
                                                       longer(own[n]).replace(seed=seeds[0]))], jobs=jobs))
        pairs = {n: (next(got), next(got)) for n in todo}  # (at the budget, doubled)
        gains = {n: doubling_gain([mean_ap(a, "val")], [mean_ap(b, "val")]) for n, (a, b) in pairs.items()
                 if a.val_metrics}
        todo = [n for n in todo if round_ + made[n] < lengthen and gains.get(n, 0.0) > tol]
        own.update({n: longer(own[n]) for n in todo})
    runs = iter(run_many([own[n].replace(seed=s) for n in names for s in seeds], jobs=jobs))
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
                grid: dict | None = None, smoke: bool = False, scenes: int | None = None,
                steps: int | None = None, all_levels: bool = True) -> tuple[dict, dict, dict]:
    """An ablation chapter's sweep: ``(spec, grid, fixed parameters)`` from the sweep file
    ``sweep`` (relative to the project). ``preset`` is passed to every point (chapter 02's own
    default is the COCO-shaped benchmark), ``data_root`` when given. Every point trains on
    ``scenes`` training scenes (a seeded subset of the embedded benchmark's split, as chapter 04's
    size regime draws it; None or the whole split: all of them) for about ``steps`` optimizer steps
    (:func:`~mlgcn_core.book.tuning.budget`; None: the preset's epochs). ``config`` (training
    fields, as every chapter takes them) is merged over those and the sweep file's ``config``;
    ``seeds`` replace the file's when given; ``grid`` replaces the file's values of the axes it
    names (e.g. the paper's full τ grid). ``all_levels`` False: the sweep file's ``book_grid`` (the
    default build's cut levels) over its ``grid`` on an embedded benchmark (prepared real data, on
    a GPU, runs every level). ``smoke`` (the book's smoke profile):
    ``smoke_grid``, seed 0, and every point in the smoke profile (its tiny benchmark and epochs)."""
    from ..data.catalog import dataset
    from ..paths import PROJECT_ROOT
    from .sweep import load_spec
    from .tuning import budget

    spec = load_spec(PROJECT_ROOT / sweep)
    fixed = dict(spec["parameters"])
    fixed["preset"] = preset  # always: the point notebook's own default may be another benchmark
    if data_root:
        fixed["data_root"] = data_root
    unknown = sorted(set(grid or {}) - set(spec["grid"]))
    if unknown:
        raise ValueError(f"grid: {unknown} are not axes of {sweep} (its axes: {sorted(spec['grid'])})")
    if seeds is not None:
        fixed["seeds"] = seeds
    if smoke:
        fixed["config"] = {**fixed.get("config", {}), **(config or {})}
        return spec, dict(smoke_grid), dict(fixed, seeds=[0], profile="smoke")
    base, _ = chapter_config(preset, data_root, fixed.get("config"))
    n, full = _split_size(base, scenes)
    sized = {"train_scenes": n} if n is not None else {}
    if steps and (n or full):
        sized.update(budget(n or full, steps, base.batch_size))
        sized["lr_steps"] = list(sized["lr_steps"])
    fixed["config"] = {**fixed.get("config", {}), **sized, **(config or {})}
    cut = not all_levels and dataset(base.dataset).embedded  # book_grid: the laptop's embedded benchmarks
    levels = {**spec["grid"], **spec.get("book_grid", {})} if cut else spec["grid"]
    return spec, {**levels, **(grid or {})}, fixed


def _split_size(base, scenes: int | None) -> tuple[int | None, int | None]:
    """``(train_scenes, the split's size)`` for ``scenes`` on an embedded benchmark: ``train_scenes``
    None for its whole training split; ``(None, None)`` on prepared data (every training image)."""
    from ..data.catalog import dataset, scene_settings

    if not dataset(base.dataset).embedded:
        return None, None
    full = scene_settings(base).n_train
    if scenes is None or int(scenes) == full:
        return None, full
    if int(scenes) > full:
        raise ValueError(f"sweep_scenes: {scenes} > the benchmark's {full} training scenes")
    return int(scenes), full


def sweep_lrs(fixed: dict, lrs: list[float], jobs: int = 2, extend: int = 2, lengthen: int = 2,
              smoke: bool = False) -> tuple[dict, pd.DataFrame]:
    """The learning rate (and the length) each variant of an ablation sweep trains with at every
    point: picked on the validation split at the paper's setting of that benchmark (the preset's
    τ, p, depth and word vectors, with the sweep's fixed config), by chapter 04's protocol on the
    first seed (:func:`~mlgcn_core.book.tuning.tuned_runs`: the grid ``lrs`` grown past an edge
    pick at most ``extend`` times; a variant that still gains when trained twice as long moves to
    that budget, at most ``lengthen`` times). Returns ``(per_variant, lr grid)``: ``{variant: {"lr", "epochs",
    "lr_steps"}}`` for chapter 02's ``per_variant`` parameter, and the grid laid open
    (:func:`~mlgcn_core.book.tuning.lr_grid`). The picked run is the sweep's own run at that point
    and seed (same run key), so nothing is trained twice. A preset that keeps no validation split
    (the paper presets' selection "last") has nothing to pick on: ``({}, empty grid)``, the preset's lr."""
    from ..runs import load_run
    from .tuning import Cell, lr_grid, mean_ap, tuned_runs

    base, seeds = chapter_config(fixed["preset"], fixed.get("data_root", ""), fixed.get("config"),
                                 fixed["seeds"], smoke_seeds=1, smoke=smoke)
    if base.selection != "val":  # the paper presets' protocol (selection "last"): no validation split
        print(f"preset {fixed['preset']!r} keeps no validation split (selection {base.selection!r}): every "
              f"variant trains at the preset's lr {base.lr:g} for its {base.epochs} epochs, as in the paper")
        return {}, lr_grid(pd.DataFrame())
    cells = [Cell("sweep", "paper's setting", v, base.replace(**VARIANTS[v]), base.epochs) for v in fixed["variants"]]
    frame = tuned_runs(cells, seeds[:1], lrs, mean_ap, tune_seeds=1, jobs=jobs,
                       extend=0 if smoke else extend, lengthen=0 if smoke else lengthen)
    per_variant = {}
    for r in frame.itertuples():
        cfg = load_run(r.run).config
        per_variant[r.variant] = {"lr": float(r.lr), "epochs": int(cfg.epochs), "lr_steps": list(cfg.lr_steps)}
    return per_variant, lr_grid(frame)


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


