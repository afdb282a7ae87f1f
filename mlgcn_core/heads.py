"""ML-GCN's successors as heads on the backbone's feature map X (N, D, h, w) → logits (N, K), K labels,
built as their official code builds them (GUIDE §2d names each file), widths as parameters:

* :class:`CSRAHead` — class-specific residual attention (Zhu & Wu, ICCV 2021): per-class scores
  at every position, their spatial mean plus λ · a softmax(T · score)-weighted sum.
* :class:`Query2LabelHead` — a transformer over the positions (sine positional encoding) and
  learnable label queries that cross-attend to them (Liu et al., 2021), read out per label by
  :class:`GroupWiseLinear`.
* :class:`MLDecoderHead` — one decoder layer without self-attention (:class:`MLDecoderLayer`),
  fixed random queries, a group fully-connected read-out (Ridnik et al., WACV 2023); or queries
  made from the labels' word vectors.
* :class:`GraphQuery2LabelHead` — the question none of them asks: Query2Label whose label
  queries are ML-GCN's label branch, a GCN over the word vectors and the label graph (Eq. 2–3),
  not free embeddings — does the graph still help when label queries attend over space?
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .gcn import GCN, HIDDEN, gcn_widths


class CSRABranch(nn.Module):
    """One CSRA branch (official ``pipeline/csra.py``, class ``CSRA``): the class-specific scores
    s_k(j) = m_kᵀ x_j / ‖m_k‖ at every position j (a 1×1 convolution without bias, divided by each
    class's weight norm); logit_k = mean_j s_k(j) + λ · Σ_j softmax_j(T · s_k)(j) · s_k(j), the
    class-agnostic average plus the class-specific residual attention; T = ∞: λ · max_j s_k(j)
    (the official code's T = 99)."""

    def __init__(self, feature_dim: int, num_classes: int, lam: float = 0.1, temperature: float = 1.0):
        super().__init__()
        self.lam, self.temperature = float(lam), float(temperature)
        self.scores = nn.Conv2d(feature_dim, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.scores.weight.flatten(1)  # (K, D)
        s = self.scores(x).flatten(2) / w.norm(dim=1)[None, :, None]  # (N, K, h·w)
        base = s.mean(dim=2)  # (N, K)
        if math.isinf(self.temperature):
            att = s.amax(dim=2)  # (N, K)
        else:
            att = (s * torch.softmax(self.temperature * s, dim=2)).sum(dim=2)  # (N, K)
        return base + self.lam * att


class CSRAHead(nn.Module):
    """CSRA with one branch per temperature, logits summed (official ``MHA``: ``--num_heads`` 1, 2,
    4, 6, 8 are the temperatures [1], [1, ∞], [1, 2, 4, ∞], …)."""

    def __init__(self, feature_dim: int, num_classes: int, lam: float = 0.1,
                 temperatures: Sequence[float] = (1.0,)):
        super().__init__()
        self.branches = nn.ModuleList(CSRABranch(feature_dim, num_classes, lam, t) for t in temperatures)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(branch(x) for branch in self.branches)  # (N, D, h, w) → (N, K)


class GroupWiseLinear(nn.Module):
    """Query2Label's per-label read-out: logit_k = ⟨W_k, h_k⟩ + b_k, each label's own embedding h_k
    against its own weights; W (K, d) and b (K,) uniform in ±1/√d (official ``GroupWiseLinear``)."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, dim))
        self.bias = nn.Parameter(torch.empty(num_classes))
        bound = 1.0 / math.sqrt(dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (h * self.weight).sum(dim=-1) + self.bias  # (N, K, d) → (N, K)


def sine_positions(h: int, w: int, dim: int, temperature: float = 10000.0,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """DETR's normalized sine encoding of an h × w grid, as Query2Label uses it
    (``PositionEmbeddingSine(dim / 2, normalize=True)``): dim / 2 features for the row, then dim / 2
    for the column; a coordinate 1 … n is scaled to (0, 2π] and encoded as sin, cos pairs at
    frequencies temperature^(−2⌊i/2⌋ / (dim/2)). Returns (h·w, dim), positions row-major (as
    ``flatten(2)`` of a (N, C, h, w) map orders them)."""
    half, eps = dim // 2, 1e-6
    pairs = torch.div(torch.arange(half, device=device), 2, rounding_mode="floor")  # (half,) ⌊i/2⌋
    dim_t = temperature ** (2 * pairs / half)  # (half,)

    def axis(n: int) -> torch.Tensor:
        coord = torch.arange(1, n + 1, dtype=torch.float32, device=device) / (n + eps) * 2 * math.pi  # (n,)
        angles = coord[:, None] / dim_t  # (n, half)
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)  # (n, half)

    rows, cols = axis(h), axis(w)  # (h, half), (w, half)
    pos = torch.cat((rows[:, None, :].expand(h, w, half), cols[None, :, :].expand(h, w, half)), dim=2)  # (h, w, dim)
    return pos.reshape(h * w, dim)


def _feed_forward(dim: int, ff: int, dropout: float) -> nn.Sequential:
    """linear2(dropout(ReLU(linear1(t)))), the FFN of every layer here."""
    return nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, dim))


class EncoderLayer(nn.Module):
    """DETR's post-norm encoder layer (Query2Label's ``transformer.py``): self-attention over the
    positions, the positional encoding added to queries and keys; then the FFN."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = _feed_forward(dim, ff, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = src + pos  # (N, P, d) + (P, d)
        src = self.norm1(src + self.dropout1(self.self_attn(q, q, src, need_weights=False)[0]))  # (N, P, d)
        return self.norm2(src + self.dropout2(self.ffn(src)))


class DecoderLayer(nn.Module):
    """DETR's post-norm decoder layer as Query2Label uses it: optional self-attention among the label
    queries (removed by default), cross-attention of the queries to the positions (the label
    queries re-added as ``query_pos``, the positional encoding to the keys), the FFN."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float, self_attn: bool = False):
        super().__init__()
        if self_attn:
            self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
            self.norm1, self.dropout1 = nn.LayerNorm(dim), nn.Dropout(dropout)
        else:
            self.self_attn = None
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = _feed_forward(dim, ff, dropout)
        self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor,
                query_pos: torch.Tensor) -> torch.Tensor:
        # tgt (N, K, d); memory (N, P, d); pos (P, d); query_pos (K, d)
        if self.self_attn is not None:
            q = tgt + query_pos
            tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, q, tgt, need_weights=False)[0]))
        att = self.cross_attn(tgt + query_pos, memory + pos, memory, need_weights=False)[0]  # (N, K, d)
        tgt = self.norm2(tgt + self.dropout2(att))
        return self.norm3(tgt + self.dropout3(self.ffn(tgt)))


class Query2LabelHead(nn.Module):
    """Query2Label (official ``query2label.py`` and ``transformer.py``): the map projected to d by a
    1×1 convolution (the official code keeps it only when C ≠ d), its positions encoded
    (:func:`sine_positions`); encoder layers over the positions; decoder layers whose target starts at
    zeros and whose learnable label queries (K, d) are re-added in every layer; a final LayerNorm;
    :class:`GroupWiseLinear`. The transformer's matrices are xavier-uniform (DETR's reset)."""

    def __init__(self, feature_dim: int, num_classes: int, d_model: int = 256, ff: int = 1024, heads: int = 4,
                 encoder_layers: int = 1, decoder_layers: int = 2, dropout: float = 0.1,
                 decoder_self_attn: bool = False):
        super().__init__()
        self.d_model = d_model
        self.encoder = nn.ModuleList(EncoderLayer(d_model, heads, ff, dropout) for _ in range(encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, heads, ff, dropout, decoder_self_attn)
                                     for _ in range(decoder_layers))
        self.decoder_norm = nn.LayerNorm(d_model)
        for p in [*self.encoder.parameters(), *self.decoder.parameters()]:
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.input_proj = nn.Conv2d(feature_dim, d_model, 1) if feature_dim != d_model else nn.Identity()
        self.query_embed = nn.Embedding(num_classes, d_model)
        self.fc = GroupWiseLinear(num_classes, d_model)

    def queries(self) -> torch.Tensor:
        return self.query_embed.weight  # (K, d) learnable label queries

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape  # (N, D, h, w)
        src = self.input_proj(x).flatten(2).transpose(1, 2)  # (N, P, d), P = h·w
        pos = sine_positions(h, w, self.d_model, device=x.device).to(src.dtype)  # (P, d)
        for layer in self.encoder:
            src = layer(src, pos)
        queries = self.queries()  # (K, d)
        tgt = torch.zeros(n, *queries.shape, dtype=src.dtype, device=src.device)  # (N, K, d)
        for layer in self.decoder:
            tgt = layer(tgt, src, pos, queries)
        return self.fc(self.decoder_norm(tgt))  # (N, K)


class GraphQuery2LabelHead(Query2LabelHead):
    """Query2Label whose label queries Q (K, d) are a GCN's output over the label word vectors Z
    (K, d_w) and the normalized label graph Â (K, K): Q = GCN(Z, Â) (Eq. 2–3, widths d_w → hidden →
    d) — ML-GCN's label branch making the queries that cross-attend to the map instead of the
    classifiers. With the identity or a shuffled graph it is its own control; :class:`Query2LabelHead`
    (free queries) is its learned-query twin. ``adj_hat`` is Â itself (build it with
    ``graph.normalize_adjacency``); both are kept as buffers, as ML-GCN's head keeps them."""

    def __init__(self, feature_dim: int, num_classes: int, word_vectors, adj_hat, gcn_depth: int = 2,
                 gcn_hidden: int = HIDDEN, **q2l):
        super().__init__(feature_dim, num_classes, **q2l)
        z = torch.as_tensor(np.asarray(word_vectors), dtype=torch.float32)  # (K, d_w)
        a = torch.as_tensor(np.asarray(adj_hat), dtype=torch.float32)  # (K, K)
        if z.shape[0] != num_classes or a.shape != (num_classes, num_classes):
            raise ValueError(f"{z.shape[0]} word vectors and a graph of shape {tuple(a.shape)} for "
                             f"{num_classes} labels")
        self.query_embed = None  # the queries come from the graph
        self.register_buffer("word_vectors", z)
        self.register_buffer("adj_hat", a)
        self.query_gcn = GCN(gcn_widths(z.shape[1], self.d_model, gcn_depth, gcn_hidden))

    def queries(self) -> torch.Tensor:
        return self.query_gcn(self.word_vectors, self.adj_hat)  # (K, d)


class MLDecoderLayer(nn.Module):
    """ML-Decoder's decoder layer (official ``TransformerDecoderLayerOptimal``): the self-attention
    among the queries replaced by t = LN1(t + Dropout(t)); cross-attention to the tokens; the FFN;
    post-norm. Called directly: torch 2.x's ``nn.TransformerDecoder`` does not take this layer."""

    def __init__(self, dim: int, heads: int = 8, ff: int = 2048, dropout: float = 0.1):
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = _feed_forward(dim, ff, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        # tgt (N, K_q, d) queries; memory (N, P, d) tokens
        tgt = self.norm1(tgt + self.dropout1(tgt))
        tgt = self.norm2(tgt + self.dropout2(self.cross_attn(tgt, memory, memory, need_weights=False)[0]))
        return self.norm3(tgt + self.dropout3(self.ffn(tgt)))


class MLDecoderHead(nn.Module):
    """ML-Decoder (official ``ml_decoder.py``): tokens ReLU(Linear(D → d)(x_j)), no positional
    encoding; K_q = min(groups, K) fixed random queries (``requires_grad`` False); one
    :class:`MLDecoderLayer`; a group fully-connected read-out: query q decodes the g = ⌈K / K_q⌉
    labels q·g … q·g + g − 1 with its own weights (K_q, d, g), xavier-normal, bias 0, the first K
    outputs kept.

    With ``word_vectors`` (K, d_w) the queries are ReLU(Linear(d_w → d)(word vectors)), one per
    label, read out by one weight vector (d, 1) and one bias shared by all labels (the official
    zero-shot variant)."""

    def __init__(self, feature_dim: int, num_classes: int, d_model: int = 256, ff: int = 1024, heads: int = 8,
                 groups: int = 100, dropout: float = 0.1, word_vectors: np.ndarray | None = None):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Linear(feature_dim, d_model)
        if word_vectors is None:
            n_queries = min(groups, num_classes)
            self.query_embed = nn.Embedding(n_queries, d_model).requires_grad_(False)
            self.group_size = math.ceil(num_classes / n_queries)
            self.pool_weight = nn.Parameter(torch.empty(n_queries, d_model, self.group_size))  # (K_q, d, g)
            self.pool_bias = nn.Parameter(torch.zeros(num_classes))  # (K,)
        else:
            z = torch.as_tensor(np.asarray(word_vectors), dtype=torch.float32)  # (K, d_w)
            if z.shape[0] != num_classes:
                raise ValueError(f"word_vectors: {z.shape[0]} vectors for {num_classes} labels")
            self.register_buffer("word_vectors", z)
            self.query_embed = None
            self.word_proj = nn.Linear(z.shape[1], d_model)
            self.pool_weight = nn.Parameter(torch.empty(d_model, 1))  # (d, 1) shared by every label
            self.pool_bias = nn.Parameter(torch.zeros(1))
        nn.init.xavier_normal_(self.pool_weight)
        self.layer = MLDecoderLayer(d_model, heads, ff, dropout)

    def queries(self) -> torch.Tensor:
        if self.query_embed is not None:
            return self.query_embed.weight  # (K_q, d)
        return F.relu(self.word_proj(self.word_vectors))  # (K, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = F.relu(self.embed(x.flatten(2).transpose(1, 2)))  # (N, P, d)
        q = self.queries()
        h = self.layer(q.unsqueeze(0).expand(x.shape[0], -1, -1), tokens)  # (N, K_q, d)
        if self.query_embed is None:
            return (h @ self.pool_weight).squeeze(-1) + self.pool_bias  # (N, K)
        out = torch.einsum("nqd,qdg->nqg", h, self.pool_weight).flatten(1)  # (N, K_q · g)
        return out[:, :self.num_classes] + self.pool_bias  # (N, K)
