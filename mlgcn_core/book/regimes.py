"""Does the label graph help, and when? The regimes of the chapter "Does the graph help?": what
each compares (named here, before anything runs), how its runs are trained to convergence with a
learning rate picked on validation per variant, and the tidy frames the verdicts are read from.

Every regime trains heads on the frozen backbone's cached features; the compared models are rows
of the one variant table, :data:`mlgcn_core.book.chapters.VARIANTS`. A regime frame has one row
per (regime, level, variant, seed): ``lr`` (the picked one), ``steps``, ``score`` (the regime's
test metric), ``val_score`` (the same on validation: what picked the lr), ``mAP`` (test), ``run``.

* :data:`SIZE` — training-set size; at the largest size the runs use chapter 02's recipe, so the
  re-weighted graph and the GMP baseline at chapter 02's lr *are* chapter 02's runs.
* :data:`OCCLUSION` — AP on garments by the share of them left visible, read off the size
  regime's runs at the largest size (no training).
* :data:`RARE` — K training scenes kept for each of two labels; the graph from those scenes, from
  the whole training label corpus (label sets are cheap), that corpus graph shuffled (same degrees,
  labels permuted: is it the right edges, or any graph that dense?), the oracle and a shuffled
  oracle.
* :data:`MISSING` — a share of two labels' training annotations hidden (the images stay); the
  graph from the annotations at hand or from the clean label corpus; tested on clean labels.

Every regime also compares with the GMP baseline what a practitioner can build there (kind
"practitioner": the corpus graph where it runs, the uncoupled head — beside ML-GCN − GMP, the
paper's comparison, Table 1 and the official README): a graph's gain over another graph says
nothing of whether either is worth building.

How each regime is trained — its lr picked on validation per variant, controls included, and
trained until twice the training no longer gains — is :mod:`mlgcn_core.book.tuning`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..metrics import FREQUENCY_BINS
from .chapters import VARIANTS
from .tuning import Cell, budget, mean_ap, steps_per_epoch, tuned_runs

GMP, RW = "baseline (GMP)", "ML-GCN (re-weighted)"
CORPUS, IDENTITY = "ML-GCN (corpus graph)", "ML-GCN (identity graph)"
SHUFFLED, SHUFFLED_CORPUS = "ML-GCN (shuffled graph)", "ML-GCN (shuffled corpus graph)"
ORACLE, SHUFFLED_ORACLE = "ML-GCN (oracle graph)", "ML-GCN (shuffled oracle)"
RANDOM, UNCOUPLED = "ML-GCN (random vectors)", "uncoupled (one-hot, identity)"
PUBLIC, SHUFFLED_PUBLIC = "ML-GCN (public graph)", "ML-GCN (shuffled public graph)"

CSRA, Q2L, MLD = "CSRA", "Query2Label", "ML-Decoder"
Q2L_GRAPH, Q2L_SHUFFLED = "Query2Label (graph queries)", "Query2Label (shuffled graph queries)"
Q2L_PUBLIC = "Query2Label (public graph queries)"

# each true graph's control with the same edge weights on permuted labels: wherever a true graph is
# credited, its twin runs beside it (tests/test_regimes.py checks every regime)
SHUFFLED_TWIN = {RW: SHUFFLED, CORPUS: SHUFFLED_CORPUS, ORACLE: SHUFFLED_ORACLE, PUBLIC: SHUFFLED_PUBLIC,
                 Q2L_GRAPH: Q2L_SHUFFLED}

# what a comparison asks: the prose keeps these apart
KINDS = {"baseline": "ML-GCN against the GMP baseline", "graph": "graph against no graph",
         "right": "right graph against a wrong one (same degrees, labels permuted)",
         "corpus": "graph from the label corpus against the graph from the annotations at hand",
         "vectors": "word semantics against random node features",
         "coupling": "label coupling through the word vectors alone",
         "practitioner": "what a practitioner can build against the GMP baseline",
         "successor": "a successor's head against ML-GCN, each tuned alike on the same features"}


@dataclass(frozen=True)
class Comparison:
    """The paired difference ``a − b`` of a regime's score, per seed; ``kind``: a key of :data:`KINDS`."""

    a: str
    b: str
    kind: str

    @property
    def name(self) -> str:
        return f"{self.a} − {self.b}"


@dataclass(frozen=True)
class Regime:
    """One regime of the chapter: its variants, its comparisons and, among them, its primary
    comparison — fixed here, before anything runs, so the family of verdicts is fixed in advance."""

    name: str
    unit: str  # how its levels read ("training scenes", …)
    score: str  # what ``score`` measures
    variants: tuple[str, ...]
    comparisons: tuple[Comparison, ...]
    primary: Comparison = field(default=None)

    def __post_init__(self):
        unknown = [v for v in self.variants if v not in VARIANTS]
        missing = [c.name for c in self.comparisons if {c.a, c.b} - set(self.variants)]
        if unknown or missing or self.primary not in self.comparisons:
            raise ValueError(f"regime {self.name!r}: unknown variants {unknown}, comparisons of variants "
                             f"it does not run {missing}, or a primary comparison not among them")


VISIBILITY_BINS = ((0.0, 0.2), (0.2, 0.5), (0.5, 1.0))  # the occlusion regime's: share of a garment visible

