"""The training engine: runs on tiny settings, run folders, determinism, resume, NaN stop, DDP,
presets, schedule, losses, evaluate / predict / import-official."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from mlgcn_core.__main__ import config_from_overrides
from mlgcn_core.config import ExperimentConfig, load_preset, presets
from mlgcn_core.data import OutfitsConfig
from mlgcn_core.metrics import metric_keys
from mlgcn_core.runs import load_run
from mlgcn_core.scheduler import parallel_jobs, run_many
from mlgcn_core.train import lr_factor, run_experiment

TINY = OutfitsConfig(n_train=160, n_val=60, n_test=80)


@pytest.fixture(scope="module")
def features_cfg():
    return ExperimentConfig(outfits=TINY, epochs=4, lr_steps=(3,), batch_size=32)


def check_same_runs(parallel, serial) -> None:
    """Runs trained in worker processes equal the serial ones: every test metric and the selected
    epoch exactly, every weight to 1e-5 (CPU training is deterministic; one thread per worker vs two
    threads in one process changes only the summation order: weights differ by ≤ 1.8e-7 measured,
    the metrics not at all — while another seed moves weights by ~1e-2 and mAP by 0.2-0.65)."""
    assert [r.path.name for r in serial] == [r.path.name for r in parallel]  # the same runs
    for a, b in zip(parallel, serial):
        assert a.best_epoch == b.best_epoch
        assert {k: a.metrics[k] for k in metric_keys()} == {k: b.metrics[k] for k in metric_keys()}
        wa = torch.load(a.path / "model.pt", weights_only=True)["model"]
        wb = torch.load(b.path / "model.pt", weights_only=True)["model"]
        assert wa.keys() == wb.keys()
        assert all(torch.allclose(wa[k], wb[k], rtol=0, atol=1e-5) for k in wb), a.path.name


@pytest.mark.slow
def test_run_many_in_parallel_processes(features_cfg, tmp_path):
    configs = [features_cfg.replace(seed=s) for s in (0, 1, 2)]
    first = run_many(configs[:2], tmp_path / "a", jobs=2)  # trained by two spawned workers
    assert [r.config.seed for r in first] == [0, 1] and not any(r.reused for r in first)
    both = run_many(configs, tmp_path / "a", jobs=2)  # two read back, one trained (one job)
    assert [r.reused for r in both] == [True, True, False]
    assert [r.metrics["mAP"] for r in both[:2]] == [r.metrics["mAP"] for r in first]
    check_same_runs(first, run_many(configs[:2], tmp_path / "b", jobs=1))


def test_a_run_on_cached_features_never_reads_the_scene_images(features_cfg, tmp_path):
    """The scene cache's images (hundreds of MB compressed on COCO-shaped outfits) are read only to
    extract features: a run on cached features reads the labels alone."""
    from mlgcn_core import io

    run_experiment(features_cfg, tmp_path, progress=False)  # the features cached (if not already)
    io._NPZ.clear()
    run_experiment(features_cfg.replace(seed=7), tmp_path, progress=False)
    scenes = [arrays for _, arrays in io._NPZ.values() if "images" in arrays]
    assert len(scenes) == 3  # train, val, test
    assert not any("images" in arrays._arrays for arrays in scenes)
    assert all("labels" in arrays._arrays for arrays in scenes)


@pytest.mark.slow
def test_run_many_keeps_its_workers_between_calls(features_cfg, tmp_path, monkeypatch):
    """A tuned cell calls run_many once per stage: the workers (torch imported, caches read) are
    kept between calls, and started again when the environment they read their caches by changes."""
    from mlgcn_core import scheduler

    run_many([features_cfg.replace(seed=s) for s in (0, 1)], tmp_path, jobs=2)
    pool = scheduler._POOL[1]
    workers = set(pool._processes)
    assert len(workers) == 2
    run_many([features_cfg.replace(seed=s) for s in (2, 3)], tmp_path, jobs=2)
    assert scheduler._POOL[1] is pool and set(pool._processes) == workers
    monkeypatch.setenv("MLGCN_POOL_TEST", "another environment")
    run_many([features_cfg.replace(seed=s) for s in (4, 5)], tmp_path, jobs=2)
    assert scheduler._POOL[1] is not pool and not set(scheduler._POOL[1]._processes) & workers


def test_parallel_jobs_only_for_cpu_features_runs(features_cfg, monkeypatch):
    runs = [features_cfg.replace(seed=s) for s in range(4)]
    assert parallel_jobs(runs, 2, threads=2) == 2
    assert parallel_jobs(runs, 8, threads=2) == 2  # never more processes than threads
    assert parallel_jobs(runs, 2, threads=1) == 1  # e.g. inside a parallel sweep point
    assert parallel_jobs(runs[:1], 2, threads=2) == 1
    assert parallel_jobs([*runs, features_cfg.replace(mode="end2end")], 2, threads=2) == 1
    assert parallel_jobs([r.replace(device="cuda") for r in runs], 2, threads=2) == 1
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun
    assert parallel_jobs(runs, 2, threads=2) == 1


def test_features_mode_run_folder_and_reuse(features_cfg, tmp_path):
    r = run_experiment(features_cfg, root=tmp_path, progress=False)
    assert not r.reused and r.path.parent == tmp_path
    # finished: no checkpoint.pt (only an interrupted run keeps one); model.pt holds the head and
    # names its frozen backbone by weight hash instead of carrying it
    assert {p.name for p in r.path.iterdir()} == {"config.json", "metrics.json", "history.csv", "model.pt"}
    ck = torch.load(r.path / "model.pt", weights_only=True)
    assert not any(k.startswith("backbone.") for k in ck["model"])
    assert ck["backbone"]["name"] == features_cfg.backbone and len(ck["backbone"]["sha256"]) == 64
    saved = json.loads((r.path / "config.json").read_text())
    assert ExperimentConfig.from_dict(saved["config"]) == features_cfg
    assert saved["package_version"] and "git_commit" in saved
    m = json.loads((r.path / "metrics.json").read_text())
    assert set(metric_keys()) <= set(m["test"]) and len(m["test"]["AP"]) == 10
    assert all(np.isfinite(m["test"][k]) for k in metric_keys())
    assert 0 < m["test"]["mAP"] <= 100 and len(r.history) == 4
    assert (r.path / "history.csv").read_text().count("\n") == 5  # header + one line per epoch
    again = run_experiment(features_cfg, root=tmp_path, progress=False)
    assert again.reused and again.metrics["mAP"] == pytest.approx(r.metrics["mAP"])


@pytest.mark.slow
def test_learning_happens_and_is_deterministic(features_cfg, tmp_path):
    cfg = features_cfg.replace(epochs=8, lr_steps=(6,))
    a = run_experiment(cfg, root=tmp_path / "a", progress=False)
    b = run_experiment(cfg, root=tmp_path / "b", progress=False)
    assert a.metrics["mAP"] == b.metrics["mAP"]  # same seed → identical result
    assert a.history[-1]["train_loss"] < a.history[0]["train_loss"]
    assert a.metrics["mAP"] > 45  # chance level is ≈ the label frequency (~28 %)
    c = run_experiment(cfg.replace(seed=1), root=tmp_path / "a", progress=False)
    assert c.path != a.path and c.metrics["mAP"] != a.metrics["mAP"]


@pytest.mark.parametrize("overrides", [dict(model="baseline"), dict(graph="binary"),
                                       dict(gcn_depth=3, scheme="official", p=0.25),
                                       dict(loss="bce"), dict(loss="asl", warmup_epochs=1)])
@pytest.mark.slow
def test_variants_train(features_cfg, tmp_path, overrides):
    check_learns(features_cfg.replace(**overrides), tmp_path)


LEARNED = 5.0  # mAP points above the same setup with nothing learned


def check_learns(cfg: ExperimentConfig, root, trained_lr: float | None = None) -> None:
    """``cfg`` trained beats the same setup, same seed, at lr 1e-9 (nothing learned: chance for this
    benchmark and head, ≈ 31-34 mAP) by ``LEARNED`` points. ``trained_lr``: override the trained
    run's lr (a breakage check)."""
    r = run_experiment(cfg if trained_lr is None else cfg.replace(lr=trained_lr), root=root / "trained",
                       progress=False)
    untrained = run_experiment(cfg.replace(lr=1e-9), root=root / "untrained", progress=False)
    assert np.isfinite(r.metrics["mAP"])
    assert r.metrics["mAP"] > untrained.metrics["mAP"] + LEARNED, (r.metrics["mAP"], untrained.metrics["mAP"])


