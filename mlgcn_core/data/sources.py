"""The data of one experiment: train / val / test datasets yielding ``(x, target, difficult)``.

Each dataset is an entry of :data:`mlgcn_core.data.catalog.DATASETS`:

* embedded benchmarks — ``outfits`` (10 labels), ``coco_shaped`` (COCO's 80 labels and label
  structure): their own train / val / test, generated and cached;
* prepared folders — ``voc2007`` (train = trainval, test = VOC 2007 test), ``coco2014`` (train =
  train2014, test = val2014, the paper's test set), ``custom`` (the prepared train / val / test).

On VOC and COCO the protocol (``cfg.selection``) decides the training images: ``"val"`` carves a
seeded validation split (``val_fraction``) out of the training split and trains on the rest
(5,011 VOC trainval → 4,510 train + 501 val; COCO 82,081 → 73,873 + 8,208); ``"last"`` and
``"test"`` train on the whole split and have no validation split (``Splits.val`` is None). The
label statistics (Eq. 6) always come from exactly the images trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from ..backbones import BACKBONES
from . import prepared_dataset, prepared_fingerprint
from .catalog import DATASETS, class_names, dataset, load_scenes, scene_settings
from .images import eval_transform, train_transform
from .transforms import to_backbone_input

CARVE_SEED = 0  # the validation carve-out is the same for every training seed


class OutfitScenes(Dataset):
    """Embedded-benchmark canvases (grey or RGB) → normalized backbone input (random flip when
    training)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, image_size: int, mean, std,
                 train: bool = False):
        self.images, self.labels = images, labels
        self.image_size, self.mean, self.std, self.train = image_size, mean, std, train

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = to_backbone_input(self.images[i:i + 1], self.image_size, self.mean, self.std)[0]  # (3, H, W)
        if self.train and torch.rand(()) < 0.5:
            x = x.flip(-1)
        y = torch.as_tensor(self.labels[i], dtype=torch.float32)
        return x, y, torch.zeros_like(y, dtype=torch.bool)


@dataclass
class Splits:
    train: Dataset
    val: Dataset | None  # None: no validation split (selection "last" / "test" on VOC, COCO)
    test: Dataset
    eval_train: Dataset  # the training images with the evaluation transform (feature extraction)
    classes: list[str]
    train_positives: np.ndarray  # (n_train, C) {0, 1}: label 1 only, for the graph statistics
    key: str  # identity of the data for caches
    # the scenes trained on, as rows of ``eval_train`` (whose features are cached whole); None: all
    train_rows: np.ndarray | None = None
    # (n_train, C) the training targets when annotations are missing (``hide_labels``); None: the
    # images' own labels
    train_targets: np.ndarray | None = None
    # custom data: the label vectors ``prepare`` wrote (its --word-vectors and --fallback), (C, d)
    word_vectors: np.ndarray | None = None


# every dataset's title, as a reader sees it ({name: title})
DATASET_NAMES = {n: DATASETS[n].build.title for n in DATASETS.names()}


def _unwrap(ds: Dataset, idx) -> tuple[Dataset, np.ndarray]:
    """The underlying dataset and the indices into it behind (nested) ``Subset``s."""
    idx = np.asarray(idx)
    while isinstance(ds, Subset):
        ds, idx = ds.dataset, np.asarray(ds.indices)[idx]
    return ds, idx


def split_labels(ds: Dataset | None) -> np.ndarray | None:
    """(n, C) {0, 1} ground truth of a split (label 1 only; VOC's difficult entries are 0); None
    for a split the data does not have (``Splits.val`` under selection "last" / "test")."""
    if ds is None:
        return None
    base, idx = _unwrap(ds, np.arange(len(ds)))
    return (np.asarray(base.labels)[idx] == 1).astype(np.int64)


def picture(ds: Dataset, i: int, side: int = 224) -> np.ndarray:
    """Item ``i`` of a split as an image to draw: (S, S) uint8 grey or (S, S, 3) RGB canvas (embedded
    benchmarks) or (H, W, 3) uint8 RGB with its longer side at most ``side`` pixels (files on disk)."""
    base, j = _unwrap(ds, i)
    j = int(j)
    if isinstance(base, OutfitScenes):
        return base.images[j]
    from .images import load_image

    img = load_image(base.paths[j])
    img.thumbnail((side, side))
    return np.asarray(img)


def image_transform(cfg, train: bool = False):
    """The per-image transform of ``cfg`` for files on disk (real datasets, ``predict``)."""
    info = BACKBONES[cfg.backbone]
    entry = dataset(cfg.dataset)
    if entry.embedded:  # a picture drawn like the benchmark's canvases
        def outfit(img):
            side = scene_settings(cfg).canvas
            canvas = np.asarray(img.convert(entry.image_mode).resize((side, side)))[None]
            return to_backbone_input(canvas, cfg.image_size, info.mean, info.std)[0]
        return outfit
    make = train_transform if train else eval_transform
    return make(cfg.image_size, info.mean, info.std)


