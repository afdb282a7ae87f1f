"""How the chapter "Does the graph help?" trains every variant as well as the model: budgets in
optimizer steps, the learning rate picked on validation per (regime, level, variant) — controls
included —, a grid that grows past an edge pick, and the doubling test that decides how long is
long enough.

Protocol (:func:`tuned_runs`): every run keeps its best epoch on the validation split (per-epoch
validation curve in its history), the lr falls × 0.1 after 75 % of the steps, and the lr is
picked per (level, variant) — controls included — by the mean validation score of the first
``tune_seeds`` seeds over the grid; the pick then trains twice as many steps on those seeds, and
where that gains more than 0.2 mAP on validation the cell moves to the doubled budget and is tuned
again (at most twice); the other seeds then run at the pick and budget. :func:`convergence`
reports each cell's doubling gain at its final budget, and the plateau rule's reading of its
mean validation curve beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def steps_per_epoch(n_scenes: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over ``n_scenes`` (the last batch may be smaller)."""
    return math.ceil(int(n_scenes) / int(batch_size))


def budget(n_scenes: int, steps: int, batch_size: int, decay_at: float = 0.75) -> dict:
    """Config fields that train ``n_scenes`` for about ``steps`` optimizer steps (whole epochs),
    the lr × 0.1 after ``decay_at`` of them: ``{"epochs", "lr_steps"}`` — at 6,000 scenes,
    940 steps of batch 128 are chapter 02's recipe (20 epochs, the step at 15)."""
    epochs = max(1, round(steps / steps_per_epoch(n_scenes, batch_size)))
    return {"epochs": epochs, "lr_steps": (max(1, round(decay_at * epochs)),)}


@dataclass
class Cell:
    """One (regime, level, variant) to tune and train: its config without lr and seed."""

    regime: str
    level: object
    variant: str
    config: object  # ExperimentConfig
    steps: int  # optimizer steps of its budget
    extra: dict = field(default_factory=dict)  # more columns for its rows


def train_runs(configs: list, jobs: int) -> list:
    """Train (or read back) ``configs`` in ``jobs`` parallel processes: their RunResults, in order."""
    from ..scheduler import run_many

    return run_many(configs, jobs=jobs)


def mean_ap(run, split: str) -> float:
    """A score: the test (or validation) mAP of a run."""
    return float((run.metrics if split == "test" else run.val_metrics)["mAP"])


RUN_COLUMNS = ["regime", "level", "variant", "seed", "lr", "val_score", "score", "mAP", "best_epoch", "steps", "run"]


def run_rows(cells: list[Cell], runs: list, score: Callable) -> list[dict]:
    """One tidy row per (cell, run): the cell's regime, level and variant, the run's seed and lr, its
    validation and test score, mAP, best epoch and folder."""
    return [{"regime": c.regime, "level": c.level, "variant": c.variant, "seed": r.config.seed,
             "lr": r.config.lr, "val_score": score(r, "val"), "score": score(r, "test"), "mAP": float(r.metrics["mAP"]),
             "best_epoch": r.best_epoch, "steps": c.steps, "run": str(r.path), **c.extra} for c, r in zip(cells, runs)]


def pick_lr(frame: pd.DataFrame, by: Sequence[str] = ("regime", "level", "variant")) -> pd.DataFrame:
    """Per group of ``by``: the learning rate with the highest mean ``val_score`` over its seeds
    (ties: the smaller lr) — chosen on the validation split only. Returns one row per group:
    ``by`` + ``lr`` + ``val_score`` + ``edge`` (``"low"`` / ``"high"`` when the pick is the group's
    smallest / largest lr tried — the grid may be too narrow there —, else ``""``)."""
    by = list(by)
    mean = frame.groupby(by + ["lr"], sort=False)["val_score"].mean().reset_index()
    span = mean.groupby(by, sort=False)["lr"].agg(["min", "max", "nunique"]).reset_index()
    best = (mean.sort_values(by + ["val_score", "lr"], ascending=[True] * len(by) + [False, True])
            .drop_duplicates(by).merge(span, on=by).reset_index(drop=True))
    best["edge"] = np.where(best["nunique"] < 2, "", np.where(best["lr"] == best["min"], "low",
                                                              np.where(best["lr"] == best["max"], "high", "")))
    return best.drop(columns=["min", "max", "nunique"])


