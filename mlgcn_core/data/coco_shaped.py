"""The second embedded benchmark, "COCO-shaped outfits": COCO 2014 train's label structure (80
labels, their long tail, their co-occurrences), drawn on a laptop with real Fashion-MNIST images.

* **Label sets** are drawn from a pairwise maximum-entropy model fitted to COCO 2014 train's
  per-label and pairwise counts (:mod:`mlgcn_core.data.coco_labels`), so the P(L_j | L_i) behind
  the paper's Eq. 6 and its τ = 0.4 graph are COCO's.
* **Images**: each of the 80 labels is one visual class, a Fashion-MNIST garment in one hue
  (:func:`visual_classes`): the labels taken in COCO's category-id order — which groups them by
  supercategory (person, vehicle, outdoor, animal, …) — fill 10 garments × 8 hues, garment
  first, so labels of one supercategory mostly share a garment and differ by hue: labels close
  in word space look alike, as in COCO. Garments are painted on a black RGB canvas as in
  ``outfits`` (later ones occlude earlier ones, bounded overlap); a scene with many labels draws
  its garments smaller (``crowd``), and each garment's visible share is recorded.
* **Oracle**: the fitted model's own P(L_j | L_i) (:func:`label_statistics`).
* **Public statistics**: COCO 2014 train's own counts (:func:`public_statistics`), the label
  corpus a practitioner can download without its images (``graph_labels="public"``).

Train/val scenes take their garments from disjoint parts of Fashion-MNIST's training set, test
scenes from its test set. Everything is deterministic for a seed and cached on disk.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..paths import cache_root
from . import coco_labels, fashion_mnist
from .outfits import cached_scenes, cached_visibility, render

GENERATOR_VERSION = "1"
HUES = 8  # hues per garment: HSV hue k / 8 at saturation 0.85
SATURATION = 0.85
SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}
RENDER_STREAM = 4_000_037  # rendering: rng([RENDER_STREAM, seed, split index])


@dataclass(frozen=True)
class CocoShapedConfig:
    """Size and look of the COCO-shaped benchmark (all fields enter the cache key). At 12,000
    training scenes COCO's rarest label (hair drier, 0.16 % of images) keeps about 20 positives."""

    seed: int = 0  # scene generator seed (label sets and rendering)
    label_seed: int = 0  # seed of the label model's fit (coco_labels.label_model)
    n_train: int = 12000  # scenes per split
    n_val: int = 3000
    n_test: int = 5000
    canvas: int = 96  # canvas side (pixels, RGB)
    min_size: int = 28  # garment side range (pixels; sources are 28×28)
    max_size: int = 44
    max_overlap: float = 0.35  # max IoU of a new garment's box with an earlier one
    crowd: int = 4  # a scene with k more garments than this draws them at √(crowd / k) of their size
    val_fraction: float = 0.2  # part of Fashion-MNIST train reserved for val scenes

    def __post_init__(self):
        for f in ("n_train", "n_val", "n_test", "crowd"):
            if getattr(self, f) < 1:
                raise ValueError(f"coco_shaped.{f} must be ≥ 1, got {getattr(self, f)}")
        if not (8 <= self.min_size <= self.max_size <= self.canvas):
            raise ValueError("coco_shaped: need 8 ≤ min_size ≤ max_size ≤ canvas, got "
                             f"{self.min_size}, {self.max_size}, {self.canvas}")

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "version": GENERATOR_VERSION, "labels": coco_labels.FIT_VERSION},
                          sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


SMOKE = CocoShapedConfig(n_train=2000, n_val=400, n_test=600)  # small settings for tests (every label seen)


def classes() -> list[str]:
    """COCO's 80 label names in the official (alphabetical) order, from the shipped counts (read
    when first needed, so a damaged file stops only what uses this benchmark, with one line)."""
    return list(coco_labels.load_counts().names)