SUBSET_STREAM = 2_000_003  # training subsets: rng([SUBSET_STREAM, run seed])


def keep_rare(labels: np.ndarray, rows: np.ndarray, rare: list[int], k: int,
              rng: np.random.Generator, classes: list[str] | None = None) -> np.ndarray:
    """``rows`` (sorted) without all but ``k`` of the scenes holding each class in ``rare``: the
    scenes are visited in a random order and one holding rare classes is kept while each of them
    has fewer than ``k`` kept positives; other scenes are all kept, their labels untouched.
    Raises ValueError when a class cannot reach exactly ``k`` positives."""
    count = np.zeros(len(rare), dtype=np.int64)  # (R,) kept positives per rare class
    keep = np.ones(len(rows), dtype=bool)
    for i in rng.permutation(len(rows)):
        has = labels[rows[i], rare] == 1  # (R,)
        if has.any():
            keep[i] = bool((count[has] < k).all())
            count += has & keep[i]
    if (count != k).any():
        short = {(classes[c] if classes else c): int(n) for c, n in zip(rare, count) if n != k}
        raise ValueError(f"rare_positives={k}: the training split yields only {short} scenes for "
                         "these rare_labels (need more scenes, or rare labels that co-occur less)")
    return rows[keep]


def outfit_training_rows(cfg, labels: np.ndarray) -> np.ndarray | None:
    """The training scenes of ``cfg`` as rows of the benchmark's training split (None: all):
    ``train_scenes`` draws a random subset of that size, then ``rare_labels`` keeps only
    ``rare_positives`` scenes with each of those labels (:func:`keep_rare`), both with the run
    seed — every variant at a seed trains on the same scenes, and the seeds of a comparison
    vary the scenes as well as the initialization. The label graph is then built from these
    scenes only (what a practitioner with this data would have)."""
    if cfg.train_scenes is None and not cfg.rare_labels:
        return None
    rng = np.random.default_rng([SUBSET_STREAM, int(cfg.seed)])
    rows = np.arange(len(labels))
    if cfg.train_scenes is not None:
        if cfg.train_scenes > len(rows):
            raise ValueError(f"train_scenes={cfg.train_scenes}: the training split has only {len(rows)} "
                             f"scenes ({dataset(cfg.dataset).scenes}.n_train)")
        rows = np.sort(rng.permutation(len(rows))[:cfg.train_scenes])
    if cfg.rare_labels:
        names = class_names(cfg)
        rare = [names.index(n) for n in cfg.rare_labels]
        rows = keep_rare(labels, rows, rare, int(cfg.rare_positives), rng, names)
    return rows


HIDE_STREAM = 3_000_017  # missing annotations: rng([HIDE_STREAM, run seed])


def hide_annotations(cfg, labels: np.ndarray) -> np.ndarray:
    """The training annotations of ``cfg`` (n, C) with ``hide_fraction`` of each of ``hide_labels``'
    positives set to 0 (the image keeps the garment; its label is missing), drawn with the run
    seed; a copy of ``labels`` when nothing is hidden."""
    out = np.array(labels, copy=True)
    rng = np.random.default_rng([HIDE_STREAM, int(cfg.seed)])
    names = class_names(cfg)
    for name in cfg.hide_labels:
        c = names.index(name)
        pos = np.flatnonzero(out[:, c] == 1)  # (P,)
        hide = rng.permutation(pos)[:int(round(cfg.hide_fraction * len(pos)))]
        out[hide, c] = 0
    return out


def load_splits(cfg) -> Splits:
    """The splits of ``cfg``'s data; for ML-GCN a class without a positive training image is refused
    here, by name, before any feature is extracted (Eq. 6 is undefined for it)."""
    splits = _load_splits(cfg)
    for name, ds in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        if ds is not None and len(ds) == 0:  # (prepare refuses this; a folder made before it did not)
            raise ValueError(f"{cfg.data_root or cfg.dataset}: the {name} split is empty: prepare the data "
                             f"again with a larger --{name}-fraction (custom data) or more images")
    if cfg.uses("graph"):
        empty = [c for c, n in zip(splits.classes, splits.train_positives.sum(axis=0)) if n == 0]
        if empty:
            raise ValueError(f"{cfg.data_root or cfg.dataset}: class(es) {empty} have no positive image "
                             "in the training split (the label graph, Eq. 6, needs one): drop them "
                             "from the class list, add training images, or train the baseline")
    return splits


