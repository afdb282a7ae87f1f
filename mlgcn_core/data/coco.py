"""MS-COCO 2014 (the paper's Table 1): instance annotations → the official image-level files.

80 categories ordered **alphabetically by name** (COCO's category ids are not contiguous);
every annotation counts, crowd ones included (as the official code); images without any
annotation are dropped (82,081 train2014 / 40,137 val2014 remain on the real data).
Official files: ``{train,val}_anno.json`` = list of ``{"file_name", "labels"}``,
``category.json`` = ``{name: index}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..io import write_text

SPLITS = ("train", "val")
# the 80 categories in the official order (alphabetical by name; category.json)
CLASSES = ["airplane", "apple", "backpack", "banana", "baseball bat", "baseball glove", "bear", "bed",
           "bench", "bicycle", "bird", "boat", "book", "bottle", "bowl", "broccoli", "bus", "cake", "car",
           "carrot", "cat", "cell phone", "chair", "clock", "couch", "cow", "cup", "dining table", "dog",
           "donut", "elephant", "fire hydrant", "fork", "frisbee", "giraffe", "hair drier", "handbag",
           "horse", "hot dog", "keyboard", "kite", "knife", "laptop", "microwave", "motorcycle", "mouse",
           "orange", "oven", "parking meter", "person", "pizza", "potted plant", "refrigerator", "remote",
           "sandwich", "scissors", "sheep", "sink", "skateboard", "skis", "snowboard", "spoon",
           "sports ball", "stop sign", "suitcase", "surfboard", "teddy bear", "tennis racket", "tie",
           "toaster", "toilet", "toothbrush", "traffic light", "train", "truck", "tv", "umbrella", "vase",
           "wine glass", "zebra"]
BASE_URL = "http://images.cocodataset.org/"
ARCHIVES = {  # file → (URL path, size in bytes, MD5). No SHA-256 is published for these files.
    "train2014.zip": ("zips/train2014.zip", 13510573713, "0da8c0bd3d6becc4dcb32757491aca88"),
    "val2014.zip": ("zips/val2014.zip", 6645013297, "a3d79f5ed8d289b7a7554ce06a5782b3"),
    "annotations_trainval2014.zip": ("annotations/annotations_trainval2014.zip", 252872794,
                                     "0a379cfc70b0e71301e0f377548639bd"),
}
EXPECTED_COUNTS = {"train": 82081, "val": 40137}  # on the real data


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def from_instances(path: str | os.PathLike) -> tuple[list[dict], dict[str, int], int]:
    """``instances_*.json`` → (official annotation list sorted by file name, category map,
    number of images dropped for having no annotation)."""
    path = Path(path)
    d = _load_json(path)
    for key in ("images", "annotations", "categories"):
        if key not in d:
            raise ValueError(f"{path}: field {key!r} missing (not a COCO instances file)")
    names = sorted(c["name"] for c in d["categories"])
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: field 'categories' has duplicate names")
    category = {n: i for i, n in enumerate(names)}
    by_id = {c["id"]: category[c["name"]] for c in d["categories"]}  # non-contiguous ids → 0..C-1
    files = {im["id"]: im["file_name"] for im in d["images"]}
    labels: dict[int, set[int]] = {}
    for k, a in enumerate(d["annotations"]):  # crowd annotations count too
        if a.get("category_id") not in by_id:
            raise ValueError(f"{path}: annotations[{k}].category_id {a.get('category_id')!r} "
                             "is not in 'categories'")
        if a.get("image_id") not in files:
            raise ValueError(f"{path}: annotations[{k}].image_id {a.get('image_id')!r} is not in 'images'")
        labels.setdefault(a["image_id"], set()).add(by_id[a["category_id"]])
    anno = [{"file_name": files[i], "labels": sorted(ls)} for i, ls in labels.items()]
    return sorted(anno, key=lambda r: r["file_name"]), category, len(files) - len(anno)


def read_official(anno_path: str | os.PathLike, category_path: str | os.PathLike
                  ) -> tuple[list[str], np.ndarray, list[str]]:
    """Official ``*_anno.json`` + ``category.json`` → (file names, labels (n, C) in {1, −1}, classes)."""
    anno_path, category_path = Path(anno_path), Path(category_path)
    category = _load_json(category_path)
    if not isinstance(category, dict) or sorted(category.values()) != list(range(len(category))):
        raise ValueError(f"{category_path}: expected {{name: index}} with indices 0..C-1")
    classes = sorted(category, key=category.get)
    anno = _load_json(anno_path)
    if not isinstance(anno, list):
        raise ValueError(f"{anno_path}: expected a list of {{'file_name', 'labels'}}")
    labels = -np.ones((len(anno), len(classes)), dtype=np.int64)
    for k, r in enumerate(anno):
        if not isinstance(r, dict) or "file_name" not in r or "labels" not in r:
            raise ValueError(f"{anno_path}: item {k} needs fields 'file_name' and 'labels'")
        bad = [v for v in r["labels"] if not isinstance(v, int) or not 0 <= v < len(classes)]
        if bad:
            raise ValueError(f"{anno_path}: item {k} ({r['file_name']}) field 'labels' has "
                             f"indices {bad} outside 0..{len(classes) - 1}")
        labels[k, r["labels"]] = 1
    return [r["file_name"] for r in anno], labels, classes


def write_json(path: str | os.PathLike, obj, indent: int | None = None) -> None:
    """JSON written atomically (``category.json``: indent 2 + newline, as the official file)."""
    write_text(path, json.dumps(obj, indent=indent) + ("\n" if indent else ""))


def split_files(prepared: Path, manifest: dict, split: str, splits: tuple[str, ...] = SPLITS
                ) -> tuple[list[Path], np.ndarray, list[str]]:
    """(image paths, {1, -1} labels, classes) of a split of a folder in the official COCO layout
    (``prepare coco2014`` or ``prepare custom``). ``manifest["images"]`` is one folder or one per split."""
    if split not in splits:
        raise ValueError(f"split must be one of {splits}, got {split!r}")
    files, labels, classes = read_official(prepared / f"{split}_anno.json", prepared / "category.json")
    images = manifest["images"]
    folder = Path(images[split] if isinstance(images, dict) else images)
    return [folder / f for f in files], labels, classes
