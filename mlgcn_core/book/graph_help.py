"""Does the label graph help, and when? The controls, the regimes and the verdicts of the chapter
"Does the graph help?" (issue F).

Controls (same frozen features, word vectors and recipe; only the graph differs, :data:`VARIANTS`):
the co-occurrence graph (re-weighted, Eq. 6–8, the paper's τ and p), the identity graph (Â = I,
no propagation), a shuffled graph (P A' Pᵀ: the same edges with the labels permuted — same
degrees, wrong semantics), the oracle graph (Eq. 7–8 on the generator's *true* P(L_j | L_i)), and
random word vectors on the co-occurrence graph; the GMP baseline beside them.

Regimes where a prior should matter, each a function returning a tidy frame (one row per regime
level × variant × seed: ``regime``, ``level``, ``variant``, ``seed``, ``lr`` (the picked one),
``steps``, ``score`` (the regime's headline metric, test), ``val_score`` (what picked the lr),
``mAP``, ``run``):

* :func:`size_regime` — training-set size with a fair budget: the same number of optimizer steps
  at every size (:func:`fair_budget`) and the learning rate picked per (variant, size) on the
  validation split (:func:`pick_lr`); ``score`` = test mAP.
* :func:`rare_regime` — only K training positives for a few labels (their co-occurrence with the
  others intact; the graph built from that reduced split); ``score`` = test AP on those labels,
  ``rest_mAP`` = mAP on the others.
* :func:`context_regime` — AP on heavily occluded garments (:func:`occluded_ap`), read off the
  size regime's runs: no extra training.

Settings (:func:`settings`) and why they are what they are
-----------------------------------------------------------
A run here is a head on cached features: 300 SGD steps of batch 100, validation and test evaluated
once at the end (``selection="last"``). The training subsets are rows of the cached features of
the full training split (``train_scenes`` / ``rare_labels``), so no regime extracts features
again. The size regime is 4 sizes × 6 variants × a 3-value lr grid × 5 seeds = 360 runs; the
rare-label regime reuses the size regime's lr picked at the full size for each variant instead of
a grid of its own (a grid there would triple its 90 runs; its ≈ 3,000-scene training split lies
within the range where the size regime picked the lr); the context regime trains nothing. Both
trained regimes use 5 seeds (a verdict needs ≥ 3 with spread). Wall times: see the report of the
issue-F helper (measured under heavy contention on this 2-core machine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .findings import (
    HELD,
    MIN_SEEDS,
    NOT_HELD,
    TOO_FEW,
    interval_text,
    judge,
    paired_interval,
)

# name → config overrides: only the graph (or the word vectors) differs between the ML-GCN rows
VARIANTS: dict[str, dict] = {
    "baseline (GMP)": dict(model="baseline", pooling="max"),
    "co-occurrence": dict(model="mlgcn", graph="reweighted", word_vectors="glove6b50d"),
    "identity": dict(model="mlgcn", graph="identity", word_vectors="glove6b50d"),
    "shuffled": dict(model="mlgcn", graph="shuffled", word_vectors="glove6b50d"),
    "oracle": dict(model="mlgcn", graph="oracle", word_vectors="glove6b50d"),
    "co-occurrence, random vectors": dict(model="mlgcn", graph="reweighted", word_vectors="random"),
}
# (comparison, a, b): the verdict table's rows, a − b per seed
COMPARISONS: list[tuple[str, str, str]] = [
    ("co-occurrence − baseline (GMP)", "co-occurrence", "baseline (GMP)"),
    ("co-occurrence − identity", "co-occurrence", "identity"),
    ("co-occurrence − shuffled", "co-occurrence", "shuffled"),
    ("oracle − identity", "oracle", "identity"),
    ("GloVe − random vectors (co-occurrence graph)", "co-occurrence", "co-occurrence, random vectors"),
]
RARE_LABELS = ("coat", "sandal")


MAIN_VARIANTS = ("baseline (GMP)", "co-occurrence", "identity", "oracle")  # every level, lr grid each
CONTROL_VARIANTS = ("shuffled", "co-occurrence, random vectors")  # at the co-occurrence graph's lr


def settings(sizes=(100, 6000), steps: int = 100, batch_size: int = 300, lrs=(0.02, 0.08),
             control_sizes=(100,), positives=(5,), threshold: float = 0.5, smoke: bool | None = None) -> dict:
    """The chapter's settings per regime, from its parameters cell (tiny ones under
    ``MLGCN_SMOKE=1`` or ``smoke=True``, for the book's smoke test).

    Why these defaults — the book's budget (measured 2026-11-29 on the 2-core CPU): a run here is a
    head on cached features; 140 runs of 150 steps of batch 200 (three sizes, 100 / 1,000 / 6,000
    scenes, four variants, two lrs, five seeds, plus the two pure controls at two sizes) took 3 min
    26 s, and the rare-label regime at K = 5 and 20 another 61 s — more than the whole book can
    spend on this chapter within its 10 minutes. So the default build runs: two sizes (100 and
    6,000 scenes) instead of a curve, 100 steps of batch 300 (the same 30,000 examples), the two
    pure controls (shuffled graph, random vectors) at 100 scenes only and at the lr the
    co-occurrence graph picked there (they differ from it in the graph or the vectors alone), and
    the rare-label regime at K = 5 only. Seeds are not cut: 5 per comparison. The parameters
    restore the curve (``make book PARAMS="sizes=[100,300,1000,6000] rare_positives=[5,20,50]"``).

    * ``size``: :func:`size_regime`'s arguments; ``control_sizes``; ``rare``: :func:`rare_regime`'s;
      ``context``: :func:`context_regime`'s (``threshold``: under this share of a garment visible);
    * ``rare`` labels: ``RARE_LABELS`` = coat and sandal — two labels with strong partners (coat →
      ankle boot P = 0.82, pullover 0.41; sandal ← t-shirt 0.41, dress 0.36 — the generator's true
      P(L_j | L_i)) that never share a scene (a sandal is never worn with a coat), so each label's
      K kept scenes are an unbiased sample of its scenes and its partners keep all their data."""
    if smoke is None:
        from .notebook import smoke_mode

        smoke = smoke_mode()
    if smoke:
        sizes, steps, batch_size, lrs, control_sizes, positives = (30, 300), 50, 30, (0.01, 0.1), (30,), (5,)
    return {"size": dict(sizes=tuple(sizes), steps=steps, batch_size=batch_size, lrs=tuple(lrs)),
            "control_sizes": tuple(control_sizes),
            "rare": dict(labels=RARE_LABELS, positives=tuple(positives), steps=steps, batch_size=batch_size),
            "context": dict(threshold=threshold, min_positives=3 if smoke else 20)}


# --- fair budgets and the lr choice ---------------------------------------------------------------

def steps_per_epoch(n_scenes: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over ``n_scenes`` (the last batch may be smaller)."""
    return math.ceil(int(n_scenes) / int(batch_size))


