"""The COCO-shaped benchmark and the dataset registry: 80 distinct visual classes tied to COCO's
supercategories, deterministic RGB scenes, the frequency bins, the registry's entries, and the
prepared-folder export (``prepare coco_shaped``) read back by the real-data paths."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlgcn_core import graph
from mlgcn_core.config import ExperimentConfig, load_preset
from mlgcn_core.data import coco_shaped
from mlgcn_core.data.catalog import DATASETS, EMBEDDED, SCENE_FIELDS, dataset
from mlgcn_core.metrics import FREQUENCY_BINS, frequency_bins, map_by_bin

TINY = coco_shaped.CocoShapedConfig(n_train=300, n_val=60, n_test=80)
ROOT = Path(__file__).resolve().parents[1]


def test_eighty_visual_classes_are_distinct_and_follow_supercategories():
    looks = coco_shaped.visual_classes()
    assert len(looks) == 80 and len(set(looks)) == 80  # garment × hue, one each
    assert {g for g, _ in looks} == set(range(10)) and {h for _, h in looks} == set(range(8))
    table = coco_shaped.mapping_table()
    assert table.loc["person", "garment"] == "t-shirt/top"  # COCO id 1: the first slot
    # a supercategory mostly shares a garment: the 8 vehicles (ids 2-9) all but one on one garment
    vehicles = table[table["supercategory"] == "vehicle"]["garment"]
    assert vehicles.value_counts().iloc[0] >= 7
    grid = coco_shaped.mapping_grid()
    assert sorted(n for row in grid.values for n in row if n) == sorted(coco_shaped.classes())


def test_scenes_are_rgb_deterministic_and_record_visibility():
    a, b = coco_shaped.generate(TINY), coco_shaped.generate(TINY)
    for split in ("train", "val", "test"):
        assert a[split]["images"].shape[1:] == (TINY.canvas, TINY.canvas, 3)
        assert a[split]["images"].dtype == np.uint8
        assert np.array_equal(a[split]["images"], b[split]["images"])
        assert np.array_equal(a[split]["labels"], b[split]["labels"])
        labels, vis = a[split]["labels"], a[split]["visibility"]
        assert labels.shape[1] == 80 and labels.sum(1).min() >= 1  # no empty scene, as COCO
        assert np.array_equal(np.isfinite(vis), labels == 1)  # visibility exactly where present
    # a garment's pixels carry its label's hue: a one-label scene's inked pixels have its tint
    tint = coco_shaped.tints()
    one = np.flatnonzero(a["train"]["labels"].sum(1) == 1)[0]
    c = int(np.flatnonzero(a["train"]["labels"][one])[0])
    px = a["train"]["images"][one].reshape(-1, 3).astype(float)
    px = px[px.max(1) > 60]
    hue = px / px.max(1, keepdims=True)
    assert np.allclose(np.median(hue, 0), tint[c] / tint[c].max(), atol=0.08)
    # another seed, other scenes
    c2 = coco_shaped.generate(replace(TINY, seed=1, n_val=1, n_test=1))
    assert not np.array_equal(c2["train"]["labels"], a["train"]["labels"])


def test_crowded_scenes_draw_smaller_garments_without_other_draws():
    from mlgcn_core.data.outfits import render

    labels = np.zeros((1, 80), dtype=np.int64)
    labels[0, :9] = 1
    pools = [np.arange(10)] * 80
    images = np.full((10, 28, 28), 200, dtype=np.uint8)
    wide, _, _ = render(labels, pools, images, TINY, np.random.default_rng(0))
    crowded, _, vis = render(labels, pools, images, TINY, np.random.default_rng(0), crowd=4)
    assert (crowded > 0).sum() < (wide > 0).sum()
    assert np.isfinite(vis[0, :9]).all()


def test_frequency_bins_partition_the_labels():
    rng = np.random.default_rng(0)
    Y = (rng.random((500, 80)) < np.linspace(0.005, 0.5, 80)).astype(int)
    bins = frequency_bins(Y)
    assert tuple(bins) == FREQUENCY_BINS
    together = np.concatenate(list(bins.values()))
    assert sorted(together.tolist()) == list(range(80))  # every label once
    counts = Y.sum(0)
    assert counts[bins["head"]].min() >= counts[bins["medium"]].max()
    assert counts[bins["medium"]].min() >= counts[bins["tail"]].max()
    assert [len(b) for b in bins.values()] == [27, 27, 26]
    ap = np.arange(80, dtype=float)
    got = map_by_bin(ap, bins)
    assert got["tail"] == pytest.approx(ap[bins["tail"]].mean())


def test_the_registry_declares_every_dataset_and_nothing_branches_on_a_name():
    assert set(DATASETS.names()) == {"outfits", "coco_shaped", "voc2007", "coco2014", "custom"}
    assert EMBEDDED == ("outfits", "coco_shaped") and set(SCENE_FIELDS) == {"outfits", "coco_shaped"}
    assert dataset("coco_shaped").classes() == coco_shaped.classes()
    assert dataset("coco_shaped").image_mode == "RGB"
    with pytest.raises(ValueError, match="dataset must be one of"):
        ExperimentConfig(dataset="coco2017")
    # no method module branches on a dataset's name (the registry answers)
    pattern = ("dataset == \"", "dataset != \"", "dataset in (\"")
    for path in (ROOT / "mlgcn_core").rglob("*.py"):
        text = path.read_text()
        hits = [p for p in pattern if p in text]
        assert not hits, f"{path.relative_to(ROOT)} branches on a dataset name: {hits}"


def test_run_keys_separate_benchmarks_and_their_settings():
    outfits = ExperimentConfig()
    coco = load_preset("coco_shaped")
    assert coco.dataset == "coco_shaped" and "coco_shaped" in coco.key_fields()
    assert "coco_shaped" not in outfits.key_fields() and "outfits" not in coco.key_fields()
    assert coco.key() != outfits.key()
    smaller = coco.with_overrides(["coco_shaped.n_train=2000"])
    assert smaller.coco_shaped.n_train == 2000 and smaller.key() != coco.key()
    # the 10-label benchmark's settings cannot move a COCO-shaped run's key
    assert coco.with_overrides(["outfits.n_train=100"]).key() == coco.key()
    with pytest.raises(ValueError, match="coco_shaped.n_trian"):
        coco.with_overrides(["coco_shaped.n_trian=3"])
    # the oracle graph and the training subsets work on both embedded benchmarks, not on real data
    coco.replace(graph="oracle", train_scenes=100, rare_labels=("toaster",), rare_positives=3)
    with pytest.raises(ValueError, match="unknown class"):
        coco.replace(hide_labels=("coat",), hide_fraction=0.5)
    with pytest.raises(ValueError, match="embedded benchmark"):
        ExperimentConfig(dataset="coco2014", graph="oracle")


def test_oracle_graph_is_the_label_models_own_conditionals():
    cfg = load_preset("coco_shaped")
    M, N = coco_shaped.label_statistics(cfg.coco_shaped)
    A = graph.GRAPHS.build(cfg.replace(graph="oracle"), np.zeros((1, 80)))
    assert np.allclose(A, graph.build_adjacency(M, N, cfg.tau, cfg.p, cfg.scheme))


@pytest.mark.slow
def test_prepare_coco_shaped_writes_a_folder_the_real_data_paths_read(tmp_path, official_dir):
    from mlgcn_core.data.sources import load_splits

    out = tmp_path / "cs"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "mlgcn_core", "prepare", "coco_shaped", str(out),
                        "--set", "n_train=2000", "--set", "n_val=60", "--set", "n_test=80"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # (at 2,000 training scenes every label has a positive)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "custom" and manifest["source"]["benchmark"] == "coco_shaped"
    assert manifest["counts"] == {"train": 2000, "val": 60, "test": 80}
    with open(out / "train_adj.pkl", "rb") as f:
        stats = pickle.load(f)  # the official layout
    settings = replace(TINY, n_train=2000)
    train = coco_shaped.load_coco_shaped(settings)["train"]["labels"]
    M, N = graph.cooccurrence(train)
    assert np.array_equal(stats["nums"], N) and np.array_equal(stats["adj"], M)
    assert json.loads((out / "category.json").read_text()) == {n: i for i, n in enumerate(coco_shaped.classes())}
    cfg = ExperimentConfig(dataset="custom", data_root=str(out))
    splits = load_splits(cfg)
    assert len(splits.train) == 2000 and splits.classes == coco_shaped.classes()
    assert np.array_equal(splits.train_positives, train)
    x, y, _ = splits.test[0]
    assert x.shape == (3, cfg.image_size, cfg.image_size)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root writes anywhere but /sys: the unwritable folder is there for root, a locked one otherwise
    target = Path("/sys/mlgcn-unwritable/out") if os.geteuid() == 0 else locked / "out"
    try:
        r = subprocess.run([sys.executable, "-m", "mlgcn_core", "prepare", "coco_shaped", str(target),
                            "--set", "n_train=40", "--set", "n_val=10", "--set", "n_test=10"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "cannot write" in r.stderr, r.stderr
        assert list(locked.iterdir()) == [] and not target.parent.exists()
    finally:
        locked.chmod(0o700)
    bad = tmp_path / "file"
    bad.write_text("x")  # a file where the folder should go
    r = subprocess.run([sys.executable, "-m", "mlgcn_core", "prepare", "coco_shaped", str(bad / "out")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run([sys.executable, "-m", "mlgcn_core", "train", "--set", "dataset=coco2017"],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "coco_shaped" in r.stderr and "coco2017" in r.stderr
