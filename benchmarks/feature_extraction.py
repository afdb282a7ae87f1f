"""Frozen-feature extraction on the CPU: one batch at a time on torch's threads vs batches side by
side in threads of one torch thread each (``features._in_order``), measured in one run.

Why: a cold ``make book`` extracts the embedded benchmark's features and top maps once
(EfficientNet-Lite0 at 112 px, 10,500 scenes), and that pass was 92 s of chapter 02's 198 s.
A small-batch forward of this light backbone hardly speeds up with threads inside each op, so
whole batches run side by side instead. The same ``features._extract`` with ``lanes=1`` (the
old serial pass) and ``lanes=`` torch's threads, on the first ``--n`` test scenes of the
default preset; it prints images/s, the ratio, and the largest difference between the two.

    .venv/bin/python benchmarks/feature_extraction.py [--n 960] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.data import Subset

from mlgcn_core.backbones import build_backbone
from mlgcn_core.config import load_preset
from mlgcn_core.data.sources import load_splits
from mlgcn_core.features import _extract, _pooled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=960)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    cfg = load_preset("default")
    ds = Subset(load_splits(cfg).test, range(args.n))
    net = build_backbone(cfg.backbone, cfg.weights, cfg.pooling)
    lanes = torch.get_num_threads()
    out, secs = {}, {}
    for name, k in (("serial", 1), ("side by side", lanes), ("serial again", 1)):
        t0 = time.perf_counter()
        out[name] = _extract(lambda x: _pooled(net.feature_map(x)), [net], ds, args.batch_size, "cpu", 0,
                             False, name, lanes=k)
        secs[name] = time.perf_counter() - t0
    print(f"{cfg.backbone} @ {cfg.image_size} px, {args.n} scenes, batch {args.batch_size}, "
          f"{torch.get_num_threads()} torch threads:")
    for name, s in secs.items():
        print(f"  {name:13s} {args.n / s:6.0f} images/s  ({s:.1f} s)")
    serial = (secs["serial"] + secs["serial again"]) / 2
    print(f"  ratio side by side / serial (mean of both serial runs): {serial / secs['side by side']:.2f}×")
    diff = max(float(np.abs(out["serial"][k] - out["side by side"][k]).max()) for k in ("max", "avg"))
    print(f"  largest |difference| of the pooled features: {diff:.2e} (float rounding: "
          f"{lanes} threads per op vs 1)")


if __name__ == "__main__":
    main()
