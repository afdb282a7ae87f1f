"""Datasets: the embedded default benchmark ("Fashion outfits") and prepared real datasets
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
    """The identity of a prepared data folder (``prepare``'s output): a hash of every file in it
    (name and bytes; hidden and temporary files aside), or ``"missing"`` when there is no such
    folder. It is part of a run's key (``ExperimentConfig.key``) and of its feature caches, so
    re-prepared data, or another dataset prepared at the same path, is another run. Each file is
    read once per process while its size and mtime stay the same."""
    import hashlib

    if not prepared or not Path(prepared).is_dir():
        return "missing"
    root = Path(prepared)
    h = hashlib.sha1()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        h.update(f"{rel.as_posix()}\0{_file_sha1(path, path.stat())}\n".encode())
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