@pytest.mark.slow
@pytest.mark.parametrize("seconds, checkpointed", [(0.0, 3), (3600.0, 1)])
def test_resume_is_bit_identical(features_cfg, tmp_path, monkeypatch, seconds, checkpointed):
    """Interrupted after epoch 3 and resumed: the same result. The checkpoint is written after the
    first epoch, after the last, and in between at most every CHECKPOINT_SECONDS (0: every epoch;
    an hour: none in between, so the run resumes after epoch 1)."""
    from mlgcn_core import train

    monkeypatch.setattr(train, "CHECKPOINT_SECONDS", seconds)
    cfg = features_cfg.replace(epochs=5, lr_steps=(3,), warmup_epochs=1)
    full = run_experiment(cfg, root=tmp_path / "full", progress=False)

    def interrupt(epoch, rec):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, root=tmp_path / "cut", progress=False, callbacks=[interrupt])
    run_dir = tmp_path / "cut" / cfg.run_name()
    assert (run_dir / "checkpoint.pt").is_file() and not (run_dir / "metrics.json").exists()
    trained = []
    resumed = run_experiment(cfg, root=tmp_path / "cut", progress=False, resume=True,
                             callbacks=[lambda epoch, rec: trained.append(epoch)])
    assert trained == list(range(checkpointed + 1, 6))  # continued after the last checkpoint, not started over
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5]
    assert resumed.metrics["mAP"] == full.metrics["mAP"] and resumed.best_epoch == full.best_epoch
    for k in metric_keys():
        assert resumed.metrics[k] == full.metrics[k], k
    a = torch.load(full.path / "model.pt", weights_only=True)["model"]
    b = torch.load(resumed.path / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def _folder_hashes(root) -> dict:
    """{relative path: sha256} of every file under ``root``."""
    import hashlib
    from pathlib import Path

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def _sets(cfg: ExperimentConfig, **extra) -> list[str]:
    fields = dict(epochs=cfg.epochs, lr_steps=list(cfg.lr_steps), warmup_epochs=cfg.warmup_epochs,
                  batch_size=cfg.batch_size, **{f"outfits.{k}": getattr(cfg.outfits, k)
                                                for k in ("n_train", "n_val", "n_test")}, **extra)
    return [a for k, v in fields.items() for a in ("--set", f"{k}={v}")]


@pytest.fixture(scope="module")
def killed_run(features_cfg, tmp_path_factory):
    """A process training the run SIGKILLed after epoch 1, its checkpoint on disk: it is held there
    (``fixtures.hold_process``), so the kill can never race the run's end: (config, runs root,
    environment, checkpoint epoch)."""
    import signal

    from fixtures import hold_process, wait_for

    cfg = features_cfg.replace(epochs=5, lr_steps=(3,), warmup_epochs=1)
    run_experiment(cfg.replace(epochs=1), root=tmp_path_factory.mktemp("warm"), progress=False)  # features cached
    root, markers = tmp_path_factory.mktemp("killed"), tmp_path_factory.mktemp("markers")
    env = dict(os.environ, MLGCN_RUNS=str(root))
    proc = hold_process(cfg, root, markers)
    wait_for(lambda: any(markers.iterdir()) or proc.poll() is not None)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(60) == -signal.SIGKILL
    ckpt = root / cfg.run_name() / "checkpoint.pt"
    epoch = torch.load(ckpt, weights_only=True)["epoch"]
    assert epoch == 1 and not (ckpt.parent / "metrics.json").exists()
    import shutil

    snapshot = tmp_path_factory.mktemp("snapshot") / cfg.run_name()  # the interrupted folder as left
    shutil.copytree(ckpt.parent, snapshot)  # (a resume finishes the original and removes its checkpoint)
    return cfg, root, env, epoch, snapshot


@pytest.mark.slow
def test_resume_after_sigkill_with_other_workers_is_bit_identical(killed_run, tmp_path):
    cfg, root, env, epoch, _ = killed_run
    full = run_experiment(cfg, root=tmp_path, progress=False)
    r = cli("train", *_sets(cfg, workers=1), "--resume", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    run = root / cfg.run_name()
    assert out["run"] == str(run) and out["best_epoch"] == full.best_epoch
    metrics = json.loads((run / "metrics.json").read_text())["test"]
    assert all(metrics[k] == full.metrics[k] for k in metric_keys())  # bit-identical, not rounded
    assert metrics["AP"] == full.metrics["AP"].tolist()
    a = torch.load(full.path / "model.pt", weights_only=True)["model"]
    b = torch.load(run / "model.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    meta = json.loads((run / "config.json").read_text())
    assert meta["config"]["workers"] == 0  # the first part's config is kept …
    [part] = meta["resumed"]  # … and the resumed part recorded: where it continued, what changed
    assert part["epoch"] == epoch and part["changed"] == {"workers": [0, 1]} and part["world_size"] == 1
    assert [h["epoch"] for h in load_run(run).history] == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_resume_with_a_run_key_change_is_refused_and_writes_nothing(killed_run, tmp_path):
    import shutil

    cfg, root, env, epoch, snapshot = killed_run
    work = tmp_path / "runs"
    shutil.copytree(snapshot, work / cfg.run_name())  # the other test may finish the original
    before = _folder_hashes(work)
    env = dict(env, MLGCN_RUNS=str(work))
    # a key field changed: another run key, so another folder, with nothing to resume
    r = cli("train", *_sets(cfg, tau=0.5), "--resume", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "cannot resume" in r.stderr and "no checkpoint.pt" in r.stderr
    assert f"the interrupted run {cfg.run_name()} differs in run-key fields: tau 0.4 → 0.5" in r.stderr
    assert _folder_hashes(work) == before and sorted(p.name for p in work.iterdir()) == [cfg.run_name()]
    # a checkpoint in the folder of a config with another key (copied, or an older key formula)
    other = cfg.replace(tau=0.5)
    shutil.copytree(work / cfg.run_name(), work / other.run_name())
    before = _folder_hashes(work)
    with pytest.raises(ValueError, match=r"checkpoint.pt was written with other run-key fields \(tau 0.4 → 0.5\)"):
        run_experiment(other, root=work, progress=False, resume=True)
    assert _folder_hashes(work) == before


def test_nan_loss_stops_and_keeps_last_good_checkpoint(features_cfg, tmp_path, monkeypatch):
    import mlgcn_core.train as T

    real = T.make_loss

    class NanAfter(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.inner, self.calls = real(cfg), 0

        def forward(self, logits, y):
            self.calls += 1
            loss = self.inner(logits, y)
            return loss * float("nan") if self.calls > 7 else loss  # 5 steps per epoch

    monkeypatch.setattr(T, "make_loss", NanAfter)
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 2, step 3.*checkpoint is kept"):
        run_experiment(features_cfg, root=tmp_path, progress=False)
    ck = torch.load(tmp_path / features_cfg.run_name() / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 1 and not (tmp_path / features_cfg.run_name() / "metrics.json").exists()


@pytest.mark.slow
def test_end2end_mode_updates_backbone(tmp_path):
    cfg = ExperimentConfig(outfits=OutfitsConfig(n_train=32, n_val=16, n_test=16), mode="end2end",
                           image_size=64, epochs=1, lr_steps=(5,), batch_size=16)
    r = run_experiment(cfg, root=tmp_path, progress=False)
    assert np.isfinite(r.metrics["mAP"])
    state = torch.load(r.path / "model.pt", weights_only=True)["model"]
    from mlgcn_core.backbones import efficientnet_lite0_weights_file
    ref = torch.load(efficientnet_lite0_weights_file(), weights_only=True)
    key = "backbone.trunk.net._conv_stem.weight"
    assert key in state and not torch.equal(state[key], ref["_conv_stem.weight"])  # fine-tuned
    # the book's chapters look inside the run: its own fine-tuned backbone, the run's test mAP again,
    # kept beside the run and recomputed when model.pt changes
    from mlgcn_core.book.analysis import run_outputs
    from mlgcn_core.metrics import evaluate

    out = run_outputs(r)
    assert out["features"].shape == (16, 1280) and out["scores"].shape == (16, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny split: some class may have no positive
        assert evaluate(out["scores"], out["targets"])["mAP"] == pytest.approx(r.metrics["mAP"], abs=1e-4)
    cache = r.path / "outputs-test.npz"
    assert cache.is_file()
    again = run_outputs(r)
    assert all(np.array_equal(out[k], again[k]) for k in out)
    size = (r.path / "model.pt").stat().st_size
    assert str(np.load(cache)["stamp"]) != f"{size}-1"
    os.utime(r.path / "model.pt", ns=(1, 1))  # a retrained model: the kept outputs no longer count
    run_outputs(r)
    assert str(np.load(cache)["stamp"]) == f"{size}-1"  # recomputed for the new model.pt (stamp in the file)


def test_lr_schedule_warmup_and_steps():
    cfg = ExperimentConfig(epochs=6, lr_steps=(3, 5), warmup_epochs=2, lr_gamma=0.1)
    f = [lr_factor(cfg, e, s, 4) for e in range(6) for s in range(4)]
    assert f[:8] == pytest.approx([k / 8 for k in range(1, 9)])  # linear warm-up per step
    assert f[8:12] == pytest.approx([1.0] * 4)  # epoch 3
    assert f[12:20] == pytest.approx([0.1] * 8)  # epochs 4-5 (after the step at 3)
    assert f[20:] == pytest.approx([0.01] * 4)  # epoch 6


def test_optimizer_groups_use_lrp():
    from mlgcn_core.backbones import build_backbone
    from mlgcn_core.models import Baseline
    from mlgcn_core.train import make_optimizer

    opt = make_optimizer(Baseline(10, build_backbone("efficientnet_lite0")), ExperimentConfig(lr=0.1, lrp=0.1))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.01])


def test_asl_matches_a_plain_formula():
    from mlgcn_core.losses import AsymmetricLoss

    torch.manual_seed(0)
    x, y = torch.randn(5, 4), (torch.rand(5, 4) < 0.5).float()
    got = AsymmetricLoss(gamma_neg=4, gamma_pos=1, clip=0.05)(x, y)
    ref = 0.0
    for i in range(5):
        for c in range(4):
            p = torch.sigmoid(x[i, c]).item()
            if y[i, c]:
                ref -= (1 - p) ** 1 * np.log(p)
            else:
                pm = max(p - 0.05, 0.0)
                ref -= pm ** 4 * np.log(1 - pm)
    assert got.item() == pytest.approx(ref / 5, rel=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(tau=1.2), "tau"), (dict(p=1.1), "p must"), (dict(model="resnet"), "model"),
    (dict(gcn_depth=5), "gcn_depth"), (dict(mode="online"), "mode"), (dict(loss="focal"), "loss"),
    (dict(precision="fp8"), "precision"), (dict(dataset="imagenet"), "dataset"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**kwargs)


def test_config_key_and_roundtrip():
    a = ExperimentConfig()
    assert a.key() == ExperimentConfig.from_dict(json.loads(json.dumps(a.to_dict()))).key()
    assert a.key() != a.replace(tau=0.5).key() and a.key() == a.replace(device="cuda", workers=4).key()
    base = a.replace(model="baseline")
    assert base.key() == base.replace(tau=0.7, p=0.1, gcn_depth=3).key()  # unused by a linear head
    assert a.key() != a.replace(p=0.3).key() and a.key() == a.replace(asl_clip=0.2).key()
    with pytest.raises(ValueError, match="unknown field"):
        ExperimentConfig.from_dict({"tua": 0.4})


def test_presets_and_overrides():
    assert presets() == ["coco_shaped", "default", "paper_coco", "paper_text_coco", "paper_text_voc", "paper_voc",
                         "reproduced_coco"]
    assert load_preset("default") == ExperimentConfig()  # the book's settings are the default preset
    voc = load_preset("paper_voc", ["data_root=/data/voc"])
    assert (voc.backbone, voc.image_size, voc.mode, voc.scheme, voc.p, voc.tau, voc.batch_size,
            voc.lr, voc.lrp, voc.clip_grad_norm, voc.word_vectors) == \
        ("resnet101", 448, "end2end", "official", 0.25, 0.4, 16, 0.1, 0.1, 10.0, "official:voc2007")
    text = load_preset("paper_text_voc")  # the paper's Sec. 4.1
    assert (text.lr, text.lrp, text.epochs, text.lr_steps, text.scheme, text.p, text.selection) == \
        (0.01, 1.0, 100, (40, 80), "paper", 0.2, "last")
    rep = load_preset("reproduced_coco")
    assert (rep.lr, rep.epochs, rep.lr_steps, rep.warmup_epochs) == (0.05, 50, (25, 35), 2)
    cfg = config_from_overrides(["tau=0.3", "lr_steps=[5, 8]", "outfits.n_train=100", "model=baseline"])
    assert cfg.tau == 0.3 and cfg.lr_steps == (5, 8) and cfg.outfits.n_train == 100
    with pytest.raises(ValueError, match="unknown config field"):
        config_from_overrides(["tua=0.3"])
    with pytest.raises(ValueError, match="preset 'nope' not found"):
        load_preset("nope")


def test_real_dataset_without_prepared_folder(tmp_path):
    cfg = load_preset("paper_voc", [f"data_root={tmp_path}", "device=cpu"])
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        run_experiment(cfg, root=tmp_path, progress=False)


# --- command line: train, evaluate, predict -------------------------------------------------------

def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgcn_core", *args], capture_output=True, text=True,
                          env=env, timeout=600)


TINY_SET = ["--set", "outfits.n_train=96", "--set", "outfits.n_val=40", "--set", "outfits.n_test=48",
            "--set", "epochs=3", "--set", "lr_steps=[2]", "--set", "batch_size=16"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    env = dict(os.environ, MLGCN_RUNS=str(runs))
    r = cli("train", *TINY_SET, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), env


@pytest.mark.slow
def test_cli_evaluate_reproduces_test_metrics(trained_run):
    out, env = trained_run
    r = cli("evaluate", "--checkpoint", out["run"] + "/model.pt", "--split", "test", env=env)
    assert r.returncode == 0, r.stderr
    got = dict(line.split() for line in r.stdout.splitlines()[1:14])
    for k in metric_keys():
        assert float(got[k]) == pytest.approx(out[k], abs=0.02), k  # same model, same test split
    assert "per-class AP" in r.stdout and "ankle boot" in r.stdout


def write_test_scenes(tmp_path, rows: list[int]) -> list[str]:
    """Test scenes ``rows`` of the trained run's benchmark written to PNG files (lossless)."""
    from PIL import Image

    from mlgcn_core.data import load_outfits

    data = load_outfits(OutfitsConfig(n_train=96, n_val=40, n_test=48))
    images = []
    for i in rows:
        Image.fromarray(data["test"]["images"][i]).save(tmp_path / f"scene{i}.png")
        images.append(str(tmp_path / f"scene{i}.png"))
    return images


@pytest.mark.slow
def test_cli_predict_is_the_runs_own_test_score(trained_run, tmp_path):
    out, env = trained_run
    rows = [0, 1, 5]
    images = write_test_scenes(tmp_path, rows)
    r = cli("predict", "--checkpoint", out["run"] + "/model.pt", *images, env=env)
    assert r.returncode == 0, r.stderr
    check_predict_output(r.stdout, out["run"], images, rows)


@pytest.mark.slow
def test_predict_check_fires_on_a_constant_model(trained_run, tmp_path):
    """Breakage: a predictor that ignores the image (every class 0.5) fails check_predict_output."""
    out, _ = trained_run
    [image] = write_test_scenes(tmp_path, [0])
    classes = torch.load(out["run"] + "/model.pt", weights_only=True)["classes"]
    with pytest.raises(AssertionError):
        check_predict_output(f"{image}: " + ", ".join(f"{c} 0.500" for c in classes), out["run"], [image], [0])


def run_test_probabilities(run_dir: str, rows: list[int]) -> list[dict]:
    """An expectation independent of ``predict``'s image path (file → PIL → transform → backbone):
    the run's own test scores — its test split as training extracted and cached it, through its
    head — whose mAP is the run's reported test mAP; {class: sigmoid(score)} for test scenes ``rows``."""
    from mlgcn_core.book.analysis import run_outputs
    from mlgcn_core.metrics import evaluate
    from mlgcn_core.runs import load_run

    run = load_run(run_dir)
    out = run_outputs(run, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny split: a class may have no positive
        assert evaluate(out["scores"], out["targets"])["mAP"] == pytest.approx(run.metrics["mAP"], abs=1e-4)
    classes = json.loads((run.path / "metrics.json").read_text())["classes"]
    probs = 1 / (1 + np.exp(-out["scores"][rows]))  # (len(rows), C)
    return [dict(zip(classes, row.tolist())) for row in probs]


def check_predict_output(stdout: str, run_dir: str, images: list[str], rows: list[int]) -> None:
    """Each line 'IMAGE: class p, …' (test scene ``rows[i]`` as a PNG) lists every class, highest
    first, with the probability the run itself gave that test scene (to the 3 printed decimals)."""
    lines = stdout.strip().splitlines()
    assert len(lines) == len(images)
    for line, path, want in zip(lines, images, run_test_probabilities(run_dir, rows)):
        name, rest = line.split(": ", 1)
        got = {c: float(p) for c, p in (pair.rsplit(" ", 1) for pair in rest.split(", "))}
        assert name == path and set(got) == set(want)
        assert list(got.values()) == sorted(got.values(), reverse=True)
        assert all(abs(got[c] - want[c]) <= 6e-4 for c in want), (got, want)


@pytest.mark.slow
def test_cli_bad_checkpoints(tmp_path, trained_run):
    out, env = trained_run
    (tmp_path / "trunc.pt").write_bytes((open(out["run"] + "/model.pt", "rb").read())[:1000])
    r = cli("evaluate", "--checkpoint", str(tmp_path / "trunc.pt"), env=env)
    assert r.returncode == 2 and "cannot be read" in r.stderr and "Traceback" not in r.stderr
    ck = torch.load(out["run"] + "/model.pt", weights_only=True)
    ck["classes"] = ck["classes"][:5]
    ck["model"] = {k: (v[:5] if k in ("head.word_vectors",) else v) for k, v in ck["model"].items()}
    torch.save(ck, tmp_path / "five.pt")
    r = cli("predict", "--checkpoint", str(tmp_path / "five.pt"), str(tmp_path / "x.png"), env=env)
    assert r.returncode == 2 and ("does not match" in r.stderr or "does not fit" in r.stderr)


# --- DDP: 2 CPU processes with gloo vs 1 process ------------------------------------------------------

@pytest.mark.distributed
def test_ddp_two_processes_match_single_process(tmp_path):
    common = ["--set", "outfits.n_train=128", "--set", "outfits.n_val=48", "--set", "outfits.n_test=64",
              "--set", "epochs=3", "--set", "lr_steps=[2]", "--set", "batch_size=32"]
    env = dict(os.environ, MLGCN_RUNS=str(tmp_path / "single"), OMP_NUM_THREADS="1")
    single = cli("train", *common, env=env)
    assert single.returncode == 0, single.stderr
    env2 = dict(env, MLGCN_RUNS=str(tmp_path / "ddp"))
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", "-m", "mlgcn_core", "train", *common],
                         capture_output=True, text=True, env=env2, timeout=600)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a = json.loads(single.stdout)
    b = json.loads(ddp.stdout[ddp.stdout.index("{"):])
    meta = json.loads(open(b["run"] + "/config.json").read())
    assert meta["world_size"] == 2
    assert a["best_epoch"] == b["best_epoch"]
    for k in metric_keys():
        assert b[k] == pytest.approx(a[k], abs=0.05), k  # same updates up to float summation order


@pytest.mark.parametrize("scale", [1e-3, 1e3])  # nothing clipped / clipped
def test_clip_gradients_is_the_library_clip_bit_for_bit(scale):
    from mlgcn_core.train import clip_gradients

    torch.manual_seed(0)
    grads = [torch.randn(64, 32) * scale, torch.randn(32) * scale]
    a = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    b = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, q, g in zip(a, b, grads):
        p.grad, q.grad = g.clone(), g.clone()
    na = torch.nn.utils.clip_grad_norm_(a, 10.0, foreach=True)
    nb = clip_gradients(b, 10.0)
    assert torch.equal(na, nb) and all(torch.equal(p.grad, q.grad) for p, q in zip(a, b))
    assert (scale > 1) == (float(b[0].grad.norm()) < float(grads[0].norm()))  # clipped only when large


def test_the_gradient_floor_zeroes_only_subnormal_scale_gradients():
    """``floor_gradient``: the logits pass unchanged; in the backward pass entries below the floor
    become 0 and the rest keep their bits. A saturated logit gives the soft-margin loss a subnormal
    gradient (the slow path of x86 CPUs); with the default floor none reaches the head."""
    from torch import nn

    from mlgcn_core.optim import floor_gradient

    logits = torch.tensor([[-95.0, 3.0, -0.5, 40.0]], requires_grad=True)  # (N, C)
    y = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    loss = nn.MultiLabelSoftMarginLoss()
    plain = torch.autograd.grad(loss(logits, y), logits)[0]
    tiny = torch.finfo(torch.float32).tiny
    assert ((plain != 0) & (plain.abs() < tiny)).any()  # the saturated negative: subnormal
    floored = torch.autograd.grad(loss(floor_gradient(logits, 1e-30), y), logits)[0]
    assert torch.equal(floor_gradient(logits, 1e-30), logits)
    assert floored[0, 0] == 0 and not ((floored != 0) & (floored.abs() < 1e-30)).any()
    keep = plain.abs() >= 1e-30
    assert torch.equal(floored[keep], plain[keep])  # every other entry bit for bit
    assert floor_gradient(logits, 0.0) is logits  # 0: off


def test_assignments_read_exponent_floats():
    """``--set lr=1e-3`` is a float (YAML 1.1 alone would read the string "1e-3")."""
    from mlgcn_core.cli_args import parse_assignments

    got = parse_assignments(["lr=1e-3", "a=2E+5", "b=-1.5e-30", "c=1.0e-3", "d=abc", "e=3", "f=e5"])
    assert got == {"lr": 0.001, "a": 200000.0, "b": -1.5e-30, "c": 0.001, "d": "abc", "e": 3, "f": "e5"}
    assert isinstance(got["a"], float) and isinstance(got["e"], int)
    assert config_from_overrides(["lr=1e-3", "grad_floor=0"]).lr == 0.001
