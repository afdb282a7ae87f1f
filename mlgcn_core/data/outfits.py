"""The embedded default benchmark, "Fashion outfits": real Fashion-MNIST garments composed
into multi-label scenes by a seeded outfit model with asymmetric label dependencies.

Outfit model (one scene): a latent season (summer / mild / winter) drives
* coat — mostly in winter;
* one upper garment: a dress (then never a trouser) or a top (t-shirt/top, shirt, pullover);
* a trouser unless there is a dress;
* footwear — with a coat, almost always an ankle boot; without, season-dependent
  (so P(ankle boot | coat) is high while P(coat | ankle boot) is much lower);
* a bag, independent of everything ("a bag appears with anything").
Scenes keep 1–4 garments (a 5th is dropped at random). Garments are drawn at random scales
and positions on a black canvas; later garments occlude earlier ones (bounded overlap),
so a partly hidden garment must sometimes be inferred from context.

Train/val scenes take their garments from disjoint parts of Fashion-MNIST's training set,
test scenes from its test set. Everything is deterministic for a seed and cached on disk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..io import atomic_path
from ..paths import cache_root
from . import fashion_mnist

CLASSES = list(fashion_mnist.CLASSES)
C = len(CLASSES)
TSHIRT, TROUSER, PULLOVER, DRESS, COAT, SANDAL, SHIRT, SNEAKER, BAG, BOOT = range(C)
GENERATOR_VERSION = "1"


@dataclass(frozen=True)
class OutfitsConfig:
    """Size and difficulty of the benchmark (all fields enter the cache key)."""

    seed: int = 0  # scene generator seed
    n_train: int = 6000  # scenes per split
    n_val: int = 1500
    n_test: int = 3000
    canvas: int = 64  # canvas side (pixels)
    min_size: int = 22  # garment side range (pixels; sources are 28×28)
    max_size: int = 36
    max_overlap: float = 0.35  # max IoU of a new garment's box with an earlier one
    val_fraction: float = 0.2  # part of Fashion-MNIST train reserved for val scenes

    def __post_init__(self):
        for f in ("n_train", "n_val", "n_test"):
            if getattr(self, f) < 1:
                raise ValueError(f"{f} must be ≥ 1, got {getattr(self, f)}")
        if not (8 <= self.min_size <= self.max_size <= self.canvas):
            raise ValueError("need 8 ≤ min_size ≤ max_size ≤ canvas, got "
                             f"{self.min_size}, {self.max_size}, {self.canvas}")

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


SMOKE = OutfitsConfig(n_train=300, n_val=100, n_test=150)  # tiny settings for tests


def sample_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw n label sets from the outfit model; {0,1} array (n, C)."""
    y = np.zeros((n, C), dtype=np.int64)
    for r in range(n):
        while True:
            items = _sample_outfit(rng)
            if items:
                break
        if len(items) > 4:
            items.pop(int(rng.integers(len(items))))
        y[r, items] = 1
    return y


def _sample_outfit(rng: np.random.Generator) -> list[int]:
    season = rng.choice(3, p=[0.4, 0.35, 0.25])  # 0 summer, 1 mild, 2 winter
    items: list[int] = []
    coat = rng.random() < (0.0, 0.2, 0.8)[season]
    if coat:
        items.append(COAT)
    dress = rng.random() < (0.35, 0.2, 0.08)[season]
    if dress:
        items.append(DRESS)
    else:
        top_p = ([0.6, 0.3, 0.0, 0.1], [0.25, 0.4, 0.25, 0.1], [0.0, 0.3, 0.55, 0.15])[season]
        top = rng.choice(4, p=top_p)  # t-shirt, shirt, pullover, none
        if top < 3:
            items.append((TSHIRT, SHIRT, PULLOVER)[top])
        if rng.random() < (0.5, 0.6, 0.7)[season]:
            items.append(TROUSER)
    if coat:
        foot_p = [0.0, 0.1, 0.85, 0.05]
    else:
        foot_p = ([0.55, 0.35, 0.0, 0.1], [0.1, 0.4, 0.35, 0.15], [0.0, 0.35, 0.45, 0.2])[season]
    foot = rng.choice(4, p=foot_p)  # sandal, sneaker, ankle boot, none
    if foot < 3:
        items.append((SANDAL, SNEAKER, BOOT)[foot])
    if rng.random() < 0.3:
        items.append(BAG)
    return items


