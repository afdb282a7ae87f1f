"""One run key, one result: augmentation drawn from (seed, epoch, index), so neither the
DataLoader's workers nor a resume change a run; one lock per run key; small finished runs;
the prepared data's fingerprint in the key."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from fixtures import hold_process, wait_for

from mlgcn_core.config import ExperimentConfig
from mlgcn_core.data import OutfitsConfig
from mlgcn_core.metrics import metric_keys
from mlgcn_core.train import run_experiment

# end to end on CPU: 2 epochs of EfficientNet-Lite0 at 32 px, 3 steps each (the flip is drawn per item)
E2E = ExperimentConfig(outfits=OutfitsConfig(n_train=24, n_val=16, n_test=16), mode="end2end", image_size=32,
                       epochs=2, lr_steps=(5,), batch_size=8, seed=3, selection="last")
FEATURES = ExperimentConfig(outfits=OutfitsConfig(n_train=96, n_val=40, n_test=48), epochs=3, batch_size=32)


def same_run(a: Path, b: Path) -> None:
    """Two finished run folders hold the same result: every metric and every weight bit for bit."""
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    assert ma["test"] == mb["test"] and ma["best_epoch"] == mb["best_epoch"]
    wa, wb = (torch.load(p / "model.pt", weights_only=True)["model"] for p in (a, b))
    assert wa.keys() == wb.keys()
    assert [k for k in wa if not torch.equal(wa[k], wb[k])] == []


def test_existing_feature_run_keys_stay_and_end2end_keys_name_the_stream():
    """Features and top mode never augment: their keys are those the book already has; end-to-end
    runs drew from per-process streams before, so they get new keys (no old result is reused)."""
    off = {"grad_floor": 0}  # the keys before the gradient floor (on by default: new keys)
    assert ExperimentConfig(**off).run_name() == "mlgcn-reweighted-34826744c82d"
    assert ExperimentConfig(model="baseline", **off).run_name() == "baseline-6ebf615a740e"
    assert ExperimentConfig(mode="top", **off).run_name() == "mlgcn-reweighted-bb19689e4fab"
    assert ExperimentConfig(train_scenes=500, tau=0.3, **off).run_name() == "mlgcn-reweighted-b7bb413358d6"
    assert ExperimentConfig(mode="end2end").run_name() != "mlgcn-reweighted-b2a6119a7655"  # the old key


def test_training_batches_do_not_depend_on_workers():
    """The end-to-end training loader yields the same batches, bit for bit, with 0, 1, 2 or "auto"
    workers, in every epoch (and another epoch draws other flips)."""
    from mlgcn_core import distributed as D
    from mlgcn_core.data.sources import load_splits
    from mlgcn_core.train import Engine

    cfg = E2E.replace(outfits=OutfitsConfig(n_train=24, n_val=8, n_test=8))
    splits = load_splits(cfg)
    seen = {}
    for workers in (0, 1, 2, "auto"):
        eng = Engine(cfg.replace(workers=workers), splits, D.Context(), progress=False)
        epochs = []
        for epoch in (0, 1):
            eng.sampler.set_epoch(epoch)
            epochs.append(torch.cat([x for x, _, _ in eng.train_loader]))
        seen[workers] = epochs
    for workers in (1, 2, "auto"):
        assert all(torch.equal(a, b) for a, b in zip(seen[0], seen[workers])), workers
    assert not torch.equal(seen[0][0], seen[0][1])  # another epoch, other flips (not one draw reused)


@pytest.fixture(scope="module")
def e2e_runs(tmp_path_factory):
    """E2E trained with 0, 1 and 2 DataLoader workers: {workers: run folder}."""
    root = tmp_path_factory.mktemp("e2e")
    return {w: run_experiment(E2E.replace(workers=w), root=root / f"w{w}", progress=False).path for w in (0, 1, 2)}


@pytest.mark.slow
def test_end2end_workers_give_bit_identical_runs(e2e_runs):
    assert len({p.name for p in e2e_runs.values()}) == 1  # workers are not in the run key …
    same_run(e2e_runs[0], e2e_runs[1])  # … and do not change a number
    same_run(e2e_runs[0], e2e_runs[2])


@pytest.mark.slow
def test_sigkill_after_epoch_1_and_resume_with_other_workers_is_bit_identical(e2e_runs, tmp_path):
    """End to end: killed (SIGKILL) after epoch 1's checkpoint — held there, so the kill can never
    race the run's end — and resumed with 2 workers instead of 0: the uninterrupted run, bit for bit."""
    from test_train import _sets, cli

    root, markers = tmp_path / "runs", tmp_path / "markers"
    proc = hold_process(E2E, root, markers)
    wait_for(lambda: any(markers.iterdir()) or proc.poll() is not None)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(60) == -signal.SIGKILL
    run = root / E2E.run_name()
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 1 and not (run / "metrics.json").exists()
    sets = _sets(E2E, mode="end2end", image_size=32, seed=3, selection="last", workers=2)
    r = cli("train", *sets, "--resume", env=dict(os.environ, MLGCN_RUNS=str(root)))
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["run"] == str(run)
    same_run(e2e_runs[0], run)
    assert not (run / "checkpoint.pt").exists()  # finished: the checkpoint is gone
    [part] = json.loads((run / "config.json").read_text())["resumed"]
    assert part["epoch"] == 1 and part["changed"] == {"workers": [0, 2]}


