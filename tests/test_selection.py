"""The reported epoch (``cfg.selection``), read off :class:`~mlgcn_core.selection.EpochSelection`
without training: which epochs are evaluated, which one is kept, what the history records."""

from __future__ import annotations

import math

import torch

from mlgcn_core.config import ExperimentConfig
from mlgcn_core.selection import EpochSelection, selection_label


class FakeEngine:
    """``evaluate(split)`` gives the mAP of the epoch just trained (``self.epoch``)."""

    def __init__(self, maps: dict):
        self.maps, self.calls, self.epoch = maps, [], 0

    def evaluate(self, split: str) -> dict:
        self.calls.append(split)
        m = self.maps[split][self.epoch]
        return {"mAP": m, "CF1": 0.0, "OF1": 0.0, "AP": [m]}


def _run(selection: str, has_val: bool = True, maps=(10.0, 30.0, 20.0)):
    cfg = ExperimentConfig(selection=selection, epochs=len(maps))
    engine, model = FakeEngine({"val": list(maps), "test": list(maps)}), torch.nn.Linear(1, 1)
    sel, rows = EpochSelection(cfg, has_val), []
    for epoch in range(cfg.epochs):
        engine.epoch = epoch
        scores = sel.scores(engine, epoch)
        rows.append(sel.columns(scores))
        sel.update(epoch, scores, model)
    return sel, engine.calls, rows


def test_val_keeps_the_best_validation_epoch():
    sel, calls, rows = _run("val")
    assert calls == ["val"] * 3 and sel.best["epoch"] == 2 and sel.best["mAP"] == 30.0
    assert sel.best["val"]["mAP"] == 30.0 and [r["val_mAP"] for r in rows] == [10.0, 30.0, 20.0]


def test_last_keeps_the_final_epoch_and_scores_val_once():
    sel, calls, rows = _run("last")
    assert calls == ["val"] and sel.best["epoch"] == 3 and sel.best["mAP"] == 20.0
    assert math.isnan(rows[0]["val_mAP"]) and rows[-1]["val_mAP"] == 20.0
    sel, calls, rows = _run("last", has_val=False)  # VOC / COCO with "last": no validation split
    assert calls == [] and sel.best["epoch"] == 3 and sel.best["val"] == {} and rows == [{}, {}, {}]


def test_test_selection_is_labelled_optimistic_and_keeps_no_validation():
    sel, calls, rows = _run("test")
    assert calls == ["test"] * 3 and sel.best["epoch"] == 2 and sel.best["val"] == {}
    assert "test_mAP" in rows[0] and selection_label("test") == "selected on test (optimistic)"


def test_resumed_selection_continues_from_the_saved_best():
    cfg = ExperimentConfig(epochs=3)
    saved = {"mAP": 40.0, "epoch": 1, "val": {"mAP": 40.0}, "model": {}}
    sel = EpochSelection(cfg, True, saved)
    sel.update(1, {"mAP": 35.0, "CF1": 0, "OF1": 0}, torch.nn.Linear(1, 1))
    assert sel.best["epoch"] == 1  # a worse epoch after the resume does not replace it
