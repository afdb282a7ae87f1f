"""Figures of the book (matplotlib): data examples, label statistics, graphs, training curves,
sweep curves and bars, t-SNE panels, retrieval and prediction grids, per-class bars.

Sizes are chosen for the book's page (about 7.5 in wide at 100 dpi): figures are at most
:data:`PAGE_WIDTH` inches wide, so they are not scaled down, and text is ≥ 8 pt."""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd

from .report import curve

PAGE_WIDTH = 7.5  # inches: the book's content width at 100 dpi; wider figures get scaled down
SMALL = 8  # pt: the smallest text drawn (tick labels, annotations)


# Okabe & Ito's colour-blind-safe palette (black left out: it is the axes' colour): the lines and
# bars of every multi-series figure take their colours from it, in this order
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442"]


def _palette(fn):
    """Draw ``fn``'s figure with :data:`OKABE_ITO` as the colour cycle (matplotlib's own is not safe
    for colour-blind readers); nothing outside the figure changes."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with plt.rc_context({"axes.prop_cycle": plt.cycler(color=OKABE_ITO)}):
            return fn(*args, **kwargs)

    return wrapped


def _width(want: float) -> float:
    return min(PAGE_WIDTH, want)


def show_image(ax, picture: np.ndarray, title: str = "", fontsize: float = 8):
    """One picture on ``ax``: (H, W) uint8 drawn grey, (H, W, 3) in colour; no axes."""
    if picture.ndim == 2:
        ax.imshow(picture, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(picture)
    ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([]), ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    return ax


def label_names(labels: np.ndarray, classes: list[str], sep: str = "\n", width: int | None = None) -> str:
    """The names of the labels set in one (C,) {0, 1} row, optionally cut to ``width`` letters."""
    return sep.join(classes[c][:width] for c in np.flatnonzero(labels))


def show_examples(pictures, labels: np.ndarray, classes: list[str], n: int = 12, cols: int = 6):
    """Grid of pictures (grey (H, W) or RGB (H, W, 3), e.g. from ``data.sources.picture``) with
    their label sets as titles."""
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(_width(2.1 * cols), 1.35 * rows * _width(2.1 * cols) / cols),
                             squeeze=False)
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < min(n, len(pictures)):
            show_image(ax, pictures[i], label_names(labels[i], classes))
    fig.tight_layout()
    return fig


@_palette
def label_frequencies(labels_by_split: dict[str, np.ndarray], classes: list[str]):
    """Bar chart: fraction of images carrying each label, per split (``None``: a split the run
    does not have, e.g. no validation split under selection "last"; left out)."""
    labels_by_split = {k: y for k, y in labels_by_split.items() if y is not None}
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.2))
    width = 0.8 / len(labels_by_split)
    x = np.arange(len(classes))
    for k, (split, y) in enumerate(labels_by_split.items()):
        ax.bar(x + k * width, y.mean(axis=0), width, label=f"{split} (n={len(y)})")
    ax.set_xticks(x + width * (len(labels_by_split) - 1) / 2, classes, rotation=30 if len(classes) <= 20 else 90,
                  ha="right", fontsize=SMALL if len(classes) <= 20 else 4)
    ax.set_ylabel("fraction of images")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def heatmap(matrix: np.ndarray, classes: list[str], title: str, fmt: str = "{:.2f}", ax=None,
            cmap: str = "viridis", row_label: str = "", col_label: str = ""):
    """Annotated C×C heat map."""
    if ax is None:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH * 0.85, PAGE_WIDTH * 0.72))
    im = ax.imshow(matrix, cmap=cmap)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=SMALL + 1)
    ax.set_yticks(range(len(classes)), classes, fontsize=SMALL + 1)
    ax.set_title(title)
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    hi = np.nanmax(matrix) if np.size(matrix) else 1
    if len(classes) > 20:  # COCO's 80 labels: colour only, no numbers
        ax.tick_params(labelsize=4)
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
        return ax
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center", fontsize=SMALL + 1,
                    color="white" if matrix[i, j] < 0.6 * hi else "black")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def draw_graph(A: np.ndarray, classes: list[str], title: str, ax=None, eps: float = 1e-9):
    """Directed label graph: an arrow i → j for each off-diagonal A_ij > eps, width ∝ A_ij."""
    if ax is None:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH * 0.8, PAGE_WIDTH * 0.8))
    g = nx.DiGraph()
    g.add_nodes_from(classes)
    for i, j in zip(*np.nonzero(A > eps)):
        if i != j:
            g.add_edge(classes[i], classes[j], weight=float(A[i, j]))
    pos = nx.circular_layout(g)
    w = np.array([d["weight"] for *_, d in g.edges(data=True)]) if g.number_of_edges() else np.ones(0)
    widths = 0.6 + 3.0 * w / w.max() if w.size else []
    size, font = (1500, SMALL + 1) if len(classes) <= 20 else (120, 4)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color="#cfe2f3", node_size=size)
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=font)
    nx.draw_networkx_edges(g, pos, ax=ax, width=widths, arrowsize=12, node_size=size,
                           connectionstyle="arc3,rad=0.12", edge_color="#555555")
    ax.set_title(f"{title}\n{g.number_of_edges()} directed edges")
    ax.axis("off")
    return ax


@_palette
def training_curves(histories: dict[str, list[list[dict]]], key: str | None = None):
    """Mean ± std over seeds of a per-epoch quantity, one line per variant. ``key``: by default
    the selection split's mAP — ``val_mAP``, ``test_mAP`` (selection "test") — or the training
    loss when no split was evaluated per epoch (selection "last")."""
    if key is None:
        first = next(h[0] for runs in histories.values() for h in runs if h)
        key = next(k for k in ("val_mAP", "test_mAP", "train_loss") if k in first)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, runs in histories.items():
        vals = np.array([[h[key] for h in hist] for hist in runs])  # (seeds, epochs)
        ep = np.arange(1, vals.shape[1] + 1)
        m, s = vals.mean(0), vals.std(0)
        ax.plot(ep, m, label=name)
        ax.fill_between(ep, m - s, m + s, alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


@_palette
def plot_curves(table: pd.DataFrame, x: str, variants: list[str], metrics=("mAP", "CF1", "OF1"),
                mark: float | None = None, mark_label: str = "paper's choice", reference: str | None = None):
    """One panel per metric: mean ± std over seeds vs ``x``; a dashed line for ``reference``
    (a variant independent of x, e.g. the baseline); a vertical line at ``mark``."""
    fig, axes = plt.subplots(len(metrics), 1, figsize=(PAGE_WIDTH * 0.8, 3.0 * len(metrics)), squeeze=False,
                             sharex=True)
    axes = axes.T
    for ax, m in zip(axes[0], metrics):
        c = curve(table, x, m)
        for v in variants:
            d = c[c["variant"] == v].sort_values(x)
            if d.empty:
                continue
            xs = d[x].astype(float).to_numpy()
            ax.plot(xs, d["mean"], marker="o", ms=3, label=v)
            ax.fill_between(xs, d["mean"] - d["std"], d["mean"] + d["std"], alpha=0.2)
        if reference is not None:
            r = c[c["variant"] == reference]["mean"]
            if len(r):
                ax.axhline(float(np.mean(r)), color="gray", ls="--", lw=1, label=reference)
        if mark is not None:
            ax.axvline(mark, color="crimson", ls=":", lw=1.2, label=mark_label)
        ax.set_xlabel(x)
        ax.set_ylabel(f"test {m} (%)")
    axes[0][0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


@_palette
def plot_bars(table: pd.DataFrame, x: str, variants: list[str], metric: str = "mAP",
              reference: str | None = None):
    """Mean ± std over seeds of ``metric`` for each (categorical) ``x``, one bar group per value;
    a dashed line for ``reference`` (a variant independent of x, e.g. the baseline)."""
    c = curve(table, x, metric)
    values = list(dict.fromkeys(c[x]))
    fig, ax = plt.subplots(figsize=(_width(1.4 * len(values) + 2.5), 3.4))
    width = 0.8 / max(1, len(variants))
    for k, v in enumerate(variants):
        d = c[c["variant"] == v].set_index(x).reindex(values)
        ax.bar(np.arange(len(values)) + (k - (len(variants) - 1) / 2) * width, d["mean"], width,
               yerr=d["std"], capsize=3, label=v)
    if reference is not None and (c["variant"] == reference).any():
        ax.axhline(float(c[c["variant"] == reference]["mean"].mean()), color="gray", ls="--", lw=1, label=reference)
    lo = np.nanmin(c["mean"] - c["std"])
    ax.set_ylim(max(0.0, lo - 2), None)
    ax.set_xticks(np.arange(len(values)), values)
    ax.set_xlabel(x)
    ax.set_ylabel(f"test {metric} (%)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def heatmaps(matrices: dict[str, np.ndarray], classes: list[str], **kwargs):
    """One annotated heat map per entry (title → C×C matrix), stacked so each is page-wide."""
    fig, axes = plt.subplots(len(matrices), 1, figsize=(PAGE_WIDTH * 0.85, PAGE_WIDTH * 0.72 * len(matrices)),
                             squeeze=False)
    for ax, (title, m) in zip(axes[:, 0], matrices.items()):
        heatmap(m, classes, title, ax=ax, **kwargs)
    fig.tight_layout()
    return fig


def graphs(adjacencies: dict[str, np.ndarray], classes: list[str]):
    """One directed label graph per entry (title → C×C matrix), stacked."""
    fig, axes = plt.subplots(len(adjacencies), 1, figsize=(PAGE_WIDTH * 0.8, PAGE_WIDTH * 0.8 * len(adjacencies)),
                             squeeze=False)
    for ax, (title, a) in zip(axes[:, 0], adjacencies.items()):
        draw_graph(a, classes, title, ax=ax)
    fig.tight_layout()
    return fig


def tsne_panels(panels: dict[str, np.ndarray], classes: list[str], perplexity: float, seed: int = 0):
    """Fig. 8a: a 2-D t-SNE of each (C, d) matrix of ``panels`` (title → vectors, one row per
    label), the label names written beside their points; two panels per row."""
    from sklearn.manifold import TSNE

    cols = 2
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(PAGE_WIDTH, 3.6 * rows), squeeze=False)
    many = len(classes) > 20
    for ax, (title, X) in zip(axes.ravel(), panels.items()):
        Y = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(X)  # (C, 2)
        ax.scatter(Y[:, 0], Y[:, 1], s=12 if many else 30, color="#1f77b4")
        for (x, y), name in zip(Y, classes):
            ax.annotate(name, (x, y), fontsize=5 if many else SMALL + 1, xytext=(3, 3), textcoords="offset points")
        ax.set_title(title, fontsize=SMALL + 2)
        ax.set_xticks([]), ax.set_yticks([])
        ax.margins(0.18)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


@_palette
def per_class_bars(ap: dict[str, np.ndarray], classes: list[str]):
    """Per-class test AP, mean ± std over seeds, one bar per model (``ap``: name → (seeds, C))."""
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.4))
    x = np.arange(len(classes))
    width = 0.8 / max(1, len(ap))
    for i, (name, a) in enumerate(ap.items()):
        ax.bar(x + (i - (len(ap) - 1) / 2) * width, a.mean(0), width, yerr=a.std(0), label=name, capsize=2)
    few = len(classes) <= 20
    ax.set_xticks(x, classes, rotation=30 if few else 90, ha="right", fontsize=SMALL if few else 4)
    ax.set_ylabel("test AP (%)")
    ax.set_ylim(max(0, min(a.mean(0).min() for a in ap.values()) - 10), 100)
    ax.legend(frameon=False, fontsize=SMALL)
    fig.tight_layout()
    return fig


def prediction_grid(pictures: list[np.ndarray], truth: np.ndarray, probs: dict[str, np.ndarray],
                    classes: list[str], threshold: float = 0.5, cols: int = 3):
    """Test images with their ground truth (title) and each model's predicted labels
    (probability ≥ ``threshold``, with the probability; ✗ marks a wrong label) below.
    ``truth``: (n, C) {0, 1}; ``probs``: model → (n, C) probabilities."""
    n = len(pictures)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(PAGE_WIDTH, 3.6 * rows), squeeze=False)
    for j, ax in enumerate(axes.ravel()):
        if j >= n:
            ax.axis("off")
            continue
        show_image(ax, pictures[j], label_names(truth[j], classes, ", "), SMALL)
        lines = [f"{name.split(' ')[0]}: " + ", ".join(
            f"{classes[c]} {p[j, c]:.2f}" + ("" if truth[j, c] else " ✗") for c in np.flatnonzero(p[j] >= threshold))
            for name, p in probs.items()]
        ax.set_xlabel("\n".join(lines), fontsize=SMALL - 0.5, wrap=True)
    fig.tight_layout()
    return fig


def retrieval_grid(pictures, queries: np.ndarray, neighbours: dict[str, np.ndarray], labels: np.ndarray,
                   classes: list[str]):
    """Fig. 7: each query image (first column) with its k nearest test images per model, one row
    per (query, model); titles are the images' labels. ``pictures(i)`` draws test image i;
    ``neighbours``: model → (n, k) indices; ``labels``: (n, C) {0, 1}."""
    k = next(iter(neighbours.values())).shape[1]
    models = list(neighbours)
    fig, axes = plt.subplots(len(queries) * len(models), k + 1,
                             figsize=(PAGE_WIDTH, PAGE_WIDTH / (k + 1) * 1.25 * len(queries) * len(models)),
                             squeeze=False)
    for qi, q in enumerate(queries):
        for mi, name in enumerate(models):
            row = axes[len(models) * qi + mi]
            for j, idx in enumerate([q, *neighbours[name][q]]):
                show_image(row[j], pictures(idx), label_names(labels[idx], classes, ",", 5), SMALL - 1)
            row[0].set_ylabel(name.split(" ")[0], fontsize=SMALL)
    fig.tight_layout()
    return fig


@_palette
def regime_curve(frame: pd.DataFrame, xlabel: str, ylabel: str = "test mAP (%)", log_x: bool = True):
    """A regime's headline score (``score``) against its level, one line per variant: mean over
    seeds with its 95 % t-interval (:func:`~mlgcn_core.book.findings.paired_interval` of the
    seeds' scores — the book's one interval function)."""
    from .findings import paired_interval

    fig, ax = plt.subplots(figsize=(PAGE_WIDTH * 0.8, 3.6))
    for v, g in frame.groupby("variant", sort=False):
        per = {lvl: paired_interval(gl["score"]) for lvl, gl in g.groupby("level")}
        x = np.asarray(sorted(per), dtype=float)
        mean = np.asarray([per[k]["mean"] for k in sorted(per)])
        lo = np.asarray([per[k]["lo"] for k in sorted(per)])
        hi = np.asarray([per[k]["hi"] for k in sorted(per)])
        ax.plot(x, mean, marker="o", ms=3, label=v)
        ax.fill_between(x, np.where(np.isfinite(lo), lo, mean), np.where(np.isfinite(hi), hi, mean), alpha=0.15)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=SMALL)
    fig.tight_layout()
    return fig


@_palette
def validation_curves(curves: pd.DataFrame, title: str = ""):
    """Each variant's mean validation mAP against optimizer steps (``curves``: rows of
    ``variant``, ``step``, ``val_mAP``, :func:`mlgcn_core.book.tuning.validation_curves`), with
    the lr decay visible as the late flattening: the convergence evidence."""
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.8))
    for v, g in curves.groupby("variant", sort=False):
        ax.plot(g["step"], g["val_mAP"], marker="o", ms=2, lw=1, label=v)
    top = curves["val_mAP"].max()
    ax.set_ylim(max(curves["val_mAP"].min(), top - 8), top + 0.5)
    ax.set_xlabel("optimizer steps")
    ax.set_ylabel("validation mAP (%)")
    if title:
        ax.set_title(title, fontsize=SMALL + 1)
    ax.legend(frameon=False, fontsize=SMALL - 0.5, ncol=2)
    fig.tight_layout()
    return fig


VERDICT_COLOURS = {"held": OKABE_ITO[0], "reversed": OKABE_ITO[3], "inconclusive": "#6e7781",
                   "not enough seeds to judge": "#d0d7de"}  # blue / vermillion: apart for colour-blind readers


def forest(table: pd.DataFrame):
    """A forest plot of a verdict table (:func:`mlgcn_core.book.findings.verdict_table`): each
    judged comparison's paired difference with its 95 % interval, coloured by its (Holm-adjusted)
    verdict; one panel per regime, each on its own scale (mAP or AP points)."""
    judged = table[table["verdict"].isin(list(VERDICT_COLOURS))]
    regimes = list(dict.fromkeys(judged["regime"]))
    sizes = [int((judged["regime"] == r).sum()) for r in regimes]
    fig, axes = plt.subplots(len(regimes), 1, figsize=(PAGE_WIDTH, 0.9 + 0.24 * sum(sizes) + 0.35 * len(regimes)),
                             gridspec_kw={"height_ratios": sizes or [1]}, squeeze=False)
    for ax, regime in zip(axes[:, 0], regimes):
        g = judged[judged["regime"] == regime].iloc[::-1]
        y = np.arange(len(g))
        for yi, (_, r) in zip(y, g.iterrows()):
            colour = VERDICT_COLOURS[r["verdict"]]
            lo, hi = (r["lo"], r["hi"]) if np.isfinite(r["lo"]) else (r["difference"],) * 2
            ax.plot([lo, hi], [yi, yi], color=colour, lw=2)
            ax.plot(r["difference"], yi, "o", color=colour, ms=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [f"{r['level']}: {r['comparison']}".replace("ML-GCN (", "(")[:72] for _, r in g.iterrows()],
                      fontsize=SMALL - 1)  # "(corpus graph) − (shuffled corpus graph)": the variants, shorter
        ax.tick_params(axis="x", labelsize=SMALL)
        ax.set_title(regime, fontsize=SMALL + 1, loc="left")
    axes[-1, 0].set_xlabel("paired difference, 95 % CI (colour: Holm-adjusted verdict)", fontsize=SMALL)
    handles = [plt.Line2D([], [], color=c, lw=2, label=k) for k, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="upper right", fontsize=SMALL - 1, frameon=False, ncol=4)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def class_gallery(grid: np.ndarray, garments: list[str], hues: int, names: list[list[str]]):
    """All visual classes of the COCO-shaped benchmark in one picture: ``grid`` (hues·s, G·s, 3)
    from :func:`mlgcn_core.data.coco_shaped.class_gallery`, columns the garments, rows the hues,
    each cell captioned with its label (``names[hue][garment]``)."""
    side = grid.shape[0] // hues
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, PAGE_WIDTH * grid.shape[0] / grid.shape[1] + 0.6))
    ax.imshow(grid)
    for h in range(hues):
        for g in range(len(garments)):
            ax.text(g * side + side / 2, h * side + side - 2, names[h][g], color="white", ha="center",
                    va="bottom", fontsize=5.5)
    ax.set_xticks([(g + 0.5) * side for g in range(len(garments))], garments, fontsize=SMALL, rotation=30)
    ax.set_yticks([(h + 0.5) * side for h in range(hues)], [f"hue {360 * h // hues}°" for h in range(hues)],
                  fontsize=SMALL)
    fig.tight_layout()
    return fig


@_palette
def conditional_scatter(ours: dict[str, np.ndarray], reference: np.ndarray, mask: np.ndarray, tau: float):
    """P(L_j | L_i) of each label set in ``ours`` ({name: (C, C)}) against ``reference`` (C, C) over
    the ordered pairs in ``mask``, with the τ lines of the binarized graph (Eq. 7)."""
    fig, axes = plt.subplots(1, len(ours), figsize=(PAGE_WIDTH, PAGE_WIDTH / len(ours)), squeeze=False)
    for ax, (name, P) in zip(axes[0], ours.items()):
        ax.scatter(reference[mask], P[mask], s=4, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax.axvline(tau, color="tab:red", lw=0.6, ls="--")
        ax.axhline(tau, color="tab:red", lw=0.6, ls="--")
        ax.set_xlabel("COCO 2014 train: P(L_j | L_i)", fontsize=SMALL)
        ax.set_ylabel(f"{name}: P(L_j | L_i)", fontsize=SMALL)
        ax.tick_params(labelsize=SMALL)
    fig.tight_layout()
    return fig