@pytest.mark.slow
def test_two_processes_with_one_run_key_train_it_once(tmp_path):
    """Two processes started together on one run key: the one holding the run's lock trains (held
    after epoch 1 here), the other waits — it never starts training — and then reads the result."""
    run_experiment(FEATURES.replace(epochs=1), root=tmp_path / "warm", progress=False)  # features cached
    root, markers = tmp_path / "runs", tmp_path / "markers"
    procs = [hold_process(FEATURES, root, markers) for _ in range(2)]
    wait_for(lambda: any(markers.iterdir()) or any(p.poll() is not None for p in procs))
    time.sleep(3.0)  # ample time for the other process to reach epoch 1 too, were it not waiting
    assert len(list(markers.iterdir())) == 1 and all(p.poll() is None for p in procs)
    (markers / "release").touch()
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr[-2000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert sorted(o["reused"] for o in outs) == [False, True] and outs[0]["mAP"] == outs[1]["mAP"]
    run = root / FEATURES.run_name()
    epochs = [ln.split(",")[0] for ln in (run / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3"]  # trained once
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "history.csv", "metrics.json", "model.pt"]


def test_features_model_pt_is_small_and_loads_as_before(tmp_path, monkeypatch):
    """A features-mode model.pt holds the trained head — W itself in place of the last GCN layer's
    weight (runs.compact_head) — plus the backbone's name and weight hash. evaluate, predict, the
    book's classifiers and expressiveness check give exactly the outputs of the full head saved as
    before (same training, bit for bit), and a backbone whose weights differ is refused by name."""
    from PIL import Image

    from mlgcn_core import runs
    from mlgcn_core.book.analysis import reachability
    from mlgcn_core.data import load_outfits
    from mlgcn_core.inference import evaluate_checkpoint, model_from_checkpoint, predict_images

    cfg = FEATURES.replace(epochs=2)
    r = run_experiment(cfg, root=tmp_path / "compact", progress=False)
    monkeypatch.setattr(runs, "COMPACT_HEADS", False)
    full = run_experiment(cfg, root=tmp_path / "full", progress=False)  # the same run, saved as before
    monkeypatch.undo()
    ck = torch.load(r.path / "model.pt", weights_only=True)
    assert set(ck["backbone"]) == {"name", "weights", "pooling", "sha256"}
    assert all(k.startswith("head.") for k in ck["model"]) and "head.gcn.layers.1.weight" not in ck["model"]
    assert ck["model"]["head.stored_classifiers"].shape == (10, 1280)
    size, before = (r.path / "model.pt").stat().st_size, (full.path / "model.pt").stat().st_size
    assert size < 400_000 < 5_000_000 < before  # 0.26 MB against 5.3 MB
    plain = torch.load(full.path / "model.pt", weights_only=True)
    del plain["backbone"]
    torch.save(plain, tmp_path / "plain.pt")  # exactly today's file: full head, no identity
    images = []
    for i, img in enumerate(load_outfits(cfg.outfits)["test"]["images"][:3]):
        Image.fromarray(img).save(tmp_path / f"s{i}.png")
        images.append(str(tmp_path / f"s{i}.png"))
    assert predict_images(r.path / "model.pt", images) == predict_images(tmp_path / "plain.pt", images)
    a, b = evaluate_checkpoint(r.path / "model.pt"), evaluate_checkpoint(tmp_path / "plain.pt")
    assert {k: a[k] for k in metric_keys()} == {k: b[k] for k in metric_keys()}
    assert list(a["AP"]) == list(b["AP"]) and a["mAP"] == pytest.approx(r.metrics["mAP"], abs=1e-9)
    mc, _, _ = model_from_checkpoint(r.path / "model.pt", images=False)
    mf, _, _ = model_from_checkpoint(tmp_path / "plain.pt", images=False)
    assert torch.equal(mc.classifiers(), mf.classifiers())
    w = torch.randn(10, 1280, generator=torch.Generator().manual_seed(0)).numpy()
    assert reachability(mc.head, w) == reachability(mf.head, w)
    assert torch.isnan(mc.head.gcn.layers[-1].weight).all()  # not stored: any use of it shows
    wrong = dict(ck, backbone=dict(ck["backbone"], sha256="0" * 64))
    torch.save(wrong, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="weight hash differs"):
        predict_images(tmp_path / "wrong.pt", images)


def test_prepared_data_fingerprint_is_in_the_key(tmp_path):
    """Re-prepared data (another content of the files prepare wrote, at the same path) is another
    run key; the same content keeps it; other files in the folder (images, temporaries) do not count."""
    prep = tmp_path / "prep"
    prep.mkdir()
    (prep / "manifest.json").write_text('{"dataset": "custom", "files": ["train_anno.json"], '
                                        '"label_stats": {"file": "train_adj.pkl"}}')
    (prep / "train_anno.json").write_text("[]")
    (prep / "train_adj.pkl").write_bytes(b"stats")
    cfg = ExperimentConfig(dataset="custom", data_root=str(prep), model="baseline")
    key = cfg.key()
    (prep / ".manifest.x.tmp.json").write_text("half")
    (prep / "photo.jpg").write_bytes(b"not read")
    assert cfg.key() == key
    time.sleep(0.01)
    (prep / "train_anno.json").write_text('[{"file_name": "a.jpg", "labels": [0]}]')
    assert cfg.key() != key
    changed = cfg.key()
    (prep / "train_adj.pkl").write_bytes(b"other stats")
    assert cfg.key() not in (key, changed)
    assert ExperimentConfig(dataset="custom", data_root=str(tmp_path / "none"), model="baseline").key() != key


def test_the_run_lock_is_portable_and_excludes_a_second_holder(tmp_path):
    """The run lock is ``filelock``'s (flock on POSIX, msvcrt on Windows), not ``fcntl`` directly:
    while one holder has it, another cannot take it; released, it can."""
    import inspect

    from filelock import FileLock, Timeout

    from mlgcn_core import runs

    assert "fcntl" not in inspect.getsource(runs)
    out = tmp_path / "runs" / "mlgcn-abc"
    with runs.run_lock(out):
        lock = tmp_path / "runs" / ".locks" / "mlgcn-abc.lock"
        assert lock.exists()
        with pytest.raises(Timeout):
            FileLock(lock, timeout=0.1, thread_local=False, is_singleton=False).acquire()
    with FileLock(lock, timeout=0.1):
        pass
