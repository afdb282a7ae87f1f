"""Datasets, declared in one registry (:data:`mlgcn_core.data.catalog.DATASETS`): the embedded
benchmarks ("Fashion outfits", "COCO-shaped outfits"), generated here, and prepared real datasets
(PASCAL VOC 2007, MS-COCO 2014, your own) behind one function, :func:`prepared_dataset`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .outfits import CLASSES, SMOKE, OutfitsConfig, load_outfits

__all__ = ["CLASSES", "SMOKE", "OutfitsConfig", "load_outfits", "prepared_dataset", "prepared_fingerprint"]

_HASHES: dict[tuple, str] = {}  # (path, size, mtime_ns) → sha1 of the file's bytes, per process


def _file_sha1(path: Path, st: os.stat_result) -> str:
    stamp = (str(path), st.st_size, st.st_mtime_ns)
    if stamp not in _HASHES:
        import hashlib

        h = hashlib.sha1()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[stamp] = h.hexdigest()
    return _HASHES[stamp]


def prepared_fingerprint(prepared: str | os.PathLike | None) -> str:
    """The identity of a prepared data folder (``prepare``'s output): a hash of the files ``prepare``
    wrote there (``manifest.json`` and the files it lists: annotations, label statistics, word
    vectors; names and bytes), or ``"missing"`` when there is no manifest. It is part of a run's key
    (``ExperimentConfig.key``) and of its feature caches, so re-prepared data, or another dataset
    prepared at the same path, is another run. Each file is read once per process while its size
    and mtime stay the same; other files in the folder (images, downloads) are not read."""
    import hashlib

    root = Path(prepared) if prepared else None
    if root is None or not (root / "manifest.json").is_file():
        return "missing"
    names = ["manifest.json"]
    try:
        manifest = json.loads((root / "manifest.json").read_text())
        names += [str(f) for f in manifest.get("files", [])]
        names += [str((manifest.get("label_stats") or {}).get("file") or "")]
    except (ValueError, AttributeError, TypeError):  # an unreadable manifest: its bytes alone
        pass
    h = hashlib.sha1()
    for name in sorted({n for n in names if n}):
        path = root / name
        digest = _file_sha1(path, path.stat()) if path.is_file() else "absent"
        h.update(f"{name}\0{digest}\n".encode())
    return h.hexdigest()[:16]


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
