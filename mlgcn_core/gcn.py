"""Graph convolution of ML-GCN (Chen et al., CVPR 2019, Sec. 3.2–3.3).

Each layer computes H^{l+1} = h(Â H^l W^l) (Eq. 2), h = LeakyReLU(0.2) between
layers and none after the last; the last layer's output W ∈ R^{C×D} is the set of
per-label classifiers (Eq. 4: ŷ = W x).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

HIDDEN = 1024  # the paper's hidden width


def gcn_widths(in_dim: int, out_dim: int, depth: int = 2, hidden: int = HIDDEN) -> list[int]:
    """Layer widths for a GCN of ``depth`` layers: ``[in, hidden, …, hidden, out]``.

    Paper (Sec. 4.4, Table 3): 2 layers 300→1024→2048; 3 layers 1024, 1024, 2048; 4 layers
    1024, 1024, 1024, 2048.
    """
    if not (1 <= int(depth) <= 4):
        raise ValueError(f"depth must be 1, 2, 3 or 4, got {depth!r}")
    return [in_dim] + [hidden] * (depth - 1) + [out_dim]


class GraphConvolution(nn.Module):
    """One layer Â H W (Eq. 2, before the non-linearity); weight (in, out), no bias by default.

    Initialized like the official code: uniform(−1/√out, 1/√out).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.weight.size(1))
        nn.init.uniform_(self.weight, -stdv, stdv)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -stdv, stdv)

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        # h: (C, in); adj: (C, C) → (C, out)
        out = adj @ (h @ self.weight)
        return out + self.bias if self.bias is not None else out


class GCN(nn.Module):
    """Stacked :class:`GraphConvolution` layers with LeakyReLU(0.2) between them (Eq. 2)."""

    def __init__(self, widths: Sequence[int], negative_slope: float = 0.2):
        super().__init__()
        if len(widths) < 2 or len(widths) > 5:
            raise ValueError(f"widths must list 2–5 sizes (1–4 layers), got {list(widths)}")
        self.widths = list(widths)
        self.layers = nn.ModuleList(
            GraphConvolution(a, b) for a, b in zip(self.widths[:-1], self.widths[1:])
        )
        self.act = nn.LeakyReLU(negative_slope)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def forward(self, z: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        # z: (C, d) node features (word vectors); adj: (C, C) Â → (C, widths[-1])
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(h, adj)
            if i < len(self.layers) - 1:
                h = self.act(h)
        return h
