"""Tables of results: seeds aggregated as mean ± std, ours beside the paper's."""

from __future__ import annotations

import pandas as pd

from .metrics import metric_keys
from .train import RunResult


def results_frame(runs: dict[str, list[RunResult]]) -> pd.DataFrame:
    """One row per (variant, seed) with the 13 test metrics; tidy, for further analysis.
    ``runs``: ``{variant: [RunResult per seed]}`` (:func:`mlgcn_core.experiments.run_variants`)."""
    rows = []
    for variant, r in ((v, r) for v, rs in runs.items() for r in rs):
        rows.append({"variant": variant, "seed": r.config.seed, "best_epoch": r.best_epoch,
                     **{k: float(r.metrics[k]) for k in metric_keys()}})
    return pd.DataFrame(rows)


def mean_std(frame: pd.DataFrame, by: str = "variant", decimals: int = 1) -> pd.DataFrame:
    """Per variant, each metric as the string 'mean ± std' (std over seeds, ddof=1)."""
    keys = [k for k in metric_keys() if k in frame]
    g = frame.groupby(by, sort=False)[keys]
    mean, std = g.mean(), g.std(ddof=1).fillna(0.0)
    fmt = f"{{:.{decimals}f}} ± {{:.{decimals}f}}"
    out = pd.DataFrame({k: [fmt.format(m, s) for m, s in zip(mean[k], std[k])] for k in keys},
                       index=mean.index)
    out.insert(0, "seeds", g.size().astype(int))
    return out


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, ours_label: str,
                 paper_label: str) -> pd.DataFrame:
    """Metrics as rows; columns (source, method): ours first, then the paper's."""
    paper = paper.map(lambda v: f"{v:.1f}")
    paper.insert(0, "seeds", "")
    return pd.concat({ours_label: ours, paper_label: paper}).T.fillna("—")  # "—": not in the paper


def paired_difference(frame: pd.DataFrame, a: str, b: str, metric: str = "mAP") -> dict:
    """Per-seed difference a − b of ``metric``: mean, std and the individual values."""
    pa = frame[frame.variant == a].set_index("seed")[metric]
    pb = frame[frame.variant == b].set_index("seed")[metric]
    d = (pa - pb).dropna()
    return {"mean": float(d.mean()), "std": float(d.std(ddof=1)) if len(d) > 1 else 0.0,
            "values": d.round(3).tolist(), "n": int(len(d))}


def effect_holds(d: dict) -> bool:
    """A paired difference 'holds' when its mean is positive and above two standard errors."""
    return d["mean"] > 0 and d["mean"] > 2 * d["std"] / max(1, d["n"]) ** 0.5


def verdict(d: dict, what: str, claim: str = "the paper's effect", unit: str = "mAP",
            digits: int = 2) -> str:
    """One Markdown bullet stating a paired difference and whether ``claim`` held."""
    unit = f" {unit}" if unit else ""
    return (f"* {what}: **{d['mean']:+.{digits}f} ± {d['std']:.{digits}f}**{unit} over {d['n']} seeds "
            f"(per seed {d['values']}) — {claim} "
            + ("**holds** here." if effect_holds(d) else "is **not** shown here."))
