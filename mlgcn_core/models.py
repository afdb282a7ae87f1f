"""ML-GCN, its baseline and its successors' heads, with one interface (Sec. 3, Fig. 2).

Each is a ``MultiLabelModel``: an optional :class:`~mlgcn_core.backbones.Backbone` in front of a
head (features → logits). The head is an entry of :data:`~mlgcn_core.config.MODELS`, built here by
:func:`build_model`, the one model builder; what runs in front of it is the training mode's
(:data:`~mlgcn_core.config.MODES`): nothing on cached features, the trainable top on the frozen
bottom's cached maps, or the whole backbone.

* :class:`GCNHead` (ML-GCN): the GCN maps the label word vectors Z (C × d) through Â to
  classifiers W (C × D) (Eq. 2–3); logits ŷ = W x (Eq. 4) on the pooled vector x (Eq. 1).
* :class:`LinearHead` (baseline): a linear layer on x (the paper's "ResNet-101" row).
* the heads of :mod:`~mlgcn_core.heads` (CSRA, Query2Label, ML-Decoder) read the feature map
  (N, D, h, w) instead (``needs_map``): the backbone's map in ``end2end`` and ``top`` modes, and in
  ``features`` mode the frozen maps before the backbone's last 1×1 convolution, cached, with that
  convolution's frozen top in front of the head (:func:`frozen_map_top`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .backbones import Backbone, build_backbone, split_backbone
from .config import MODELS, MODES, ExperimentConfig
from .embeddings import make_vectors
from .gcn import GCN, HIDDEN, gcn_widths
from .graph import label_graph, normalize_adjacency
from .heads import CSRAHead, GraphQuery2LabelHead, MLDecoderHead, Query2LabelHead


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
        self._fixed: torch.Tensor | None = None  # W for the batches of one evaluation pass

    def classifiers(self) -> torch.Tensor:
        if self.stored_classifiers is not None:
            return self.stored_classifiers  # (C, D), as the run computed it
        return self.gcn(self.word_vectors, self.adj_hat)  # (C, D)

    @contextlib.contextmanager
    def classifiers_fixed(self) -> Iterator[None]:
        """W computed once for a gradient-free pass over many batches (an evaluation): the same
        values each batch would compute (W depends on the parameters alone, Eq. 2–3), without the
        GCN's cost per batch — a fifth of a COCO-shaped training epoch when evaluated per batch."""
        with torch.no_grad():
            self._fixed = self.classifiers()  # (C, D)
        try:
            yield
        finally:
            self._fixed = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._fixed if self._fixed is not None else self.classifiers()  # (C, D)
        return x @ w.t()  # (N, D) @ (D, C) → (N, C)


class MultiLabelModel(nn.Module):
    """Optional backbone + head. forward(images (N, 3, H, W), or the cached inputs: pooled features
    (N, D), a map (N, D, h, w) or the bottom's maps) → logits (N, C). ``takes_map``: the head reads
    the backbone's feature map (N, D, h, w), not its pooled vector."""

    def __init__(self, head: nn.Module, backbone: Backbone | None = None, takes_map: bool = False):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.takes_map = takes_map

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.backbone is None:
            return inputs  # (N, D) or (N, D, h, w), as cached
        return self.backbone.feature_map(inputs) if self.takes_map else self.backbone(inputs)

    def classifiers(self) -> torch.Tensor:
        if not hasattr(self.head, "classifiers"):
            raise ValueError(f"head {type(self.head).__name__} has no per-label classifier matrix W (C × D)")
        return self.head.classifiers()  # (C, D)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs))

    def evaluating(self) -> contextlib.AbstractContextManager:
        """A context for a gradient-free pass over many batches: a head whose classifiers are a
        function of its parameters alone (ML-GCN's W) computes them once for the pass."""
        fixed = getattr(self.head, "classifiers_fixed", None)
        return fixed() if fixed is not None else contextlib.nullcontext()


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


# --- the one model builder: the mode's inputs (MODES), then the model's head (MODELS) -------------

@dataclass
class HeadInputs:
    """What a head's builder gets besides the config: the size D of the features it reads (the
    pooled vector's, or the map's channels), the labels, and — for a head reading the label graph
    or the word vectors — the training annotations and any stored vectors and Â."""

    feature_dim: int
    class_names: list[str]
    train_positives: np.ndarray | None  # (n, C): the label graph is estimated from them (training)
    word_vectors: np.ndarray | None  # (C, d) as stored (a checkpoint, prepared data); None: the provider's
    adj_hat: np.ndarray | None  # (C, C) a checkpoint's normalized Â; None: built from train_positives

    def vectors(self, cfg: ExperimentConfig) -> np.ndarray:
        """The label word vectors (C, d): as stored, else ``cfg.word_vectors``' provider's."""
        if self.word_vectors is not None:
            return self.word_vectors
        return make_vectors(self.class_names, cfg.word_vectors, seed=cfg.seed)


@MODELS.implement("mlgcn")
def _mlgcn_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    if inputs.adj_hat is not None:  # a checkpoint: Â as stored
        return GCNHead(inputs.word_vectors, inputs.adj_hat, inputs.feature_dim, cfg.gcn_depth, cfg.gcn_hidden,
                       normalization=None)
    vectors = inputs.vectors(cfg)
    return GCNHead(vectors, label_graph(cfg, inputs.train_positives), inputs.feature_dim, cfg.gcn_depth,
                   cfg.gcn_hidden)


