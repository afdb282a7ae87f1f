"""Which epoch a run reports (``ExperimentConfig.selection``), and how its results say so."""

from __future__ import annotations

import copy

LABELS = {"val": "best validation mAP", "last": "last epoch (no selection)",
          "test": "selected on test (optimistic)"}


def selection_label(selection: str) -> str:
    """How a result of a run with ``selection`` is labelled (metrics.json, ``evaluate``, tables):
    ``"test"`` → "selected on test (optimistic)" (the official code's protocol)."""
    return LABELS[selection]


class EpochSelection:
    """The reported epoch and its state. ``val`` / ``test``: the best mAP on that split, evaluated
    after every epoch (``test`` is the official code's protocol, labelled optimistic); ``last``: the
    final epoch — where the data has a validation split of its own (the embedded benchmark), it is
    scored once, after that epoch (to choose an lr on it, never on test)."""

    def __init__(self, cfg, has_val: bool, best: dict | None = None):
        self.split = {"val": "val", "test": "test", "last": None}[cfg.selection]
        self.epochs, self.has_val = cfg.epochs, has_val
        self.best = dict(best) if best else {"mAP": -1.0, "epoch": 0, "val": {}, "model": None}

    def scores(self, engine, epoch: int) -> dict | None:
        """The metrics the (0-based) ``epoch`` is judged by (``engine.evaluate``), or None when it
        is not evaluated."""
        if self.split:
            return engine.evaluate(self.split)
        return engine.evaluate("val") if epoch + 1 == self.epochs and self.has_val else None

    def columns(self, scores: dict | None) -> dict:
        """The history's columns for them: ``<split>_mAP``, ``_CF1``, ``_OF1`` (NaN when not evaluated)."""
        split = self.split or ("val" if self.has_val else None)
        if split is None:
            return {}
        return {f"{split}_{k}": scores[k] if scores else float("nan") for k in ("mAP", "CF1", "OF1")}

    def update(self, epoch: int, scores: dict | None, model) -> None:
        """Keep (0-based) ``epoch`` if it is the one to report: the final epoch (``last``), or a
        better mAP than the best so far on the watched split."""
        if self.split is None:
            keep = epoch + 1 == self.epochs
        else:
            keep = scores["mAP"] > self.best["mAP"]
        if keep:
            from .runs import jsonable

            self.best = {"mAP": scores["mAP"] if scores else -1.0, "epoch": epoch + 1,
                         "val": jsonable(scores) if scores is not None and self.split != "test" else {},
                         "model": copy.deepcopy(model.state_dict())}
