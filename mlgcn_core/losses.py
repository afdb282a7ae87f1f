"""Multi-label losses on logits (N, C) and {0,1} targets (N, C), one registry entry each.

torch is imported when a loss is built, not with this module: the config checks its ``loss``
against :data:`LOSSES` without loading torch.
"""

from __future__ import annotations

from .registry import Registry

LOSSES = Registry("loss")


class AsymmetricLoss:
    """ASL (Ridnik et al., ICCV 2021): with p = σ(x) and the shifted probability of a negative
    p_m = max(p − m, 0) (m = ``clip``), L+ = (1 − p)^γ+ · log p and L− = p_m^γ− · log(1 − p_m);
    the loss is −Σ (y L+ + (1 − y) L−), summed over classes and averaged over the batch (the
    official class sums over the batch too: the same loss × batch size). The official code writes it
    as w · (y log p + (1 − y) log p_neg) with p_neg = min(1 − p + m, 1) = 1 − p_m and the weight
    w = (1 − p_t)^(γ+ y + γ− (1 − y)), p_t = y p + (1 − y) p_neg — the same values. ``weight_grad``:
    whether w is differentiated (True: this package's ASL from the start, and Query2Label's
    default), or computed without gradient (False: ASL's official class and training script,
    ``disable_torch_grad_focal_loss=True``). No parameters of its own."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05,
                 eps: float = 1e-8, weight_grad: bool = True):
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps
        self.weight_grad = weight_grad

    def __call__(self, logits, targets):
        import torch

        p = torch.sigmoid(logits.float())  # (N, C)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p  # (N, C) p_m, the shifted probability
        w_pos, w_neg = (1 - p).pow(self.gamma_pos), p_neg.pow(self.gamma_neg)  # (N, C) focusing weights
        if not self.weight_grad:
            w_pos, w_neg = w_pos.detach(), w_neg.detach()
        pos = targets * w_pos * torch.log(p.clamp(min=self.eps))
        neg = (1 - targets) * w_neg * torch.log((1 - p_neg).clamp(min=self.eps))
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


@LOSSES.register("asl", reads=("asl_gamma_neg", "asl_gamma_pos", "asl_clip", "asl_weight_grad"))
def asl(cfg):
    return AsymmetricLoss(cfg.asl_gamma_neg, cfg.asl_gamma_pos, cfg.asl_clip, weight_grad=cfg.asl_weight_grad)


def make_loss(cfg):
    """The loss of ``cfg.loss`` (a :data:`LOSSES` entry)."""
    return LOSSES.build(cfg)
