"""Fashion-MNIST (Xiao et al., 2017; MIT licence): the real images behind the default benchmark.

Looked up, in order: an explicit directory; ``$MLGCN_FASHION_MNIST``; ``data_root()/fashion-mnist``;
torchvision's layout ``data_root()/FashionMNIST/raw``; Debian's ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist``). If none has the files they are downloaded from the
canonical URL into ``data_root()/fashion-mnist``.

The pinned SHA-256 digests are of the *decompressed* IDX payloads: Debian recompressed the
archives (their .gz bytes differ from the canonical ones) but the images are identical, so one
pin verifies every copy.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np

from ..download import download, sha256_of
from ..paths import data_root

URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["t-shirt/top", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle boot"]
# file name → SHA-256 of the gunzipped IDX content
FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SPLIT_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def candidate_dirs(path: str | os.PathLike | None = None) -> list[Path]:
    """Where a copy is looked for, in order (an explicit ``path`` first)."""
    dirs = [Path(path)] if path else []
    if os.environ.get("MLGCN_FASHION_MNIST"):
        dirs.append(Path(os.environ["MLGCN_FASHION_MNIST"]))
    return dirs + [data_root() / "fashion-mnist", data_root() / "FashionMNIST" / "raw", DEBIAN_DIR]


@functools.lru_cache(maxsize=8)
def _verified(directory: Path) -> bool:
    for name, digest in FILES.items():
        got = sha256_of(directory / name, gunzip=True)
        if got != digest:
            raise ValueError(f"{directory / name}: SHA-256 of its content is {got}, "
                             f"expected {digest} (a corrupt or different Fashion-MNIST copy)")
    return True


def locate(path: str | os.PathLike | None = None, allow_download: bool = True,
           url: str = URL) -> Path:
    """Directory holding the four verified Fashion-MNIST files (downloading them if needed)."""
    for d in candidate_dirs(path):
        if all((d / f).is_file() for f in FILES):
            _verified(d.resolve())
            return d
    if path is not None and not allow_download:
        raise ValueError(f"fashion_mnist: {path} does not contain {sorted(FILES)}")
    if not allow_download:
        raise FileNotFoundError(
            "Fashion-MNIST not found in " + ", ".join(map(str, candidate_dirs(path)))
            + "; install Debian's dataset-fashion-mnist, set MLGCN_FASHION_MNIST, or allow the download"
        )
    target = data_root() / "fashion-mnist"
    for name, digest in FILES.items():
        download(url + name, target / name, digest, gunzip_digest=True)
    return target


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a gzipped IDX file (uint8 data) into an array, checking its header."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims)


@functools.lru_cache(maxsize=4)
def load(split: str, path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels (n,) int64 of the ``train`` (60k) or ``test`` (10k) split."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = locate(path)
    img_file, lab_file = SPLIT_FILES[split]
    images, labels = read_idx(d / img_file), read_idx(d / lab_file).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{d}: {img_file} and {lab_file} hold different counts")
    return images, labels

