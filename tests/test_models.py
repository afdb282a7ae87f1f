"""GCN, backbones and models: shapes, gradients, initialization, weights loading, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from mlgcn_core.backbones import BACKBONES, build_backbone
from mlgcn_core.gcn import GCN, GraphConvolution, gcn_widths
from mlgcn_core.graph import build_adjacency, cooccurrence
from mlgcn_core.models import MLGCN, Baseline

C = 6


@pytest.fixture(scope="module")
def graph_inputs():
    rng = np.random.default_rng(0)
    y = (rng.random((200, C)) < 0.4).astype(int)
    M, N = cooccurrence(y)
    return rng.standard_normal((C, 50)).astype(np.float32), build_adjacency(M, N, 0.3, 0.2)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gcn_depths_shapes_and_grad(depth):
    widths = gcn_widths(50, 64, depth, hidden=32)
    assert widths == [50] + [32] * (depth - 1) + [64]
    g = GCN(widths)
    z, adj = torch.randn(C, 50), torch.softmax(torch.randn(C, C), 1)
    out = g(z, adj)  # (C, 64)
    assert out.shape == (C, 64) and g.depth == depth
    out.sum().backward()
    assert all(layer.weight.grad is not None for layer in g.layers)


def test_gcn_depth_out_of_range():
    with pytest.raises(ValueError, match="depth"):
        gcn_widths(50, 64, 5)


def test_official_init_and_no_activation_after_last_layer():
    layer = GraphConvolution(300, 1024)
    bound = 1 / math.sqrt(1024)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    assert layer.bias is None
    g = GCN([4, 3, 2])
    z, adj = torch.eye(4), torch.eye(4)
    with torch.no_grad():
        g.layers[0].weight.copy_(torch.eye(4, 3))
        g.layers[1].weight.copy_(-torch.eye(3, 2))
    assert torch.allclose(g(z, adj)[:2], -torch.eye(2))  # last layer: no activation
    with torch.no_grad():
        g.layers[0].weight.copy_(-torch.eye(4, 3))
        g.layers[1].weight.copy_(torch.eye(3, 2))
    assert torch.allclose(g(z, adj)[:2], -0.2 * torch.eye(2))  # hidden: LeakyReLU(0.2)


def hand_logits(x: torch.Tensor, z: np.ndarray, A: np.ndarray, W1: torch.Tensor, W2: torch.Tensor):
    """Eq. 2-4 written out from the paper and the official ``gen_adj``: D = diag(rowsum(A')^-1/2),
    Â = D A'ᵀ D, W = Â · LeakyReLU_0.2(Â · Z · W₁) · W₂ (C × D), logits = x Wᵀ."""
    A = torch.as_tensor(A, dtype=torch.float64)  # (C, C) re-weighted A'
    D = torch.diag(A.sum(1) ** -0.5)
    A_hat = D @ A.t() @ D  # (C, C)
    Z = torch.as_tensor(z, dtype=torch.float64)  # (C, d)
    H = torch.nn.functional.leaky_relu(A_hat @ Z @ W1.double(), 0.2)  # (C, hidden)
    W = A_hat @ H @ W2.double()  # (C, D)
    return x.double() @ W.t()  # (N, C)


def check_mlgcn_forward(model, z, A, x) -> None:
    """The model's logits equal the hand-built Â·LeakyReLU(Â·Z·W₁)·W₂ from its own layer weights."""
    W1, W2 = (layer.weight.detach() for layer in model.head.gcn.layers)
    ref = hand_logits(x, z, A, W1, W2)
    got = model(x).detach().double()
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-4), f"max |Δ| {(got - ref).abs().max():.3g}"


def test_mlgcn_on_cached_features(graph_inputs):
    z, A = graph_inputs
    assert not np.allclose(A, A.T)  # re-weighted A' is not symmetric: a transposed Â would show
    model = MLGCN(z, A, feature_dim=1280)
    x = torch.rand(5, 1280)  # (N, D)
    logits = model(x)
    W = model.classifiers()  # (C, D)
    assert logits.shape == (5, C) and W.shape == (C, 1280)
    check_mlgcn_forward(model, z, A, x)
    logits.sum().backward()
    assert model.head.gcn.layers[0].weight.grad is not None


def test_an_evaluation_pass_computes_w_once_with_the_same_bits(graph_inputs):
    """``evaluating()``: W computed once for all batches of an evaluation pass — every logit the same
    bits as per batch; outside the context W follows the parameters again."""
    z, A = graph_inputs
    model = MLGCN(z, A, feature_dim=64).eval()
    batches = [torch.rand(7, 64) for _ in range(3)]  # (N, D) each
    with torch.no_grad():
        each = [model(x) for x in batches]
        calls = []
        hook = model.head.gcn.register_forward_hook(lambda *_: calls.append(1))
        with model.evaluating():
            once = [model(x) for x in batches]
        hook.remove()
    assert len(calls) == 1 and all(torch.equal(a, b) for a, b in zip(each, once))
    with torch.no_grad():
        model.head.gcn.layers[0].weight.mul_(2.0)
        assert not torch.equal(model(batches[0]), each[0])
    assert Baseline(C, feature_dim=8).evaluating() is not None  # a linear head: nothing to fix


def test_baseline_on_cached_features():
    model = Baseline(C, feature_dim=32)
    assert model(torch.rand(3, 32)).shape == (3, C)


def test_feature_dim_required_without_backbone(graph_inputs):
    with pytest.raises(ValueError, match="feature_dim"):
        MLGCN(*graph_inputs)


def test_adjacency_shape_checked(graph_inputs):
    z, _ = graph_inputs
    with pytest.raises(ValueError, match="adjacency shape"):
        MLGCN(z, np.eye(C + 1), feature_dim=8)


@pytest.mark.slow
def test_efficientnet_lite0_pretrained_end_to_end(graph_inputs):
    z, A = graph_inputs
    bb = build_backbone("efficientnet_lite0", "imagenet", "max")
    assert bb.pretrained and bb.out_dim == 1280
    # the weights really are the packaged ImageNet ones
    from mlgcn_core.backbones import efficientnet_lite0_weights_file
    sd = torch.load(efficientnet_lite0_weights_file(), map_location="cpu", weights_only=True)
    assert torch.equal(bb.trunk.net._conv_stem.weight, sd["_conv_stem.weight"])
    for model in (MLGCN(z, A, backbone=bb), Baseline(C, backbone=bb)):
        x = torch.randn(2, 3, 96, 96)
        out = model(x)
        assert out.shape == (2, C)
        out.sum().backward()
        assert bb.trunk.net._conv_stem.weight.grad is not None
        bb.zero_grad()


@pytest.mark.slow
def test_resnet101_small_input_forward_backward(graph_inputs, resnet_random):
    z, A = graph_inputs
    bb = resnet_random
    assert not bb.pretrained and bb.out_dim == 2048
    model = MLGCN(z, A, backbone=bb)
    out = model(torch.randn(2, 3, 64, 64))  # any input size works (adaptive pooling)
    assert out.shape == (2, C)
    out.sum().backward()
    assert bb.trunk[0].weight.grad is not None and model.head.gcn.layers[-1].weight.grad is not None
    assert model.classifiers().shape == (C, 2048)
    bb.zero_grad()


@pytest.mark.slow
def test_global_max_and_avg_pooling(resnet_random):
    from mlgcn_core.backbones import Backbone

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        fmap = resnet_random.feature_map(x)  # (1, 2048, 2, 2)
        assert fmap.shape == (1, 2048, 2, 2)
        assert torch.allclose(resnet_random(x), fmap.amax((2, 3)), atol=1e-5)
        avg = Backbone(resnet_random.info, resnet_random.trunk, "avg", False)
        assert torch.allclose(avg(x), fmap.mean((2, 3)), atol=1e-5)


def test_resnet101_weights_from_local_file(tmp_path):
    import torchvision

    torch.manual_seed(1)
    ref = torchvision.models.resnet101(weights=None)
    torch.save(ref.state_dict(), tmp_path / "r101.pth")
    bb = build_backbone("resnet101", str(tmp_path / "r101.pth"))
    assert bb.pretrained
    assert torch.equal(bb.trunk[0].weight, ref.conv1.weight)
    assert torch.equal(bb.trunk[7][2].conv3.weight, ref.layer4[2].conv3.weight)


def test_resnet101_bad_weights_file(tmp_path):
    torch.save({"foo": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a ResNet-101 state_dict"):
        build_backbone("resnet101", str(tmp_path / "bad.pth"))
    with pytest.raises(ValueError, match="does not exist"):
        build_backbone("resnet101", str(tmp_path / "missing.pth"))


def test_resnet101_imagenet_offline_gives_clear_notice(monkeypatch, tmp_path):
    """No weights in the hub cache and no network: a warning says it runs with random weights."""
    import torchvision

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models.ResNet101_Weights.IMAGENET1K_V1.__class__,
                        "get_state_dict", offline, raising=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        bb = build_backbone("resnet101", "imagenet")
    assert not bb.pretrained
    assert any("RUNNING WITH RANDOM WEIGHTS" in str(x.message) for x in w)


def test_unknown_backbone_and_pooling():
    with pytest.raises(ValueError, match="unknown name"):
        build_backbone("vgg", None)
    with pytest.raises(ValueError, match="pooling"):
        build_backbone("efficientnet_lite0", "imagenet", "median")
    assert set(BACKBONES) == {"resnet101", "efficientnet_lite0"}


def test_efficientnet_lite0_same_parameters_with_and_without_weights():
    """An end-to-end checkpoint holds the whole backbone; rebuilding it without the ImageNet weights
    (as inference does) must give the same parameter names, or the checkpoint cannot be loaded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        random_init = build_backbone("efficientnet_lite0", None)
    pretrained = build_backbone("efficientnet_lite0", "imagenet")
    assert random_init.state_dict().keys() == pretrained.state_dict().keys()
    random_init.load_state_dict(pretrained.state_dict())  # strict