C = Comparison
# what a user can build in each regime, against the GMP baseline: the paper's graph (RW − GMP, the
# "baseline" rows), the graph from the label corpus where one is at hand, and the uncoupled head —
# a graph's gain over another graph says nothing of whether either is worth building over GMP
PRACTICAL = (C(UNCOUPLED, GMP, "practitioner"),)
LABEL_PRACTICAL = (C(CORPUS, GMP, "practitioner"),) + PRACTICAL
SIZE = Regime(
    "training scenes", "training scenes", "test mAP",
    (GMP, RW, IDENTITY, SHUFFLED, ORACLE, SHUFFLED_ORACLE, RANDOM, UNCOUPLED),
    (C(RW, GMP, "baseline"), C(RW, IDENTITY, "graph"), C(RW, SHUFFLED, "right"), C(ORACLE, IDENTITY, "graph"),
     C(ORACLE, SHUFFLED_ORACLE, "right"), C(RW, RANDOM, "vectors"), C(IDENTITY, UNCOUPLED, "coupling"))
    + PRACTICAL,
    primary=C(RW, IDENTITY, "graph"))
OCCLUSION = Regime(
    "occlusion", "share of the garment visible", "test AP on garments with that share visible",
    SIZE.variants, (C(RW, IDENTITY, "graph"), C(RW, SHUFFLED, "right"), C(RW, GMP, "baseline")) + PRACTICAL,
    primary=C(RW, IDENTITY, "graph"))
RARE = Regime(
    "rare labels", "K training positives, weight decay", "test AP on the two rare labels",
    (GMP, RW, CORPUS, SHUFFLED_CORPUS, IDENTITY, ORACLE, SHUFFLED_ORACLE, UNCOUPLED),
    (C(CORPUS, RW, "corpus"), C(CORPUS, SHUFFLED_CORPUS, "right"), C(CORPUS, IDENTITY, "graph"),
     C(ORACLE, SHUFFLED_ORACLE, "right"), C(RW, GMP, "baseline")) + LABEL_PRACTICAL,
    primary=C(CORPUS, RW, "corpus"))
MISSING = Regime(
    "missing labels", "share of the two labels' annotations hidden", "test AP on the two labels (clean)",
    (GMP, RW, CORPUS, SHUFFLED_CORPUS, IDENTITY, UNCOUPLED),
    (C(CORPUS, IDENTITY, "graph"), C(CORPUS, SHUFFLED_CORPUS, "right"), C(CORPUS, RW, "corpus"),
     C(RW, GMP, "baseline")) + LABEL_PRACTICAL,
    primary=C(CORPUS, IDENTITY, "graph"))
# --- the COCO-shaped benchmark (80 labels, COCO's long tail and co-occurrences) ---------------------
COCO_SIZE = Regime(
    "training scenes (COCO-shaped)", "training scenes", "test mAP over the 80 labels",
    (GMP, RW, IDENTITY, SHUFFLED, ORACLE, SHUFFLED_ORACLE, UNCOUPLED),
    (C(RW, GMP, "baseline"), C(RW, IDENTITY, "graph"), C(RW, SHUFFLED, "right"), C(ORACLE, IDENTITY, "graph"),
     C(ORACLE, SHUFFLED_ORACLE, "right"), C(IDENTITY, UNCOUPLED, "coupling")) + PRACTICAL,
    primary=C(RW, IDENTITY, "graph"))
# the natural rare-label regime, nothing deleted: the labels cut into thirds by their training
# positives, read off the size regime's runs at its largest size (no training)
FREQUENCY = Regime(
    "label frequency (COCO-shaped)", "labels by training positives (thirds)", "test mAP over the bin's labels",
    COCO_SIZE.variants,
    (C(RW, IDENTITY, "graph"), C(RW, SHUFFLED, "right"), C(RW, GMP, "baseline")) + PRACTICAL,
    primary=C(RW, IDENTITY, "graph"))
# few images with their annotations, and the label statistics COCO publishes (82,081 images' counts):
# the graph from those counts against the graph from the annotations at hand
PUBLIC_CORPUS = Regime(
    "public label statistics (COCO-shaped)", "training scenes (the graph: their annotations or COCO's counts)",
    "test mAP over the 80 labels",
    (GMP, RW, PUBLIC, SHUFFLED_PUBLIC, IDENTITY, UNCOUPLED),
    (C(PUBLIC, RW, "corpus"), C(PUBLIC, SHUFFLED_PUBLIC, "right"), C(PUBLIC, IDENTITY, "graph"),
     C(RW, GMP, "baseline"), C(PUBLIC, GMP, "practitioner")) + PRACTICAL,
    primary=C(PUBLIC, RW, "corpus"))
# the same bins read off the public-statistics regime's runs: does the tail gain from COCO's graph?
PUBLIC_FREQUENCY = Regime(
    "label frequency, public graph (COCO-shaped)", "labels by training positives (thirds), at the "
    "public-statistics regime's size", "test mAP over the bin's labels",
    PUBLIC_CORPUS.variants,
    (C(PUBLIC, RW, "corpus"), C(PUBLIC, SHUFFLED_PUBLIC, "right"), C(RW, GMP, "baseline"),
     C(PUBLIC, GMP, "practitioner")) + PRACTICAL,
    primary=C(PUBLIC, RW, "corpus"))