def fair_budget(n_scenes: int, steps: int, batch_size: int, decay_at: float = 0.8) -> dict:
    """Config fields that train ``n_scenes`` for exactly ``steps`` optimizer steps, the lr × 0.1
    after ``decay_at`` of them: ``{"epochs", "lr_steps"}``. Raises ValueError when ``steps`` (or
    the decay step) is not a whole number of epochs at this size and batch (then no size would
    get the same budget as the others)."""
    per = steps_per_epoch(n_scenes, batch_size)
    decay = decay_at * steps
    if steps % per or abs(decay - round(decay)) > 1e-9 or round(decay) % per:
        raise ValueError(f"steps={steps} (decay after {decay:g}) is not a whole number of epochs of "
                         f"{per} steps ({n_scenes} scenes, batch {batch_size}); pick steps so that "
                         f"{per} divides both")
    epochs = steps // per
    return {"epochs": epochs, "lr_steps": (max(1, int(round(decay)) // per),) if decay_at < 1 else (epochs + 1,)}


def pick_lr(frame: pd.DataFrame, by: Sequence[str] = ("level", "variant")) -> pd.DataFrame:
    """Per group of ``by``, the rows of the learning rate with the highest mean ``val_score`` over
    seeds (ties: the smaller lr) — the choice is made on the validation split only; the picked
    rows' test ``score`` is what gets reported. Adds nothing, drops the other lrs' rows."""
    by = list(by)
    mean = frame.groupby(by + ["lr"], sort=False)["val_score"].mean().reset_index()
    mean = mean.sort_values(by + ["val_score", "lr"], ascending=[True] * len(by) + [False, True])
    best = mean.drop_duplicates(by)[by + ["lr"]]
    return frame.merge(best, on=by + ["lr"]).reset_index(drop=True)


def _train(configs: list, jobs: int) -> list:
    from ..scheduler import run_many

    return run_many(configs, jobs=jobs)


def _rows(cells: list[dict], configs: list, jobs: int, score) -> pd.DataFrame:
    """Train ``configs`` (one per cell) and make the tidy rows: cell fields + ``score(run, split)``."""
    runs = _train(configs, jobs)
    rows = []
    for cell, r in zip(cells, runs):
        rows.append({**cell, "seed": r.config.seed, "lr": r.config.lr, "steps": cell["steps"],
                     "val_score": score(r, "val"), "score": score(r, "test"),
                     "mAP": float(r.metrics["mAP"]), "run": str(r.path)})
    return pd.DataFrame(rows)


def _mAP(run, split: str) -> float:
    return float((run.metrics if split == "test" else run.val_metrics)["mAP"])


# --- the regimes -----------------------------------------------------------------------------------

def size_regime(base, seeds: Sequence[int], sizes: Sequence[int] = (100, 300, 1000, 6000),
                steps: int = 300, batch_size: int = 100, lrs: Sequence[float] = (0.01, 0.03, 0.1),
                variants: Sequence[str] = tuple(VARIANTS), jobs: int = 2) -> pd.DataFrame:
    """Training-set size with a fair budget: every (size, variant, lr, seed) trains for exactly
    ``steps`` optimizer steps of ``batch_size`` (:func:`fair_budget`) on a random subset of
    ``size`` training scenes drawn with the seed (``train_scenes``; the full split at its own size);
    validation and test splits unchanged; the final epoch is the model (``selection="last"``).
    The lr is picked per (size, variant) on validation mAP (:func:`pick_lr`); the returned rows
    are the picked lr's runs (``regime`` = "training scenes", ``level`` = size, ``score`` = test
    mAP). The whole grid's validation means are in ``frame.attrs["lr_grid"]``."""
    full = base.outfits.n_train
    cells, configs = [], []
    for n in sizes:
        if n > full:
            raise ValueError(f"sizes: {n} > the benchmark's {full} training scenes")
        budget = fair_budget(n, steps, batch_size)
        for v in variants:
            for lr in lrs:
                for s in seeds:
                    configs.append(base.replace(
                        seed=s, lr=float(lr), batch_size=batch_size, selection="last", warmup_epochs=0,
                        train_scenes=None if n == full else int(n), **budget, **VARIANTS[v]))
                    cells.append({"regime": "training scenes", "level": int(n), "variant": v,
                                  "steps": budget["epochs"] * steps_per_epoch(n, batch_size)})
    grid = _rows(cells, configs, jobs, _mAP)
    out = pick_lr(grid)
    out.attrs["lr_grid"] = lr_grid(grid)
    return out


def lr_grid(grid: pd.DataFrame) -> pd.DataFrame:
    """Mean validation and test score per (level, variant, lr) over seeds — the lr choice laid open."""
    return (grid.groupby(["level", "variant", "lr"], sort=False)[["val_score", "score"]].mean()
            .round(2).reset_index())


def picked_lrs(frame: pd.DataFrame) -> dict[tuple[int, str], float]:
    """``{(level, variant): lr}`` of a regime frame (one lr per group after :func:`pick_lr`)."""
    return {(lvl, v): float(g["lr"].iloc[0]) for (lvl, v), g in frame.groupby(["level", "variant"])}


def lrs_at(frame: pd.DataFrame, level) -> dict[str, float]:
    """``{variant: lr}`` picked at ``level`` of a regime frame (e.g. the size regime's full size)."""
    return {v: lr for (lvl, v), lr in picked_lrs(frame).items() if lvl == level}


def control_regime(base, seeds: Sequence[int], size_frame: pd.DataFrame, sizes: Sequence[int],
                   steps: int, batch_size: int, variants: Sequence[str] = CONTROL_VARIANTS,
                   jobs: int = 2) -> pd.DataFrame:
    """The pure controls (shuffled graph, random word vectors) at ``sizes`` of the size regime, each
    at the lr the co-occurrence graph picked there on validation: they differ from that model in
    the graph or the vectors alone, so its lr is theirs (no grid of their own). Rows as
    :func:`size_regime`'s, to be concatenated with them."""
    full = base.outfits.n_train
    cells, configs = [], []
    for n in sizes:
        lr = lrs_at(size_frame, int(n))["co-occurrence"]
        budget = fair_budget(n, steps, batch_size)
        for v in variants:
            for s in seeds:
                configs.append(base.replace(seed=s, lr=float(lr), batch_size=batch_size, selection="last",
                                            warmup_epochs=0, train_scenes=None if n == full else int(n),
                                            **budget, **VARIANTS[v]))
                cells.append({"regime": "training scenes", "level": int(n), "variant": v,
                              "steps": budget["epochs"] * steps_per_epoch(n, batch_size)})
    return _rows(cells, configs, jobs, _mAP)


def learned_frame(runs: dict[str, list]) -> pd.DataFrame:
    """The features-learned runs (``{"baseline (GMP)": [...], "ML-GCN (re-weighted)": [...]}``, top
    mode, :mod:`mlgcn_core.book.learned_features`) as regime rows: ``regime`` = "features learned",
    the ML-GCN row named "co-occurrence" like the other regimes', ``score`` = test mAP."""
    names = {"baseline (GMP)": "baseline (GMP)", "ML-GCN (re-weighted)": "co-occurrence"}
    return pd.DataFrame([{"regime": "features learned", "level": "top", "variant": names[v], "seed": r.config.seed,
                          "lr": r.config.lr, "steps": None, "score": float(r.metrics["mAP"]),
                          "val_score": float(r.val_metrics.get("mAP", float("nan"))),
                          "mAP": float(r.metrics["mAP"]), "run": str(r.path)}
                         for v, rs in runs.items() for r in rs])


def regime_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds of ``score`` per level (rows) and variant (columns), and the seeds."""
    g = frame.groupby(["level", "variant"], sort=False)["score"]
    cell = (g.mean().round(2).astype(str) + " ± " + g.std(ddof=1).fillna(0).round(2).astype(str))
    out = cell.unstack("variant")
    out.insert(0, "seeds", g.size().groupby(level=0).max())
    return out


CLAIM_ROWS = [("co-occurrence − baseline (GMP)", "ML-GCN above the GMP baseline"),
              ("co-occurrence − identity", "the co-occurrence graph above no graph (identity)")]


def claims(table: pd.DataFrame) -> list[dict]:
    """The chapter's rows for the book's first page (the fields of
    :func:`mlgcn_core.book.findings.claim`): for each regime at its hardest level (fewest scenes or
    positives; the one level of the others), ML-GCN against the GMP baseline and the co-occurrence
    graph against the identity graph, with the verdict table's interval and verdict."""
    out = []
    for regime, g in table.groupby("regime", sort=False):
        level = g["level"].min() if regime in ("training scenes", "rare labels") else g["level"].iloc[0]
        for comparison, text in CLAIM_ROWS:
            row = g[(g.level == level) & (g.comparison == comparison)]
            if len(row):
                paper = "+1.1 COCO, +1.0 VOC (authors' README)" if "baseline" in comparison else "—"
                out.append({"claim": f"{text}: {regime}, {level}", "paper": paper,
                            "here": row["interval"].iloc[0], "verdict": row["verdict"].iloc[0]})
    return out


def rare_regime(base, seeds: Sequence[int], labels: Sequence[str] = RARE_LABELS,
                positives: Sequence[int] = (5, 20, 50), steps: int = 300, batch_size: int = 100,
                lrs: dict[str, float] | None = None, variants: Sequence[str] = tuple(VARIANTS),
                jobs: int = 2) -> pd.DataFrame:
    """Rare labels: only K ∈ ``positives`` training scenes hold each of ``labels`` (the others with
    them dropped; the K drawn with the seed, the other scenes and their labels untouched), and the
    label graph is built from that reduced split. ``score`` = test AP (mean over ``labels``),
    ``val_score`` the same on validation, ``rest_mAP`` = test mAP over the other labels.

    Budget: ≈ ``steps`` steps of ``batch_size`` for every variant at a (K, seed) — epochs =
    round(steps / steps per epoch) of that reduced split (the variants compared at a K train on
    the same scenes for the same steps). ``lrs``: ``{variant: lr}`` (e.g. the size regime's picks
    at the full size, :func:`picked_lrs`); default: ``base.lr``."""
    from ..data.outfits import CLASSES, load_outfits
    from ..data.sources import outfit_training_rows

    rare = [CLASSES.index(n) for n in labels]
    rest = [c for c in range(len(CLASSES)) if c not in rare]
    train_labels = load_outfits(base.outfits)["train"]["labels"]

    def score(run, split: str) -> float:
        ap = np.asarray((run.metrics if split == "test" else run.val_metrics)["AP"], dtype=float)
        return float(np.nanmean(ap[rare]))

    cells, configs = [], []
    for k in positives:
        for s in seeds:
            probe = base.replace(seed=s, rare_labels=tuple(labels), rare_positives=int(k))
            n = len(outfit_training_rows(probe, train_labels))
            per = steps_per_epoch(n, batch_size)
            epochs = max(1, round(steps / per))
            lr_steps = (max(1, round(0.8 * epochs)),)
            for v in variants:
                lr = (lrs or {}).get(v, base.lr)
                configs.append(probe.replace(lr=float(lr), batch_size=batch_size, selection="last",
                                             warmup_epochs=0, epochs=epochs, lr_steps=lr_steps,
                                             **VARIANTS[v]))
                cells.append({"regime": "rare labels", "level": int(k), "variant": v,
                              "steps": epochs * per, "train_scenes": n})
    out = _rows(cells, configs, jobs, score)
    out["rest_mAP"] = [float(np.nanmean(np.asarray(_load(p).metrics["AP"], dtype=float)[rest]))
                       for p in out["run"]]
    return out


def _load(path: str):
    from ..runs import load_run

    return load_run(path)


# --- context: heavily occluded garments --------------------------------------------------------------

def occluded_ap(scores: np.ndarray, targets: np.ndarray, visibility: np.ndarray, threshold: float = 0.5,
                min_positives: int = 20) -> dict:
    """AP on heavily occluded garments: per class, the positives are the scenes where the garment
    is present with ``visibility`` < ``threshold`` (less than that share of its painted pixels
    visible), the negatives the scenes without it; the present, well visible ones are left out.
    ``scores``, ``targets``, ``visibility``: (n, C). Returns ``mAP`` (percent; mean over the classes
    with ≥ ``min_positives`` occluded positives; NaN when none has), ``AP`` (C,) percent (NaN for
    classes with too few), ``positives`` (C,) the occluded positives per class."""
    from ..metrics import average_precision

    targets = np.asarray(targets).astype(bool)  # (n, C)
    vis = np.nan_to_num(np.asarray(visibility, dtype=float), nan=1.0)  # (n, C); absent → visible
    occluded = targets & (vis < threshold)  # (n, C)
    counts = occluded.sum(0)  # (C,)
    enough = counts >= min_positives
    ap = np.full(targets.shape[1], np.nan)
    if enough.any():
        cols = np.flatnonzero(enough)
        ap[cols] = 100.0 * average_precision(np.asarray(scores)[:, cols], targets[:, cols],
                                             difficult=(targets & ~occluded)[:, cols])
    return {"mAP": float(np.nanmean(ap)) if enough.any() else float("nan"), "AP": ap,
            "positives": counts}


def context_regime(size_frame: pd.DataFrame, threshold: float = 0.5, min_positives: int = 20,
                   levels: Sequence[int] | None = None) -> pd.DataFrame:
    """Context, from the size regime's runs (no extra training): per run at each of ``levels``
    (default: the largest size), ``score`` = AP on heavily occluded test garments
    (:func:`occluded_ap`), ``val_score`` the same on validation; ``regime`` = "context",
    ``level`` = the training-set size. The garments' visibility is the generator's record."""
    from ..data.outfits import load_visibility
    from .analysis import run_outputs

    levels = [int(size_frame["level"].max())] if levels is None else list(levels)
    rows = []
    for _, row in size_frame[size_frame["level"].isin(levels)].iterrows():
        run = _load(row["run"])
        vis = load_visibility(run.config.outfits)
        got = {}
        for split in ("val", "test"):
            out = run_outputs(run, split)
            got[split] = occluded_ap(out["scores"], out["targets"], vis[split], threshold, min_positives)
        rows.append({**{k: row[k] for k in ("level", "variant", "seed", "lr", "steps", "mAP", "run")},
                     "regime": "context", "val_score": got["val"]["mAP"], "score": got["test"]["mAP"],
                     "classes": int(np.isfinite(got["test"]["AP"]).sum())})
    return pd.DataFrame(rows)


# --- verdicts ----------------------------------------------------------------------------------------

def verdict_table(frames: pd.DataFrame | Sequence[pd.DataFrame], comparisons=COMPARISONS,
                  min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """One row per (regime, level, comparison): the paired per-seed difference a − b of ``score``
    (:func:`~mlgcn_core.book.findings.paired_interval`), its 95 % interval, the seeds and the
    verdict (:func:`~mlgcn_core.book.findings.judge`: held / not held / not enough seeds to judge).
    Comparisons whose variants did not run are left out."""
    frame = frames if isinstance(frames, pd.DataFrame) else pd.concat(list(frames), ignore_index=True)
    rows = []
    for (regime, level), g in frame.groupby(["regime", "level"], sort=False):
        for name, a, b in comparisons:
            pa = g[g.variant == a].set_index("seed")["score"]
            pb = g[g.variant == b].set_index("seed")["score"]
            if pa.empty or pb.empty:
                continue
            d = paired_interval((pa - pb).dropna().tolist())
            rows.append({"regime": regime, "level": level, "comparison": name,
                         "difference": round(d["mean"], 2), "lo": round(d["lo"], 2),
                         "hi": round(d["hi"], 2), "seeds": d["n"], "verdict": judge(d, min_seeds),
                         "interval": interval_text(d)})
    return pd.DataFrame(rows, columns=["regime", "level", "comparison", "difference", "lo", "hi",
                                       "seeds", "verdict", "interval"])


def paper_scale() -> pd.DataFrame:
    """The paper-scale evidence to show beside the verdict table (mAP points, ResNet-101 @ 448,
    features learned end to end; single published numbers, no interval): the paper's margin over
    its GAP baseline and the authors' over GMP (:mod:`mlgcn_core.book.reference`)."""
    from .reference import OFFICIAL_README_SOURCE, margins

    rows = []
    for dataset, name in (("coco2014", "MS-COCO"), ("voc2007", "VOC 2007")):
        m = margins(dataset)
        rows += [{"evidence": f"paper, Tables 1–2 ({name})", "comparison": "ML-GCN − ResNet-101 (GAP)",
                  "difference": m["paper_over_gap"]},
                 {"evidence": f"{OFFICIAL_README_SOURCE.split(' (')[0]} ({name})",
                  "comparison": "ML-GCN − ResNet-101 (GMP)", "difference": m["authors_over_gmp"]}]
    return pd.DataFrame(rows).round(1)


GRAPH_TESTS = ("co-occurrence − identity", "co-occurrence − shuffled", "oracle − identity")


def graph_reading(table: pd.DataFrame, regime: str, level) -> str:
    """What one (regime, level) of :func:`verdict_table` says about the graph: ``"helps"`` when the
    co-occurrence graph beats both identity and shuffled, or the oracle beats identity (held);
    ``"nothing"`` when every such comparison was judged and none held; ``"too few seeds"``
    otherwise (some were not judged); ``"not isolated"`` when no control ran there (only ML-GCN
    against the baseline)."""
    g = table[(table.regime == regime) & (table.level == level)].set_index("comparison")["verdict"]
    v = {k: g.get(k) for k in GRAPH_TESTS}
    if all(x is None for x in v.values()):
        return "not isolated"
    if (v["co-occurrence − identity"] == HELD and v["co-occurrence − shuffled"] == HELD) or \
            v["oracle − identity"] == HELD:
        return "helps"
    if all(x in (HELD, NOT_HELD) for x in v.values() if x is not None) and any(
            x is not None for x in v.values()):
        return "nothing"
    return "too few seeds"


def graph_sentences(table: pd.DataFrame, units: dict[str, str] | None = None) -> str:
    """One Markdown bullet per regime: at which levels the true graph (co-occurrence or oracle)
    beats identity and shuffled, and where it contributes nothing (:func:`graph_reading`).
    ``units``: how to name a regime's levels (default: scenes / positives / scenes)."""
    units = {"training scenes": "training scenes", "rare labels": "training positives",
             "context": "training scenes", **(units or {})}
    lines = []
    for regime, g in table.groupby("regime", sort=False):
        levels = list(dict.fromkeys(g["level"]))
        read = {lvl: graph_reading(table, regime, lvl) for lvl in levels}
        unit = units.get(regime, "")
        fmt = lambda ls: ", ".join(f"{lvl:,}" if isinstance(lvl, (int, np.integer)) else str(lvl)  # noqa: E731
                                   for lvl in ls)
        nothing = [lvl for lvl in levels if read[lvl] == "nothing"]
        helps = [lvl for lvl in levels if read[lvl] == "helps"]
        few = [lvl for lvl in levels if read[lvl] == "too few seeds"]
        alone = [lvl for lvl in levels if read[lvl] == "not isolated"]
        parts = []
        for lvl in alone:
            row = g[(g.level == lvl) & (g.comparison == "co-occurrence − baseline (GMP)")]
            if len(row):
                parts.append(f"ML-GCN − baseline (GMP): {row['interval'].iloc[0]}, **{row['verdict'].iloc[0]}** "
                             "(no graph control ran in this regime: the graph's own share is not isolated)")
        levels = [lvl for lvl in levels if lvl not in alone]
        if not levels:
            pass
        elif nothing and not helps and not few:
            parts.append(f"the true graph (co-occurrence or oracle) is not better than the identity "
                         f"and shuffled graphs at any level ({fmt(nothing)} {unit}): **the graph "
                         "contributes nothing in this regime**")
        else:
            if helps:
                parts.append(f"the true graph beats the identity and shuffled graphs at {fmt(helps)} {unit}")
            if nothing:
                parts.append(f"at {fmt(nothing)} {unit} it is not better than identity and shuffled: "
                             "**the graph contributes nothing there**")
            if few:
                parts.append(f"at {fmt(few)} {unit} there are too few seeds to judge")
        worse = g[(g.comparison.isin(GRAPH_TESTS)) & (g.hi < 0)]
        if len(worse):
            parts.append("the true graph is *below* its control in "
                         + "; ".join(f"{c} at {fmt([lvl])}" for c, lvl in zip(worse.comparison, worse.level)))
        lines.append(f"* **{regime}**: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many rows of :func:`verdict_table` got each verdict (for the book's findings page)."""
    return {k: int((table.verdict == k).sum()) for k in (HELD, NOT_HELD, TOO_FEW)}
