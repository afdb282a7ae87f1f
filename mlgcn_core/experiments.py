"""The book's experiments: the compared variants, and the aggregation of sweep tables into the
ablation curves (mean ± std over seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# name → config overrides; GMP/GAP: global max / average pooling of the same frozen backbone
VARIANTS: dict[str, dict] = {
    "baseline (GMP)": dict(model="baseline", pooling="max"),
    "baseline (GAP)": dict(model="baseline", pooling="avg"),
    "ML-GCN (binary)": dict(model="mlgcn", graph="binary", pooling="max"),
    "ML-GCN (re-weighted)": dict(model="mlgcn", graph="reweighted", pooling="max"),
}


def curve(table: pd.DataFrame, x: str, metric: str = "mAP", by: str = "variant") -> pd.DataFrame:
    """Mean, std and count over seeds of ``metric`` per (variant, x), from a sweep's tidy table."""
    ok = table[table["error"].isna()] if "error" in table else table
    g = ok.groupby([by, x])[metric]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def best_setting(table: pd.DataFrame, x: str, variant: str, metric: str = "mAP") -> dict:
    """The x with the highest mean ``metric`` for ``variant`` (mean ± std over seeds)."""
    c = curve(table, x, metric)
    c = c[c["variant"] == variant]
    if c.empty:
        raise ValueError(f"no finished results for {variant!r}")
    row = c.loc[c["mean"].idxmax()]
    return {x: row[x], "mean": float(row["mean"]), "std": float(row["std"]), "seeds": int(row["count"])}


def failed_points(table: pd.DataFrame) -> pd.DataFrame:
    if "error" not in table:
        return table.iloc[0:0]
    return table[table["error"].notna()]


def plot_curves(table: pd.DataFrame, x: str, variants: list[str], metrics=("mAP", "CF1", "OF1"),
                mark: float | None = None, mark_label: str = "paper's choice", reference: str | None = None):
    """One panel per metric: mean ± std over seeds vs ``x``; a dashed line for ``reference``
    (a variant independent of x, e.g. the baseline); a vertical line at ``mark``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
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


def chapter_config(data_seed: int, n_train: int, n_val: int, n_test: int, backbone: str,
                   image_size: int, mode: str, epochs: int, lr: float, seeds: list,
                   smoke_seeds: int = 2):
    """The base config the result chapters share (02's runs are reused, not retrained), and the
    seeds; tiny settings under ``MLGCN_SMOKE=1``. Returns ``(outfits config, base config, seeds)``."""
    from .config import load_preset
    from .data import SMOKE, OutfitsConfig
    from .notebook import smoke_mode

    data_cfg = OutfitsConfig(seed=data_seed, n_train=n_train, n_val=n_val, n_test=n_test)
    if smoke_mode():
        data_cfg, epochs, seeds = SMOKE, 3, list(seeds)[:smoke_seeds]
    base = load_preset("default").replace(outfits=data_cfg, backbone=backbone, image_size=image_size,
                                          mode=mode, epochs=epochs, lr=lr,
                                          lr_steps=(max(1, int(0.75 * epochs)),))
    return data_cfg, base, list(seeds)
