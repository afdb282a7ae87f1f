"""The protocol around the method: epoch selection (val / last / test), the run key of
earlier configs, p in the paper's terms, the official README's numbers and chapter 02's margin
verdicts, SyncBatchNorm under DDP, typed overrides, and prepare's refusal of empty classes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from mlgcn_core import distributed as D
from mlgcn_core.book.report import result_label
from mlgcn_core.config import ExperimentConfig, load_preset, presets
from mlgcn_core.data.catalog import dataset
from mlgcn_core.graph import (
    build_adjacency,
    normalize_adjacency,
    official_p,
    paper_p,
)
from mlgcn_core.io import load_label_stats, load_pickle

DEFAULT_KEY = "5c8efd1834d7"  # load_preset("default").key() since the gradient floor (before: 34826744c82d)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlgcn_core", *args], capture_output=True, text=True,
                          timeout=600)


# --- run keys ----------------------------------------------------------------------------------

def test_default_preset_key_unchanged_and_selection_in_key_only_when_not_val():
    cfg = load_preset("default")
    assert cfg.selection == "val" and cfg.key() == DEFAULT_KEY
    assert cfg.replace(workers="auto", sync_bn=False).key() == DEFAULT_KEY  # not in the key
    last, test = cfg.replace(selection="last"), cfg.replace(selection="test")
    assert len({cfg.key(), last.key(), test.key()}) == 3
    assert last.replace(val_fraction=0.3).key() == last.key()  # val_fraction: "val" only
    assert cfg.replace(val_fraction=0.3).key() != cfg.key()
    ExperimentConfig(selection="last", val_fraction=0.0)  # ignored, not refused
    with pytest.raises(ValueError, match="val_fraction"):
        ExperimentConfig(val_fraction=0.0)
    real = [n for n in presets() if not dataset(load_preset(n).dataset).embedded]  # the paper's presets
    assert real and all(load_preset(n).selection == "last" for n in real)


# --- selection on the VOC fixture tree ---------------------------------------------------------

@pytest.fixture(scope="module")
def voc_prepared(tmp_path_factory):
    from fixtures import make_voc_scenes

    from mlgcn_core import prepare

    tmp = tmp_path_factory.mktemp("voc")
    make_voc_scenes(tmp / "root", n_trainval=40, n_test=20, side=64)
    prepare.prepare_voc2007(tmp / "root", tmp / "prepared")
    return tmp / "prepared"


def small_voc(root, selection):
    return load_preset("paper_voc", [f"data_root={root}", "device=cpu", "backbone=efficientnet_lite0",
                                     "image_size=64", "mode=features", "epochs=3", "lr_steps=[5]",
                                     "batch_size=8", "lr=0.02", "workers=0", "word_vectors=onehot",
                                     f"selection={selection}"])


def test_selection_last_trains_on_every_trainval_image_with_the_whole_splits_statistics(voc_prepared):
    from mlgcn_core.data.sources import load_splits
    from mlgcn_core.graph import cooccurrence

    last = load_splits(small_voc(voc_prepared, "last"))
    assert len(last.train) == len(last.eval_train) == 40 and last.val is None
    M, N = load_label_stats(voc_prepared / "train_adj.pkl")  # prepare's statistics of all trainval
    M2, N2 = cooccurrence(last.train_positives)
    assert np.array_equal(M, M2) and np.array_equal(N, N2)
    val = load_splits(small_voc(voc_prepared, "val"))
    assert (len(val.train), len(val.val)) == (36, 4)
    assert not np.array_equal(cooccurrence(val.train_positives)[1], N)


def test_selection_runs_last_and_test(voc_prepared, tmp_path):
    from mlgcn_core.inference import evaluate_checkpoint
    from mlgcn_core.train import run_experiment

    r = run_experiment(small_voc(voc_prepared, "last"), root=tmp_path, progress=False)
    m = json.loads((r.path / "metrics.json").read_text())
    assert m["train_images"] == 40 and m["best_epoch"] == 3 and m["selection"] == "last epoch (no selection)"
    assert "val_mAP" not in r.history[0] and m["val"] == {}
    t = run_experiment(small_voc(voc_prepared, "test"), root=tmp_path, progress=False)
    m = json.loads((t.path / "metrics.json").read_text())
    assert m["selection"] == "selected on test (optimistic)" and m["train_images"] == 40
    best = max(t.history, key=lambda h: h["test_mAP"])
    assert m["best_epoch"] == best["epoch"] and m["test"]["mAP"] == pytest.approx(best["test_mAP"])
    assert result_label("ML-GCN", t.config) == "ML-GCN — selected on test (optimistic)"
    assert result_label("ML-GCN", r.config) == "ML-GCN"
    ev = evaluate_checkpoint(t.path / "model.pt", "test")
    assert ev["selection"] == "selected on test (optimistic)"
    with pytest.raises(ValueError, match="no validation split"):
        evaluate_checkpoint(t.path / "model.pt", "val")
    out = cli("evaluate", "--checkpoint", str(t.path / "model.pt"))
    assert out.returncode == 0 and "selected on test (optimistic)" in out.stdout, out.stderr


# --- p in the paper's terms ----------------------------------------------------------------------

def test_paper_p_equals_official_p_over_one_minus_p_on_official_statistics(official_dir):
    worst = 0.0
    for name in ("voc_adj.pkl", "coco_adj.pkl"):
        d = load_pickle(official_dir / name)
        M, N = np.asarray(d["adj"]), np.asarray(d["nums"])
        for p in (0.05, 0.1, 0.2, 0.3, 0.4, 0.45):  # official p < 1 ⇔ paper p < 0.5
            a = normalize_adjacency(build_adjacency(M, N, 0.4, p, "paper"))  # (C, C)
            b = normalize_adjacency(build_adjacency(M, N, 0.4, official_p(p), "official"))
            worst = max(worst, float(np.abs(a - b).max()))
    print(f"largest |Â_paper(p) − Â_official(p/(1−p))|: {worst:.2e}")
    assert worst <= 1e-6
    assert official_p(0.2) == pytest.approx(0.25) and paper_p(0.25) == pytest.approx(0.2)
    assert paper_p(0.3, "paper") == 0.3 and paper_p(official_p(0.37)) == pytest.approx(0.37)
    with pytest.raises(ValueError):
        official_p(1.0)  # the paper's degenerate p has no official counterpart


def test_p_one_warning_only_for_the_paper_scheme():
    import warnings

    from mlgcn_core.graph import label_graph

    y = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]])
    with pytest.warns(RuntimeWarning, match="p = 1"):
        label_graph(ExperimentConfig(p=1.0, scheme="paper"), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        label_graph(ExperimentConfig(p=1.0, scheme="official"), y)


# --- reference numbers and chapter 02's verdicts ---------------------------------------------------

def test_official_readme_numbers_and_margins():
    from mlgcn_core.book import reference as R

    t = R.official_readme_table()
    assert t.loc["ResNet-101 GMP"].tolist() == [81.9, 93.0, 59.7]
    assert t.loc["ResNet-101 GAP"].tolist() == [77.3, 91.7, 56.9]
    assert t.loc["ML-GCN"].tolist() == [83.0, 94.0, 62.5]
    assert "official repository" in R.OFFICIAL_README_SOURCE
    assert R.margins("coco2014") == {"dataset": "coco2014", "paper_over_gap": 5.7, "authors_over_gmp": 1.1}
    assert R.margins("voc2007")["authors_over_gmp"] == 1.0 and R.margins("outfits")["dataset"] == "coco2014"
    assert R.official_readme_table("voc2007")["mAP"].tolist() == [91.7, 93.0, 94.0]


def _frame(gains_gmp, gains_gap):
    rows = []
    for s, (g1, g2) in enumerate(zip(gains_gmp, gains_gap)):
        rows += [dict(variant="ML-GCN (re-weighted)", seed=s, mAP=70.0),
                 dict(variant="baseline (GMP)", seed=s, mAP=70.0 - g1),
                 dict(variant="baseline (GAP)", seed=s, mAP=70.0 - g2)]
    return pd.DataFrame(rows)


def test_margin_findings_compare_with_the_papers_and_the_authors_margin():
    from mlgcn_core.book.findings import margin_findings

    text = margin_findings(_frame([1.0, 1.2, 0.9], [5.5, 6.0, 5.8]), "coco2014")
    gap, gmp = text.splitlines()
    assert "GAP" in gap and "+5.7" in gap and "**holds**" in gap and "inside" in gap
    assert "GMP" in gmp and "+1.1" in gmp and "official README" in gmp and "**holds**" in gmp
    text = margin_findings(_frame([0.1, -0.3, 0.2], [3.0, 3.2, 2.9]), "voc2007")
    gap, gmp = text.splitlines()
    assert "+4.1" in gap and "outside" in gap and "+1.0" in gmp and "**inconclusive**" in gmp
    assert "not enough seeds" in margin_findings(_frame([1.0], [5.0]), "outfits")


# --- SyncBatchNorm ------------------------------------------------------------------------------------

def test_sync_bn_only_under_ddp_end2end_cuda():
    ddp, single = D.Context(0, 2, 0), D.Context()
    e2e = ExperimentConfig(mode="end2end")
    assert D.use_sync_bn(e2e, ddp, "cuda:0")
    assert not D.use_sync_bn(e2e.replace(sync_bn=False), ddp, "cuda:0")
    assert not D.use_sync_bn(e2e, single, "cuda:0")
    assert not D.use_sync_bn(e2e, ddp, "cpu")
    assert not D.use_sync_bn(ExperimentConfig(mode="features"), ddp, "cuda:0")


def test_checkpoint_with_sync_bn_loads_without_it():
    import warnings

    from mlgcn_core.backbones import build_backbone
    from mlgcn_core.models import Baseline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synced = Baseline(5, build_backbone("efficientnet_lite0", None))
        plain = Baseline(5, build_backbone("efficientnet_lite0", None))
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(synced)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules())
    with torch.no_grad():
        for prm in synced.parameters():
            prm.add_(0.01)
    state = synced.state_dict()
    assert set(state) == set(plain.state_dict())
    plain.load_state_dict(state, strict=True)
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in state.items())


def test_loader_workers_auto(monkeypatch):
    assert D.loader_workers(3) == 3
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    n = D.loader_workers("auto")
    assert 0 <= n <= D.MAX_AUTO_WORKERS
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1000")
    assert D.loader_workers("auto") == 0


# --- typed overrides ------------------------------------------------------------------------------

@pytest.mark.parametrize("item, expected", [
    ("epochs=abc", "config field epochs: 'abc' is not int"),
    ("tau=high", "config field tau: 'high' is not float"),
    ("lr_steps=x", "config field lr_steps: 'x' is not a list of int"),
    ("channels_last=maybe", "config field channels_last: 'maybe' is not bool"),
    ("epochs=2.5", "config field epochs: 2.5 is not int"),
    ("outfits.n_train=many", "config field outfits.n_train: 'many' is not int"),
])
def test_typed_overrides(item, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(")):
        load_preset("default", [item])


def test_typed_overrides_accept_int_for_float_and_none_for_optional():
    c = load_preset("default", ["lr=1", "clip_grad_norm=null", "lr_steps=[3, 5]", "workers=auto"])
    assert (c.lr, c.clip_grad_norm, c.lr_steps, c.workers) == (1, None, (3, 5), "auto")


def test_typed_overrides_through_the_cli():
    for item, field in (("epochs=abc", "epochs"), ("tau=high", "tau"), ("lr_steps=x", "lr_steps")):
        r = cli("train", "--set", item)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and f"config field {field}:" in r.stderr


# --- prepare refuses a class without a training positive ------------------------------------------

def test_prepare_custom_refuses_a_class_without_training_positive(tmp_path):
    from fixtures import write_jpeg

    imgs = tmp_path / "images"
    rows = ["image,labels,split"]
    for k in range(6):
        write_jpeg(imgs / f"{k}.jpg", k)
        rows.append(f"{k}.jpg,{'cat;dog' if k % 2 else 'cat'},{'train' if k < 3 else 'val' if k == 3 else 'test'}")
    rows[-1] = "5.jpg,bird,test"  # bird: only in the test split
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "classes.txt").write_text("bird\ncat\ndog\n")
    out = tmp_path / "out"
    r = cli("prepare", "custom", "--csv", str(tmp_path / "a.csv"), "--images", str(imgs), "--out", str(out),
            "--classes", str(tmp_path / "classes.txt"), "--word-vectors", "onehot")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "['bird']" in r.stderr and "drop them from the class list" in r.stderr and "add training images" in r.stderr
    assert not out.exists()  # nothing written
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    (tmp_path / "a.csv").write_text("\n".join(rows[:-1]) + "\n")
    r = cli("prepare", "custom", "--csv", str(tmp_path / "a.csv"), "--images", str(imgs), "--out", str(out),
            "--classes", str(tmp_path / "classes.txt"), "--word-vectors", "onehot")
    assert r.returncode == 0, r.stderr


def test_training_refuses_a_class_without_positive_by_name(voc_prepared, tmp_path):
    """VOC / COCO: a tree without positives of some class (only partial trees) is refused by name
    when training ML-GCN starts, before any feature is extracted."""
    from fixtures import make_voc_tree

    from mlgcn_core import prepare
    from mlgcn_core.data import voc
    from mlgcn_core.data.sources import load_splits

    make_voc_tree(tmp_path / "root")  # 5 of 20 classes have trainval positives
    prepare.prepare_voc2007(tmp_path / "root", tmp_path / "out")
    with pytest.raises(ValueError, match=r"'aeroplane'.*no positive image in the training split"):
        load_splits(small_voc(tmp_path / "out", "last"))
    assert voc.CLASSES[0] == "aeroplane"
