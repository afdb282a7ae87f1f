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
so a partly hidden garment must sometimes be inferred from context. The generator records how
much of each garment stays visible (:func:`load_visibility`), and the model's exact label
distribution is known (:func:`label_set_distribution`, :func:`label_statistics`: the true
P(L_j | L_i) behind the "oracle" label graph).

Train/val scenes take their garments from disjoint parts of Fashion-MNIST's training set,
test scenes from its test set. Everything is deterministic for a seed and cached on disk.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_path, load_npz
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
        if len(items) > MAX_ITEMS:
            items.pop(int(rng.integers(len(items))))
        y[r, items] = 1
    return y


# The outfit model's probabilities (one table, read by the sampler and by the exact enumeration)
SEASON_P = (0.4, 0.35, 0.25)  # summer, mild, winter
COAT_P = (0.0, 0.2, 0.8)  # P(coat | season)
DRESS_P = (0.35, 0.2, 0.08)  # P(dress | season)
TOP_P = ((0.6, 0.3, 0.0, 0.1), (0.25, 0.4, 0.25, 0.1), (0.0, 0.3, 0.55, 0.15))  # t-shirt, shirt, pullover, none
TOPS = (TSHIRT, SHIRT, PULLOVER)
TROUSER_P = (0.5, 0.6, 0.7)  # P(trouser | no dress, season)
FOOT_P_COAT = (0.0, 0.1, 0.85, 0.05)  # sandal, sneaker, ankle boot, none — with a coat
FOOT_P = ((0.55, 0.35, 0.0, 0.1), (0.1, 0.4, 0.35, 0.15), (0.0, 0.35, 0.45, 0.2))  # without
FEET = (SANDAL, SNEAKER, BOOT)
BAG_P = 0.3
MAX_ITEMS = 4


def _sample_outfit(rng: np.random.Generator) -> list[int]:
    season = rng.choice(3, p=list(SEASON_P))  # 0 summer, 1 mild, 2 winter
    items: list[int] = []
    coat = rng.random() < COAT_P[season]
    if coat:
        items.append(COAT)
    dress = rng.random() < DRESS_P[season]
    if dress:
        items.append(DRESS)
    else:
        top = rng.choice(4, p=list(TOP_P[season]))  # t-shirt, shirt, pullover, none
        if top < 3:
            items.append(TOPS[top])
        if rng.random() < TROUSER_P[season]:
            items.append(TROUSER)
    foot_p = FOOT_P_COAT if coat else FOOT_P[season]
    foot = rng.choice(4, p=list(foot_p))  # sandal, sneaker, ankle boot, none
    if foot < 3:
        items.append(FEET[foot])
    if rng.random() < BAG_P:
        items.append(BAG)
    return items


def _outfit_distribution() -> dict[tuple[int, ...], float]:
    """Every item list :func:`_sample_outfit` can return, with its probability (exact: the
    product of the branch probabilities along the sampler's decisions; sums to 1)."""
    out: dict[tuple[int, ...], float] = {}

    def add(items: list[int], p: float) -> None:
        if p > 0:
            key = tuple(sorted(items))
            out[key] = out.get(key, 0.0) + p

    for season, ps in enumerate(SEASON_P):
        for coat, pc in ((True, COAT_P[season]), (False, 1 - COAT_P[season])):
            for dress, pd_ in ((True, DRESS_P[season]), (False, 1 - DRESS_P[season])):
                uppers = [([DRESS], 1.0)] if dress else [
                    ([TOPS[t]] if t < 3 else [], pt) for t, pt in enumerate(TOP_P[season])]
                bottoms = [([], 1.0)] if dress else [([TROUSER], TROUSER_P[season]),
                                                     ([], 1 - TROUSER_P[season])]
                feet = FOOT_P_COAT if coat else FOOT_P[season]
                for up, pu in uppers:
                    for bottom, pb in bottoms:
                        for f, pf in enumerate(feet):
                            for bag, pg in ((True, BAG_P), (False, 1 - BAG_P)):
                                items = ([COAT] if coat else []) + up + bottom + (
                                    [FEET[f]] if f < 3 else []) + ([BAG] if bag else [])
                                add(items, ps * pc * pd_ * pu * pb * pf * pg)
    return out


def label_set_distribution() -> dict[tuple[int, ...], float]:
    """The exact distribution of a scene's label set under :func:`sample_labels`: the outfit model
    (:func:`_outfit_distribution`), conditioned on a non-empty outfit (the sampler redraws empty
    ones), with one of more than ``MAX_ITEMS`` items dropped uniformly at random.
    ``{sorted class indices: probability}``, summing to 1."""
    raw = _outfit_distribution()
    nonempty = 1.0 - raw.get((), 0.0)
    out: dict[tuple[int, ...], float] = {}
    for items, p in raw.items():
        if not items:
            continue
        p /= nonempty
        if len(items) > MAX_ITEMS:  # the sampler drops one of them, uniformly
            subsets = [items[:k] + items[k + 1:] for k in range(len(items))]
        else:
            subsets = [items]
        for sub in subsets:
            out[sub] = out.get(sub, 0.0) + p / len(subsets)
    return out