# --- "Where ML-GCN stands": its successors' heads on the same frozen features, each tuned alike ------
# the level is the loss every head trains with; the primary question is the one none of them asks:
# does the label graph still help a head whose label queries attend over space?
HEADS = Regime(
    "heads (COCO-shaped)", "loss", "test mAP over the 80 labels",
    (GMP, RW, CSRA, Q2L, MLD, Q2L_GRAPH, Q2L_SHUFFLED, Q2L_PUBLIC),
    (C(Q2L_GRAPH, Q2L, "graph"), C(Q2L_GRAPH, Q2L_SHUFFLED, "right"), C(Q2L_PUBLIC, Q2L, "graph"),
     C(CSRA, RW, "successor"), C(Q2L, RW, "successor"), C(MLD, RW, "successor"), C(RW, GMP, "baseline"),
     C(Q2L_GRAPH, GMP, "practitioner")),
    primary=C(Q2L_GRAPH, Q2L, "graph"))
HEADS_FREQUENCY = Regime(
    "heads by label frequency (COCO-shaped)", "labels by training positives (thirds), per loss",
    "test mAP over the bin's labels", HEADS.variants,
    (C(Q2L_GRAPH, Q2L, "graph"), C(Q2L_GRAPH, Q2L_SHUFFLED, "right"), C(Q2L_PUBLIC, Q2L, "graph"),
     C(CSRA, RW, "successor"), C(Q2L, RW, "successor"), C(MLD, RW, "successor"), C(RW, GMP, "baseline")),
    primary=C(Q2L_GRAPH, Q2L, "graph"))
HEAD_REGIMES = {r.name: r for r in (HEADS, HEADS_FREQUENCY)}

# the chapter's regimes in the page's order: the COCO-shaped benchmark's, then the 10-label one's
COCO_REGIMES = {r.name: r for r in (COCO_SIZE, FREQUENCY, PUBLIC_CORPUS, PUBLIC_FREQUENCY)}
OUTFIT_REGIMES = {r.name: r for r in (SIZE, OCCLUSION, RARE, MISSING)}
REGIMES = {**COCO_REGIMES, **OUTFIT_REGIMES}
# the regimes read off another regime's runs at its largest size (no training): {reader: (source, levels)}
READ_OFF = {OCCLUSION.name: (SIZE.name, tuple(f"{lo:g}–{hi:g}" for lo, hi in VISIBILITY_BINS)),
            FREQUENCY.name: (COCO_SIZE.name, FREQUENCY_BINS),
            PUBLIC_FREQUENCY.name: (PUBLIC_CORPUS.name, FREQUENCY_BINS)}
del C

# two labels with strong partners (the generator's true P: coat ↔ ankle boot, sandal ↔ t-shirt):
# with their positives scarce or unannotated, a graph could lend them their partners' evidence
FOCUS_LABELS = ("coat", "sandal")
# the lr grids (16× wide; each grows past an edge pick, tuning.tuned_runs): the size regime's has
# chapter 02's lr 0.02 at its top, so that chapter's runs are reused, and the GCN heads' optimum
# (0.005) inside; the rare- and missing-label heads (fewer or fainter positives) pick 0.02 there,
# so their grid is centred on it
LRS = (0.00125, 0.005, 0.02)
LABEL_LRS = (0.005, 0.02, 0.08)
# the COCO-shaped benchmark's grids (80 labels). At 12,000 scenes the heads' optimum lies near 0.08
# (measured on seed 0: every head at 0.08 above 0.02 and 0.005), with chapter 02's lr 0.02 at the
# bottom, so its runs are the tuning seed's; on 3,000 scenes the GCN heads' near 0.02 (0.08 is unstable)
COCO_LRS = (0.02, 0.08, 0.32)
PUBLIC_LRS = (0.005, 0.02, 0.08)


