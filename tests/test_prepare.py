"""VOC 2007 / COCO 2014 / custom preparation on fixtures, datasets, transforms, word vectors."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures import (
    COCO_EXPECTED,
    corrupt_jpeg,
    make_coco_tree,
    make_voc_tree,
    tar_of,
    voc_matrix,
    write_glove,
    write_jpeg,
    zip_of,
)

from mlgcn_core import prepare
from mlgcn_core.data import coco, prepared_dataset, voc
from mlgcn_core.data.images import (
    MultiLabelImages,
    MultiScaleCrop,
    eval_transform,
    train_transform,
)
from mlgcn_core.io import load_label_stats, load_pickle


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgcn_core", *args], capture_output=True, text=True,
                          timeout=600)


# --- PASCAL VOC 2007 ------------------------------------------------------------------------------

def test_voc_prepare_matches_hand_count_and_official_csv(tmp_path):
    make_voc_tree(tmp_path / "root")
    m = prepare.prepare_voc2007(tmp_path / "root", tmp_path / "out")
    assert m["counts"] == {"trainval": 6, "test": 4}
    ids, y = voc_matrix("trainval")
    expected = "name," + ",".join(voc.CLASSES) + "\r\n" + "".join(
        f"{i}," + ",".join(str(v) for v in row) + "\r\n" for i, row in zip(ids, y))
    assert (tmp_path / "out" / "classification_trainval.csv").read_bytes() == expected.encode()
    M, N = load_label_stats(tmp_path / "out" / "train_adj.pkl")
    # by hand from VOC_LABELS (label 1 only; the difficult dog/person entries do not count)
    assert N[voc.CLASSES.index("person")] == 4 and N[voc.CLASSES.index("dog")] == 0
    assert N[voc.CLASSES.index("car")] == 2 and N.sum() == 10
    assert M[voc.CLASSES.index("horse"), voc.CLASSES.index("person")] == 2
    ids_t, y_t = voc.read_classification_csv(tmp_path / "out" / "classification_test.csv")
    assert ids_t == voc_matrix("test")[0] and np.array_equal(y_t, voc_matrix("test")[1])


def test_voc_dataset_difficult_and_transform(tmp_path):
    make_voc_tree(tmp_path / "root")
    prepare.prepare_voc2007(tmp_path / "root", tmp_path / "out")
    ds = prepared_dataset(tmp_path / "out", "trainval", eval_transform(64))
    assert len(ds) == 6
    x, target, difficult = ds[2]  # 000009: horse, person, dog difficult
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    dog = voc.CLASSES.index("dog")
    assert target[dog] == 1 and difficult[dog] and difficult.sum() == 1  # positive in the loss
    assert target.sum() == 3


def test_voc_missing_image_and_bad_line(tmp_path):
    vdir = make_voc_tree(tmp_path / "root")
    (vdir / "JPEGImages" / "000007.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="000007.jpg"):
        prepare.prepare_voc2007(tmp_path / "root", tmp_path / "out")
    write_jpeg(vdir / "JPEGImages" / "000007.jpg", 7)
    f = vdir / "ImageSets" / "Main" / "cat_trainval.txt"
    f.write_text(f.read_text().replace("000012 -1", "000012 2"))
    with pytest.raises(ValueError, match=r"cat_trainval.txt:4: expected"):
        prepare.prepare_voc2007(tmp_path / "root", tmp_path / "out")


def test_voc_corrupt_jpeg_raise_or_skip(tmp_path):
    vdir = make_voc_tree(tmp_path / "root")
    prepare.prepare_voc2007(tmp_path / "root", tmp_path / "out")
    corrupt_jpeg(vdir / "JPEGImages" / "000016.jpg")
    ds = prepared_dataset(tmp_path / "out", "trainval")
    with pytest.raises(ValueError, match="000016.jpg.*cannot be decoded"):
        ds[4]
    ds = prepared_dataset(tmp_path / "out", "trainval", on_error="skip")
    assert len(ds) == 5 and "000016.jpg" in ds.skipped[0][0]


def test_voc_download_from_local_server(server, tmp_path):
    url, h = server
    src = tmp_path / "src"
    vdir = make_voc_tree(src)
    main = vdir / "ImageSets" / "Main"
    trainval = [p for p in main.iterdir() if "trainval" in p.name]
    test = [p for p in main.iterdir() if "_test" in p.name]
    jpgs = {s: [vdir / "JPEGImages" / f"{i}.jpg" for i in voc_matrix(s)[0]] for s in ("trainval", "test")}
    archives = {}
    for name, members in (("VOCtrainval_06-Nov-2007.tar", trainval + jpgs["trainval"]),
                          ("VOCtest_06-Nov-2007.tar", test + jpgs["test"])):
        body = tar_of(src, members, tmp_path / name).read_bytes()
        h.files["/voc/" + name] = body
        archives[name] = hashlib.sha256(body).hexdigest()
    m = prepare.prepare_voc2007(tmp_path / "dl", tmp_path / "out", download_missing=True,
                                base_url=url + "/voc/", archives=archives)
    assert m["counts"] == {"trainval": 6, "test": 4}
    bad = dict(archives, **{"VOCtest_06-Nov-2007.tar": "0" * 64})
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        prepare.prepare_voc2007(tmp_path / "dl2", tmp_path / "out2", True, url + "/voc/", bad)


@pytest.mark.slow
def test_voc_cli_output(tmp_path):
    make_voc_tree(tmp_path / "root")
    r = cli("prepare", "voc2007", "--root", str(tmp_path / "root"), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "images {'trainval': 6, 'test': 4}" in r.stdout and "wrote train_adj.pkl" in r.stdout
    r = cli("prepare", "voc2007", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no VOCdevkit/VOC2007" in r.stderr and "Traceback" not in r.stderr


# --- MS-COCO 2014 ----------------------------------------------------------------------------------

def test_coco_prepare_hand_count(tmp_path):
    make_coco_tree(tmp_path / "root")
    m = prepare.prepare_coco2014(tmp_path / "root", tmp_path / "out")
    assert m["classes"] == ["airplane", "car", "dog", "person", "toothbrush"]
    assert m["counts"] == {"train": 3, "val": 3}  # the image without annotations is dropped
    for split in ("train", "val"):
        got = json.loads((tmp_path / "out" / f"{split}_anno.json").read_text())
        assert got == [dict(r, file_name=r["file_name"].format(s=split)) for r in COCO_EXPECTED]
    assert json.loads((tmp_path / "out" / "category.json").read_text())["toothbrush"] == 4
    M, N = load_label_stats(tmp_path / "out" / "train_adj.pkl")
    assert N.tolist() == [1, 1, 1, 1, 1] and M[2, 3] == 1 and M[0, 1] == 1 and M.sum() == 4


def test_coco_category_json_byte_for_byte(tmp_path, official_dir):
    """With COCO's 80 names and its non-contiguous ids, category.json equals the official file."""
    names = list(json.loads((official_dir / "category.json").read_text()))
    rng = np.random.default_rng(0)
    ids = sorted(rng.choice(np.arange(1, 91), 80, replace=False).tolist())
    cats = [{"id": int(i), "name": n} for i, n in zip(ids, rng.permutation(names).tolist())]
    root = tmp_path / "root"
    (root / "annotations").mkdir(parents=True)
    for split in ("train", "val"):
        inst = {"images": [{"id": 1, "file_name": "a.jpg"}],
                "annotations": [{"image_id": 1, "category_id": cats[0]["id"]}], "categories": cats}
        (root / "annotations" / f"instances_{split}2014.json").write_text(json.dumps(inst))
    prepare.prepare_coco2014(root, tmp_path / "out")
    assert (tmp_path / "out" / "category.json").read_bytes() == (official_dir / "category.json").read_bytes()


