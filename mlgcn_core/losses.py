"""Multi-label losses on logits (N, C) and {0,1} targets (N, C)."""

from __future__ import annotations

import torch
from torch import nn


class AsymmetricLoss(nn.Module):
    """ASL (Ridnik et al., ICCV 2021): focusing γ+ / γ− and a probability margin (clip) on the
    negatives. Summed over classes, averaged over the batch."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05,
                 eps: float = 1e-8):
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits.float())  # (N, C)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p  # shifted probability
        pos = targets * (1 - p).pow(self.gamma_pos) * torch.log(p.clamp(min=self.eps))
        neg = (1 - targets) * p_neg.pow(self.gamma_neg) * torch.log((1 - p_neg).clamp(min=self.eps))
        return -(pos + neg).sum(dim=1).mean()


def make_loss(cfg) -> nn.Module:
    """The loss of ``cfg.loss``: ``soft_margin`` (the paper's multi-label soft margin), ``bce``, ``asl``."""
    if cfg.loss == "soft_margin":
        return nn.MultiLabelSoftMarginLoss()
    if cfg.loss == "bce":
        return nn.BCEWithLogitsLoss()
    if cfg.loss == "asl":
        return AsymmetricLoss(cfg.asl_gamma_neg, cfg.asl_gamma_pos, cfg.asl_clip)
    raise ValueError(f"loss must be soft_margin, bce or asl, got {cfg.loss!r}")
