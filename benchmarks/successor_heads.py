"""One training step of every head of chapter 11 ("Where ML-GCN stands") on the COCO-shaped
benchmark's cached inputs (80 labels, batch 128): GMP and ML-GCN on the pooled vector (1,280), the
map heads on the frozen bottom's map (320 × 4 × 4) behind the frozen 1×1 top, each with its
recipe's optimizer — side by side on one thread, as ms per step and as a multiple of ML-GCN's.
The attention heads at the chapter's laptop widths (d 64, FF 256) and at the config's defaults
(d 256, FF 1,024); what a run of 1,880 steps then costs follows.

    .venv/bin/python benchmarks/successor_heads.py [--steps 10] [--repeat 2]

Measured on the 2-core build machine: see the README's "Benchmarks" table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mlgcn_core.config import load_preset
from mlgcn_core.data.catalog import class_names
from mlgcn_core.models import build_model
from mlgcn_core.optim import make_optimizer

HEADS = (("baseline (GMP)", dict(model="baseline")), ("ML-GCN (re-weighted)", dict(model="mlgcn")),
         ("CSRA", dict(model="csra")), ("Query2Label", dict(model="query2label", optimizer="adamw")),
         ("ML-Decoder", dict(model="mldecoder", optimizer="adamw")),
         ("Query2Label (graph queries)", dict(model="query2label_graph", optimizer="adamw")))
WIDTHS = {"laptop (d 64)": dict(q2l_d_model=64, q2l_ff=256, mld_d_model=64, mld_ff=256),
          "default (d 256)": {}}


def step_ms(fields: dict, steps: int) -> float:
    cfg = load_preset("coco_shaped", fields)
    rng = np.random.default_rng(0)
    positives = (rng.random((500, 80)) < 0.04).astype(np.int64)
    positives[0] = 1  # every label seen: the graph is defined
    names = class_names(cfg)  # COCO's 80 names: their GloVe vectors exist
    torch.manual_seed(0)
    model = build_model(cfg, positives, names, feature_dim=1280)
    opt = make_optimizer(model, cfg)
    x = torch.randn(128, 320, 4, 4) if model.takes_map else torch.randn(128, 1280)
    y = (torch.rand(128, 80) < 0.04).float()
    loss_fn = torch.nn.MultiLabelSoftMarginLoss()
    for i in range(steps + 2):
        if i == 2:
            t = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return 1000 * (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for label, widths in WIDTHS.items():
        for _ in range(args.repeat):
            got = {name: step_ms({**widths, **fields}, args.steps) for name, fields in HEADS}
            gcn = got["ML-GCN (re-weighted)"]
            print(f"{label}: " + "   ".join(f"{n} {ms:.1f} ms ({ms / gcn:.2f}×, {1.88 * ms:.0f} s per 1,880 steps)"
                                           for n, ms in got.items()))


if __name__ == "__main__":
    main()
