"""Tables of results: runs as tidy frames, seeds aggregated (mean ± std), sweep curves, ours beside the paper's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import metric_keys
from ..runs import RunResult
from ..selection import selection_label


def result_label(name: str, cfg) -> str:
    """A table row's label: ``name``, with " — selected on test (optimistic)" appended when the
    run kept its best epoch by test mAP (``selection="test"``)."""
    return f"{name} — {selection_label('test')}" if cfg.selection == "test" else name


def results_frame(runs: dict[str, list[RunResult]]) -> pd.DataFrame:
    """One row per (variant, seed) with the 13 test metrics; tidy, for further analysis.
    ``runs``: ``{variant: [RunResult per seed]}`` (:func:`mlgcn_core.book.chapters.run_variants`)."""
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


def per_class_table(ap: dict[str, np.ndarray], classes: list[str], dataset: str = "") -> pd.DataFrame:
    """Per-class test AP, 'mean ± std' over seeds per model (``ap``: name → (seeds, C)), the mean
    per-class difference of the last model minus the first, and on VOC 2007 the paper's Table 2
    in the same rows."""
    from .reference import paper_dataset, table2_voc

    table = pd.DataFrame({f"{n} AP": [f"{m:.1f} ± {s:.1f}" for m, s in zip(a.mean(0), a.std(0))]
                          for n, a in ap.items()}, index=classes)  # std over seeds (ddof 0)
    (first, a0), (last, a1) = next(iter(ap.items())), list(ap.items())[-1]
    table[f"{last.split(' ')[0]} − {first.split(' ')[0]}"] = (a1 - a0).mean(0).round(2)
    if dataset and paper_dataset(dataset) == "voc2007":
        table = table.join(table2_voc().drop(columns="mAP").T.add_prefix("paper: "))
    return table


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, ours_label: str,
                 paper_label: str) -> pd.DataFrame:
    """Metrics as rows; columns (source, method): ours first, then the paper's."""
    paper = paper.map(lambda v: f"{v:.1f}")
    paper.insert(0, "seeds", "")
    return pd.concat({ours_label: ours, paper_label: paper}).T.fillna("—")  # "—": not in the paper


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


def _variant_means(table: pd.DataFrame, x: str, variant: str) -> pd.Series:
    """Mean ``mAP`` over seeds per value of ``x`` for ``variant``."""
    c = curve(table, x)
    return c[c["variant"] == variant].set_index(x)["mean"]


def frequency_frame(runs: dict[str, list[RunResult]], train_positives: np.ndarray) -> pd.DataFrame:
    """One row per (variant, seed): test mAP over each label-frequency bin (head / medium / tail,
    :func:`mlgcn_core.metrics.frequency_bins` of ``train_positives`` (n, C) — the labels split into
    thirds by their training positives)."""
    from ..metrics import frequency_bins, map_by_bin

    bins = frequency_bins(train_positives)
    return pd.DataFrame([{"variant": v, "seed": r.config.seed, **map_by_bin(r.metrics["AP"], bins)}
                         for v, rs in runs.items() for r in rs])


def frequency_table(frame: pd.DataFrame, train_positives: np.ndarray) -> pd.DataFrame:
    """:func:`frequency_frame` as 'mean ± std' over seeds per variant (rows) and bin (columns),
    each bin's column naming its labels' training positives (range)."""
    from ..metrics import FREQUENCY_BINS, frequency_bins

    counts = np.asarray(train_positives).sum(0)  # (C,)
    bins = frequency_bins(counts)
    g = frame.groupby("variant", sort=False)[list(FREQUENCY_BINS)]
    mean, std = g.mean(), g.std(ddof=1).fillna(0.0)
    out = pd.DataFrame({f"{b} ({len(bins[b])} labels, {counts[bins[b]].min()}–{counts[bins[b]].max()} positives)":
                        [f"{m:.1f} ± {s:.1f}" for m, s in zip(mean[b], std[b])] for b in FREQUENCY_BINS},
                       index=mean.index)
    out.insert(0, "seeds", g.size().astype(int))
    return out


