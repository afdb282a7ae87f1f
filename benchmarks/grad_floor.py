"""The gradient floor (``config.grad_floor``, ``optim.floor_gradient``) on the book's own runs: the
training epochs of one COCO-shaped ML-GCN run (cached EfficientNet-Lite0 features, 3,000 training
scenes, batch 128, lr 0.08 — chapter 04's public-statistics regime at its GCN heads' pick), with
the floor off and at 1e-30, side by side on one thread; and the two runs' validation mAP after
them (the floor changes the last bits of some steps; at this lr training is chaotic, so the two
runs drift apart as runs of two seeds do).

    MLGCN_FASHION_MNIST=… .venv/bin/python benchmarks/grad_floor.py [--epochs 8] [--repeat 2]

Measured on the 2-core build machine: see the README's "Benchmarks" table.
"""

from __future__ import annotations

import argparse
import time

import torch

from mlgcn_core import distributed
from mlgcn_core.config import load_preset
from mlgcn_core.data.sources import load_splits
from mlgcn_core.train import Engine, seed_everything


def train(floor: float, epochs: int) -> tuple[float, float]:
    """Seconds per epoch of training and the validation mAP after ``epochs`` epochs."""
    cfg = load_preset("coco_shaped").replace(model="mlgcn", train_scenes=3000, epochs=39, lr_steps=(29,),
                                             lr=0.08, grad_floor=floor)
    seed_everything(cfg.seed)
    engine = Engine(cfg, load_splits(cfg), distributed.setup(cfg.device), progress=False)
    t = time.perf_counter()
    for epoch in range(epochs):
        engine.train_one_epoch(epoch, "(none)")
    seconds = (time.perf_counter() - t) / epochs
    return seconds, engine.evaluate("val")["mAP"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for _ in range(args.repeat):
        off, map_off = train(0.0, args.epochs)
        on, map_on = train(1e-30, args.epochs)
        print(f"floor off {off:.2f} s/epoch (val mAP {map_off:.2f})   floor 1e-30 {on:.2f} s/epoch "
              f"(val mAP {map_on:.2f})   ratio {on / off:.3f}")


if __name__ == "__main__":
    main()