def label_statistics() -> tuple[np.ndarray, np.ndarray]:
    """The outfit model's exact label statistics in the layout of ``graph.cooccurrence`` — per
    scene instead of counts: M (C, C) float64, M_ij = P(L_i and L_j), zero diagonal; N (C,),
    N_i = P(L_i). So ``graph.conditional_probability(M, N)`` is the true P(L_j | L_i) (Eq. 6 with
    infinitely many training scenes): what the "oracle" label graph is built from."""
    M = np.zeros((C, C))
    N = np.zeros(C)
    for items, p in label_set_distribution().items():
        idx = list(items)
        N[idx] += p
        M[np.ix_(idx, idx)] += p
    np.fill_diagonal(M, 0.0)
    return M, N


def _iou(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    (ya, xa, sa), (yb, xb, sb) = a, b
    ih = max(0, min(ya + sa, yb + sb) - max(ya, yb))
    iw = max(0, min(xa + sa, xb + sb) - max(xa, xb))
    inter = ih * iw
    return inter / (sa * sa + sb * sb - inter)


def _resize_all(images: np.ndarray, sources: list[int], sizes: list[int]) -> list[np.ndarray]:
    """``images[sources[i]]`` (28 × 28) resized to ``sizes[i]`` × ``sizes[i]`` (bilinear, antialiased,
    clamped to 0–255) for every i, in order: one batched call per size (a dozen), not one per
    garment (tens of thousands); each image's result is the same as resizing it alone."""
    import torch  # here, not at the top: `python -m mlgcn_core data` and the book's builder need no torch
    import torch.nn.functional as F

    out: list = [None] * len(sources)
    src, size = np.asarray(sources, dtype=np.int64), np.asarray(sizes, dtype=np.int64)
    for s in np.unique(size):
        at = np.flatnonzero(size == s)
        t = torch.from_numpy(images[src[at]].astype(np.float32))[:, None]  # (m, 1, 28, 28)
        g = F.interpolate(t, size=(int(s), int(s)), mode="bilinear", antialias=True, align_corners=False)
        g = g[:, 0].clamp_(0, 255).numpy()  # (m, s, s)
        for j, i in enumerate(at):
            out[i] = g[j]
    return out


INK = 8  # a garment's pixel is painted where its resized grey value exceeds this


def render(labels: np.ndarray, pools: list[np.ndarray], images: np.ndarray, cfg: OutfitsConfig,
           rng: np.random.Generator, tints: np.ndarray | None = None, crowd: int | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compose scenes for ``labels`` (n, C). Returns canvases (n, side, side) uint8 (side:
    ``cfg.canvas``) — or (n, side, side, 3) RGB when ``tints`` (C, 3) in [0, 1] colours each
    class's garments —, the source indices into ``images`` (n, max(4, most labels of a scene)), −1
    padded, and each garment's visibility (n, C) float32: the fraction of its painted pixels that
    no later garment paints over (NaN where absent). ``crowd``: a scene with k > ``crowd``
    garments draws them at √(crowd / k) of their size (≥ 8 px), so that crowded scenes stay
    legible; it draws no random number. The visibility is read off the painting without drawing
    any random number, so the canvases and labels are those of the generator without it."""
    n, side = labels.shape[0], cfg.canvas
    width = max(4, int(np.asarray(labels).sum(axis=1).max(initial=0)))
    canvases = np.zeros((n, side, side) if tints is None else (n, side, side, 3), dtype=np.uint8)
    sources = np.full((n, width), -1, dtype=np.int64)
    visibility = np.full(labels.shape, np.nan, dtype=np.float32)
    plan: list[list[tuple[int, tuple[int, int, int]]]] = []  # per scene: (class, box) in paint order
    garment_sources, garment_sizes = [], []  # every garment, in paint order
    for r in range(n):  # first every random draw, in the generator's order (resizing draws none)
        classes = rng.permutation(np.flatnonzero(labels[r]))  # paint order = random
        shrink = 1.0 if crowd is None or len(classes) <= crowd else (crowd / len(classes)) ** 0.5
        boxes: list[tuple[int, int, int]] = []
        for k, c in enumerate(classes):
            sources[r, k] = int(rng.choice(pools[c]))
            size = int(rng.integers(cfg.min_size, cfg.max_size + 1))
            if shrink < 1.0:
                size = max(8, int(round(size * shrink)))
            for _ in range(30):  # rejection-sample a position with bounded overlap
                box = (int(rng.integers(0, side - size + 1)), int(rng.integers(0, side - size + 1)), size)
                if all(_iou(box, b) <= cfg.max_overlap for b in boxes):
                    break
            boxes.append(box)
            garment_sources.append(int(sources[r, k]))
            garment_sizes.append(size)
        plan.append(list(zip(classes.tolist(), boxes)))
    resized = iter(_resize_all(images, garment_sources, garment_sizes))
    for r, scene in enumerate(plan):  # then the painting, scene by scene
        canvas = np.zeros(canvases.shape[1:], dtype=np.float32)  # (side, side) or (side, side, 3)
        classes = [c for c, _ in scene]
        owner = np.full((side, side), -1, dtype=np.int64)  # (side, side): index k of the garment on top
        painted = np.zeros(len(classes), dtype=np.int64)  # (k,): pixels each garment painted
        for k, (c, (y0, x0, s)) in enumerate(scene):
            g = next(resized)  # (s, s)
            region = canvas[y0:y0 + s, x0:x0 + s]
            ink = g > INK  # (s, s)
            if tints is None:
                np.copyto(region, g, where=ink)  # later garments occlude earlier ones
            else:
                np.copyto(region, g[..., None] * tints[c], where=ink[..., None])  # (s, s, 3)
            owner[y0:y0 + s, x0:x0 + s][ink] = k
            painted[k] = int(ink.sum())
        canvases[r] = canvas.round()
        for k, c in enumerate(classes):
            visibility[r, c] = (owner == k).sum() / max(painted[k], 1)
    return canvases, sources, visibility


def generate(cfg: OutfitsConfig, fmnist_path: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Generate all three splits: {split: {"images", "labels", "sources", "visibility"}}
    (``visibility``: see :func:`render`)."""
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
        canv, sources, visibility = render(labels, pools, images, cfg, srng)
        out[split] = {"images": canv, "labels": labels, "sources": sources, "visibility": visibility}
    return out


def cache_dir(cfg: OutfitsConfig) -> Path:
    return cache_root() / "outfits" / cfg.key()


def write_scenes(d: Path, cfg, data: dict[str, dict[str, np.ndarray]]) -> None:
    """An embedded benchmark's splits into its cache folder ``d``: one ``<split>.npz`` each (images,
    labels, sources), ``visibility.npz`` and the generator's ``config.json``; each file atomic."""
    d.mkdir(parents=True, exist_ok=True)
    for split, arrays in data.items():
        with atomic_path(d / f"{split}.npz") as tmp:
            np.savez_compressed(tmp, **{k: v for k, v in arrays.items() if k != "visibility"})
    with atomic_path(d / "visibility.npz") as tmp:
        np.savez_compressed(tmp, **{split: arrays["visibility"] for split, arrays in data.items()})
    (d / "config.json").write_text(json.dumps(asdict(cfg), indent=2))


def cached_scenes(d: Path, cfg, make, what: str) -> dict[str, dict[str, np.ndarray]]:
    """The splits ``make()`` generates, generated once into ``d`` and then read from there; a
    truncated or corrupted cache is generated again, with one line on stderr."""
    files = {s: d / f"{s}.npz" for s in ("train", "val", "test")}
    if not all(f.is_file() for f in files.values()):
        data = make()
        write_scenes(d, cfg, data)
        return {s: {k: v for k, v in a.items() if k != "visibility"} for s, a in data.items()}
    try:
        return _read_scenes(files)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # truncated, corrupted: rebuilt
        print(f"[{what}] the scene cache {d} is corrupted ({type(exc).__name__}: {exc}); generating it "
              "again", file=sys.stderr)
        write_scenes(d, cfg, make())
        return _read_scenes(files)


def _read_scenes(files: dict[str, Path]) -> dict[str, Mapping[str, np.ndarray]]:
    """The cached splits, their labels read now (a corrupted file fails here) and their images
    when first used (``io.NpzArrays``: a run on cached features never decompresses them)."""
    out = {s: load_npz(f) for s, f in files.items()}
    if any(arrays["labels"].ndim != 2 for arrays in out.values()):
        raise ValueError("labels are not an (n, C) matrix")
    return out


def cached_visibility(d: Path, cfg, make) -> dict[str, np.ndarray]:
    """Each garment's visibility per split, {split: (n, C) float32} (:func:`render`), kept beside
    the cached scenes; a cache written before the visibility was recorded is generated again once
    (the same scenes: the visibility draws no random number)."""
    path = d / "visibility.npz"
    if not path.is_file():
        write_scenes(d, cfg, make())
    with np.load(path) as z:
        return {s: z[s] for s in z.files}


def load_outfits(cfg: OutfitsConfig = OutfitsConfig(), fmnist_path: str | None = None
                 ) -> dict[str, dict[str, np.ndarray]]:
    """The benchmark's three splits ({split: {"images", "labels", "sources"}}), generated once and
    then read from the on-disk cache."""
    return cached_scenes(cache_dir(cfg), cfg, lambda: generate(cfg, fmnist_path), "outfits")


def load_visibility(cfg: OutfitsConfig = OutfitsConfig(), fmnist_path: str | None = None
                    ) -> dict[str, np.ndarray]:
    """Each garment's visibility per split, {split: (n, C) float32} (:func:`render`)."""
    return cached_visibility(cache_dir(cfg), cfg, lambda: generate(cfg, fmnist_path))