def variant_convergence(runs: dict[str, list[RunResult]], tol: float = 0.2) -> dict[str, dict]:
    """Per variant: ``{"epochs", "gain_last_quarter", "plateaued", "gain_when_doubled", "converged"}``
    — what chapter 02 records beside every row, so a sweep can print it per point. The doubling
    test (:func:`~mlgcn_core.book.tuning.doubling_gain`): the first seed's run at twice the epochs,
    read from the run store where :func:`~mlgcn_core.book.chapters.run_variants` trained it
    (``converged``: its validation gain ≤ ``tol``; None where it was not run). The plateau rule
    (:func:`~mlgcn_core.book.tuning.plateau`) reads the mean validation curve over the seeds
    (``plateaued``; None without a validation curve)."""
    from ..runs import load_run, run_path
    from .tuning import doubling_gain, longer, mean_ap, mean_curve, plateau

    out = {}
    for variant, rs in runs.items():
        curve = mean_curve([[h.get("val_mAP", np.nan) for h in r.history] for r in rs])  # (E,)
        rule = plateau(curve, tol)
        seen = bool(np.isfinite(curve).any())  # no validation curve (selection "last"): not judged
        twice = run_path(longer(rs[0].config), rs[0].path.parent) if seen else None
        gain = (doubling_gain([mean_ap(rs[0], "val")], [mean_ap(load_run(twice), "val")])
                if twice is not None and (twice / "metrics.json").is_file() else None)
        out[variant] = {"epochs": len(curve), "gain_last_quarter": round(rule["gain"], 2),
                        "plateaued": bool(rule["converged"]) if seen else None,
                        "gain_when_doubled": None if gain is None else round(gain, 2),
                        "converged": None if gain is None else bool(gain <= tol)}
    return out


def recipe_convergence(runs: dict[str, list[RunResult]], tol: float = 0.2) -> pd.DataFrame:
    """Per variant, :func:`variant_convergence` laid out for the page: did the recipe's lr and
    length bring it to a plateau, and does twice the training still gain? Columns ``epochs``,
    ``best epoch`` (per seed), ``gain in the last quarter``, ``plateaued``, ``gain when doubled``."""
    rows = [{"variant": v, "epochs": c["epochs"], "best epoch": ", ".join(str(r.best_epoch) for r in runs[v]),
             "gain in the last quarter": c["gain_last_quarter"],
             "plateaued": {True: "yes", False: "no — still rising", None: "no validation curve"}[c["plateaued"]],
             "gain when doubled": "not tested" if c["gain_when_doubled"] is None else f"{c['gain_when_doubled']:+.2f}"}
            for v, c in variant_convergence(runs, tol).items()]
    return pd.DataFrame(rows).set_index("variant")


def sweep_convergence(table: pd.DataFrame, x: str) -> pd.DataFrame:
    """A sweep's convergence table: per value of the axis ``x`` (rows) and variant (columns), the
    epochs its runs trained and the doubling test chapter 02 recorded at that point ("yes, 78
    epochs (+0.05 when doubled)" / "no: +1.52 when doubled, 78 epochs"); a point without the test,
    the plateau rule ("not tested; plateau rule: yes, 39 epochs"). Points recorded without either (an
    older chapter 02) read "not recorded"."""
    if "plateaued" not in table:  # recorded by an older chapter 02: nothing to read
        table = table.assign(plateaued=np.nan, epochs=np.nan, gain_last_quarter=np.nan)
    for col in ("converged", "gain_when_doubled"):  # recorded without the doubling test
        if col not in table:
            table = table.assign(**{col: np.nan})
    rows = table.dropna(subset=["variant"]).drop_duplicates([x, "variant"])

    def cell(r) -> str:
        if pd.isna(r.plateaued):
            return "not recorded" if pd.isna(r.epochs) else "no validation curve"
        if pd.isna(r.converged):
            return f"not tested; plateau rule: {'yes' if bool(r.plateaued) else 'no'}, {int(r.epochs)} epochs"
        return (f"yes, {int(r.epochs)} epochs ({r.gain_when_doubled:+.2f} when doubled)" if bool(r.converged)
                else f"no: {r.gain_when_doubled:+.2f} when doubled, {int(r.epochs)} epochs")

    return (rows.assign(converged=[cell(r) for r in rows.itertuples()])
            .pivot(index=x, columns="variant", values="converged").rename_axis(columns=None))