def settings(sizes=(6000,), recipe_steps: int = 940, steps: int = 470, batch_size: int = 128,
             lrs=LRS, label_lrs=LABEL_LRS, tune_seeds: int = 1, rare_positives=(5,),
             weight_decay_factors=(1,), hide_fractions=(0.7,), size_variants=SIZE.variants,
             rare_variants=RARE.variants, coco_sizes=(12000,), coco_steps: int = 1880, coco_lrs=COCO_LRS,
             coco_size_variants=COCO_SIZE.variants, public_sizes=(3000,), public_steps: int = 940,
             public_lrs=PUBLIC_LRS, public_variants=PUBLIC_CORPUS.variants, smoke: bool = False) -> dict:
    """The chapter's settings per regime, from its parameters cell (tiny ones with ``smoke``, the
    book's smoke profile). An empty list of levels (``sizes``, ``rare_positives``, ``hide_fractions``,
    ``coco_sizes``, ``public_sizes``) leaves that regime out of the build (its rows are absent from
    the verdict table, and the page says so).

    The COCO-shaped benchmark's regimes:

    * ``coco_size``: :func:`size_regime`'s arguments on it — ``coco_steps`` at every size (chapter
      02's recipe at the full 12,000 scenes: 20 epochs of 94 steps of batch 128, so its runs at lr
      0.02 are chapter 02's), the grid ``coco_lrs``, the variants ``coco_size_variants``;
    * ``public``: :func:`public_regime`'s — ``public_sizes`` training scenes, ``public_steps``,
      the grid ``public_lrs``, the variants ``public_variants``.

    The 10-label benchmark's:

    * ``size``: :func:`size_regime`'s arguments — ``recipe_steps`` at every size (chapter 02's
      recipe at the full 6,000 scenes: 20 epochs of 47 steps of batch 128);
    * ``missing``: :func:`missing_regime`'s — ``recipe_steps`` too (its 6,000 scenes did not
      plateau in half of them);
    * ``rare``: :func:`rare_regime`'s — ``steps`` (its ≈ 2,900 scenes plateau within them); all
      budgets are checked by the doubling test (:func:`~mlgcn_core.book.tuning.convergence`);
    * ``lrs`` / ``label_lrs``: the size regime's grid and the rare- and missing-label regimes'
      (≥ 3 values, ≥ 16× apart); ``tune_seeds``: the seeds a grid is searched on — every lr of a
      cell trains on the same scenes at a seed, so the lr ranking varies far less between seeds
      than the score itself; ``lengthen``: how often a cell still gaining when doubled may move
      to twice the steps (:func:`~mlgcn_core.book.tuning.tuned_runs`; none in the smoke profile,
      whose tiny runs show the "not converged" path);
    * ``occlusion``: the fewest garments of a class in a visibility bin for its AP to count;
    * ``size_variants`` / ``rare_variants``: the variants that run (the others' comparisons are
      "not tested"; the occlusion regime reads the size regime's runs)."""
    if smoke:
        sizes, recipe_steps, steps, batch_size, lrs, tune_seeds = (300,), 30, 30, 100, LRS, 1
        rare_positives, weight_decay_factors, hide_fractions = (5,), (1, 10), (0.7,)
        # the smoke COCO-shaped benchmark's whole training split (2,000 scenes: every label seen)
        coco_sizes, coco_steps, public_sizes, public_steps = (2000,), 60, (2000,), 60
    for name, grid in (("lrs", lrs), ("label_lrs", label_lrs), ("coco_lrs", coco_lrs), ("public_lrs", public_lrs)):
        if len(grid) < 3 or max(grid) / min(grid) < 16:
            raise ValueError(f"{name}: {list(grid)} — a grid needs ≥ 3 values spanning ≥ 16×")
    for name, chosen, regime in (("size_variants", size_variants, SIZE), ("rare_variants", rare_variants, RARE),
                                 ("coco_size_variants", coco_size_variants, COCO_SIZE),
                                 ("public_variants", public_variants, PUBLIC_CORPUS)):
        unknown = sorted(set(chosen) - set(regime.variants))
        if unknown:
            raise ValueError(f"{name}: {unknown} are not variants of the {regime.name} regime {list(regime.variants)}")
    common = dict(batch_size=batch_size, tune_seeds=tune_seeds, lengthen=0 if smoke else 2)
    return {"size": dict(sizes=tuple(sizes), steps=recipe_steps, variants=tuple(size_variants), lrs=tuple(lrs),
                         **common),
            "rare": dict(positives=tuple(rare_positives), weight_decay_factors=tuple(weight_decay_factors),
                         steps=steps, lrs=tuple(label_lrs), variants=tuple(rare_variants), **common),
            "missing": dict(fractions=tuple(hide_fractions), steps=recipe_steps, lrs=tuple(label_lrs), **common),
            "occlusion": dict(min_positives=3 if smoke else 10),
            "coco_size": dict(sizes=tuple(coco_sizes), steps=coco_steps, variants=tuple(coco_size_variants),
                              lrs=tuple(coco_lrs), **common),
            "public": dict(sizes=tuple(public_sizes), steps=public_steps, variants=tuple(public_variants),
                           lrs=tuple(public_lrs), **common)}


# --- convergence, per cell of a regime --------------------------------------------------------------

def converged_cells(*tables: pd.DataFrame, read_off: dict | None = None) -> dict:
    """``{(regime, level, variant): converged}`` from :func:`~mlgcn_core.book.tuning.convergence` tables, for
    :func:`~mlgcn_core.book.findings.verdict_table`; a regime read off another's runs at its
    largest size (``read_off``, default :data:`READ_OFF`: the occlusion bins, the label-frequency
    bins) takes their verdicts at each of its levels."""
    out = {}
    for t in tables:
        out.update({(r.regime, r.level, r.variant): bool(r.converged) for r in t.itertuples()})
        for reader, (source, levels) in (READ_OFF if read_off is None else read_off).items():
            top = t[t["regime"] == source]
            if len(top):
                for r in top[top["level"] == top["level"].max()].itertuples():
                    out.update({(reader, level, r.variant): bool(r.converged) for level in levels})
    return out


# --- scores ------------------------------------------------------------------------------------------

def labels_ap(labels: Sequence[str]) -> Callable:
    """A score: the mean AP over ``labels`` (class names) of a run on a split."""
    from ..data.outfits import CLASSES

    cols = [CLASSES.index(n) for n in labels]

    def score(run, split: str) -> float:
        ap = np.asarray((run.metrics if split == "test" else run.val_metrics)["AP"], dtype=float)
        return float(np.nanmean(ap[cols]))

    return score


# --- the regimes -----------------------------------------------------------------------------------

def _head(base, batch_size: int, variant: str, **fields):
    return base.replace(batch_size=batch_size, selection="val", warmup_epochs=0, **fields, **VARIANTS[variant])


def _subset(n: int, full: int, steps: int, batch_size: int) -> tuple[dict, int]:
    """The training fields of a run on ``n`` of the benchmark's ``full`` training scenes (a seeded
    subset; the whole split at ``n`` ≥ ``full``) for about ``steps`` steps (:func:`~mlgcn_core.book.tuning.budget`),
    and the steps that budget makes."""
    n = min(int(n), full)
    fields = dict(budget(n, steps, batch_size), train_scenes=None if n == full else n)
    return fields, fields["epochs"] * steps_per_epoch(n, batch_size)


def _benchmark(base) -> dict:
    """The column every regime row carries: the benchmark its runs trained on (the verdict table's
    ``benchmark``, what the Holm family and the first page's claims are grouped by)."""
    from .chapters import benchmark_name

    return {"benchmark": benchmark_name(base)}


