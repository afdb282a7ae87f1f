"""import-official: an official ML-GCN checkpoint (torch 0.3 layout) → our checkpoint, same logits."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
import torchvision
from fixtures import write_jpeg
from torch import nn

from mlgcn_core.inference import import_official, model_from_checkpoint, predict_images


class OfficialGraphConvolution(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        stdv = 1.0 / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)

    def forward(self, x, adj):
        return torch.matmul(adj, torch.matmul(x, self.weight))


def official_gen_A(num_classes, t, adj_file):
    result = pickle.load(open(adj_file, "rb"))
    _adj, _nums = result["adj"], result["nums"][:, np.newaxis]
    _adj = _adj / _nums
    _adj[_adj < t] = 0
    _adj[_adj >= t] = 1
    _adj = _adj * 0.25 / (_adj.sum(0, keepdims=True) + 1e-6)
    return _adj + np.identity(num_classes, int)


def official_gen_adj(A):
    D = torch.diag(torch.pow(A.sum(1).float(), -0.5))
    return torch.matmul(torch.matmul(A, D).t(), D)


class OfficialGCNResnet(nn.Module):
    """The official model's structure and forward pass (models.py of the official repository)."""

    def __init__(self, num_classes, adj_file, in_channel=300, t=0.4):
        super().__init__()
        r = torchvision.models.resnet101(weights=None)
        self.features = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4)
        self.pooling = nn.MaxPool2d(14, 14)
        self.gc1 = OfficialGraphConvolution(in_channel, 1024)
        self.gc2 = OfficialGraphConvolution(1024, 2048)
        self.relu = nn.LeakyReLU(0.2)
        self.A = nn.Parameter(torch.from_numpy(official_gen_A(num_classes, t, adj_file)).float())

    def forward(self, feature, inp):
        feature = self.pooling(self.features(feature)).view(feature.size(0), -1)
        adj = official_gen_adj(self.A).detach()
        x = self.gc2(self.relu(self.gc1(inp[0], adj)), adj)
        return torch.matmul(feature, x.transpose(0, 1))


@pytest.fixture(scope="module")
def official(official_dir, tmp_path_factory):
    torch.manual_seed(0)
    model = OfficialGCNResnet(20, official_dir / "voc_adj.pkl").eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, as in a trained model
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("official") / "voc_checkpoint.pth.tar"
    torch.save({"epoch": 20, "arch": "resnet101", "state_dict": state, "best_score": 93.8}, path,
               _use_new_zipfile_serialization=False)  # the legacy (torch 0.3-era) format
    inp = torch.from_numpy(pickle.load(open(official_dir / "voc_glove_word2vec.pkl", "rb")))[None]
    return model, path, inp


@pytest.mark.reference
def test_converted_checkpoint_gives_the_official_logits(official, tmp_path, monkeypatch, official_dir):
    monkeypatch.setenv("MLGCN_OFFICIAL_DIR", str(official_dir))
    model, path, inp = official
    out = import_official(path, "voc2007", tmp_path / "ours.pt")
    ours, cfg, classes = model_from_checkpoint(out)
    assert cfg.backbone == "resnet101" and cfg.image_size == 448 and len(classes) == 20
    x = torch.randn(2, 3, 448, 448)  # the official MaxPool2d(14) needs 448×448
    with torch.no_grad():
        ref, got = model(x, inp), ours(x)
    assert got.shape == (2, 20)
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4), (got - ref).abs().max()
    write_jpeg(tmp_path / "img.jpg", 3, size=(64, 48))
    pred = predict_images(out, [tmp_path / "img.jpg"])[0]
    assert len(pred) == 20 and [p for _, p in pred] == sorted((p for _, p in pred), reverse=True)


def test_import_errors(official, tmp_path, monkeypatch, official_dir):
    monkeypatch.setenv("MLGCN_OFFICIAL_DIR", str(official_dir))
    _, path, _ = official
    with pytest.raises(ValueError, match=r"field 'A' is \(20, 20\), but coco2014 has 80 classes"):
        import_official(path, "coco2014", tmp_path / "x.pt")
    torch.save({"state_dict": {"fc.weight": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an official ML-GCN checkpoint"):
        import_official(tmp_path / "other.pt", "voc2007", tmp_path / "x.pt")
    (tmp_path / "trunc.pt").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cannot be read"):
        import_official(tmp_path / "trunc.pt", "voc2007", tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