def tuned_runs(cells: list[Cell], seeds: Sequence[int], lrs: Sequence[float], score: Callable,
               tune_seeds: int = 2, jobs: int = 2, extend: int = 2, lengthen: int = 0,
               tol: float = 0.2) -> pd.DataFrame:
    """Train every cell at its own picked lr, for long enough: the grid ``lrs`` ×
    ``seeds[:tune_seeds]`` for each cell, :func:`pick_lr` on validation; where a cell's pick is at
    the edge of what it tried, the grid is extended one step (the grid's ratio) beyond that edge and
    the pick made again, at most ``extend`` times. Then the doubling test (:func:`doubling_gain`):
    the pick trains twice as many steps on the tuning seeds; where that raises their validation
    score by more than ``tol``, the cell moves to the doubled budget (whose pick run is the one just
    trained), its lr is picked again there and the test repeats, at most ``lengthen`` times. A cell
    still gaining at its last budget is not converged (:func:`convergence`). Finally
    ``seeds[tune_seeds:]`` run at each cell's pick and budget.
    Returns the picked lr's rows for every seed; ``attrs["lr_grid"]``: every lr tried per cell at
    its final budget, its mean validation score, the pick and whether it is still at an edge
    (:func:`lr_grid`); ``attrs["lengthened"]``: the cells that got more steps (:func:`lengthened`);
    ``attrs["doubling"]``: every doubling test (:func:`doubling`)."""
    seeds, lrs = list(seeds), sorted(float(x) for x in lrs)
    if not cells:  # a regime left out of the build (no levels): no rows
        out = pd.DataFrame(columns=RUN_COLUMNS)
        out.attrs["lr_grid"], out.attrs["lengthened"], out.attrs["doubling"] = [], [], []
        return out
    tune, rest = seeds[:max(1, tune_seeds)], seeds[max(1, tune_seeds):]
    grid, picks = _grid_search(cells, tune, lrs, score, jobs, extend)
    grown, tests, todo = [], [], list(cells)
    for round_ in range(int(lengthen) + 1):
        checked = _doubling_tests(todo, tune, _lr_of(picks), grid, score, jobs)
        tests += checked
        slow = {(t["regime"], _hashable(t["level"]), t["variant"]) for t in checked if t["gain"] > tol}
        if not slow or round_ == lengthen:
            break
        cells = [_longer(c) if _key(c) in slow else c for c in cells]
        todo = [c for c in cells if _key(c) in slow]
        grown += [{"regime": c.regime, "level": c.level, "variant": c.variant, "steps": c.steps} for c in todo]
        again, picks_again = _grid_search(todo, tune, lrs, score, jobs, extend)
        grid, picks = _without(grid, slow, again), _without(picks, slow, picks_again)
    extra = _rest_runs(cells, rest, _lr_of(picks), score, jobs)
    chosen = grid.merge(picks[["regime", "level", "variant", "lr"]], on=["regime", "level", "variant", "lr"])
    out = pd.concat([chosen, extra], ignore_index=True).sort_values(["level", "variant", "seed"], kind="stable")
    out = out.reset_index(drop=True)
    table = grid.groupby(["regime", "level", "variant", "lr"], sort=False)["val_score"].mean().reset_index()
    table = table.merge(picks[["regime", "level", "variant", "lr", "edge"]].assign(picked=True), how="left",
                        on=["regime", "level", "variant", "lr"]).sort_values(["level", "variant", "lr"])
    table["picked"] = table["picked"].fillna(False).astype(bool)
    table["edge"] = table["edge"].fillna("").astype(str) != ""
    out.attrs["lr_grid"] = table.to_dict(orient="records")  # records: pandas compares attrs on concat
    out.attrs["lengthened"] = grown
    out.attrs["doubling"] = tests
    return out


def doubling_gain(short: Sequence[float], doubled: Sequence[float]) -> float:
    """The doubling test of convergence: mean validation score of the same seeds trained twice as
    many steps (the lr step at the same share, :func:`longer`) − at the budget itself. A budget is
    converged when this is ≤ the tolerance (0.2 mAP): more training would not change the result.
    (A curve's own shape cannot tell: a run whose last quarter gains under 0.2 mAP can still gain
    1.5 mAP when trained twice as long — the step decay at 75 % sets its last quarter's shape.)"""
    return float(np.mean(doubled) - np.mean(short))


