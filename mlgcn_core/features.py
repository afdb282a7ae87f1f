"""Cached-features mode: pooled features of a frozen backbone, extracted once per
(backbone, weights, image size, dataset, split) — global max *and* average pooling from the same
pass — and cached on disk; heads (linear or ML-GCN of any depth / τ / p / word vectors) then train
from the cache in seconds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .backbones import Backbone, build_backbone
from .distributed import loader_workers
from .io import atomic_path
from .paths import cache_root


@torch.inference_mode()
def extract_features(backbone: Backbone, dataset: Dataset, batch_size: int = 16, device: str = "cpu",
                     workers: int = 0, progress: bool = True, desc: str = "features"
                     ) -> dict[str, np.ndarray]:
    """``max`` and ``avg`` pooled features (n, D) float32, ``targets`` (n, C) and ``difficult``
    (n, C) of a dataset yielding ``(image, target, difficult)``; backbone in eval mode, channels_last."""
    backbone = backbone.to(device).eval().to(memory_format=torch.channels_last)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    out: dict[str, list] = {"max": [], "avg": [], "targets": [], "difficult": []}
    for x, y, d in tqdm(loader, desc=desc, disable=not progress):
        fmap = backbone.feature_map(x.to(device, memory_format=torch.channels_last)).float()  # (B, D, h, w)
        out["max"].append(fmap.amax(dim=(2, 3)).cpu().numpy())  # (B, D)
        out["avg"].append(fmap.mean(dim=(2, 3)).cpu().numpy())
        out["targets"].append(y.numpy())
        out["difficult"].append(d.numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def _weights_tag(weights: str | None) -> str:
    if weights in (None, "imagenet"):
        return str(weights).lower()
    return "file-" + hashlib.sha1(str(Path(weights).resolve()).encode()).hexdigest()[:8]


def feature_cache_path(backbone: str, weights: str | None, image_size: int, dataset_key: str,
                       split: str) -> Path:
    name = f"{backbone}-{_weights_tag(weights)}-{image_size}px-{dataset_key}-{split}.npz"
    return cache_root() / "features" / name


def extract_dataset_features(cfg, datasets: dict[str, Dataset], dataset_key: str, device: str = "cpu",
                             progress: bool = True, must_exist: bool = False
                             ) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """{split: (features, targets, difficult)} tensors, extracting only splits not cached yet."""
    paths = {s: feature_cache_path(cfg.backbone, cfg.weights, cfg.image_size, dataset_key, s)
             for s in datasets}
    missing = [s for s, p in paths.items() if not p.is_file()]
    if missing and must_exist:
        raise FileNotFoundError(f"cached features missing: {[str(paths[s]) for s in missing]}")
    net = build_backbone(cfg.backbone, cfg.weights, cfg.pooling) if missing else None
    for s in missing:
        arrays = extract_features(net, datasets[s], device=device, workers=loader_workers(cfg.workers),
                                  progress=progress, desc=f"{cfg.backbone} features [{s}]")
        paths[s].parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(paths[s]) as tmp:
            np.savez(tmp, **arrays)
    out = {}
    for s, p in paths.items():
        z = np.load(p)
        out[s] = (torch.from_numpy(z[cfg.pooling]), torch.from_numpy(z["targets"]).float(),
                  torch.from_numpy(z["difficult"]).bool())
    return out
