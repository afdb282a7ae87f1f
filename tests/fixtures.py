"""Tiny VOC-format and COCO-format trees with real JPEG files, written by the tests."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from mlgcn_core.data import voc


def write_jpeg(path: Path, seed: int, size=(40, 30)) -> None:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="JPEG")


# VOC: per split, image id → {class: value} for the non-negative entries (others are -1)
VOC_LABELS = {
    "trainval": {
        "000005": {"chair": 1, "person": 1},
        "000007": {"car": 1},
        "000009": {"horse": 1, "person": 1, "dog": 0},  # dog only as a difficult object
        "000012": {"car": 1, "person": 0},
        "000016": {"bicycle": 1, "person": 1},
        "000017": {"horse": 1, "person": 1},
    },
    "test": {
        "000001": {"dog": 1, "person": 1},
        "000002": {"train": 1},
        "000004": {"car": 1, "bottle": 0},
        "000006": {"chair": 1, "pottedplant": 1, "diningtable": 1},
    },
}


def voc_matrix(split: str) -> tuple[list[str], np.ndarray]:
    ids = sorted(VOC_LABELS[split])
    y = -np.ones((len(ids), 20), dtype=np.int64)
    for r, i in enumerate(ids):
        for cls, v in VOC_LABELS[split][i].items():
            y[r, voc.CLASSES.index(cls)] = v
    return ids, y


def make_voc_tree(root: Path, splits=("trainval", "test")) -> Path:
    vdir = root / "VOCdevkit" / "VOC2007"
    for split in splits:
        ids, y = voc_matrix(split)
        for i in ids:
            write_jpeg(vdir / "JPEGImages" / f"{i}.jpg", seed=int(i))
        main = vdir / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        for c, cls in enumerate(voc.CLASSES):  # the real files' format: "%s %2d"
            (main / f"{cls}_{split}.txt").write_text("".join(f"{i} {y[r, c]:2d}\n" for r, i in enumerate(ids)))
    return vdir


def tar_of(root: Path, members: list[Path], out: Path) -> Path:
    with tarfile.open(out, "w") as t:
        for m in members:
            t.add(m, arcname=str(m.relative_to(root)))
    return out


# COCO: non-contiguous category ids, a crowd annotation, an image without annotations
COCO_CATEGORIES = [{"id": 90, "name": "toothbrush"}, {"id": 1, "name": "person"},
                   {"id": 18, "name": "dog"}, {"id": 3, "name": "car"}, {"id": 5, "name": "airplane"}]


def coco_instances(split: str) -> dict:
    prefix = f"COCO_{split}2014_"
    images = [{"id": i, "file_name": f"{prefix}{i:012d}.jpg", "width": 40, "height": 30}
              for i in (9, 25, 30, 34)]
    anns = [
        {"id": 1, "image_id": 9, "category_id": 1, "iscrowd": 0},
        {"id": 2, "image_id": 9, "category_id": 18, "iscrowd": 0},
        {"id": 3, "image_id": 9, "category_id": 1, "iscrowd": 0},   # second person: one label
        {"id": 4, "image_id": 25, "category_id": 90, "iscrowd": 1},  # crowd counts
        {"id": 5, "image_id": 30, "category_id": 3, "iscrowd": 0},
        {"id": 6, "image_id": 30, "category_id": 5, "iscrowd": 0},
        # image 34 has no annotation: dropped
    ]
    return {"images": images, "annotations": anns, "categories": COCO_CATEGORIES}


# by hand: classes sorted by name: airplane 0, car 1, dog 2, person 3, toothbrush 4
COCO_EXPECTED = [{"file_name": "COCO_{s}2014_000000000009.jpg", "labels": [2, 3]},
                 {"file_name": "COCO_{s}2014_000000000025.jpg", "labels": [4]},
                 {"file_name": "COCO_{s}2014_000000000030.jpg", "labels": [0, 1]}]


def make_coco_tree(root: Path) -> Path:
    for split in ("train", "val"):
        inst = coco_instances(split)
        for im in inst["images"]:
            write_jpeg(root / f"{split}2014" / im["file_name"], seed=im["id"])
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}2014.json").write_text(json.dumps(inst))
    return root


def zip_of(root: Path, members: list[Path], out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as z:
        for m in members:
            for f in ([m] if m.is_file() else sorted(p for p in m.rglob("*") if p.is_file())):
                z.write(f, arcname=str(f.relative_to(root)))
    return out


def write_glove(path: Path, words: dict[str, list[float]], zipped: bool = False) -> Path:
    text = "".join(f"{w} " + " ".join(f"{v:.4f}" for v in vec) + "\n" for w, vec in words.items())
    if zipped:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("glove.tiny.4d.txt", text)
    else:
        path.write_text(text)
    return path


def corrupt_jpeg(path: Path) -> None:
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" + bytes(40))


def jpeg_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), seed % 255, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def make_voc_scenes(root: Path, n_trainval: int = 80, n_test: int = 50, side: int = 96) -> tuple[Path, dict]:
    """A VOC 2007 tree of real images (the embedded benchmark's Fashion-MNIST scenes), so that the
    paper profile's chapters can run end to end in tests: garment class c of an even-numbered image
    is VOC class c, of an odd-numbered one VOC class c + 10 (every VOC class gets images). Returns
    the tree and {split: (ids, (n, 20) labels in {-1, 1})}."""
    from mlgcn_core.data import SMOKE, load_outfits

    data = load_outfits(SMOKE)
    vdir = root / "VOCdevkit" / "VOC2007"
    main = vdir / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    truth = {}
    for split, src, n, first in (("trainval", "train", n_trainval, 100), ("test", "test", n_test, 900)):
        ids = [f"{first + k:06d}" for k in range(n)]
        y = -np.ones((n, 20), dtype=np.int64)
        for k in range(n):
            y[k, (k % 2) * 10 + np.flatnonzero(data[src]["labels"][k])] = 1
        for k, i in enumerate(ids):
            img = Image.fromarray(data[src]["images"][k]).convert("RGB").resize((side, side))
            (vdir / "JPEGImages").mkdir(parents=True, exist_ok=True)
            img.save(vdir / "JPEGImages" / f"{i}.jpg", format="JPEG", quality=92)
        for c, cls in enumerate(voc.CLASSES):
            (main / f"{cls}_{split}.txt").write_text("".join(f"{i} {y[r, c]:2d}\n" for r, i in enumerate(ids)))
        truth[split] = (ids, y)
    return vdir, truth


def write_point_notebook(path, params: str, body: str):
    """A small sweep-point notebook at ``path``: a ``parameters`` cell (``params``) and one cell of
    code (``body``), on the project's ``mlgcn`` kernel."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[cell, new_code_cell(body)],
                      metadata={"kernelspec": {"name": "mlgcn", "language": "python", "display_name": "mlgcn"}})
    nbformat.write(nb, path)
    return path


HOLD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from mlgcn_core.config import ExperimentConfig
    from mlgcn_core.train import run_experiment

    cfg, root, markers = ExperimentConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], Path(sys.argv[3])

    def hold(epoch, rec):  # after epoch 1 (its checkpoint is on disk): say so, wait for the release
        if epoch == 1:
            (markers / str(os.getpid())).touch()
            while not (markers / "release").exists():
                time.sleep(0.05)

    r = run_experiment(cfg, root, progress=False, callbacks=[hold])
    print(json.dumps({"reused": r.reused, "mAP": r.metrics["mAP"], "path": str(r.path)}))
""")


def hold_process(cfg, root: Path, markers: Path) -> subprocess.Popen:
    """A process training ``cfg`` into ``root`` that stops after epoch 1 (its checkpoint written)
    and touches ``markers/<pid>`` until ``markers/release`` exists: a SIGKILL sent then can never
    race the end of the run, and a second process on the same key can be watched waiting."""
    markers.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", HOLD, json.dumps(cfg.to_dict(), default=list), str(root),
                             str(markers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(pred, seconds: float = 240.0) -> None:
    """Poll ``pred`` until true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
