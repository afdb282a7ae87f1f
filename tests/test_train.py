"""Training: cached-features and end-to-end runs on tiny settings, run folders, determinism, config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlgcn_core.__main__ import config_from_overrides
from mlgcn_core.config import ExperimentConfig
from mlgcn_core.data import OutfitsConfig
from mlgcn_core.metrics import metric_keys
from mlgcn_core.train import load_run, run_experiment

TINY = OutfitsConfig(n_train=160, n_val=60, n_test=80)


@pytest.fixture(scope="module")
def features_cfg():
    return ExperimentConfig(data=TINY, epochs=4, lr_steps=(3,), batch_size=32)


def test_features_mode_run_folder_and_reuse(features_cfg, tmp_path):
    r = run_experiment(features_cfg, root=tmp_path, progress=False)
    assert not r.reused and r.path.parent == tmp_path
    assert {p.name for p in r.path.iterdir()} == {"config.json", "metrics.json", "history.csv", "model.pt"}
    saved = json.loads((r.path / "config.json").read_text())
    assert ExperimentConfig.from_dict(saved) == features_cfg
    m = json.loads((r.path / "metrics.json").read_text())
    assert set(metric_keys()) <= set(m["test"]) and len(m["test"]["AP"]) == 10
    assert all(np.isfinite(m["test"][k]) for k in metric_keys())
    assert 0 < m["test"]["mAP"] <= 100 and len(r.history) == 4
    again = run_experiment(features_cfg, root=tmp_path, progress=False)
    assert again.reused and again.metrics["mAP"] == pytest.approx(r.metrics["mAP"])
    assert load_run(r.path).best_epoch == r.best_epoch


def test_learning_happens_and_is_deterministic(features_cfg, tmp_path):
    a = run_experiment(features_cfg.replace(epochs=8, lr_steps=(6,)), root=tmp_path / "a", progress=False)
    b = run_experiment(features_cfg.replace(epochs=8, lr_steps=(6,)), root=tmp_path / "b", progress=False)
    assert a.metrics["mAP"] == b.metrics["mAP"]  # same seed → identical result
    assert a.history[-1]["train_loss"] < a.history[0]["train_loss"]
    # chance level mAP is ≈ the label frequency (~28 %); a trained head is far above it
    assert a.metrics["mAP"] > 45
    c = run_experiment(features_cfg.replace(epochs=8, lr_steps=(6,), seed=1), root=tmp_path / "a",
                       progress=False)
    assert c.path != a.path and c.metrics["mAP"] != a.metrics["mAP"]


@pytest.mark.parametrize("overrides", [dict(model="baseline"), dict(graph="binary"),
                                       dict(gcn_depth=3, scheme="official", p=0.25)])
def test_variants_train(features_cfg, tmp_path, overrides):
    r = run_experiment(features_cfg.replace(**overrides), root=tmp_path, progress=False)
    assert np.isfinite(r.metrics["mAP"])


def test_end2end_mode_updates_backbone(tmp_path):
    import torch

    cfg = ExperimentConfig(data=OutfitsConfig(n_train=32, n_val=16, n_test=16), mode="end2end",
                           image_size=64, epochs=1, lr_steps=(5,), batch_size=16)
    r = run_experiment(cfg, root=tmp_path, progress=False)
    assert np.isfinite(r.metrics["mAP"])
    state = torch.load(r.path / "model.pt", weights_only=True)
    from mlgcn_core.backbones import efficientnet_lite0_weights_file
    ref = torch.load(efficientnet_lite0_weights_file(), weights_only=True)
    key = "backbone.trunk.net._conv_stem.weight"
    assert key in state and not torch.equal(state[key], ref["_conv_stem.weight"])  # fine-tuned


def test_optimizer_groups_use_lrp():
    from mlgcn_core.backbones import build_backbone
    from mlgcn_core.models import Baseline
    from mlgcn_core.train import make_optimizer

    cfg = ExperimentConfig(lr=0.1, lrp=0.1)
    opt = make_optimizer(Baseline(10, build_backbone("efficientnet_lite0")), cfg)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.01])


@pytest.mark.parametrize("kwargs, match", [
    (dict(tau=1.2), "tau"), (dict(p=1.0), "p must"), (dict(model="resnet"), "model"),
    (dict(gcn_depth=5), "gcn_depth"), (dict(mode="online"), "mode"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**kwargs)


def test_config_key_and_roundtrip():
    a = ExperimentConfig()
    assert a.key() == ExperimentConfig.from_dict(json.loads(json.dumps(a.to_dict()))).key()
    assert a.key() != a.replace(tau=0.5).key() and a.key() == a.replace(device="cuda").key()
    with pytest.raises(ValueError, match="unknown field"):
        ExperimentConfig.from_dict({"tua": 0.4})


def test_cli_overrides():
    cfg = config_from_overrides(["tau=0.3", "lr_steps=[5, 8]", "data.n_train=100", "model=baseline"])
    assert cfg.tau == 0.3 and cfg.lr_steps == (5, 8) and cfg.data.n_train == 100
    with pytest.raises(ValueError, match="unknown config field"):
        config_from_overrides(["tua=0.3"])
