"""Data: Fashion-MNIST lookup/verification/download, the outfit generator, word vectors."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from mlgcn_core.data import fashion_mnist as fm
from mlgcn_core.data import outfits
from mlgcn_core.data.outfits import BAG, BOOT, COAT, DRESS, TROUSER, OutfitsConfig
from mlgcn_core.download import download
from mlgcn_core.embeddings import glove6b50, label_vectors, split_words


def test_download_verifies_and_reuses(server, tmp_path):
    url, h = server
    body = b"real bytes " * 1000
    h.files["/f.bin"] = body
    digest = hashlib.sha256(body).hexdigest()
    out = download(url + "/f.bin", tmp_path / "f.bin", digest, progress=False)
    assert out.read_bytes() == body and not (tmp_path / "f.bin.part").exists()
    download(url + "/f.bin", tmp_path / "f.bin", digest, progress=False)
    assert h.hits == ["/f.bin"]  # second call: already there, verified, not fetched


def check_resumed_download(server, tmp_path, fetch=download, honour_range: bool = True) -> None:
    """A partial ``.part`` of 5000 bytes: the request asks for the rest (Range: bytes=5000-), only
    the rest is sent, and the file is whole; a server that ignores Range still yields the file."""
    url, h = server
    h.honour_range = honour_range
    body = bytes(range(256)) * 400
    h.files["/f.bin"] = body
    (tmp_path / "f.bin.part").write_bytes(body[:5000])
    fetch(url + "/f.bin", tmp_path / "f.bin", hashlib.sha256(body).hexdigest(), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == body and not (tmp_path / "f.bin.part").exists()
    assert h.ranges == ["bytes=5000-"], h.ranges  # resumed from the .part's end
    assert h.sent == [len(body) - 5000 if honour_range else len(body)], h.sent


def test_download_resumes_partial_file(server, tmp_path):
    check_resumed_download(server, tmp_path)


def test_download_server_ignoring_range_still_yields_the_file(server, tmp_path):
    check_resumed_download(server, tmp_path, honour_range=False)


def test_download_mismatch_is_kept_aside(server, tmp_path):
    url, h = server
    h.files["/f.bin"] = b"tampered"
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        download(url + "/f.bin", tmp_path / "f.bin", "0" * 64, progress=False)
    assert not (tmp_path / "f.bin").exists() and (tmp_path / "f.bin.bad").read_bytes() == b"tampered"


def test_fashion_mnist_found_and_verified():
    d = fm.locate(allow_download=False)
    images, labels = fm.load("train")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [6000] * 10
    assert fm.load("test")[0].shape == (10000, 28, 28)
    assert all((d / f).is_file() for f in fm.FILES)


def test_fashion_mnist_download_path(server, tmp_path, monkeypatch):
    """Users elsewhere: nothing local → download from the canonical layout, SHA-256 checked."""
    url, h = server
    src = fm.locate(allow_download=False)
    for name in fm.FILES:
        h.files["/" + name] = (src / name).read_bytes()
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("MLGCN_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MLGCN_FASHION_MNIST", raising=False)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fm.locate(allow_download=False)
    d = fm.locate(url=url + "/")
    assert d == tmp_path / "data" / "fashion-mnist"
    assert sorted(h.hits) == sorted("/" + n for n in fm.FILES)
    assert fm.read_idx(d / "t10k-labels-idx1-ubyte.gz").shape == (10000,)


def test_existing_copy_pointed_at_by_env(tmp_path, monkeypatch):
    src = fm.locate(allow_download=False)
    for name in fm.FILES:
        (tmp_path / name).symlink_to(src / name)
    monkeypatch.setenv("MLGCN_FASHION_MNIST", str(tmp_path))
    assert fm.locate(allow_download=False) == tmp_path


def _write_idx(path: Path, arr: np.ndarray, magic: bytes = b"\x00\x00\x08") -> None:
    header = magic + bytes([arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_read_idx_and_bad_files(tmp_path):
    a = np.arange(24).reshape(2, 3, 4)
    _write_idx(tmp_path / "ok.gz", a)
    assert np.array_equal(fm.read_idx(tmp_path / "ok.gz"), a)
    _write_idx(tmp_path / "bad.gz", a, magic=b"\x00\x00\x0d")
    with pytest.raises(ValueError, match="bad.gz.*magic"):
        fm.read_idx(tmp_path / "bad.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="short.gz.*header says"):
        fm.read_idx(tmp_path / "short.gz")


def test_corrupt_copy_is_named(tmp_path):
    for name in fm.FILES:
        _write_idx(tmp_path / name, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: SHA-256"):
        fm.locate(tmp_path)


# --- the outfit generator ------------------------------------------------------------------------

def test_outfit_model_dependencies():
    y = outfits.sample_labels(np.random.default_rng(0), 20000)
    k = y.sum(1)
    assert k.min() >= 1 and k.max() <= 4
    assert not (y[:, DRESS] & y[:, TROUSER]).any()  # dress excludes trouser
    p_boot_coat = y[y[:, COAT] == 1, BOOT].mean()
    p_coat_boot = y[y[:, BOOT] == 1, COAT].mean()
    assert p_boot_coat > 0.75 and p_boot_coat - p_coat_boot > 0.15  # asymmetric
    # a bag appears with anything: its rate barely depends on the coat
    assert abs(y[y[:, COAT] == 1, BAG].mean() - y[y[:, COAT] == 0, BAG].mean()) < 0.05


GENERATOR_DIGEST = "97ba74a75d292d3a6829c9e2615eabd5f0d01aebc25b8bc25cff3d68307d7ca3"


def test_generator_output_is_pinned():
    """The benchmark's scenes are part of every recorded number: a change to the generator (e.g.
    how garments are resized) must leave its arrays bit for bit as they were, or change this digest
    on purpose. (Computed with the per-garment resize and again with the batched one.)"""
    import hashlib

    out = outfits.generate(OutfitsConfig(seed=4, n_train=60, n_val=30, n_test=30))
    h = hashlib.sha256()
    for split in ("train", "val", "test"):
        for k in sorted(out[split]):  # images, labels, sources, visibility
            h.update(np.ascontiguousarray(out[split][k]).tobytes())
    assert h.hexdigest() == GENERATOR_DIGEST


def test_generator_is_deterministic_and_splits_disjoint():
    cfg = OutfitsConfig(seed=3, n_train=60, n_val=30, n_test=30)
    a, b = outfits.generate(cfg), outfits.generate(cfg)
    for s in ("train", "val", "test"):
        for key in ("images", "labels", "sources"):
            assert np.array_equal(a[s][key], b[s][key])
    c = outfits.generate(OutfitsConfig(seed=4, n_train=60, n_val=30, n_test=30))
    assert not np.array_equal(a["train"]["images"], c["train"]["images"])
    src = {s: set(a[s]["sources"][a[s]["sources"] >= 0].tolist()) for s in a}
    assert not src["train"] & src["val"]  # both from Fashion-MNIST train, disjoint parts
    assert max(src["test"]) < 10000  # indices into Fashion-MNIST test
    img = a["train"]["images"]
    assert img.shape == (60, 64, 64) and img.dtype == np.uint8 and img.max() > 100
    # each garment's source image has the class of its label
    _, tr_lab = fm.load("train")
    for row, srcs in zip(a["train"]["labels"], a["train"]["sources"]):
        assert sorted(tr_lab[srcs[srcs >= 0]].tolist()) == np.flatnonzero(row).tolist()


def test_load_outfits_caches_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("MLGCN_CACHE", str(tmp_path))
    cfg = OutfitsConfig(n_train=20, n_val=10, n_test=10)
    first = outfits.load_outfits(cfg)
    assert (outfits.cache_dir(cfg) / "train.npz").is_file()
    monkeypatch.setattr(outfits, "generate", lambda *a, **k: pytest.fail("regenerated"))
    again = outfits.load_outfits(cfg)
    assert np.array_equal(first["test"]["images"], again["test"]["images"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_train=0), "n_train"), (dict(min_size=40, max_size=30), "min_size"),
    (dict(max_size=80), "canvas"),
])
def test_outfits_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OutfitsConfig(**kwargs)


# --- word vectors ---------------------------------------------------------------------------------

# glove.6B.50d.txt as published (nlp.stanford.edu/data/glove.6B.zip): its first two lines
GLOVE_THE = [0.418, 0.24968, -0.41242, 0.1217, 0.34527, -0.044457, -0.49688, -0.17862, -0.00066023, -0.6566]
GLOVE_COMMA = [0.013441, 0.23682, -0.16899, 0.40951, 0.63812, 0.47709, -0.42852, -0.55641, -0.364, -0.23938]


def check_glove_rows(g) -> None:
    assert g["the"][:10].tolist() == pytest.approx(GLOVE_THE, abs=1e-6)
    assert g["the"][30] == pytest.approx(4.0071, abs=1e-6)  # the large component of "the"
    assert g[","][:10].tolist() == pytest.approx(GLOVE_COMMA, abs=1e-6)


def test_glove_rows_are_the_published_vectors():
    check_glove_rows(glove6b50())


def test_label_vectors_average_words():
    Z = label_vectors(outfits.CLASSES)
    assert Z.shape == (10, 50) and Z.dtype == np.float32
    g = glove6b50()
    assert np.allclose(Z[outfits.CLASSES.index("ankle boot")], (g["ankle"] + g["boot"]) / 2)
    assert np.allclose(Z[0], (g["t-shirt"] + g["top"]) / 2)


def test_split_words():
    assert split_words("pottedplant") == ["potted", "plant"]
    assert split_words("T-shirt/top") == ["t-shirt", "top"]
    assert split_words("traffic_light") == ["traffic", "light"]


def test_missing_word_names_the_class():
    with pytest.raises(ValueError, match="'zzqxgarment'"):
        label_vectors(["coat", "zzqxgarment"])


def test_data_command_and_book_builder_do_not_import_torch():
    """`make data` and `make book`'s builder start in under a second: neither imports torch (the
    kernels that train do)."""
    import subprocess
    import sys

    code = ("import sys, mlgcn_core.data, mlgcn_core.data.fashion_mnist, mlgcn_core.config, "
            "mlgcn_core.book.build; print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    assert out.strip() == "[]", out
