"""Multi-label losses on logits (N, C) and {0,1} targets (N, C), one registry entry each.

torch is imported when a loss is built, not with this module: the config checks its ``loss``
against :data:`LOSSES` without loading torch.
"""

from __future__ import annotations

from .registry import Registry

LOSSES = Registry("loss")


class AsymmetricLoss:
    """ASL (Ridnik et al., ICCV 2021): focusing γ+ / γ− and a probability margin (clip) on the
    negatives. Summed over classes, averaged over the batch. No parameters of its own."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05,
                 eps: float = 1e-8):
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps

    def __call__(self, logits, targets):
        import torch

        p = torch.sigmoid(logits.float())  # (N, C)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p  # shifted probability
        pos = targets * (1 - p).pow(self.gamma_pos) * torch.log(p.clamp(min=self.eps))
        neg = (1 - targets) * p_neg.pow(self.gamma_neg) * torch.log((1 - p_neg).clamp(min=self.eps))
        return -(pos + neg).sum(dim=1).mean()


@LOSSES.register("soft_margin")
def soft_margin(cfg):
    """The paper's multi-label soft-margin loss."""
    from torch import nn

    return nn.MultiLabelSoftMarginLoss()


@LOSSES.register("bce")
def bce(cfg):
    from torch import nn

    return nn.BCEWithLogitsLoss()


@LOSSES.register("asl", reads=("asl_gamma_neg", "asl_gamma_pos", "asl_clip"))
def asl(cfg):
    return AsymmetricLoss(cfg.asl_gamma_neg, cfg.asl_gamma_pos, cfg.asl_clip)


def make_loss(cfg):
    """The loss of ``cfg.loss`` (a :data:`LOSSES` entry)."""
    return LOSSES.build(cfg)