def size_regime(base, seeds: Sequence[int], sizes: Sequence[int] = (6000,), steps: int = 940,
                batch_size: int = 128, lrs: Sequence[float] = LRS, tune_seeds: int = 2,
                variants: Sequence[str] = SIZE.variants, jobs: int = 2, extend: int = 2,
                lengthen: int = 2, regime: Regime = SIZE) -> pd.DataFrame:
    """Training-set size: every (size, variant) trains ``steps`` optimizer steps of ``batch_size``
    (:func:`~mlgcn_core.book.tuning.budget`; at the full split, chapter 02's recipe) on a random
    subset of ``size`` training scenes drawn with the seed (paired across variants); validation and
    test unchanged; the lr picked per (size, variant) by :func:`~mlgcn_core.book.tuning.tuned_runs`
    (``extend``: how far its grid may grow past an edge pick). ``score`` = test mAP; ``regime``
    names the rows (:data:`SIZE` on the 10-label benchmark, :data:`COCO_SIZE` on the COCO-shaped one)."""
    from ..data.catalog import scene_settings

    full = scene_settings(base).n_train
    cells = []
    for n in sizes:
        if n > full:
            raise ValueError(f"sizes: {n} > the benchmark's {full} training scenes")
        fields, done = _subset(n, full, steps, batch_size)
        cells += [Cell(regime.name, int(n), v, _head(base, batch_size, v, **fields), done, _benchmark(base))
                  for v in variants]
    return tuned_runs(cells, seeds, lrs, mean_ap, tune_seeds, jobs, extend, lengthen)


def public_regime(base, seeds: Sequence[int], sizes: Sequence[int] = (3000,), steps: int = 940,
                  batch_size: int = 128, lrs: Sequence[float] = LRS, tune_seeds: int = 2,
                  variants: Sequence[str] = PUBLIC_CORPUS.variants, jobs: int = 2, extend: int = 2,
                  lengthen: int = 2) -> pd.DataFrame:
    """Public label statistics (:data:`PUBLIC_CORPUS`): a random subset of ``size`` training scenes
    with their annotations (drawn with the seed, as in :func:`size_regime`), the graph built either
    from those annotations or from the label counts the dataset publishes (``graph_labels=
    "public"``: COCO 2014 train's, 82,081 images) — what a practitioner with few images and the
    public statistics can build; the lr picked per (size, variant). ``score`` = test mAP."""
    return size_regime(base, seeds, sizes, steps, batch_size, lrs, tune_seeds, variants, jobs, extend, lengthen,
                       regime=PUBLIC_CORPUS)


# the heads' lr grids (16×, grown past an edge pick): SGD's is the public-statistics regime's (the
# GCN heads' optimum on 3,000 scenes, 0.02, inside); AdamW's around the official scripts' 1e-4
HEAD_SGD_LRS = PUBLIC_LRS
HEAD_ADAMW_LRS = (1e-4, 4e-4, 1.6e-3)


def heads_regime(base, seeds: Sequence[int], scenes: int = 3000, steps: int = 940, losses: Sequence[str] = ("bce",),
                 variants: Sequence[str] = HEADS.variants, sgd_lrs: Sequence[float] = HEAD_SGD_LRS,
                 adamw_lrs: Sequence[float] = HEAD_ADAMW_LRS, batch_size: int = 128, tune_seeds: int = 1,
                 jobs: int = 2, extend: int = 2, lengthen: int = 2) -> pd.DataFrame:
    """ML-GCN among its successors (:data:`HEADS`): every head of ``variants`` with every loss of
    ``losses`` (the level) on a random subset of ``scenes`` training scenes drawn with the seed (as
    :func:`size_regime` draws it), ``steps`` first budget; each (loss, head) tuned on validation over
    its optimizer's grid — ``sgd_lrs`` for the SGD heads (GMP, ML-GCN, CSRA), ``adamw_lrs`` for the
    AdamW ones (Query2Label, ML-Decoder, the graph-query heads) — and trained until doubling no
    longer gains (:func:`~mlgcn_core.book.tuning.tuned_runs`). ``score`` = test mAP. The frame's
    ``attrs`` hold both grids' lr choices and doubling tests."""
    from ..data.catalog import scene_settings

    fields, done = _subset(scenes, scene_settings(base).n_train, steps, batch_size)
    cells = [Cell(HEADS.name, loss, v, _head(base, batch_size, v, loss=loss, **fields), done, _benchmark(base))
             for loss in losses for v in variants]
    grids = {"sgd": sgd_lrs, "adamw": adamw_lrs}
    frames = [tuned_runs(mine, seeds, grids[opt], mean_ap, tune_seeds, jobs, extend, lengthen)
              for opt in grids for mine in [[c for c in cells if c.config.optimizer == opt]] if mine]
    if not frames:  # left out of the build (no heads or no losses)
        return tuned_runs([], seeds, sgd_lrs, mean_ap)
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {k: sum((f.attrs.get(k, []) for f in frames), []) for k in ("lr_grid", "lengthened", "doubling")}
    return out