def test_coco_reads_official_format_and_dataset(tmp_path):
    make_coco_tree(tmp_path / "root")
    prepare.prepare_coco2014(tmp_path / "root", tmp_path / "out")
    # the official code's files in ROOT are read as they are
    root2 = tmp_path / "root2"
    root2.mkdir()
    for f in ("train_anno.json", "val_anno.json", "category.json"):
        (root2 / f).write_bytes((tmp_path / "out" / f).read_bytes())
    m = prepare.prepare_coco2014(root2, tmp_path / "out2")
    assert m["counts"] == {"train": 3, "val": 3}
    assert (tmp_path / "out2" / "train_anno.json").read_bytes() == (tmp_path / "out" / "train_anno.json").read_bytes()
    ds = prepared_dataset(tmp_path / "out", "val", eval_transform(32))
    x, target, difficult = ds[0]
    assert x.shape == (3, 32, 32) and target.tolist() == [0, 0, 1, 1, 0] and not difficult.any()


def test_coco_bad_inputs(tmp_path):
    make_coco_tree(tmp_path / "root")
    f = tmp_path / "root" / "annotations" / "instances_val2014.json"
    d = json.loads(f.read_text())
    d["annotations"][0]["category_id"] = 77
    f.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"instances_val2014.json: annotations\[0\].category_id 77"):
        prepare.prepare_coco2014(tmp_path / "root", tmp_path / "out")
    f.write_text("{not json")
    with pytest.raises(ValueError, match="instances_val2014.json: not valid JSON"):
        prepare.prepare_coco2014(tmp_path / "root", tmp_path / "out")
    bad = tmp_path / "bad_anno.json"
    bad.write_text(json.dumps([{"file_name": "x.jpg", "labels": [7]}]))
    (tmp_path / "cat.json").write_text(json.dumps({"a": 0, "b": 1}))
    with pytest.raises(ValueError, match=r"bad_anno.json: item 0 \(x.jpg\) field 'labels'"):
        coco.read_official(bad, tmp_path / "cat.json")