def _prepared_vectors(cfg, root: Path, manifest: dict) -> np.ndarray | None:
    """Custom data: the word vectors ``prepare custom`` wrote (its ``--word-vectors`` provider and
    ``--fallback`` phrases honoured), used when the config asks for that provider; a config asking
    for another provider is refused (the prepared vectors would be silently ignored)."""
    from ..io import load_pickle

    info = manifest.get("word_vectors") or {}
    if not cfg.uses("word_vectors") or not info.get("file"):
        return None
    if info.get("provider") != cfg.word_vectors:
        raise ValueError(f"{root} was prepared with --word-vectors {info.get('provider')!r}, but the "
                         f"config asks word_vectors={cfg.word_vectors!r}: set word_vectors="
                         f"{info.get('provider')!r} (the prepared vectors, fallbacks included) or "
                         f"prepare again with --word-vectors {cfg.word_vectors}")
    return np.asarray(load_pickle(root / info["file"]), dtype=np.float32)


def _load_splits(cfg) -> Splits:
    return (_embedded_splits if dataset(cfg.dataset).embedded else _prepared_splits)(cfg)


def _embedded_splits(cfg) -> Splits:
    """An embedded benchmark's splits, with the training subset, rare labels and hidden
    annotations of ``cfg`` applied to its training split."""
    info = BACKBONES[cfg.backbone]
    data = load_scenes(cfg)
    images = {s: data[s].lazy("images") if hasattr(data[s], "lazy") else data[s]["images"]
              for s in data}  # read when first used: never, on cached features
    ds = {s: OutfitScenes(images[s], data[s]["labels"], cfg.image_size, info.mean,
                          info.std, train=(s == "train")) for s in data}
    plain = OutfitScenes(images["train"], data["train"]["labels"], cfg.image_size,
                         info.mean, info.std)
    corpus = data["train"]["labels"]  # (n_train, C) every training scene's full label set
    rows = outfit_training_rows(cfg, corpus)
    seen = corpus if rows is None else corpus[rows]  # (n, C) the scenes trained on
    targets = hide_annotations(cfg, seen) if cfg.hide_labels else None  # (n, C) or None
    if targets is not None:
        ds["train"] = OutfitScenes(images["train"][rows] if rows is not None else
                                   images["train"], targets, cfg.image_size, info.mean,
                                   info.std, train=True)
        rows_ds = None
    else:
        rows_ds = rows
    train = ds["train"] if rows_ds is None else Subset(ds["train"], rows_ds.tolist())
    positives = corpus if cfg.graph_labels == "corpus" else (seen if targets is None else targets)
    return Splits(train, ds["val"], ds["test"], plain, class_names(cfg), positives,
                  f"{cfg.dataset}-{scene_settings(cfg).key()}", rows, targets)


def _prepared_splits(cfg) -> Splits:
    """A prepared folder's splits: custom data as prepared; VOC and COCO with the validation split
    the protocol (``cfg.selection``) carves out of the training split."""
    entry = dataset(cfg.dataset)
    root = Path(cfg.data_root or "")
    if not (root / "manifest.json").is_file():
        raise FileNotFoundError(f"data_root {str(root)!r}: no manifest.json (make it with "
                                f"'python -m mlgcn_core prepare {cfg.dataset} …')")
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        held = manifest["dataset"]
    except (ValueError, KeyError, TypeError) as exc:
        what = "has no field 'dataset'" if isinstance(exc, (KeyError, TypeError)) else f"is not JSON ({exc})"
        raise ValueError(f"{manifest_path} {what}: prepare the folder again with "
                         f"'python -m mlgcn_core prepare {cfg.dataset} … --out {root}'") from None
    if held != cfg.dataset:
        raise ValueError(f"data_root {str(root)!r} holds {held!r}, config says dataset={cfg.dataset!r}")
    key = f"{cfg.dataset}-{prepared_fingerprint(root)[:10]}"  # the files' identity, as in the run key
    tr, ev = image_transform(cfg, train=True), image_transform(cfg)
    if not entry.carved:
        full = {s: prepared_dataset(root, s, ev) for s in ("train", "val", "test")}
        train = prepared_dataset(root, "train", tr)
        return Splits(train, full["val"], full["test"], full["train"], full["train"].classes,
                      (full["train"].labels == 1).astype(np.int64), key,
                      word_vectors=_prepared_vectors(cfg, root, manifest))
    train_name, test_name = entry.splits
    full_train = prepared_dataset(root, train_name, tr)
    full_eval = prepared_dataset(root, train_name, ev)
    test = prepared_dataset(root, test_name, ev)
    if cfg.selection != "val":  # the whole training split; nothing withheld
        return Splits(full_train, None, test, full_eval, full_train.classes,
                      (full_train.labels == 1).astype(np.int64), f"{key}-all")
    n = len(full_train)
    order = np.random.default_rng(CARVE_SEED).permutation(n)
    n_val = max(1, int(round(cfg.val_fraction * n)))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    return Splits(Subset(full_train, train_idx.tolist()), Subset(full_eval, val_idx.tolist()),
                  test, Subset(full_eval, train_idx.tolist()),
                  full_train.classes, (full_train.labels[train_idx] == 1).astype(np.int64),
                  f"{key}-val{cfg.val_fraction}")