def heads_frequency(frame: pd.DataFrame, train_positives: np.ndarray) -> pd.DataFrame:
    """AP by label frequency (:func:`frequency_regime`, :data:`HEADS_FREQUENCY`) read off the heads'
    runs, per loss: ``level`` = "tail (bce)" and so on."""
    parts = [frequency_regime(g, train_positives, HEADS_FREQUENCY).assign(level=lambda d, lo=loss: d["level"]
                                                                           + f" ({lo})")
             for loss, g in frame.groupby("level", sort=False)] if len(frame) else []
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def heads_verdicts(frame: pd.DataFrame, frequency: pd.DataFrame, convergence: pd.DataFrame) -> pd.DataFrame:
    """The chapter's verdict table (:func:`~mlgcn_core.book.findings.verdict_table`) over the heads
    regime and its label-frequency bins, one Holm family; a bin of a loss takes the convergence of
    that loss's cells (the bins are read off their runs)."""
    from .findings import verdict_table

    converged = {(r.regime, r.level, r.variant): bool(r.converged) for r in convergence.itertuples()}
    converged.update({(HEADS_FREQUENCY.name, f"{b} ({loss})", v): ok for (_, loss, v), ok in list(converged.items())
                      for b in FREQUENCY_BINS})
    return verdict_table(pd.concat([frame, frequency], ignore_index=True), HEAD_REGIMES.values(),
                         converged=converged, family="benchmark")


def heads_rows(frame: pd.DataFrame, costs: pd.DataFrame) -> list[dict]:
    """What the chapter records per (loss, head): its seeds, picked lr, mean test mAP and score, and
    its costs (:func:`head_costs`)."""
    if not len(frame):
        return []
    rows = (frame.groupby(["level", "variant"], sort=False)
            .agg(seeds=("seed", "nunique"), lr=("lr", "first"), mAP=("mAP", "mean"), score=("score", "mean"))
            .reset_index().rename(columns={"level": "loss", "variant": "head"}))
    return (rows.merge(costs, on=["loss", "head"]) if len(costs) else rows).to_dict(orient="records")


def head_costs(frame: pd.DataFrame, repeats: int = 3, batch: int = 256) -> pd.DataFrame:
    """Per (loss, head): its trained parameters, the mean seconds of training its runs took
    (their histories), and its inference throughput on the cached test inputs it reads — images
    per second through the head (and, for a map head, the frozen top in front of it) on this
    machine, one thread, the best of ``repeats`` passes over ``batch`` inputs."""
    from ..data.sources import load_splits
    from ..distributed import Context
    from ..features import cached_split_features
    from ..inference import model_from_checkpoint
    from ..runs import load_run

    rows, inputs = [], {}  # the test inputs per kind (pooled vector or map), read once
    for (loss, variant), g in frame.groupby(["level", "variant"], sort=False):
        run = load_run(g["run"].iloc[0])
        model, cfg, _ = model_from_checkpoint(run.path / "model.pt", images=False)
        if model.takes_map not in inputs:
            got = cached_split_features(cfg, load_splits(cfg), "cpu", Context(), progress=False)
            inputs[model.takes_map] = got["test"][0][:batch]
        x = inputs[model.takes_map]
        seconds = [sum(h.get("seconds", 0.0) for h in load_run(r).history) for r in g["run"]]
        rows.append({"loss": loss, "head": variant, "optimizer": cfg.optimizer,
                     "parameters": sum(p.numel() for p in model.head.parameters() if p.requires_grad),
                     "train seconds": round(float(np.mean(seconds)), 1),
                     "images / s": int(len(x) / _best_pass(model, x.float(), repeats))})
    return pd.DataFrame(rows)


