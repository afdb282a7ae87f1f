"""Training-step time of ML-GCN vs the same backbone with a linear head, side by side.

Same batch, same backbone (EfficientNet-Lite0, end to end), CPU. The GCN runs once per step on
the C label nodes, whatever the batch; its cost is fixed while the backbone's grows with batch
and image size. Settings: the embedded benchmark's head (10 classes, 50-d GloVe) and a COCO-sized
head (80 classes, 300-d) at two input sizes. Target ratio ML-GCN / linear ≤ 1.02.

    .venv/bin/python benchmarks/train_step.py [--batch 16] [--steps 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from mlgcn_core.backbones import build_backbone
from mlgcn_core.config import ExperimentConfig
from mlgcn_core.graph import build_adjacency, cooccurrence
from mlgcn_core.models import MLGCN, Baseline
from mlgcn_core.optim import make_optimizer


def step_time(model, x, y, steps: int) -> float:
    opt = make_optimizer(model, ExperimentConfig(lr=0.01))
    loss_fn = torch.nn.MultiLabelSoftMarginLoss()
    model.train()
    t = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
    return (time.perf_counter() - t) / steps


def compare(C: int, dim: int, size: int, batch: int, steps: int, repeat: int) -> dict[str, float]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    M, N = cooccurrence((rng.random((2000, C)) < 0.15).astype(int))
    A = build_adjacency(M, N, 0.4, 0.25, "official")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"linear head": Baseline(C, build_backbone("efficientnet_lite0")),
                  "ML-GCN": MLGCN(rng.standard_normal((C, dim)).astype(np.float32), A,
                                  build_backbone("efficientnet_lite0"))}
    x = torch.randn(batch, 3, size, size)
    y = (torch.rand(batch, C) < 0.1).float()
    times = {k: [] for k in models}
    for m in models.values():  # warm-up
        step_time(m, x, y, 2)
    for _ in range(repeat):  # interleaved, so drift affects both alike
        for name, m in models.items():
            times[name].append(step_time(m, x, y, steps))
    return {k: min(v) for k, v in times.items()}  # the least disturbed repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"EfficientNet-Lite0 end to end, batch {args.batch}, CPU ({torch.get_num_threads()} threads); "
          f"best of {args.repeat} × {args.steps} steps; target ratio ≤ 1.02")
    print(f"  {'head':30s} {'input':>6s} {'linear ms':>10s} {'ML-GCN ms':>10s} {'ratio':>7s}")
    for C, dim, size, label in ((10, 50, 112, "embedded (10 classes, 50-d)"),
                                (80, 300, 112, "COCO-sized (80 classes, 300-d)"),
                                (80, 300, 224, "COCO-sized (80 classes, 300-d)")):
        med = compare(C, dim, size, args.batch, args.steps, args.repeat)
        print(f"  {label:30s} {size:>4d}px {1000 * med['linear head']:10.1f} {1000 * med['ML-GCN']:10.1f} "
              f"{med['ML-GCN'] / med['linear head']:7.3f}")


if __name__ == "__main__":
    main()
