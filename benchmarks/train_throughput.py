"""ResNet-101 @ 448 training throughput (images/s) on synthetic data: fp32 vs mixed precision +
channels_last (+ torch.compile), side by side in one run.

On CUDA: fp32, bf16 autocast + channels_last, fp16 autocast + GradScaler + channels_last, and
optionally torch.compile. On CPU (no GPU here) the same code runs a smaller setting: fp32 vs
channels_last vs bf16 autocast on the CPU — say so when quoting it.

    .venv/bin/python benchmarks/train_throughput.py [--device cuda] [--size 448] [--batch 32] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np
import torch

from mlgcn_core.backbones import build_backbone
from mlgcn_core.config import ExperimentConfig
from mlgcn_core.graph import build_adjacency, cooccurrence
from mlgcn_core.models import MLGCN
from mlgcn_core.optim import make_optimizer


def run(device: str, size: int, batch: int, steps: int, precision: str, channels_last: bool,
        compile_: bool) -> float:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    M, N = cooccurrence((rng.random((2000, 80)) < 0.1).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLGCN(rng.standard_normal((80, 300)).astype(np.float32),
                      build_adjacency(M, N, 0.4, 0.25, "official"), build_backbone("resnet101", None))
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile_ else model
    opt = make_optimizer(model, ExperimentConfig(lr=0.1))
    scaler = torch.amp.GradScaler(device.split(":")[0], enabled=precision == "fp16")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    x = torch.randn(batch, 3, size, size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = (torch.rand(batch, 80, device=device) < 0.1).float()
    loss_fn = torch.nn.MultiLabelSoftMarginLoss()

    def step():
        ctx = torch.autocast(device.split(":")[0], dtype=dtype) if dtype else contextlib.nullcontext()
        with ctx:
            logits = net(x)
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        scaler.step(opt)
        scaler.update()

    for _ in range(2 if not compile_ else 3):  # warm-up (and compilation)
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", type=int, default=None, help="default: 448 on CUDA, 224 on CPU")
    ap.add_argument("--batch", type=int, default=None, help="default: 32 on CUDA, 4 on CPU")
    ap.add_argument("--steps", type=int, default=None, help="default: 20 on CUDA, 3 on CPU")
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile")
    args = ap.parse_args()
    cuda = args.device.startswith("cuda")
    size, batch = args.size or (448 if cuda else 224), args.batch or (32 if cuda else 4)
    steps = args.steps or (20 if cuda else 3)
    settings = [("fp32", False, False), ("fp32", True, False), ("bf16", True, False)]
    if cuda:
        settings.append(("fp16", True, False))
    if args.compile:
        settings.append(("bf16", True, True))
    print(f"ML-GCN ResNet-101 training, batch {batch} @ {size}px, {steps} steps, device {args.device}"
          + ("" if cuda else f" ({torch.get_num_threads()} CPU threads; no GPU: small setting)"))
    base = None
    for precision, cl, comp in settings:
        ips = run(args.device, size, batch, steps, precision, cl, comp)
        base = base or ips
        name = f"{precision}{' + channels_last' if cl else ''}{' + compile' if comp else ''}"
        print(f"  {name:32s}: {ips:8.2f} img/s   ({ips / base:.2f}× fp32)")


if __name__ == "__main__":
    main()