def _best_pass(model, x, repeats: int) -> float:
    """The fastest of ``repeats`` evaluation passes of ``model`` over ``x``, in seconds, one thread."""
    import time

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad(), model.evaluating():
            model(x)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                model(x)
                best = min(best, time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    return best


def rare_drops(base, seeds: Sequence[int], positives: int, labels: Sequence[str] = FOCUS_LABELS) -> pd.DataFrame:
    """What keeping ``positives`` training scenes of each of ``labels`` drops: per label, its
    training positives in the full split and kept (mean over ``seeds``), and the share lost; the
    row "all scenes" counts scenes."""
    from ..data.outfits import CLASSES, load_outfits
    from ..data.sources import outfit_training_rows

    labels_all = load_outfits(base.outfits)["train"]["labels"]  # (n, C)
    kept = [labels_all[outfit_training_rows(base.replace(seed=s, rare_labels=tuple(labels),
                                                         rare_positives=int(positives)), labels_all)]
            for s in seeds]
    rows = [{"label": "all scenes", "full split": len(labels_all),
             "kept": float(np.mean([len(k) for k in kept]))}]
    rows += [{"label": c, "full split": int(labels_all[:, i].sum()),
              "kept": float(np.mean([k[:, i].sum() for k in kept]))} for i, c in enumerate(CLASSES)]
    out = pd.DataFrame(rows)
    out["lost (%)"] = (100 * (1 - out["kept"] / out["full split"])).round(1)
    return out.set_index("label")


def rare_regime(base, seeds: Sequence[int], positives: Sequence[int] = (5,),
                weight_decay_factors: Sequence[float] = (1, 10), steps: int = 470, batch_size: int = 128,
                lrs: Sequence[float] = LRS, tune_seeds: int = 2,
                labels: Sequence[str] = FOCUS_LABELS, variants: Sequence[str] = RARE.variants,
                jobs: int = 2, extend: int = 2, lengthen: int = 2) -> pd.DataFrame:
    """Rare labels: only K ∈ ``positives`` training scenes hold each of ``labels`` (the other
    scenes with them dropped, the K drawn with the seed — :func:`rare_drops` says what that
    costs the other labels), at each weight decay ``base.weight_decay`` × ``weight_decay_factors``
    (the strength of the prior a graph implies; a book-wide weight decay moves both).
    The graphs: from the kept scenes (the paper's, as a practitioner with these images would
    have it), from the whole training label corpus, that corpus graph shuffled, the oracle and a
    shuffled oracle. ``level`` =
    "K = k, wd = w"; ``score`` = test AP on ``labels``. The lr picked per (level, variant)."""
    from ..data.outfits import load_outfits
    from ..data.sources import outfit_training_rows

    labels_all = load_outfits(base.outfits)["train"]["labels"]
    cells = []
    for k in positives:
        probe = base.replace(rare_labels=tuple(labels), rare_positives=int(k))
        n = int(np.mean([len(outfit_training_rows(probe.replace(seed=s), labels_all)) for s in seeds]))
        for factor in weight_decay_factors:
            wd = base.weight_decay * factor
            level = f"K = {k}, wd = {wd:g}"
            fields = dict(budget(n, steps, batch_size), weight_decay=float(wd), rare_labels=tuple(labels),
                          rare_positives=int(k))
            done = fields["epochs"] * steps_per_epoch(n, batch_size)
            cells += [Cell(RARE.name, level, v, _head(base, batch_size, v, **fields), done, _benchmark(base))
                      for v in variants]
    return tuned_runs(cells, seeds, lrs, labels_ap(labels), tune_seeds, jobs, extend, lengthen)


def missing_regime(base, seeds: Sequence[int], fractions: Sequence[float] = (0.7,), steps: int = 470,
                   batch_size: int = 128, lrs: Sequence[float] = LRS, tune_seeds: int = 2,
                   labels: Sequence[str] = FOCUS_LABELS, variants: Sequence[str] = MISSING.variants,
                   jobs: int = 2, extend: int = 2, lengthen: int = 2) -> pd.DataFrame:
    """Missing labels: ``fraction`` of each of ``labels``' training annotations is hidden (drawn
    with the seed; the images stay, so the garment is there unlabelled), every scene kept. The
    graphs: from the annotations at hand (re-weighted), from the clean label corpus, the clean
    graph shuffled, none. ``level`` = the hidden share; ``score`` = test AP on ``labels`` (test
    labels are clean). The lr picked per (level, variant)."""
    n = base.outfits.n_train
    cells = []
    for f in fractions:
        fields = dict(budget(n, steps, batch_size), hide_labels=tuple(labels), hide_fraction=float(f))
        done = fields["epochs"] * steps_per_epoch(n, batch_size)
        cells += [Cell(MISSING.name, f"{round(100 * f)} % hidden", v, _head(base, batch_size, v, **fields), done,
                       _benchmark(base)) for v in variants]
    return tuned_runs(cells, seeds, lrs, labels_ap(labels), tune_seeds, jobs, extend, lengthen)


# --- occlusion: AP by the share of a garment left visible ------------------------------------------------

def visibility_ap(scores: np.ndarray, targets: np.ndarray, visibility: np.ndarray, low: float, high: float,
                  min_positives: int = 20) -> dict:
    """AP on garments with a visible share in [``low``, ``high``) (``high`` = 1 includes fully
    visible ones): per class, the positives are the scenes where the garment is present with
    that visibility, the negatives the scenes without it; other positives are left out.
    ``scores``, ``targets``, ``visibility``: (n, C). Returns ``mAP`` (percent, mean over the
    classes with ≥ ``min_positives`` such positives; NaN when none), ``AP`` (C,), ``positives`` (C,)."""
    from ..metrics import average_precision

    targets = np.asarray(targets).astype(bool)  # (n, C)
    vis = np.nan_to_num(np.asarray(visibility, dtype=float), nan=1.0)  # (n, C); absent → visible
    inside = targets & (vis >= low) & ((vis < high) if high < 1 else (vis <= high))  # (n, C)
    counts = inside.sum(0)  # (C,)
    enough = counts >= min_positives
    ap = np.full(targets.shape[1], np.nan)
    if enough.any():
        cols = np.flatnonzero(enough)
        ap[cols] = 100.0 * average_precision(np.asarray(scores)[:, cols], targets[:, cols],
                                             difficult=(targets & ~inside)[:, cols])
    return {"mAP": float(np.nanmean(ap)) if enough.any() else float("nan"), "AP": ap, "positives": counts}


def occlusion_regime(size_frame: pd.DataFrame, bins=VISIBILITY_BINS, min_positives: int = 20) -> pd.DataFrame:
    """AP by visibility bin for every variant, from the size regime's runs at its largest size (no
    training): ``level`` = "0–0.2" etc., ``score`` / ``val_score`` = :func:`visibility_ap` on test /
    validation. The garments' visibility is the generator's record."""
    from ..data.catalog import load_scene_visibility
    from ..runs import load_run
    from .analysis import run_outputs

    top = size_frame[size_frame["level"] == size_frame["level"].max()]
    rows = []
    for _, row in top.iterrows():
        run = load_run(row["run"])
        vis = load_scene_visibility(run.config)
        out = {s: run_outputs(run, s) for s in ("val", "test")}
        for low, high in bins:
            got = {s: visibility_ap(out[s]["scores"], out[s]["targets"], vis[s], low, high, min_positives)
                   for s in out}
            rows.append({**{k: row[k] for k in ("variant", "seed", "lr", "steps", "mAP", "run", "benchmark")
                            if k in row},
                         "regime": OCCLUSION.name, "level": f"{low:g}–{high:g}",
                         "val_score": got["val"]["mAP"], "score": got["test"]["mAP"],
                         "classes": int(np.isfinite(got["test"]["AP"]).sum())})
    return pd.DataFrame(rows)


# --- label frequency: AP by how many training positives a label has ---------------------------------------

def frequency_levels(train_positives: np.ndarray) -> pd.DataFrame:
    """The label-frequency bins (:func:`mlgcn_core.metrics.frequency_bins`: the labels in thirds by
    their training positives) of ``train_positives`` (n, C): per bin its labels, their count and the
    range of their training positives."""
    from ..metrics import frequency_bins

    counts = np.asarray(train_positives).sum(axis=0)  # (C,)
    bins = frequency_bins(counts)
    return pd.DataFrame([{"bin": b, "labels": len(idx), "training positives": f"{counts[idx].min():,}–"
                          f"{counts[idx].max():,}", "median": int(np.median(counts[idx]))} for b, idx in bins.items()]
                        ).set_index("bin")


def frequency_regime(frame: pd.DataFrame, train_positives: np.ndarray, regime: Regime = FREQUENCY) -> pd.DataFrame:
    """AP by label frequency for every variant, read off the runs of ``frame`` (a size or
    public-statistics regime's) at its largest level (no training): the labels in thirds by their
    training positives in ``train_positives`` (n, C; the scenes those runs trained on —
    :func:`mlgcn_core.metrics.frequency_bins`), ``level`` = "head" / "medium" / "tail",
    ``score`` / ``val_score`` = the mean test / validation AP over the bin's labels
    (:func:`mlgcn_core.metrics.map_by_bin` of the run's per-label AP)."""
    from ..metrics import frequency_bins, map_by_bin
    from ..runs import load_run

    bins = frequency_bins(train_positives)
    top = frame[frame["level"] == frame["level"].max()]
    rows = []
    for _, row in top.iterrows():
        run = load_run(row["run"])
        got = {s: map_by_bin(m["AP"], bins) for s, m in (("val", run.val_metrics), ("test", run.metrics))}
        for b, idx in bins.items():
            rows.append({**{k: row[k] for k in ("variant", "seed", "lr", "steps", "mAP", "run", "benchmark")
                            if k in row},
                         "regime": regime.name, "level": b, "val_score": got["val"][b], "score": got["test"][b],
                         "classes": len(idx)})
    return pd.DataFrame(rows)


# --- per label: labels with and without incoming edges -----------------------------------------------

def incoming_edges(base) -> pd.Series:
    """Per label, how many other labels it draws from in the re-weighted graph of the full training
    split (Â = D A'ᵀ D: label i draws from j when A'_ji > 0, i.e. P(L_i | L_j) ≥ τ)."""
    from ..data.catalog import class_names, load_scenes
    from ..graph import build_adjacency, cooccurrence

    A = build_adjacency(*cooccurrence(load_scenes(base)["train"]["labels"]), base.tau, base.p,
                        base.scheme)  # (C, C) A'
    off = (np.asarray(A) > 0) & ~np.eye(len(A), dtype=bool)
    return pd.Series(off.sum(axis=0), index=class_names(base), name="incoming edges")


def per_label(frame: pd.DataFrame, a: str, b: str, incoming: pd.Series) -> pd.DataFrame:
    """Per label, the paired test-AP difference ``a − b`` over seeds at the frame's largest level
    (:func:`~mlgcn_core.book.findings.paired_interval`), beside its incoming edges: labels that draw
    from no other label get nothing from the graph — a built-in control."""
    from ..runs import load_run
    from .findings import interval_text, paired_interval

    top = frame[frame["level"] == frame["level"].max()]
    ap = {v: {r.seed: np.asarray(load_run(r.run).metrics["AP"], dtype=float) for r in g.itertuples()}
          for v, g in top.groupby("variant") if v in (a, b)}
    seeds = sorted(set(ap.get(a, {})) & set(ap.get(b, {})))
    rows = []
    for i, label in enumerate(incoming.index):
        d = paired_interval([ap[a][s][i] - ap[b][s][i] for s in seeds])
        rows.append({"label": label, "incoming edges": int(incoming.iloc[i]), "difference": round(d["mean"], 2),
                     "interval": interval_text(d, unit="AP")})
    return pd.DataFrame(rows).sort_values(["incoming edges", "label"], ascending=[False, True]).set_index("label")


# --- tables -----------------------------------------------------------------------------------------

def regime_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds of ``score`` per level (rows) and variant (columns), and the seeds."""
    g = frame.groupby(["level", "variant"], sort=False)["score"]
    cell = g.mean().round(2).astype(str) + " ± " + g.std(ddof=1).fillna(0).round(2).astype(str)
    out = cell.unstack("variant")
    out.insert(0, "seeds", g.size().groupby(level=0).max())
    return out


def learned_frame(runs: dict[str, list]) -> pd.DataFrame:
    """The features-learned runs (``{variant: [RunResult per seed]}``, top mode,
    :mod:`mlgcn_core.book.learned_features`) as regime rows (``regime`` = "features learned",
    ``score`` = test mAP) — shown, not judged: their best epoch is their last."""
    return pd.DataFrame([{"regime": "features learned", "level": "top", "variant": v, "seed": r.config.seed,
                          "lr": r.config.lr, "score": float(r.metrics["mAP"]), "best_epoch": r.best_epoch,
                          "epochs": r.config.epochs, "run": str(r.path)} for v, rs in runs.items() for r in rs])


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
