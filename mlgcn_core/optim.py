"""The optimization recipe of the official code: SGD with two parameter groups, a step schedule
with linear warm-up, and gradient clipping."""

from __future__ import annotations

import torch
from torch import nn


def make_optimizer(model, cfg) -> torch.optim.Optimizer:
    """SGD with two parameter groups: head at lr, backbone at lr·lrp (official recipe); a frozen
    backbone part (the top in front of a map head in features mode) is left out."""
    groups = [{"params": [p for p in model.head.parameters() if p.requires_grad], "lr": cfg.lr}]
    trained = [p for p in model.backbone.parameters() if p.requires_grad] if model.backbone is not None else []
    if trained:
        groups.append({"params": trained, "lr": cfg.lr * cfg.lrp})
    # fused: one pass over each parameter per step (the GCN's hidden × D weight dominates a head step)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           fused=True)


class _FloorGradient(torch.autograd.Function):
    """Identity forward; backward sets gradient entries with ``|g| < floor`` to 0."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, floor: float) -> torch.Tensor:
        ctx.floor = floor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return g.masked_fill(g.abs() < ctx.floor, 0.0), None


def floor_gradient(logits: torch.Tensor, floor: float) -> torch.Tensor:
    """``logits`` unchanged; in the backward pass, gradient entries smaller than ``floor`` in
    magnitude become 0 before they reach the head. A saturated sigmoid (a logit of −100 has
    σ ≈ 4e-44) gives the loss subnormal gradients; every matrix product they enter then runs on
    the CPU's slow subnormal path (a COCO-shaped GCN head's training epochs several times
    slower: ``benchmarks/grad_floor.py``). With a floor of 1e-30 nothing that counts is lost (float32's
    24-bit mantissa drops a 1e-30 term from any sum holding a term above 1e-22), but the last bits
    of the steps it touches change — and at a high lr, where training is chaotic, a run then drifts
    from its floor-0 twin as a run of another seed would: the floor is in the run key. Unlike the
    CPU's flush-to-zero mode it is the same on every thread and machine.
    ``floor`` 0: the gradient as it is."""
    if floor <= 0 or not logits.requires_grad:
        return logits
    return _FloorGradient.apply(logits, float(floor))  # (N, C)


def lr_factor(cfg, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the base lr at (0-based) ``epoch`` and ``step``: a linear warm-up over the
    first ``warmup_epochs`` (per step), then × lr_gamma at each epoch in ``lr_steps`` (1-based)."""
    decay = cfg.lr_gamma ** sum(epoch + 1 > s for s in cfg.lr_steps)
    if cfg.warmup_epochs and epoch < cfg.warmup_epochs:
        done = epoch * steps_per_epoch + step + 1
        return decay * done / (cfg.warmup_epochs * steps_per_epoch)
    return decay


def clip_gradients(parameters, max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_`` (the official recipe's ``clip_grad_norm(max_norm=10)``), bit for
    bit; on the CPU the gradients are left untouched when the clip coefficient clamps to 1
    (multiplying by 1.0 changes no bit), which saves one pass over the GCN's 1024 × D weight per
    step (``benchmarks/head_step.py``). On CUDA it is the library call (no host sync per step)."""
    params = [p for p in parameters if p.grad is not None]
    grads = [p.grad for p in params]
    if not grads or grads[0].device.type != "cpu":
        return nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    total = nn.utils.get_total_norm(grads, foreach=True)
    if float(max_norm / (total + 1e-6)) < 1.0:  # the library's clip coefficient, before its clamp
        nn.utils.clip_grads_with_norm_(params, max_norm, total, foreach=True)
    return total
