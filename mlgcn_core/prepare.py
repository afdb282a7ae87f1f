"""``python -m mlgcn_core prepare {voc2007,coco2014,custom} …``: turn a dataset into the files the
official code reads, plus our ``manifest.json`` and the training split's label statistics in the
official pickle layout (``train_adj.pkl``: ``{'adj': C×C int64, 'nums': C int64}``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .data import coco, custom, voc
from .data.images import check_image
from .download import download
from .embeddings import make_vectors
from .graph import cooccurrence
from .io import save_label_stats


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write every file of a preparation into; it becomes
    ``out`` (its files replacing those of the same names there) only when all of them were
    written, so a failed preparation leaves ``out`` as it was, with nothing half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        if out.is_dir():  # an earlier preparation: replace its files one by one (each rename atomic)
            for f in tmp.iterdir():
                os.replace(f, out / f.name)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_manifest(out: Path, manifest: dict) -> dict:
    coco.write_json(out / "manifest.json", manifest, indent=2)
    return manifest


def classes_without_positives(positives: np.ndarray, classes: list[str]) -> list[str]:
    """The classes with no positive image in ``positives`` ((n, C) {0, 1} training labels):
    P(L_j | L_i) of Eq. 6 is undefined for them."""
    return [classes[c] for c in np.flatnonzero(np.asarray(positives).sum(axis=0) == 0)]


def refuse_classes_without_positives(positives: np.ndarray, classes: list[str], where: str) -> None:
    """A ValueError naming the classes that have no positive in the training split, and the way
    out (drop them from the class list, or add training images with them)."""
    empty = classes_without_positives(positives, classes)
    if empty:
        raise ValueError(f"{where}: class(es) {empty} have no positive image in the training split "
                         "(the label graph, Eq. 6, needs one): drop them from the class list "
                         "(--classes) or add training images labelled with them")


def _stats(out: Path, positives: np.ndarray) -> dict:
    """Label statistics of the training split (positives only, {0,1}) → train_adj.pkl."""
    M, N = cooccurrence(positives)
    save_label_stats(out / "train_adj.pkl", M, N)
    return {"file": "train_adj.pkl", "images": int(len(positives)), "label_counts": N.tolist()}


def _extract(archive: Path, dest: Path) -> None:
    if archive.suffix == ".tar":
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    else:
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)


# --- PASCAL VOC 2007 ---------------------------------------------------------------------------

def prepare_voc2007(root: str | os.PathLike, out: str | os.PathLike, download_missing: bool = False,
                    base_url: str | None = None, archives: dict[str, str] | None = None) -> dict:
    """``ROOT/VOCdevkit/VOC2007`` → ``classification_{trainval,test}.csv`` (official format),
    ``train_adj.pkl`` (trainval, label 1 only, as the official ``voc_adj.pkl``) and ``manifest.json``."""
    root, out = Path(root), Path(out)
    if download_missing:
        for name, digest in (archives or voc.ARCHIVES).items():
            path = download((base_url or voc.BASE_URL) + name, root / "downloads" / name, digest)
            _extract(path, root)
    vdir = voc.voc_dir(root)
    with staged(out) as tmp:
        return _voc_files(vdir, tmp)


def _voc_files(vdir: Path, out: Path) -> dict:
    counts, stats = {}, None
    for split in voc.SPLITS:
        ids, labels = voc.read_split(vdir, split)
        missing = [i for i in ids if not (vdir / "JPEGImages" / f"{i}.jpg").is_file()]
        if missing:
            raise FileNotFoundError(f"{vdir / 'JPEGImages'}: {len(missing)} image(s) of {split} "
                                    f"missing, e.g. {missing[0]}.jpg")
        voc.write_classification_csv(out / f"classification_{split}.csv", ids, labels)
        counts[split] = len(ids)
        if split == "trainval":
            stats = _stats(out, (labels == 1).astype(np.int64))
    return _write_manifest(out, {
        "dataset": "voc2007", "classes": voc.CLASSES, "images": str((vdir / "JPEGImages").resolve()),
        "splits": {"train": "trainval", "test": "test"}, "counts": counts,
        "expected_counts_on_real_data": voc.EXPECTED_COUNTS, "label_stats": stats,
        "files": [f"classification_{s}.csv" for s in voc.SPLITS]})


# --- MS-COCO 2014 ------------------------------------------------------------------------------

def prepare_coco2014(root: str | os.PathLike, out: str | os.PathLike, download_missing: bool = False,
                     base_url: str = coco.BASE_URL, archives: dict | None = None) -> dict:
    """``ROOT/{train2014,val2014,annotations}`` → ``{train,val}_anno.json``, ``category.json``,
    ``train_adj.pkl``, ``manifest.json``. Official-format annotation files found in ROOT are read
    as they are (bring the official code's files)."""
    root, out = Path(root), Path(out)
    if download_missing:
        for name, (rel, _size, md5) in (archives or coco.ARCHIVES).items():
            path = download(base_url + rel, root / "downloads" / name, md5, algorithm="md5")
            _extract(path, root)
    with staged(out) as tmp:
        return _coco_files(root, tmp)


def _coco_files(root: Path, out: Path) -> dict:
    annos, category, source, dropped = {}, None, {}, {}
    for split in coco.SPLITS:
        inst = root / "annotations" / f"instances_{split}2014.json"
        official = root / f"{split}_anno.json"
        if inst.is_file():
            annos[split], cat, dropped[split] = coco.from_instances(inst)
            source[split] = str(inst)
        elif official.is_file() and (root / "category.json").is_file():
            files, labels, classes = coco.read_official(official, root / "category.json")
            annos[split] = [{"file_name": f, "labels": np.flatnonzero(row == 1).tolist()}
                            for f, row in zip(files, labels) if (row == 1).any()]
            cat = {c: i for i, c in enumerate(classes)}
            source[split] = str(official)
        else:
            raise FileNotFoundError(f"--root {root}: neither {inst} nor {official} (+ category.json)")
        if category is not None and cat != category:
            raise ValueError(f"{source[split]}: categories differ from {source['train']}")
        category = cat
    classes = sorted(category, key=category.get)
    for split, rows in annos.items():
        coco.write_json(out / f"{split}_anno.json", rows)
    coco.write_json(out / "category.json", category, indent=2)
    train = np.zeros((len(annos["train"]), len(classes)), dtype=np.int64)
    for k, r in enumerate(annos["train"]):
        train[k, r["labels"]] = 1
    return _write_manifest(out, {
        "dataset": "coco2014", "classes": classes,
        "images": {s: str((root / f"{s}2014").resolve()) for s in coco.SPLITS},
        "counts": {s: len(a) for s, a in annos.items()}, "sources": source,
        "dropped_images_without_annotations": dropped,
        "expected_counts_on_real_data": coco.EXPECTED_COUNTS, "label_stats": _stats(out, train),
        "files": ["train_anno.json", "val_anno.json", "category.json"]})


# --- your own data -----------------------------------------------------------------------------

def prepare_custom(annotations: str | os.PathLike, images: str | os.PathLike, out: str | os.PathLike,
                   classes: list[str] | None = None, seed: int = 0, val_fraction: float = 0.1,
                   test_fraction: float = 0.1, word_vectors: str = "glove6b50d",
                   fallback: dict[str, str] | None = None, skip_bad_images: bool = False) -> dict:
    """CSV/JSON annotations + an image folder → the COCO-style files for train/val/test,
    ``train_adj.pkl``, ``word_vectors.pkl`` ((C, d) float32, the official layout) and ``manifest.json``.
    A missing or undecodable image is an error naming it, or (``skip_bad_images``) dropped and
    listed in the manifest."""
    from .io import save_array

    annotations, images, out = Path(annotations), Path(images), Path(out)
    if not images.is_dir():
        raise FileNotFoundError(f"--images {str(images)!r} is not a folder")
    rows = custom.read_annotations(annotations)
    classes = custom.resolve_classes(rows, classes)
    skipped = []
    for r in rows:
        reason = check_image(images / r["file_name"])
        if reason and not skip_bad_images:
            raise ValueError(f"{r['where']}: field 'image': {reason}")
        if reason:
            skipped.append({"image": r["file_name"], "where": r["where"], "reason": reason})
    bad = {s["image"] for s in skipped}
    rows = [r for r in rows if r["file_name"] not in bad]
    splits = custom.assign_splits(rows, seed, val_fraction, test_fraction)
    if not splits["train"]:
        raise ValueError(f"{annotations}: the training split is empty")
    index = {c: i for i, c in enumerate(classes)}
    train = np.zeros((len(splits["train"]), len(classes)), dtype=np.int64)
    for k, r in enumerate(splits["train"]):
        train[k, [index[x] for x in r["labels"]]] = 1
    refuse_classes_without_positives(train, classes, str(annotations))  # before anything is written
    given = bool(rows and rows[0]["split"])
    for split, option in (("val", "--val-fraction"), ("test", "--test-fraction")):
        if not splits[split]:  # training would stop on it (no validation mAP, no test metrics)
            fix = (f"give some rows the split '{split}' in the file's 'split' column" if given
                   else f"raise {option} (now {val_fraction if split == 'val' else test_fraction}; "
                        f"{len(rows)} images)")
            raise ValueError(f"{annotations}: the {split} split is empty: {fix}")
    vectors = make_vectors(classes, word_vectors, fallback)  # fails before anything is written
    with staged(out) as tmp:
        for split, part in splits.items():
            coco.write_json(tmp / f"{split}_anno.json", custom.to_official(part, classes))
        coco.write_json(tmp / "category.json", {c: i for i, c in enumerate(classes)}, indent=2)
        save_array(tmp / "word_vectors.pkl", vectors)
        return _custom_manifest(tmp, annotations, images, classes, splits, rows, seed, val_fraction,
                                test_fraction, word_vectors, vectors, train, skipped)


def _custom_manifest(out, annotations, images, classes, splits, rows, seed, val_fraction, test_fraction,
                     word_vectors, vectors, train, skipped) -> dict:
    return _write_manifest(out, {
        "dataset": "custom", "classes": classes, "images": str(images.resolve()),
        "annotations": str(annotations.resolve()), "counts": {s: len(p) for s, p in splits.items()},
        "split": "given" if rows and rows[0]["split"] else {"seed": seed, "val_fraction": val_fraction,
                                                           "test_fraction": test_fraction},
        "word_vectors": {"file": "word_vectors.pkl", "provider": word_vectors,
                         "shape": list(vectors.shape)},
        "label_stats": _stats(out, train), "skipped_images": skipped,
        "files": [f"{s}_anno.json" for s in custom.SPLITS] + ["category.json", "word_vectors.pkl"]})


# --- the COCO-shaped benchmark, as a prepared folder ------------------------------------------------

def check_writable(out: Path) -> None:
    """A PermissionError in one line when ``out`` cannot be created or written (before any work)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".probe", dir=out.parent))
    except OSError as exc:
        raise PermissionError(f"{out}: cannot write there ({exc.strerror or exc}); choose a folder "
                              "you can write") from None


def prepare_coco_shaped(out: str | os.PathLike, settings=None, word_vectors: str = "glove6b50d") -> dict:
    """The embedded COCO-shaped benchmark (:mod:`mlgcn_core.data.coco_shaped`) written as a prepared
    folder, so that the official code and every prepared-data path here read it: its canvases as
    PNG files under ``images/<split>/``, ``annotations.csv``, then what ``prepare custom`` writes from
    them (``{split}_anno.json``, ``category.json``, ``word_vectors.pkl``, ``train_adj.pkl`` in the
    official layout — the training split's label statistics, Eq. 6 — and ``manifest.json``, whose
    ``source`` names the benchmark's settings). Everything is written beside ``out`` first, so a
    failure leaves nothing half-written."""
    import csv

    from PIL import Image

    from .data.coco_shaped import CocoShapedConfig, classes, load_coco_shaped

    settings = settings or CocoShapedConfig()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    names = classes()
    check_writable(out)
    data = load_coco_shaped(settings)  # generated, or read from the cache
    with staged(out) as tmp:
        rows = []
        for split, arrays in data.items():
            (tmp / "images" / split).mkdir(parents=True)
            for i, (img, lab) in enumerate(zip(arrays["images"], arrays["labels"])):
                name = f"{split}/{i:06d}.png"
                Image.fromarray(img).save(tmp / "images" / name, compress_level=1)
                rows.append({"image": name, "labels": ";".join(names[c] for c in np.flatnonzero(lab)),
                             "split": split})
        with open(tmp / "annotations.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["image", "labels", "split"])
            w.writeheader()
            w.writerows(rows)
        manifest = prepare_custom(tmp / "annotations.csv", tmp / "images", tmp, names,
                                  word_vectors=word_vectors)
        from dataclasses import asdict

        manifest.update(images=str((out / "images").resolve()), annotations=str((out / "annotations.csv").resolve()),
                        source={"benchmark": "coco_shaped", "settings": asdict(settings)})
        return _write_manifest(tmp, manifest)