def test_coco_download_from_local_server(server, tmp_path):
    url, h = server
    src = make_coco_tree(tmp_path / "src")
    archives = {}
    for name, member in (("train2014.zip", "train2014"), ("val2014.zip", "val2014"),
                         ("annotations_trainval2014.zip", "annotations")):
        body = zip_of(src, [src / member], tmp_path / name).read_bytes()
        h.files[f"/coco/{name}"] = body
        archives[name] = (name, len(body), hashlib.md5(body).hexdigest())
    m = prepare.prepare_coco2014(tmp_path / "dl", tmp_path / "out", True, url + "/coco/", archives)
    assert m["counts"] == {"train": 3, "val": 3}
    assert (tmp_path / "dl" / "val2014" / "COCO_val2014_000000000030.jpg").is_file()


# --- your own data ---------------------------------------------------------------------------------

def _custom_tree(tmp_path, rows: list[str], header: str = "image,labels"):
    imgs = tmp_path / "imgs"
    for k in range(12):
        write_jpeg(imgs / f"im{k}.jpg", seed=k)
    csv = tmp_path / "labels.csv"
    csv.write_text(header + "\n" + "\n".join(rows) + "\n")
    return csv, imgs


GOOD_ROWS = [f"im{k}.jpg,{lab}" for k, lab in enumerate(
    ["cat;dog", "dog", "cat", "bird;cat", "dog;bird", "cat", "dog", "bird", "cat;dog", "dog",
     "cat;bird", "bird"])]


def test_custom_prepare_seeded_split_and_outputs(tmp_path):
    csv, imgs = _custom_tree(tmp_path, GOOD_ROWS)
    m = prepare.prepare_custom(csv, imgs, tmp_path / "out", seed=1, val_fraction=0.25, test_fraction=0.25)
    assert m["classes"] == ["bird", "cat", "dog"] and m["counts"] == {"train": 6, "val": 3, "test": 3}
    again = prepare.prepare_custom(csv, imgs, tmp_path / "out2", seed=1, val_fraction=0.25, test_fraction=0.25)
    assert again["counts"] == m["counts"]
    assert (tmp_path / "out" / "train_anno.json").read_bytes() == (tmp_path / "out2" / "train_anno.json").read_bytes()
    files = {r["file_name"] for s in ("train", "val", "test")
             for r in json.loads((tmp_path / "out" / f"{s}_anno.json").read_text())}
    assert len(files) == 12  # every image in exactly one split
    z = load_pickle(tmp_path / "out" / "word_vectors.pkl")
    assert z.shape == (3, 50) and z.dtype == np.float32
    M, N = load_label_stats(tmp_path / "out" / "train_adj.pkl")
    train = json.loads((tmp_path / "out" / "train_anno.json").read_text())
    assert N.tolist() == [sum(c in r["labels"] for r in train) for c in range(3)]
    ds = prepared_dataset(tmp_path / "out", "test", train_transform(32))
    x, t, d = ds[0]
    assert x.shape == (3, 32, 32) and t.sum() >= 1