def visual_classes() -> list[tuple[int, int]]:
    """(Fashion-MNIST garment, hue index) of each label, in label order: the labels in COCO's
    category-id order fill garment 0's eight hues, then garment 1's, … (so a supercategory
    mostly shares a garment)."""
    counts = coco_labels.load_counts()
    order = sorted(counts.names, key=lambda n: counts.coco_ids[n])
    slot = {name: i for i, name in enumerate(order)}
    return [(slot[n] // HUES, slot[n] % HUES) for n in counts.names]


def tints() -> np.ndarray:
    """(C, 3) RGB multipliers in [0, 1]: each label's hue (HSV hue k / 8, saturation 0.85)."""
    return np.array([colorsys.hsv_to_rgb(h / HUES, SATURATION, 1.0) for _, h in visual_classes()])


def mapping_table():
    """The label → look mapping as a DataFrame (label, COCO supercategory, garment, hue)."""
    import pandas as pd

    counts = coco_labels.load_counts()
    return pd.DataFrame([{"label": n, "supercategory": counts.supercategories[n],
                          "garment": fashion_mnist.CLASSES[g], "hue": f"{360 * h // HUES}°"}
                         for n, (g, h) in zip(counts.names, visual_classes())]).set_index("label")


def label_statistics(cfg: CocoShapedConfig = CocoShapedConfig()) -> tuple[np.ndarray, np.ndarray]:
    """The fitted label model's P(L_i and L_j) (C, C), zero diagonal, and P(L_i) (C,): the layout
    of ``graph.cooccurrence`` per scene, so ``graph.conditional_probability(M, N)`` is the model's
    own P(L_j | L_i) — what the "oracle" graph is built from (a Monte Carlo estimate,
    :func:`~mlgcn_core.data.coco_labels.model_statistics`)."""
    return coco_labels.model_statistics(coco_labels.label_model(cfg.label_seed))


def public_statistics() -> tuple[np.ndarray, np.ndarray]:
    """The public label statistics behind the benchmark: COCO 2014 train's own counts (82,081
    images; :func:`~mlgcn_core.data.coco_labels.load_counts`) as ``(M, N)`` in the layout of
    ``graph.cooccurrence`` — M (C, C) images per pair, zero diagonal; N (C,) images per label —, so
    ``graph.conditional_probability(M, N)`` is COCO's P(L_j | L_i). What a practitioner with few
    images and the published label statistics can build a graph from (``graph_labels="public"``)."""
    counts = coco_labels.load_counts()
    return np.array(counts.adj, dtype=np.int64), np.array(counts.nums, dtype=np.int64)


def generate(cfg: CocoShapedConfig, fmnist_path: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Generate all three splits: {split: {"images" (n, S, S, 3) uint8, "labels" (n, C),
    "sources", "visibility"}}."""
    model = coco_labels.label_model(cfg.label_seed)
    rng = np.random.default_rng([RENDER_STREAM, cfg.seed])
    tr_img, tr_lab = fashion_mnist.load("train", fmnist_path)
    te_img, te_lab = fashion_mnist.load("test", fmnist_path)
    perm = rng.permutation(len(tr_lab))
    n_val_src = int(round(cfg.val_fraction * len(perm)))
    src_idx = {"train": np.sort(perm[n_val_src:]), "val": np.sort(perm[:n_val_src]), "test": np.arange(len(te_lab))}
    garments = [g for g, _ in visual_classes()]
    colour = tints()  # (C, 3)
    out = {}
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
        images, classes = (te_img, te_lab) if split == "test" else (tr_img, tr_lab)
        idx = src_idx[split]
        pools = [idx[classes[idx] == g] for g in garments]  # each label: its garment's images
        labels = coco_labels.draw_labels(model, n, seed=3 * int(cfg.seed) + SPLIT_INDEX[split])  # (n, C)
        srng = np.random.default_rng([RENDER_STREAM, cfg.seed, SPLIT_INDEX[split]])
        canv, sources, visibility = render(labels, pools, images, cfg, srng, tints=colour, crowd=cfg.crowd)
        out[split] = {"images": canv, "labels": labels, "sources": sources, "visibility": visibility}
    return out


def cache_dir(cfg: CocoShapedConfig) -> Path:
    return cache_root() / "coco_shaped" / cfg.key()


def load_coco_shaped(cfg: CocoShapedConfig = CocoShapedConfig(), fmnist_path: str | None = None
                     ) -> dict[str, dict[str, np.ndarray]]:
    """The benchmark's three splits ({split: {"images", "labels", "sources"}}), generated once and
    then read from the on-disk cache."""
    return cached_scenes(cache_dir(cfg), cfg, lambda: generate(cfg, fmnist_path), "coco_shaped")


def load_visibility(cfg: CocoShapedConfig = CocoShapedConfig(), fmnist_path: str | None = None
                    ) -> dict[str, np.ndarray]:
    """Each garment's visible share per split, {split: (n, C) float32}."""
    return cached_visibility(cache_dir(cfg), cfg, lambda: generate(cfg, fmnist_path))


def class_gallery(per_class: int = 1, side: int = 40, seed: int = 0) -> np.ndarray:
    """One picture of all 80 visual classes: (8·side, 10·side, 3) uint8 — rows the hues, columns
    the garments, each cell a Fashion-MNIST training garment of that class in that hue."""
    images, classes = fashion_mnist.load("train")
    rng = np.random.default_rng(seed)
    colour = tints()
    grid = np.zeros((HUES * side, 10 * side, 3), dtype=np.uint8)
    import torch
    import torch.nn.functional as F

    for c, (g, h) in enumerate(visual_classes()):
        src = images[int(rng.choice(np.flatnonzero(classes == g)))].astype(np.float32)  # (28, 28)
        big = F.interpolate(torch.from_numpy(src)[None, None], size=(side, side), mode="bilinear",
                            align_corners=False)[0, 0].clamp(0, 255).numpy()  # (side, side)
        grid[h * side:(h + 1) * side, g * side:(g + 1) * side] = (big[..., None] * colour[c]).round()
    return grid


DRAWN_STREAM = 5_000_011  # the fidelity check's fresh draws: seed DRAWN_STREAM + label_seed


def label_structure_report(cfg: CocoShapedConfig = CocoShapedConfig(), n_drawn: int = 50_000) -> dict:
    """How closely the benchmark's label sets follow COCO 2014 train's
    (:func:`~mlgcn_core.data.coco_labels.label_structure`): ``{"drawn": n_drawn fresh draws of the
    label model, "train": the training split}``, each with its median label-frequency error, the
    Pearson correlation of P(L_j | L_i) with COCO's, the Jaccard overlap of the τ = 0.4 edge sets
    and the mean labels per image."""
    model = coco_labels.label_model(cfg.label_seed)
    drawn = coco_labels.draw_labels(model, n_drawn, seed=DRAWN_STREAM + int(cfg.label_seed))  # (n_drawn, C)
    train = load_coco_shaped(cfg)["train"]["labels"]  # (n_train, C)
    return {"drawn": coco_labels.label_structure(drawn), "train": coco_labels.label_structure(train)}


def fidelity_table(report: dict):
    """:func:`label_structure_report` beside its targets
    (:data:`~mlgcn_core.data.coco_labels.FIDELITY_TARGETS`), one row per measure, and a column
    saying in words whether each label set meets them."""
    import pandas as pd

    rows = []
    for measure in ("frequency_rel_err_median", "conditional_pearson", "edge_jaccard", "mean_labels"):
        row = {"measure": measure}
        for which in ("drawn", "train"):
            row[which] = round(float(report[which][measure]), 3)
            row[f"target ({which})"] = target_text(which, measure)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("measure")
    return table


def target_text(which: str, measure: str) -> str:
    """A target of :data:`~mlgcn_core.data.coco_labels.FIDELITY_TARGETS` in words ("≥ 0.99",
    "≤ 0.1", "2.79–3.09"; "—" where that label set has none)."""
    lo, hi = coco_labels.FIDELITY_TARGETS[which].get(measure, (None, None))
    if lo is not None and hi is not None:
        return f"{lo:g}–{hi:g}"
    return f"≥ {lo:g}" if lo is not None else (f"≤ {hi:g}" if hi is not None else "—")


def fidelity_words(report: dict) -> str:
    """One sentence per label set of :func:`label_structure_report`: every target met, or which
    missed (:func:`~mlgcn_core.data.coco_labels.fidelity_failures`)."""
    what = {"drawn": f"{report['drawn']['n']:,} fresh draws", "train": f"the training split ({report['train']['n']:,})"}
    lines = []
    for which in ("drawn", "train"):
        missed = coco_labels.fidelity_failures(report[which], which)
        verdict = "every target met." if not missed else "MISSED — " + "; ".join(missed) + "."
        lines.append(f"{what[which]}: {verdict}")
    return "\n".join(lines)


def visibility_summary(visibility) -> dict:
    """The visible share of the garments present ((n, C), NaN where absent): quartiles, and the
    shares of garments less than 20 % and at least 80 % visible."""
    v = np.asarray(visibility, dtype=float)
    v = v[np.isfinite(v)]
    q = np.quantile(v, [0.1, 0.25, 0.5, 0.75]) if len(v) else [np.nan] * 4
    return {"garments": int(len(v)), "p10": float(q[0]), "q1": float(q[1]), "median": float(q[2]),
            "q3": float(q[3]), "below_0.2": float((v < 0.2).mean()) if len(v) else np.nan,
            "at_least_0.8": float((v >= 0.8).mean()) if len(v) else np.nan}


def mapping_grid():
    """The label → look mapping as a hue × garment table of label names (what each visual class is)."""
    import pandas as pd

    names = classes()
    grid = [["" for _ in fashion_mnist.CLASSES] for _ in range(HUES)]
    for n, (g, h) in zip(names, visual_classes()):
        grid[h][g] = n
    return pd.DataFrame(grid, index=[f"hue {360 * h // HUES}°" for h in range(HUES)], columns=fashion_mnist.CLASSES)