def _doubling_tests(cells: list[Cell], tune: list[int], lr_of: dict, grid: pd.DataFrame, score: Callable,
                    jobs: int) -> list[dict]:
    """:func:`doubling_gain` of each cell's pick on the ``tune`` seeds: one record per cell."""
    got = train_runs([_longer(c).config.replace(lr=float(lr_of[_key(c)]), seed=s) for c in cells for s in tune],
                     jobs)
    out = []
    for i, c in enumerate(cells):
        lr = float(lr_of[_key(c)])
        mine = grid[[k == _key(c) for k in _keys(grid)]]
        short = mine.loc[(mine["lr"] == lr) & mine["seed"].isin(tune), "val_score"].tolist()
        doubled = [score(r, "val") for r in got[i * len(tune):(i + 1) * len(tune)]]
        out.append({"regime": c.regime, "level": c.level, "variant": c.variant, "steps": c.steps, "lr": lr,
                    "val_score": float(np.mean(short)), "doubled_val_score": float(np.mean(doubled)),
                    "gain": round(doubling_gain(short, doubled), 3)})
    return out


def doubling(frame: pd.DataFrame) -> pd.DataFrame:
    """Every doubling test of a :func:`tuned_runs` frame: per (regime, level, variant) and budget
    ``steps``, the picked ``lr``, the tuning seeds' validation score there and at twice the steps, and
    the ``gain``; the last test of a cell is at its final budget."""
    return pd.DataFrame(frame.attrs.get("doubling", []),
                        columns=["regime", "level", "variant", "steps", "lr", "val_score", "doubled_val_score",
                                 "gain"])


