"""The book's figure functions on small inputs: they draw what they say, fit the page's width and
keep their text legible (the figures the chapters used to draw in long notebook cells)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mlgcn_core.book import plots  # noqa: E402

CLASSES = [f"label {i}" for i in range(10)]
RNG = np.random.default_rng(0)


def _texts(fig):
    return [t for ax in fig.axes for t in (*ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels(), ax.title)
            if t.get_text()]


def _legible(fig, smallest: float = plots.SMALL - 1.5):
    """The figure fits the page (no scaling down in the browser) and no text is smaller than
    ``smallest`` points."""
    assert fig.get_figwidth() <= plots.PAGE_WIDTH + 1e-9
    sizes = [t.get_fontsize() for t in _texts(fig)]
    assert sizes and min(sizes) >= smallest, min(sizes)


def test_tsne_panels_label_every_point():
    panels = {"a": RNG.normal(size=(10, 5)), "b": RNG.normal(size=(10, 8)), "c": RNG.normal(size=(10, 3))}
    fig = plots.tsne_panels(panels, CLASSES, perplexity=3)
    drawn = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in drawn] == list(panels)
    assert all(sorted(t.get_text() for t in ax.texts) == sorted(CLASSES) for ax in drawn)
    _legible(fig)


def test_per_class_bars_and_prediction_grid():
    ap = {"baseline (GMP)": RNG.uniform(50, 90, (3, 10)), "ML-GCN (re-weighted)": RNG.uniform(50, 90, (3, 10))}
    fig = plots.per_class_bars(ap, CLASSES)
    assert len(fig.axes[0].patches) == 20 and [t.get_text() for t in fig.axes[0].get_xticklabels()] == CLASSES
    _legible(fig)
    pics = [RNG.integers(0, 255, (32, 32), dtype=np.uint8) for _ in range(4)]
    truth = np.eye(10, dtype=int)[[0, 1, 2, 3]]
    probs = {"baseline (GMP)": np.full((4, 10), 0.1), "ML-GCN (re-weighted)": np.eye(10)[[0, 1, 2, 4]] * 0.9}
    fig = plots.prediction_grid(pics, truth, probs, CLASSES)
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert len(labels) == 4 and "label 4 0.90 ✗" in labels[3] and "label 0 0.90" in labels[0]
    _legible(fig, smallest=plots.SMALL - 1.5)


def test_retrieval_grid_heatmaps_graphs_and_regime_curve():
    neigh = {"a": RNG.integers(0, 6, (6, 3)), "b": RNG.integers(0, 6, (6, 3))}
    labels = np.eye(10, dtype=int)[RNG.integers(0, 10, 6)]
    fig = plots.retrieval_grid(lambda i: np.full((8, 8), i * 20, np.uint8), np.array([0, 2]), neigh, labels, CLASSES)
    assert len(fig.axes) == 2 * 2 * 4  # (queries × models) rows of query + 3 neighbours
    assert fig.get_figwidth() <= plots.PAGE_WIDTH
    m = RNG.uniform(size=(10, 10))
    fig = plots.heatmaps({"M": m, "P": m.T}, CLASSES)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["M", "P"]
    assert sum(len(ax.texts) for ax in fig.axes) == 2 * 100  # every cell annotated
    _legible(fig)
    fig = plots.graphs({"g": (m > 0.5).astype(float)}, CLASSES)
    assert fig.get_figwidth() <= plots.PAGE_WIDTH
    frame = pd.DataFrame([{"level": n, "variant": v, "seed": s, "score": 70 + s + (n == 6000)}
                          for n in (100, 6000) for v in ("x", "y") for s in range(3)])
    fig = plots.regime_curve(frame, "scenes")
    assert [line.get_label() for line in fig.axes[0].lines] == ["x", "y"]
    assert list(fig.axes[0].lines[0].get_ydata()) == pytest.approx([71.0, 72.0])


def test_multi_series_figures_use_the_colour_blind_safe_palette():
    """Lines and bars take Okabe & Ito's colours, in order; matplotlib's own cycle is back after;
    the forest plot's held and reversed rows are blue and vermillion, not green and red."""
    from matplotlib.colors import to_hex

    before = matplotlib.rcParams["axes.prop_cycle"]
    hist = [[{"epoch": e, "val_mAP": 50.0 + e + k} for e in range(1, 4)] for k in range(2)]
    fig = plots.training_curves({"A": hist, "B": hist, "C": hist})
    colours = [to_hex(line.get_color()).lower() for line in fig.axes[0].get_lines()]
    assert [c for c in colours if c in [x.lower() for x in plots.OKABE_ITO]][:3] == [
        x.lower() for x in plots.OKABE_ITO[:3]]
    ap = {"GMP": RNG.random((2, 10)), "ML-GCN": RNG.random((2, 10))}
    bars = plots.per_class_bars(ap, CLASSES)
    faces = {to_hex(p.get_facecolor()).lower() for p in bars.axes[0].patches}
    assert faces == {plots.OKABE_ITO[0].lower(), plots.OKABE_ITO[1].lower()}
    assert matplotlib.rcParams["axes.prop_cycle"] == before
    assert plots.VERDICT_COLOURS["held"] == plots.OKABE_ITO[0]
    assert plots.VERDICT_COLOURS["reversed"] == plots.OKABE_ITO[3]
