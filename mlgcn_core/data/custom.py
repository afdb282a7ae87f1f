"""Your own multi-label data: one CSV (``image,labels[,split]``, labels separated by ``;``) or a
JSON list of ``{"file_name", "labels"[, "split"]}`` with label *names*.

Prepared into the same files as COCO (``category.json``, ``{split}_anno.json`` with label indices),
so one reader serves both.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from .coco import split_files as coco_split_files

SPLITS = ("train", "val", "test")


def read_annotations(path: str | os.PathLike) -> list[dict]:
    """Rows ``{"file_name", "labels": [names], "split": str | None, "where": "file:row"}``.

    Errors name the file, the row and the field: a missing field, an empty label set, a
    duplicate image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file does not exist")
    rows: list[dict] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of {{'file_name', 'labels'}}")
        for k, r in enumerate(data):
            where = f"{path}: item {k}"
            if not isinstance(r, dict) or "file_name" not in r or "labels" not in r:
                raise ValueError(f"{where}: needs fields 'file_name' and 'labels'")
            if not isinstance(r["labels"], list) or not all(isinstance(x, str) for x in r["labels"]):
                raise ValueError(f"{where}: field 'labels' must be a list of class names")
            rows.append({"file_name": str(r["file_name"]), "labels": [x.strip() for x in r["labels"]],
                         "split": r.get("split"), "where": where})
    else:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"image", "labels"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: header needs column(s) {sorted(missing)} "
                                 f"(have {reader.fieldnames})")
            for k, r in enumerate(reader, start=2):  # line 1 is the header
                labels = [x.strip() for x in (r["labels"] or "").split(";") if x.strip()]
                rows.append({"file_name": r["image"].strip(), "labels": labels,
                             "split": (r.get("split") or "").strip() or None, "where": f"{path}:{k}"})
    seen: dict[str, str] = {}
    for r in rows:
        if not r["file_name"]:
            raise ValueError(f"{r['where']}: field 'image' is empty")
        if not r["labels"]:
            raise ValueError(f"{r['where']}: field 'labels' is empty for {r['file_name']!r} "
                             "(every image needs at least one label)")
        if r["file_name"] in seen:
            raise ValueError(f"{r['where']}: duplicate image {r['file_name']!r} "
                             f"(first at {seen[r['file_name']]})")
        seen[r["file_name"]] = r["where"]
        if len(set(r["labels"])) != len(r["labels"]):
            raise ValueError(f"{r['where']}: field 'labels' repeats a class: {r['labels']}")
    return rows


def resolve_classes(rows: list[dict], classes: list[str] | None) -> list[str]:
    """The class list: given (every label must be in it) or inferred, sorted."""
    if classes is None:
        return sorted({x for r in rows for x in r["labels"]})
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes: duplicate names in {classes}")
    known = set(classes)
    for r in rows:
        unknown = [x for x in r["labels"] if x not in known]
        if unknown:
            raise ValueError(f"{r['where']}: field 'labels' has unknown class(es) {unknown} "
                             f"(classes: {classes})")
    return list(classes)


def assign_splits(rows: list[dict], seed: int = 0, val_fraction: float = 0.1,
                  test_fraction: float = 0.1) -> dict[str, list[dict]]:
    """Use each row's ``split`` when the file gives one (then every row must), else a seeded split."""
    given = [r["split"] is not None for r in rows]
    if any(given):
        if not all(given):
            r = rows[given.index(False)]
            raise ValueError(f"{r['where']}: field 'split' is empty while other rows set it")
        for r in rows:
            if r["split"] not in SPLITS:
                raise ValueError(f"{r['where']}: field 'split' must be one of {SPLITS}, got {r['split']!r}")
        return {s: [r for r in rows if r["split"] == s] for s in SPLITS}
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) with a sum below 1")
    order = np.random.default_rng(seed).permutation(len(rows))
    n_val, n_test = int(round(val_fraction * len(rows))), int(round(test_fraction * len(rows)))
    parts = {"val": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
    return {s: [rows[i] for i in sorted(parts[s])] for s in SPLITS}


def to_official(rows: list[dict], classes: list[str]) -> list[dict]:
    index = {c: i for i, c in enumerate(classes)}
    return [{"file_name": r["file_name"], "labels": sorted(index[x] for x in r["labels"])} for r in rows]


def split_files(prepared: Path, manifest: dict, split: str) -> tuple[list[Path], np.ndarray, list[str]]:
    """(image paths, {1, -1} labels, classes) of a split of a ``prepare custom`` folder (same files
    as COCO's)."""
    return coco_split_files(prepared, manifest, split, SPLITS)