def test_custom_split_column_and_json_input(tmp_path):
    rows = [r + f",{('train', 'val', 'test')[k % 3]}" for k, r in enumerate(GOOD_ROWS)]
    csv, imgs = _custom_tree(tmp_path, rows, "image,labels,split")
    m = prepare.prepare_custom(csv, imgs, tmp_path / "out")
    assert m["counts"] == {"train": 4, "val": 4, "test": 4} and m["split"] == "given"
    js = tmp_path / "labels.json"
    js.write_text(json.dumps([{"file_name": f"im{k}.jpg", "labels": ["cat"] if k % 2 else ["dog"]}
                              for k in range(12)]))
    m = prepare.prepare_custom(js, imgs, tmp_path / "out3", classes=["dog", "cat"])
    assert m["classes"] == ["dog", "cat"]
    with pytest.raises(ValueError, match=r"\['zebra'\] have no positive image in the training split"):
        prepare.prepare_custom(js, imgs, tmp_path / "out4", classes=["cat", "dog", "zebra"])
    assert not (tmp_path / "out4").exists()  # refused before anything is written


@pytest.mark.parametrize("rows, kwargs, match", [
    (GOOD_ROWS[:3] + ["im3.jpg,cat;unicorn"], {"classes": ["bird", "cat", "dog"]},
     r"labels.csv:5: field 'labels' has unknown class\(es\) \['unicorn'\]"),
    (GOOD_ROWS[:3] + ["im1.jpg,cat"], {}, r"labels.csv:5: duplicate image 'im1.jpg' \(first at .*labels.csv:3\)"),
    (GOOD_ROWS[:3] + ["im3.jpg,"], {}, r"labels.csv:5: field 'labels' is empty for 'im3.jpg'"),
    (GOOD_ROWS[:3] + ["missing.jpg,cat"], {},
     r"labels.csv:5: field 'image': image file .*missing.jpg.* does not exist"),
])
def test_custom_bad_inputs(tmp_path, rows, kwargs, match):
    csv, imgs = _custom_tree(tmp_path, rows)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        prepare.prepare_custom(csv, imgs, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_custom_corrupt_image_error_or_skip(tmp_path):
    csv, imgs = _custom_tree(tmp_path, GOOD_ROWS)
    corrupt_jpeg(imgs / "im4.jpg")
    with pytest.raises(ValueError, match=r"labels.csv:6: field 'image': .*im4.jpg.*cannot be decoded"):
        prepare.prepare_custom(csv, imgs, tmp_path / "out")
    m = prepare.prepare_custom(csv, imgs, tmp_path / "out", skip_bad_images=True)
    assert [s["image"] for s in m["skipped_images"]] == ["im4.jpg"] and sum(m["counts"].values()) == 11


def test_custom_missing_word_is_named_before_writing(tmp_path):
    rows = [f"im{k}.jpg,{'zzqxthing' if k == 0 else 'cat'}" for k in range(12)]
    csv, imgs = _custom_tree(tmp_path, rows)
    with pytest.raises(ValueError, match="label 'zzqxthing'"):
        prepare.prepare_custom(csv, imgs, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    m = prepare.prepare_custom(csv, imgs, tmp_path / "out", fallback={"zzqxthing": "thing"})
    assert m["word_vectors"]["shape"] == [2, 50]


# --- transforms ----------------------------------------------------------------------------------

def test_multiscale_crop_params_are_the_official_ones():
    import random

    crop = MultiScaleCrop(448)
    rng = random.Random(0)
    sizes = {int(480 * s) if abs(int(480 * s) - 448) >= 3 else 448 for s in (1, .875, .75, .66, .5)}
    for _ in range(300):
        top, left, ch, cw = crop.crop_params(480, 640, rng)
        assert ch in sizes and cw in sizes and 0 <= top <= 480 - ch and 0 <= left <= 640 - cw
        assert abs(sorted(sizes, reverse=True).index(ch) - sorted(sizes, reverse=True).index(cw)) <= 2
    img = torch.zeros(3, 120, 90, dtype=torch.uint8)
    assert crop(img).shape == (3, 448, 448)
    assert eval_transform(448)(img).shape == (3, 448, 448)


def test_multilabel_images_validation(tmp_path):
    with pytest.raises(ValueError, match="official values"):
        MultiLabelImages(["a.jpg"], np.array([[2, 0]]), ["a", "b"])
    with pytest.raises(ValueError, match="does not match"):
        MultiLabelImages(["a.jpg"], np.array([[1, 0, 1]]), ["a", "b"])


# --- word vectors ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_glove_text_and_zip_and_embed_cli(tmp_path):
    from mlgcn_core.embeddings import GloVeFile, make_vectors

    words = {"potted": [1, 0, 0, 0], "plant": [0, 1, 0, 0], "tv": [0, 0, 1, 0], "monitor": [0, 0, 0, 1],
             "cat": [1, 1, 1, 1], "television": [2, 2, 2, 2]}
    txt = write_glove(tmp_path / "g.txt", words)
    zp = write_glove(tmp_path / "g.zip", words, zipped=True)
    for src in (txt, zp):
        z = make_vectors(["pottedplant", "tvmonitor", "cat"], str(src))
        assert np.allclose(z, [[.5, .5, 0, 0], [0, 0, .5, .5], [1, 1, 1, 1]])
    assert GloVeFile(txt, {"cat"}).dim == 4 and "plant" not in GloVeFile(txt, {"cat"})
    with pytest.raises(ValueError, match="label 'dog'"):
        make_vectors(["cat", "dog"], str(txt))
    (tmp_path / "classes.txt").write_text("pottedplant\ntvmonitor\ncat\n")
    r = cli("embed", "--classes", str(tmp_path / "classes.txt"), "--glove", str(zp), "--out", str(tmp_path / "z.pkl"))
    assert r.returncode == 0, r.stderr
    assert load_pickle(tmp_path / "z.pkl").shape == (3, 4)
    (tmp_path / "c2.txt").write_text("dog\n")
    r = cli("embed", "--classes", str(tmp_path / "c2.txt"), "--glove", str(txt), "--out", str(tmp_path / "y.pkl"),
            "--fallback", "dog=television")
    assert r.returncode == 0 and np.allclose(load_pickle(tmp_path / "y.pkl"), [[2, 2, 2, 2]])
    r = cli("embed", "--classes", str(tmp_path / "c2.txt"), "--glove", str(txt), "--out", str(tmp_path / "x.pkl"))
    assert r.returncode == 2 and "label 'dog'" in r.stderr and not (tmp_path / "x.pkl").exists()


def test_official_vectors_local_and_download(official_dir, server, tmp_path, monkeypatch):
    from mlgcn_core import embeddings

    monkeypatch.setenv("MLGCN_OFFICIAL_DIR", str(official_dir))
    z = embeddings.make_vectors(voc.CLASSES, "official:voc2007")
    assert z.shape == (20, 300) and np.array_equal(z, pickle.load(open(official_dir / "voc_glove_word2vec.pkl", "rb")))
    monkeypatch.delenv("MLGCN_OFFICIAL_DIR")
    monkeypatch.setenv("MLGCN_DATA", str(tmp_path / "data"))
    url, h = server
    h.files["/data/coco/coco_glove_word2vec.pkl"] = (official_dir / "coco_glove_word2vec.pkl").read_bytes()
    p = embeddings.official_file("coco_glove_word2vec.pkl", url=url + "/data/")
    assert p == tmp_path / "data" / "mlgcn-official" / "coco_glove_word2vec.pkl"
    h.files["/data/voc/voc_adj.pkl"] = b"tampered"
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        embeddings.official_file("voc_adj.pkl", url=url + "/data/")


@pytest.mark.reference
@pytest.mark.parametrize("dataset, stats, vectors, C", [
    ("voc2007", "voc_adj.pkl", "voc_glove_word2vec.pkl", 20),
    ("coco2014", "coco_adj.pkl", "coco_glove_word2vec.pkl", 80)])
def test_mlgcn_from_official_files_forward_backward(official_dir, resnet_random, dataset, stats, vectors, C):
    from mlgcn_core.graph import build_adjacency
    from mlgcn_core.models import MLGCN

    M, N = load_label_stats(official_dir / stats)
    z = load_pickle(official_dir / vectors)
    assert z.shape == (C, 300)
    model = MLGCN(z, build_adjacency(M, N, 0.4, 0.25, "official"), backbone=resnet_random)
    assert [layer.weight.shape for layer in model.head.gcn.layers] == [(300, 1024), (1024, 2048)]
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, C)
    out.sum().backward()
    assert model.head.gcn.layers[0].weight.grad.abs().sum() > 0
    resnet_random.zero_grad()


def test_atomic_path_replaces_only_on_success(tmp_path):
    from mlgcn_core.io import atomic_path, write_text

    target = tmp_path / "metrics.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]  # no temporary left
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]
