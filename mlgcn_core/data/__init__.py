"""Datasets: the embedded default benchmark ("Fashion outfits") and prepared real datasets
(PASCAL VOC 2007, MS-COCO 2014, your own) behind one function, :func:`prepared_dataset`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .outfits import CLASSES, SMOKE, OutfitsConfig, load_outfits

__all__ = ["CLASSES", "SMOKE", "OutfitsConfig", "load_outfits", "prepared_dataset"]


def prepared_dataset(prepared: str | os.PathLike, split: str, transform=None, on_error: str = "raise"):
    """A split of a folder made by ``python -m mlgcn_core prepare …`` as a torch Dataset yielding
    ``(image, target, difficult)``. Splits: VOC ``trainval``/``test``; COCO ``train``/``val``;
    custom ``train``/``val``/``test``."""
    from . import coco, custom, voc
    from .images import MultiLabelImages

    prepared = Path(prepared)
    manifest_path = prepared / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: missing (make the folder with 'prepare')")
    manifest = json.loads(manifest_path.read_text())
    readers = {"voc2007": voc.split_files, "coco2014": coco.split_files, "custom": custom.split_files}
    if manifest.get("dataset") not in readers:
        raise ValueError(f"{manifest_path}: field 'dataset' must be one of {sorted(readers)}")
    paths, labels, classes = readers[manifest["dataset"]](prepared, manifest, split)
    return MultiLabelImages(paths, labels, classes, transform, on_error)