def _grid_search(cells: list[Cell], tune: list[int], lrs: list[float], score: Callable, jobs: int,
                 extend: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lr grid of ``cells`` on the ``tune`` seeds, grown past edge picks at most ``extend``
    times: (its rows, :func:`pick_lr`'s picks)."""
    ratio = lrs[1] / lrs[0] if len(lrs) > 1 else 4.0
    cell_of = {_key(c): c for c in cells}
    todo, grid = {k: lrs for k in cell_of}, pd.DataFrame()
    for round_ in range(extend + 1):
        pairs = [(cell_of[k], lr) for k, tried in todo.items() for lr in tried]
        got = train_runs([c.config.replace(lr=lr, seed=s) for c, lr in pairs for s in tune], jobs)
        grid = pd.concat([grid, pd.DataFrame(run_rows([c for c, _ in pairs for _ in tune], got, score))],
                         ignore_index=True)
        picks = pick_lr(grid)
        todo = {k: [p.lr / ratio if p.edge == "low" else p.lr * ratio]
                for k, p in zip(_keys(picks), picks.itertuples()) if p.edge and round_ < extend}
        if not todo:
            break
    return grid, picks


def _rest_runs(cells: list[Cell], rest: list[int], lr_of: dict, score: Callable, jobs: int) -> pd.DataFrame:
    """The ``rest`` seeds of every cell at its picked lr: their rows."""
    more_cells = [c for c in cells for _ in rest]
    got = train_runs([c.config.replace(lr=float(lr_of[_key(c)]), seed=s) for c in cells for s in rest], jobs)
    return pd.DataFrame(run_rows(more_cells, got, score))


def mean_curve(curves: list[list[float]]) -> list[float]:
    """The mean over seeds of per-epoch curves, a missing value skipped — as :func:`validation_curves`
    averages them for :func:`convergence`, so the lengthening and the page read one curve."""
    return pd.DataFrame(curves).mean(axis=0).tolist()  # (seeds, epochs) → (epochs,)


def _without(frame: pd.DataFrame, keys: set, new: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the rows of the cells ``keys``, then ``new``."""
    keep = np.array([k not in keys for k in _keys(frame)], dtype=bool)
    return pd.concat([frame.loc[keep] if len(frame) else frame, new], ignore_index=True)


def _key(cell: Cell) -> tuple:
    return cell.regime, _hashable(cell.level), cell.variant


def _keys(frame: pd.DataFrame) -> list[tuple]:
    return [(r.regime, _hashable(r.level), r.variant) for r in frame.itertuples()]


def _lr_of(picks: pd.DataFrame) -> dict:
    return {k: p.lr for k, p in zip(_keys(picks), picks.itertuples())}


def longer(config, factor: int = 2):
    """``config`` with ``factor`` × its epochs (so its steps), the lr step(s) at the same share of them."""
    return config.replace(epochs=config.epochs * factor,
                          lr_steps=tuple(max(1, round(s * factor)) for s in config.lr_steps))


def _longer(cell: Cell, factor: int = 2) -> Cell:
    """``cell`` with ``factor`` × its epochs (:func:`longer`)."""
    return Cell(cell.regime, cell.level, cell.variant, longer(cell.config, factor), cell.steps * factor,
                dict(cell.extra))


def lengthened(frame: pd.DataFrame) -> list[str]:
    """'variant at level: N steps' for every cell of a :func:`tuned_runs` frame that had not
    plateaued at its first budget and trained longer."""
    return [f"{g['variant']} at {g['level']}: {g['steps']} steps" for g in frame.attrs.get("lengthened", [])]


def lr_grid(frame: pd.DataFrame) -> pd.DataFrame:
    """The lr choice of a :func:`tuned_runs` frame laid open: per (regime, level, variant, lr) the
    mean validation score of the tuning seeds, ``picked`` and ``edge`` (a pick at the grid's edge)."""
    return pd.DataFrame(frame.attrs.get("lr_grid", []),
                        columns=["regime", "level", "variant", "lr", "val_score", "edge", "picked"])


def _hashable(level):
    return tuple(level) if isinstance(level, list) else level


def edge_picks(frame: pd.DataFrame) -> list[str]:
    """'variant at level: lr' for every pick at the edge of the grid (:func:`lr_grid`)."""
    grid = lr_grid(frame)
    return [f"{r.variant} at {r.level}: lr {r.lr:g}" for r in grid[grid.picked & grid.edge].itertuples()]


def plateau(curve: Sequence[float], tol: float = 0.2, tail: float = 0.25) -> dict:
    """The plateau rule for one validation curve (one value per epoch): ``gain`` = best of the
    last ``tail`` of training − best before it; ``converged`` when that gain is ≤ ``tol`` (the
    curve no longer rises by more than ``tol`` mAP); ``plateau_at`` = the first epoch (1-based)
    within ``tol`` of the curve's best."""
    y = np.asarray([v for v in curve if np.isfinite(v)], dtype=float)  # (E,)
    if len(y) < 2:
        return {"gain": float("nan"), "converged": False, "plateau_at": len(y)}
    cut = max(1, min(len(y) - 1, int(round(len(y) * (1 - tail)))))
    gain = float(y[cut:].max() - y[:cut].max())
    return {"gain": gain, "converged": gain <= tol, "plateau_at": int(np.argmax(y >= y.max() - tol)) + 1}


def validation_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (regime, level, variant): the mean over seeds of each epoch's validation mAP, from the
    runs' histories — one row per epoch with ``step`` (optimizer steps done) and ``val_mAP``."""
    from ..runs import load_run

    if not len(frame):  # a regime left out of the build
        return pd.DataFrame(columns=["regime", "level", "variant", "epoch", "step", "val_mAP"])
    rows = []
    for r in frame.itertuples():
        run = load_run(r.run)
        per = (r.steps or 0) / max(1, len(run.history))
        rows += [{"regime": r.regime, "level": r.level, "variant": r.variant, "seed": r.seed,
                  "epoch": int(h["epoch"]), "step": int(round(h["epoch"] * per)), "val_mAP": h.get("val_mAP")}
                 for h in run.history]
    curves = pd.DataFrame(rows)
    return (curves.groupby(["regime", "level", "variant", "epoch", "step"], sort=False)["val_mAP"].mean()
            .reset_index())


def convergence(frame: pd.DataFrame, tol: float = 0.2) -> pd.DataFrame:
    """Per (regime, level, variant) of a :func:`tuned_runs` frame: ``epochs``, ``steps``, the plateau
    rule on its mean validation curve (:func:`plateau`: ``plateau_at_step``, ``gain_last_quarter``,
    shown for the curve's shape), ``gain_when_doubled`` (the doubling test at its final budget,
    :func:`doubling_gain`) and ``converged``: that gain ≤ ``tol`` — the plateau rule where no doubling
    test ran (a frame without the ``doubling`` record)."""
    curves = validation_curves(frame)
    columns = ["regime", "level", "variant", "epochs", "steps", "plateau_at_step", "gain_last_quarter",
               "gain_when_doubled", "converged"]
    if not len(curves):
        return pd.DataFrame(columns=columns)
    final = {(t.regime, _hashable(t.level), t.variant, int(t.steps)): float(t.gain)
             for t in doubling(frame).itertuples()}
    rows = []
    for (regime, level, variant), g in curves.groupby(["regime", "level", "variant"], sort=False):
        rule = plateau(g["val_mAP"].tolist(), tol)
        steps = int(frame.loc[[k == (regime, _hashable(level), variant) for k in _keys(frame)], "steps"].max())
        gain = final.get((regime, _hashable(level), variant, steps), float("nan"))
        rows.append({"regime": regime, "level": level, "variant": variant, "epochs": len(g), "steps": steps,
                     "plateau_at_step": int(g["step"].iloc[rule["plateau_at"] - 1]),
                     "gain_last_quarter": round(rule["gain"], 2), "gain_when_doubled": round(gain, 2),
                     "converged": bool(gain <= tol) if np.isfinite(gain) else rule["converged"]})
    return pd.DataFrame(rows, columns=columns)
