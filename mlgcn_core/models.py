"""ML-GCN and its baseline, with one interface (Sec. 3, Fig. 2).

Both are ``MultiLabelModel``: an optional :class:`~mlgcn_core.backbones.Backbone` (images →
pooled features x, Eq. 1) and a head (x → logits). Without a backbone they run on
pre-extracted pooled features (the cached-features mode).

* :class:`MLGCN`: the GCN maps the label word vectors Z (C × d) through Â to classifiers
  W (C × D) (Eq. 2–3); logits ŷ = W x (Eq. 4).
* :class:`Baseline`: the same backbone with a linear head (the paper's "ResNet-101" row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .backbones import Backbone, build_backbone, split_backbone
from .embeddings import make_vectors
from .gcn import GCN, HIDDEN, gcn_widths
from .graph import label_graph, normalize_adjacency

if TYPE_CHECKING:
    from .config import ExperimentConfig


class LinearHead(nn.Module):
    def __init__(self, feature_dim: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(feature_dim, num_classes)

    def classifiers(self) -> torch.Tensor:
        return self.fc.weight  # (C, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)  # (N, D) → (N, C)


class GCNHead(nn.Module):
    """Label branch: W = GCN(Z, Â) (C × D); logits = x Wᵀ (Eq. 4)."""

    def __init__(self, word_vectors, adjacency, feature_dim: int, depth: int = 2,
                 hidden: int = HIDDEN, normalization: str | None = "official"):
        super().__init__()
        z = torch.as_tensor(np.asarray(word_vectors), dtype=torch.float32)  # (C, d)
        a = np.asarray(adjacency, dtype=np.float64)  # (C, C) re-weighted A'
        if a.shape != (z.shape[0], z.shape[0]):
            raise ValueError(f"adjacency shape {a.shape} does not match {z.shape[0]} word vectors")
        a_hat = a if normalization is None else normalize_adjacency(a, normalization)  # (C, C) Â
        self.register_buffer("word_vectors", z)
        self.register_buffer("adj_hat", torch.as_tensor(a_hat, dtype=torch.float32))
        self.gcn = GCN(gcn_widths(z.shape[1], feature_dim, depth, hidden))
        # a finished run's head as saved in model.pt: W itself in place of the last layer's weight
        # (``runs.compact_head``); None while training
        self.register_buffer("stored_classifiers", None)

    def classifiers(self) -> torch.Tensor:
        if self.stored_classifiers is not None:
            return self.stored_classifiers  # (C, D), as the run computed it
        return self.gcn(self.word_vectors, self.adj_hat)  # (C, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.classifiers().t()  # (N, D) @ (D, C) → (N, C)


class MultiLabelModel(nn.Module):
    """Optional backbone + head. forward(images (N,3,H,W) or features (N,D)) → logits (N,C)."""

    def __init__(self, head: nn.Module, backbone: Backbone | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.backbone(inputs) if self.backbone is not None else inputs  # (N, D)

    def classifiers(self) -> torch.Tensor:
        return self.head.classifiers()  # (C, D)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs))


def _feature_dim(backbone: Backbone | None, feature_dim: int | None) -> int:
    if backbone is not None:
        return backbone.out_dim
    if feature_dim is None:
        raise ValueError("feature_dim is required when no backbone is given (cached-features mode)")
    return int(feature_dim)


class MLGCN(MultiLabelModel):
    """ML-GCN. ``adjacency`` is the re-weighted A' (``graph.build_adjacency``) or the binary
    A + I; it is normalized to Â inside (official ``gen_adj``: D Aᵀ D), or taken as Â itself
    with ``normalization=None`` (e.g. when restoring a checkpoint)."""

    def __init__(self, word_vectors, adjacency, backbone: Backbone | None = None,
                 feature_dim: int | None = None, depth: int = 2, hidden: int = HIDDEN,
                 normalization: str | None = "official"):
        head = GCNHead(word_vectors, adjacency, _feature_dim(backbone, feature_dim), depth, hidden,
                       normalization)
        super().__init__(head, backbone)


class Baseline(MultiLabelModel):
    """Backbone (or cached features) + linear classifier."""

    def __init__(self, num_classes: int, backbone: Backbone | None = None,
                 feature_dim: int | None = None):
        super().__init__(LinearHead(_feature_dim(backbone, feature_dim), num_classes), backbone)


def build_model(cfg: ExperimentConfig, train_positives: np.ndarray | None, class_names: list[str],
                feature_dim: int | None = None, *, backbone: Backbone | None | str = "auto",
                word_vectors: np.ndarray | None = None, adj_hat: np.ndarray | None = None) -> MultiLabelModel:
    """The model of ``cfg`` — the one model builder, for training and inference alike.

    Training: the label graph is ``cfg.graph``'s entry of :data:`~mlgcn_core.graph.GRAPHS` built from
    ``train_positives`` (n, C), the word vectors ``cfg.word_vectors``' provider
    (:data:`~mlgcn_core.embeddings.WORD_VECTORS`); ``mode='features'`` builds a head on pooled features of size
    ``feature_dim`` (no backbone), ``end2end`` the backbone of ``cfg``, ``top`` the trainable top of
    ``cfg``'s backbone (:func:`~mlgcn_core.backbones.split_backbone`; input: the bottom's maps).
    Inference (a checkpoint):
    ``word_vectors`` (C, d) and the normalized ``adj_hat`` (C, C) are given as stored, and
    ``backbone`` is the module to put in front of the head (``"auto"``: as in training)."""
    if isinstance(backbone, str):
        backbone = build_backbone(cfg.backbone, cfg.weights, cfg.pooling) if cfg.mode != "features" else None
        if cfg.mode == "top":
            backbone = split_backbone(backbone, cfg.trainable_blocks)[1]
    if cfg.model == "baseline":
        return Baseline(len(class_names), backbone, feature_dim)
    if adj_hat is not None:
        return MLGCN(word_vectors, adj_hat, backbone, feature_dim, depth=cfg.gcn_depth,
                     hidden=cfg.gcn_hidden, normalization=None)
    vectors = make_vectors(class_names, cfg.word_vectors, seed=cfg.seed) if word_vectors is None else word_vectors
    return MLGCN(vectors, label_graph(cfg, train_positives),
                 backbone, feature_dim, depth=cfg.gcn_depth, hidden=cfg.gcn_hidden)