@MODELS.implement("baseline")
def _linear_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    return LinearHead(inputs.feature_dim, len(inputs.class_names))


@MODELS.implement("csra")
def _csra_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    return CSRAHead(inputs.feature_dim, len(inputs.class_names), cfg.csra_lambda, cfg.csra_temperatures)


@MODELS.implement("query2label")
def _query2label_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    return Query2LabelHead(inputs.feature_dim, len(inputs.class_names), cfg.q2l_d_model, cfg.q2l_ff, cfg.q2l_heads,
                           cfg.q2l_encoder_layers, cfg.q2l_decoder_layers, cfg.q2l_dropout,
                           cfg.q2l_decoder_self_attn)


@MODELS.implement("query2label_graph")
def _query2label_graph_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    a_hat = (inputs.adj_hat if inputs.adj_hat is not None  # a checkpoint: Â as stored
             else normalize_adjacency(np.asarray(label_graph(cfg, inputs.train_positives), dtype=np.float64),
                                      "official"))
    return GraphQuery2LabelHead(inputs.feature_dim, len(inputs.class_names), inputs.vectors(cfg), a_hat,
                                cfg.gcn_depth, cfg.gcn_hidden, d_model=cfg.q2l_d_model, ff=cfg.q2l_ff,
                                heads=cfg.q2l_heads, encoder_layers=cfg.q2l_encoder_layers,
                                decoder_layers=cfg.q2l_decoder_layers, dropout=cfg.q2l_dropout,
                                decoder_self_attn=cfg.q2l_decoder_self_attn)


@MODELS.implement("mldecoder")
def _mldecoder_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    return MLDecoderHead(inputs.feature_dim, len(inputs.class_names), cfg.mld_d_model, cfg.mld_ff, cfg.mld_heads,
                         cfg.mld_groups, cfg.mld_dropout)


@MODELS.implement("mldecoder_words")
def _mldecoder_words_head(cfg: ExperimentConfig, inputs: HeadInputs) -> nn.Module:
    return MLDecoderHead(inputs.feature_dim, len(inputs.class_names), cfg.mld_d_model, cfg.mld_ff, cfg.mld_heads,
                         dropout=cfg.mld_dropout, word_vectors=inputs.vectors(cfg))


def frozen_map_top(cfg: ExperimentConfig) -> Backbone:
    """What a map head reads in ``features`` mode runs in front of it: the frozen top of ``cfg``'s
    pretrained backbone cut at its ``map_cut`` (EfficientNet-Lite0: ``conv_head`` + BN + activation,
    320 → 1280 channels), in eval mode on the cached maps of the frozen bottom (``features``). A
    backbone without such a cut has no compact map to cache: one line says so."""
    from .features import map_cut

    top = split_backbone(build_backbone(cfg.backbone, cfg.weights, cfg.pooling), map_cut(cfg))[1]
    return top.requires_grad_(False).eval()


@MODES.implement("features")
def _cached_inputs(cfg: ExperimentConfig, needs_map: bool) -> Backbone | None:
    return frozen_map_top(cfg) if needs_map else None


@MODES.implement("top")
def _trainable_top(cfg: ExperimentConfig, needs_map: bool) -> Backbone:
    return split_backbone(build_backbone(cfg.backbone, cfg.weights, cfg.pooling), cfg.trainable_blocks)[1]


@MODES.implement("end2end")
def _whole_backbone(cfg: ExperimentConfig, needs_map: bool) -> Backbone:
    return build_backbone(cfg.backbone, cfg.weights, cfg.pooling)


def build_model(cfg: ExperimentConfig, train_positives: np.ndarray | None, class_names: list[str],
                feature_dim: int | None = None, *, backbone: Backbone | None | str = "auto",
                word_vectors: np.ndarray | None = None, adj_hat: np.ndarray | None = None) -> MultiLabelModel:
    """The model of ``cfg`` — the one model builder, for training and inference alike.

    The head is ``cfg.model``'s entry of :data:`~mlgcn_core.config.MODELS` (its builder above);
    ``backbone="auto"`` puts ``cfg.mode``'s inputs in front of it (:data:`~mlgcn_core.config.MODES`):
    ``features`` nothing — the head takes pooled features of size ``feature_dim`` — or for a head on
    the feature map the frozen top (:func:`frozen_map_top`) on the cached bottom's maps; ``end2end``
    the backbone of ``cfg``; ``top`` the trainable top of ``cfg``'s backbone
    (:func:`~mlgcn_core.backbones.split_backbone`; input: the bottom's maps).
    Training: the label graph is ``cfg.graph``'s entry of :data:`~mlgcn_core.graph.GRAPHS` built from
    ``train_positives`` (n, C), the word vectors ``cfg.word_vectors``' provider
    (:data:`~mlgcn_core.embeddings.WORD_VECTORS`). Inference (a checkpoint): ``word_vectors`` (C, d)
    and the normalized ``adj_hat`` (C, C) are given as stored, and ``backbone`` is the module to put
    in front of the head (a map head then reads its ``feature_map``)."""
    entry = MODELS[cfg.model]
    if isinstance(backbone, str):
        backbone = MODES[cfg.mode].build(cfg, entry.needs_map)
    inputs = HeadInputs(_feature_dim(backbone, feature_dim), list(class_names), train_positives, word_vectors,
                        adj_hat)
    return MultiLabelModel(entry.build(cfg, inputs), backbone, takes_map=entry.needs_map)
