"""One SGD step of the ML-GCN head on cached features (the book's runs), gradient clipping by the
library call against ``optim.clip_gradients`` (which skips the multiply by 1.0 when nothing is
clipped), side by side on one thread, and the weights after both compared bit for bit.

    .venv/bin/python benchmarks/head_step.py [--steps 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from mlgcn_core.models import MLGCN
from mlgcn_core.optim import clip_gradients


def train(clip, steps: int) -> tuple[float, list[torch.Tensor]]:
    torch.manual_seed(0)
    z = np.random.default_rng(0).standard_normal((10, 50)).astype(np.float32)  # (C, d) word vectors
    model = MLGCN(z, np.eye(10), feature_dim=1280)  # the embedded benchmark's head: 1024 × 1280 last layer
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4, fused=True)
    x, y = torch.randn(128, 1280), (torch.rand(128, 10) > 0.7).float()  # (N, D), (N, C)
    loss_fn = nn.MultiLabelSoftMarginLoss()
    t = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip(model.parameters(), 10.0)
        opt.step()
    return (time.perf_counter() - t) / steps, [p.detach().clone() for p in model.parameters()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    library = lambda p, m: nn.utils.clip_grad_norm_(p, m, foreach=True)  # noqa: E731
    for _ in range(args.repeat):
        a, wa = train(library, args.steps)
        b, wb = train(clip_gradients, args.steps)
        same = all(torch.equal(p, q) for p, q in zip(wa, wb))
        print(f"library clip {1000 * a:.2f} ms/step   clip_gradients {1000 * b:.2f} ms/step   "
              f"ratio {b / a:.3f}   weights bit-identical: {same}")


if __name__ == "__main__":
    main()