def _iou(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    (ya, xa, sa), (yb, xb, sb) = a, b
    ih = max(0, min(ya + sa, yb + sb) - max(ya, yb))
    iw = max(0, min(xa + sa, xb + sb) - max(xa, xb))
    inter = ih * iw
    return inter / (sa * sa + sb * sb - inter)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(img.astype(np.float32))[None, None]  # (1, 1, 28, 28)
    out = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out[0, 0].clamp_(0, 255).numpy()  # (size, size)


def render(labels: np.ndarray, pools: list[np.ndarray], images: np.ndarray, cfg: OutfitsConfig,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Compose scenes for ``labels`` (n, C). Returns canvases (n, S, S) uint8 and the source
    indices into ``images`` (n, 4), −1 padded."""
    n, S = labels.shape[0], cfg.canvas
    canvases = np.zeros((n, S, S), dtype=np.float32)
    sources = np.full((n, 4), -1, dtype=np.int64)
    for r in range(n):
        classes = rng.permutation(np.flatnonzero(labels[r]))  # paint order = random
        boxes: list[tuple[int, int, int]] = []
        for k, c in enumerate(classes):
            src = int(rng.choice(pools[c]))
            sources[r, k] = src
            size = int(rng.integers(cfg.min_size, cfg.max_size + 1))
            for _ in range(30):  # rejection-sample a position with bounded overlap
                box = (int(rng.integers(0, S - size + 1)), int(rng.integers(0, S - size + 1)), size)
                if all(_iou(box, b) <= cfg.max_overlap for b in boxes):
                    break
            boxes.append(box)
            y0, x0, s = box
            g = _resize(images[src], s)  # (s, s)
            region = canvases[r, y0:y0 + s, x0:x0 + s]
            np.copyto(region, g, where=g > 8)  # later garments occlude earlier ones
    return canvases.round().astype(np.uint8), sources


def generate(cfg: OutfitsConfig, fmnist_path: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Generate all three splits: {split: {"images", "labels", "sources"}}."""
    rng = np.random.default_rng(cfg.seed)
    tr_img, tr_lab = fashion_mnist.load("train", fmnist_path)
    te_img, te_lab = fashion_mnist.load("test", fmnist_path)
    perm = rng.permutation(len(tr_lab))
    n_val_src = int(round(cfg.val_fraction * len(perm)))
    src_idx = {"train": np.sort(perm[n_val_src:]), "val": np.sort(perm[:n_val_src]),
               "test": np.arange(len(te_lab))}
    out = {}
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
        images, classes = (te_img, te_lab) if split == "test" else (tr_img, tr_lab)
        idx = src_idx[split]
        pools = [idx[classes[idx] == c] for c in range(C)]
        srng = np.random.default_rng([cfg.seed, ("train", "val", "test").index(split)])
        labels = sample_labels(srng, n)
        canv, sources = render(labels, pools, images, cfg, srng)
        out[split] = {"images": canv, "labels": labels, "sources": sources}
    return out


def cache_dir(cfg: OutfitsConfig) -> Path:
    return cache_root() / "outfits" / cfg.key()


def load_outfits(cfg: OutfitsConfig = OutfitsConfig(), fmnist_path: str | None = None
                 ) -> dict[str, dict[str, np.ndarray]]:
    """The benchmark's three splits, generated once and then read from the on-disk cache."""
    d = cache_dir(cfg)
    files = {s: d / f"{s}.npz" for s in ("train", "val", "test")}
    if not all(f.is_file() for f in files.values()):
        data = generate(cfg, fmnist_path)
        d.mkdir(parents=True, exist_ok=True)
        for split, arrays in data.items():
            with atomic_path(files[split]) as tmp:
                np.savez_compressed(tmp, **arrays)
        (d / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        return data
    return {s: dict(np.load(f)) for s, f in files.items()}
