"""Cached-features mode: pooled features of a frozen backbone, extracted once per
(backbone, weights, pooling, image size, dataset, split) and cached on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .backbones import Backbone, build_backbone
from .data.transforms import to_backbone_input
from .paths import cache_root


def extract_features(backbone: Backbone, images: np.ndarray, image_size: int,
                     batch_size: int = 16, device: str = "cpu", progress: bool = True,
                     desc: str = "features") -> np.ndarray:
    """Pooled features (N, D) float32 of uint8 canvases (N, S, S), backbone in eval mode."""
    backbone = backbone.to(device).eval().to(memory_format=torch.channels_last)
    out = np.empty((len(images), backbone.out_dim), dtype=np.float32)
    with torch.inference_mode():
        for i in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress):
            x = to_backbone_input(images[i:i + batch_size], image_size, backbone.info.mean,
                                  backbone.info.std).to(device, memory_format=torch.channels_last)  # (B, 3, H, W)
            out[i:i + batch_size] = backbone(x).float().cpu().numpy()  # (B, D)
    return out


def _weights_tag(weights: str | None) -> str:
    if weights in (None, "imagenet"):
        return str(weights).lower()
    return "file-" + hashlib.sha1(str(Path(weights).resolve()).encode()).hexdigest()[:8]


def feature_cache_path(backbone: str, weights: str | None, pooling: str, image_size: int,
                       dataset_key: str, split: str) -> Path:
    name = f"{backbone}-{_weights_tag(weights)}-{pooling}-{image_size}px-{dataset_key}-{split}.npy"
    return cache_root() / "features" / name


def cached_features(images_by_split: dict[str, np.ndarray], dataset_key: str, backbone: str,
                    weights: str | None, pooling: str, image_size: int, device: str = "cpu",
                    progress: bool = True) -> dict[str, np.ndarray]:
    """{split: (N, D) features}, computed for the splits missing from the cache only."""
    paths = {s: feature_cache_path(backbone, weights, pooling, image_size, dataset_key, s)
             for s in images_by_split}
    missing = [s for s, p in paths.items() if not p.is_file()]
    net = build_backbone(backbone, weights, pooling) if missing else None
    for s in missing:
        feats = extract_features(net, images_by_split[s], image_size, device=device,
                                 progress=progress, desc=f"{backbone} features [{s}]")
        paths[s].parent.mkdir(parents=True, exist_ok=True)
        tmp = paths[s].with_name(f".{paths[s].stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, feats)
        os.replace(tmp, paths[s])
    return {s: np.load(p) for s, p in paths.items()}
