"""Top mode (``mode="top"``): the backbone split, the maps cache, training the top with the head,
its checkpoint in inference, and the run keys of the other modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlgcn_core.backbones import build_backbone, join_backbone, split_backbone
from mlgcn_core.config import ExperimentConfig, load_preset
from mlgcn_core.data import OutfitsConfig
from mlgcn_core.data.sources import load_splits
from mlgcn_core.features import (
    extract_dataset_maps,
    extract_features,
    extract_maps,
    feature_cache_path,
)
from mlgcn_core.scheduler import parallel_jobs
from mlgcn_core.train import run_experiment

TINY = OutfitsConfig(n_train=48, n_val=24, n_test=32)


@pytest.fixture(scope="module")
def lite0():
    return build_backbone("efficientnet_lite0", "imagenet", "max").eval()


@pytest.fixture(scope="module")
def top_run(tmp_path_factory):
    cfg = ExperimentConfig(outfits=TINY, image_size=64, mode="top", trainable_blocks=1, epochs=2,
                           lr_steps=(5,), batch_size=16, lr=0.05, lrp=1.0)
    return run_experiment(cfg, root=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_bottom_then_top_is_the_whole_backbone(lite0, k):
    x = torch.randn(3, 3, 64, 64)
    bottom, top = split_backbone(lite0, k)
    with torch.no_grad():
        whole = lite0(x)  # (3, 1280)
        maps = bottom(x)  # (3, c, h, w)
        assert torch.equal(top(maps), whole)
        assert torch.equal(join_backbone(bottom, top)(x), whole)
    n_top = sum(p.numel() for p in top.parameters())
    assert n_top + sum(p.numel() for p in bottom.parameters()) == sum(p.numel() for p in lite0.parameters())
    assert n_top == (412_160 if k == 0 else n_top)  # k = 0: conv_head (320 → 1280) + its BN only


def test_resnet_split_and_bad_cuts(resnet_random, lite0):
    net = resnet_random.eval()
    x = torch.randn(1, 3, 32, 32)
    bottom, top = split_backbone(net, 2)
    with torch.no_grad():
        assert torch.allclose(top(bottom(x)), net(x))
    assert len(top.trunk) == 2  # the last two Bottleneck blocks of layer4
    with pytest.raises(ValueError, match="trainable_blocks must lie in 1–33 for resnet101"):
        split_backbone(net, 0)
    with pytest.raises(ValueError, match="trainable_blocks must lie in 0–16 for efficientnet_lite0"):
        split_backbone(lite0, 17)
    with pytest.raises(ValueError, match="trainable_blocks must be ≥ 0"):
        ExperimentConfig(mode="top", trainable_blocks=-1)


def test_maps_cache_round_trip(lite0):
    cfg = ExperimentConfig(outfits=TINY, image_size=48, mode="top", trainable_blocks=2)  # own caches
    splits = load_splits(cfg)
    plan = {"val": splits.val}
    pooled = feature_cache_path(cfg.backbone, cfg.weights, cfg.image_size, splits.key, "val")
    maps_path = feature_cache_path(cfg.backbone, cfg.weights, cfg.image_size, splits.key, "val", 2)
    assert not maps_path.exists() and not pooled.exists()
    with pytest.raises(FileNotFoundError, match="cached maps missing"):
        extract_dataset_maps(cfg, plan, splits.key, must_exist=True)
    first = extract_dataset_maps(cfg, plan, splits.key, progress=False)["val"]
    assert maps_path.is_file() and pooled.is_file()  # the same pass wrote the pooled features
    again = extract_dataset_maps(cfg, plan, splits.key, must_exist=True)["val"]  # read back
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    maps, targets, _ = again
    bottom, top = split_backbone(lite0, 2)
    ref = extract_maps(bottom, splits.val, progress=False)
    assert maps.shape[:2] == (24, 192) and np.array_equal(maps.numpy(), ref["maps"])
    assert np.array_equal(targets.numpy(), ref["targets"])
    whole = extract_features(lite0, splits.val, progress=False)
    z = np.load(pooled)
    for k in ("max", "avg"):  # the pooled cache is the whole backbone's (features mode reads it)
        np.testing.assert_allclose(z[k], whole[k], rtol=1e-5, atol=1e-5)


def test_top_mode_trains_the_top_not_the_bottom(top_run, lite0):
    state = torch.load(top_run.path / "model.pt", weights_only=True)["model"]
    bottom, top = split_backbone(lite0, 1)
    backbone_keys = {k.removeprefix("backbone.trunk.") for k in state if k.startswith("backbone.")}
    assert backbone_keys == set(top.trunk.state_dict())  # only the top is part of the model
    ref = top.trunk.state_dict()
    for k in ("conv_head.weight", "blocks.0._project_conv.weight", "bn1.running_mean"):
        assert not torch.equal(state["backbone.trunk." + k], ref[k]), k  # learned / BN statistics moved
    from mlgcn_core.inference import model_from_checkpoint

    model, cfg, _ = model_from_checkpoint(top_run.path / "model.pt")
    for k, v in bottom.state_dict().items():  # inference: the frozen pretrained bottom
        assert torch.equal(model.backbone.trunk.bottom.state_dict()[k], v), k
    assert torch.equal(model.backbone.trunk.top.conv_head.weight, state["backbone.trunk.conv_head.weight"])


def test_top_checkpoint_predicts_as_at_the_end_of_training(top_run):
    from mlgcn_core.inference import evaluate_checkpoint, model_from_checkpoint
    from mlgcn_core.models import build_model
    from mlgcn_core.runs import expand_head

    cfg = top_run.config
    splits = load_splits(cfg)
    ck = torch.load(top_run.path / "model.pt", weights_only=True)
    trained = build_model(cfg, splits.train_positives, splits.classes)  # as training builds it
    trained.load_state_dict(expand_head(ck["model"], trained))  # model.pt's head stores W (runs.compact_head)
    maps, _, _ = extract_dataset_maps(cfg, {"test": splits.test}, splits.key, must_exist=True)["test"]
    images = torch.stack([splits.test[i][0] for i in range(len(splits.test))])  # (32, 3, 64, 64)
    model, _, _ = model_from_checkpoint(top_run.path / "model.pt")
    with torch.no_grad():
        at_training = trained.eval()(maps)  # (32, 10): the cached-maps path of training
        from_images = model(images)  # (32, 10): frozen bottom + trained top + head on images
    torch.testing.assert_close(from_images, at_training, rtol=1e-4, atol=1e-4)
    ev = evaluate_checkpoint(top_run.path / "model.pt", "test")
    assert ev["mAP"] == pytest.approx(top_run.metrics["mAP"], abs=1e-3)


def test_keys_of_other_modes_unchanged_and_top_runs_in_parallel():
    # recorded before top mode existed: the run folders of every existing config stay where they are
    assert load_preset("default", {"grad_floor": 0}).key() == "34826744c82d"
    # end to end: a new key since its augmentation is drawn from (seed, epoch, index) (
    # before: "b2a6119a7655", whose numbers depended on the DataLoader's workers)
    assert load_preset("default", {"grad_floor": 0}).replace(mode="end2end").key() == "73234b54bfa5"
    voc = load_preset("paper_voc")  # (its key moved with its protocol, selection "last")
    assert voc.replace(trainable_blocks=3).key() == voc.key()
    assert load_preset("default", {"grad_floor": 0}).replace(trainable_blocks=3).key() == "34826744c82d"
    top = load_preset("default").replace(mode="top")
    assert len({top.key(), top.replace(trainable_blocks=2).key(), load_preset("default").key()}) == 3
    runs = [top.replace(seed=s) for s in range(4)]
    assert parallel_jobs(runs, 2, threads=2) == 2  # cached inputs: parallel processes on the CPU


def test_threaded_extraction_equals_the_one_thread_pass_in_order_and_restores_threads(lite0):
    """On the CPU, batches run side by side in threads of one torch thread each (``lanes``): the
    arrays equal the serial one-thread pass bit for bit (the serial pass on more torch threads
    only to float rounding), rows in dataset order, and torch's thread count is restored."""
    from mlgcn_core.features import _extract, _pooled

    splits = load_splits(ExperimentConfig(outfits=TINY, image_size=48))

    def extract(lanes):  # 24 scenes in batches of 5: an uneven last batch
        return _extract(lambda x: _pooled(lite0.feature_map(x)), [lite0], splits.val, 5, "cpu", 0, False,
                        "test", lanes=lanes)

    threads = torch.get_num_threads()
    with_threads, three = extract(1), extract(3)
    assert torch.get_num_threads() == threads
    torch.set_num_threads(1)
    try:
        one = extract(1)
    finally:
        torch.set_num_threads(threads)
    assert set(one) == set(three) == {"max", "avg", "targets", "difficult"}
    for k in one:
        assert one[k].shape[0] == len(splits.val) and np.array_equal(one[k], three[k]), k
        np.testing.assert_allclose(with_threads[k], three[k], rtol=1e-5, atol=1e-4)
    rows = torch.stack([splits.val[i][1] for i in range(len(splits.val))]).numpy()
    assert np.array_equal(three["targets"], rows)  # dataset order