def page_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a page shows it: booleans (and booleans in object columns) in words."""
    words = {True: "yes", False: "no"}
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype == bool or (values.dtype == object and len(values)
                                    and all(isinstance(v, (bool, np.bool_)) for v in values.dropna())):
            out[col] = values.map(lambda v: words.get(bool(v), v) if isinstance(v, (bool, np.bool_)) else v)
    return out


def page_html(frame: pd.DataFrame) -> str:
    """The HTML of ``frame`` on a page: :func:`page_frame`, and no bare 0…n row index (a default
    RangeIndex is left out; a named or meaningful index stays)."""
    shown = page_frame(frame)
    bare = isinstance(shown.index, pd.RangeIndex) and shown.index.name is None
    return shown.to_html(index=not bare, classes="dataframe", border=0, max_rows=pd.get_option("display.max_rows"))


def page_tables() -> None:
    """Show every DataFrame of the running notebook as :func:`page_html` does (the published pages
    print no True/False and no bare index); outside IPython, nothing."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the book wing installs IPython
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, page_html)


def config_table(cfg) -> pd.DataFrame:
    """A run config on the page: the fields that can change its result (its run key's), one row each,
    in words (:func:`setting_text`) — not the dataclass's repr."""
    fields = sorted(cfg.key_fields())
    return settings_table({"value": {f: getattr(cfg, f) for f in fields}}, group="config")


def setting_text(value) -> str:
    """One setting as a page prints it: lists joined by commas, booleans in words, an empty list
    "none", None "—", a dict as "key: value" pairs; numbers as Python writes them short."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {setting_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_text(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_table(groups: dict[str, dict], group: str = "regime") -> pd.DataFrame:
    """Settings laid out for the page, not printed as a dict: one row per setting (the index,
    named ``setting``), one column per group (``groups``: group → {setting: value}), each value in
    words (:func:`setting_text`); "" where a group has no such setting."""
    names = list(dict.fromkeys(k for g in groups.values() for k in g))
    table = pd.DataFrame({g: [setting_text(v[k]) if k in v else "" for k in names] for g, v in groups.items()},
                         index=pd.Index([n.replace("_", " ") for n in names], name="setting"))
    return table.rename_axis(columns=group)


def lr_choice(grid: pd.DataFrame) -> pd.DataFrame:
    """An lr grid (:func:`~mlgcn_core.book.tuning.lr_grid`) laid open: the mean validation score of
    the tuning seeds per (level, lr) and variant, the pick marked ``*`` and a pick at the grid's
    edge ``!``."""
    if not len(grid):  # nothing was tuned (a preset without a validation split)
        return pd.DataFrame()
    marks = (grid["val_score"].round(2).astype(str) + grid["picked"].map({True: " *", False: ""})
             + grid["edge"].map({True: " !", False: ""}))
    return grid.assign(val=marks).pivot_table(index=["level", "lr"], columns="variant", values="val",
                                              aggfunc="first").fillna(NOT_TRIED)


NOT_TRIED = "not tried"  # an lr of a grid one variant did not train (its grid grew elsewhere)


def sweep_rows(table: pd.DataFrame, x: str, metrics: tuple[str, ...] = ("mAP", "CF1", "OF1")) -> pd.DataFrame:
    """A sweep's tidy table as a page shows it: the axis ``x``, variant and seed of every run with
    its test ``metrics`` (2 decimals), in the axis' order; the internal point key left out, and a
    column ``error`` only when a point failed (its message)."""
    failed = "error" in table and table["error"].notna().any()
    cols = [x, "variant", "seed", *[m for m in metrics if m in table], *(["error"] if failed else [])]
    out = table[[c for c in cols if c in table]].copy()
    out[[m for m in metrics if m in out]] = out[[m for m in metrics if m in out]].round(2)
    if failed:
        out["error"] = out["error"].fillna("")
    return out.sort_values([x, "variant", "seed"], kind="stable").reset_index(drop=True)
