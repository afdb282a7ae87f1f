"""The gradient floor (``config.grad_floor``, ``optim.floor_gradient``) on the COCO-shaped head: one
SGD step of ML-GCN on cached features (80 labels, 1,280-d features, batch 128, the GCN 50 → 1,024
→ 1,280) where the loss saturates, as it does at the book's higher learning rates (logits of
±100: the soft-margin loss's gradient there is subnormal), with the floor off and at 1e-30, side
by side on one thread; and the share of the two runs' final weights that differ.

    .venv/bin/python benchmarks/grad_floor.py [--steps 200] [--repeat 3]

Measured on the 2-core build machine (one thread, nothing else running), see the README's
"Benchmarks" table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from mlgcn_core.models import MLGCN
from mlgcn_core.optim import floor_gradient


def train(floor: float, steps: int) -> tuple[float, list[torch.Tensor]]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((80, 50)).astype(np.float32)  # (C, d) word vectors
    a = (rng.random((80, 80)) < 0.05).astype(np.float64) + np.eye(80)  # (C, C) a sparse graph
    model = MLGCN(z, a, feature_dim=1280)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9, weight_decay=1e-4, fused=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(128, 1280, generator=g)  # (N, D) cached features
    y = (torch.rand(128, 80, generator=g) > 0.96).float()  # (N, C): ≈ 3 labels a scene
    with torch.no_grad():  # scale the features so the logits reach ±100: a saturated loss
        x *= 100.0 / model(x).abs().max()
    loss_fn = nn.MultiLabelSoftMarginLoss()
    t = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(floor_gradient(model(x), floor), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t) / steps, [p.detach().clone() for p in model.parameters()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for _ in range(args.repeat):
        off, w_off = train(0.0, args.steps)
        on, w_on = train(1e-30, args.steps)
        changed = sum(int((p != q).sum()) for p, q in zip(w_off, w_on)) / sum(p.numel() for p in w_off)
        rel = max(float((p - q).abs().max() / p.abs().max()) for p, q in zip(w_off, w_on))
        print(f"floor off {1000 * off:.2f} ms/step   floor 1e-30 {1000 * on:.2f} ms/step   ratio {on / off:.3f}   "
              f"weights changed: {100 * changed:.2f} %, largest change {rel:.1e} of the layer's largest weight")


if __name__ == "__main__":
    main()
