"""Figures of the book (matplotlib): data examples, label statistics, graphs, training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np


def show_examples(images: np.ndarray, labels: np.ndarray, classes: list[str], n: int = 12,
                  cols: int = 6):
    """Grid of scenes (N, S, S) with their label sets as titles."""
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 2.3 * rows))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < min(n, len(images)):
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            ax.set_title("\n".join(classes[c] for c in np.flatnonzero(labels[i])), fontsize=8)
    fig.tight_layout()
    return fig


def label_frequencies(labels_by_split: dict[str, np.ndarray], classes: list[str]):
    """Bar chart: fraction of images carrying each label, per split."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    width = 0.8 / len(labels_by_split)
    x = np.arange(len(classes))
    for k, (split, y) in enumerate(labels_by_split.items()):
        ax.bar(x + k * width, y.mean(axis=0), width, label=f"{split} (n={len(y)})")
    ax.set_xticks(x + width * (len(labels_by_split) - 1) / 2, classes, rotation=30, ha="right")
    ax.set_ylabel("fraction of images")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def heatmap(matrix: np.ndarray, classes: list[str], title: str, fmt: str = "{:.2f}", ax=None,
            cmap: str = "viridis", row_label: str = "", col_label: str = ""):
    """Annotated C×C heat map."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(matrix, cmap=cmap)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    hi = np.nanmax(matrix) if np.size(matrix) else 1
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center", fontsize=6.5,
                    color="white" if matrix[i, j] < 0.6 * hi else "black")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def draw_graph(A: np.ndarray, classes: list[str], title: str, ax=None, eps: float = 1e-9):
    """Directed label graph: an arrow i → j for each off-diagonal A_ij > eps, width ∝ A_ij."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5.5))
    g = nx.DiGraph()
    g.add_nodes_from(classes)
    for i, j in zip(*np.nonzero(A > eps)):
        if i != j:
            g.add_edge(classes[i], classes[j], weight=float(A[i, j]))
    pos = nx.circular_layout(g)
    w = np.array([d["weight"] for *_, d in g.edges(data=True)]) if g.number_of_edges() else np.ones(0)
    widths = 0.6 + 3.0 * w / w.max() if w.size else []
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color="#cfe2f3", node_size=900)
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    nx.draw_networkx_edges(g, pos, ax=ax, width=widths, arrowsize=12, node_size=900,
                           connectionstyle="arc3,rad=0.12", edge_color="#555555")
    ax.set_title(f"{title}\n{g.number_of_edges()} directed edges")
    ax.axis("off")
    return ax


def training_curves(histories: dict[str, list[list[dict]]], key: str = "val_mAP"):
    """Mean ± std over seeds of a per-epoch quantity, one line per variant."""
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
