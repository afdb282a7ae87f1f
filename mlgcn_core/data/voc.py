"""PASCAL VOC 2007 classification (the paper's Table 2): parse ``ImageSets/Main``, write the
official code's CSV files, and build the dataset.

``{class}_{split}.txt`` lines are ``<image id> <1 | -1 | 0>``: 1 the class is present, −1 absent,
0 present only as *difficult* objects. The official statistics (``voc_adj.pkl``) count only the 1s.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..io import atomic_path

CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
           "train", "tvmonitor"]
SPLITS = ("trainval", "test")
BASE_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/"
ARCHIVES = {  # file → SHA-256
    "VOCtrainval_06-Nov-2007.tar": "7d8cd951101b0957ddfd7a530bdc8a94f06121cfc1e511bb5937e973020c7508",
    "VOCtest_06-Nov-2007.tar": "6836888e2e01dca84577a849d339fa4f73e1e4f135d312430c4856b5609b4892",
}
EXPECTED_COUNTS = {"trainval": 5011, "test": 4952}  # on the real data


def voc_dir(root: str | os.PathLike) -> Path:
    """``ROOT/VOCdevkit/VOC2007`` (or ROOT itself when it already is that folder)."""
    root = Path(root)
    for d in (root / "VOCdevkit" / "VOC2007", root / "VOC2007", root):
        if (d / "ImageSets" / "Main").is_dir():
            return d
    raise FileNotFoundError(f"--root {str(root)!r}: no VOCdevkit/VOC2007/ImageSets/Main below it")


def read_split(vdir: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Image ids and labels (n, 20) int64 in {1, -1, 0} of ``split`` from the per-class files."""
    ids: list[str] | None = None
    columns = []
    for cls in CLASSES:
        f = vdir / "ImageSets" / "Main" / f"{cls}_{split}.txt"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: missing (every class needs its {split} file)")
        names, vals = [], []
        for ln, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("1", "-1", "0"):
                raise ValueError(f"{f}:{ln}: expected '<image id> <1|-1|0>', got {line!r}")
            names.append(parts[0])
            vals.append(int(parts[1]))
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})[:3]
            raise ValueError(f"{f}: duplicate image id(s) {dup}")
        if ids is None:
            ids = names
        elif names != ids:
            raise ValueError(f"{f}: lists other images than {CLASSES[0]}_{split}.txt")
        columns.append(vals)
    return list(ids or []), np.array(columns, dtype=np.int64).T.reshape(len(ids or []), len(CLASSES))


def write_classification_csv(path: str | os.PathLike, ids: list[str], labels: np.ndarray) -> None:
    """The official code's ``classification_{split}.csv`` (csv module defaults, header name,classes…)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name"] + CLASSES)
        for name, row in zip(ids, labels):
            w.writerow([name] + [int(v) for v in row])


def read_classification_csv(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["name"] + CLASSES:
        raise ValueError(f"{path}: header must be 'name,{','.join(CLASSES)}'")
    ids = [r[0] for r in rows[1:]]
    try:
        labels = np.array([[int(v) for v in r[1:]] for r in rows[1:]], dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"{path}: label values must be 1, -1 or 0 ({exc})") from exc
    return ids, labels.reshape(len(ids), len(CLASSES))


def split_files(prepared: Path, manifest: dict, split: str) -> tuple[list[Path], np.ndarray, list[str]]:
    """(image paths, {1, -1, 0} labels, classes) of a split of a ``prepare voc2007`` folder."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    ids, labels = read_classification_csv(prepared / f"classification_{split}.csv")
    return [Path(manifest["images"]) / f"{i}.jpg" for i in ids], labels, CLASSES
