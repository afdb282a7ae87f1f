"""The COCO-shaped benchmark's generator, timed: the max-ent label model's fit (moment matching,
4,000 persistent Gibbs chains, 1,500 sweeps), 50,000 independent draws with one worker process vs
two side by side (the draws are bit-identical: each chunk has its own random stream), and the
rendering of scenes. A cold ``make book`` fits the model once and draws and renders 20,000 scenes;
the results are cached under ``.cache/coco_labels`` and ``.cache/coco_shaped``.

    .venv/bin/python benchmarks/coco_shaped.py [--draws 50000] [--scenes 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=50_000)
    ap.add_argument("--scenes", type=int, default=2000)
    args = ap.parse_args()
    os.environ["MLGCN_CACHE"] = tempfile.mkdtemp(prefix="mlgcn-bench-")  # cold: nothing cached
    from mlgcn_core.data import coco_labels, coco_shaped

    t = time.perf_counter()
    model = coco_labels.fit_label_model()
    fit = time.perf_counter() - t
    times, draws = {}, {}
    for workers in (1, 2):
        t = time.perf_counter()
        draws[workers] = coco_labels.draw_labels(model, args.draws, seed=0, workers=workers)  # (n, 80)
        times[workers] = time.perf_counter() - t
    t = time.perf_counter()
    cfg = coco_shaped.CocoShapedConfig(n_train=args.scenes, n_val=1, n_test=1)
    coco_shaped.generate(cfg)
    render = time.perf_counter() - t
    structure = coco_labels.label_structure(draws[1])
    print(f"fit {fit:.1f} s | {args.draws:,} draws: 1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s "
          f"(ratio {times[1] / times[2]:.2f}×, identical: {np.array_equal(draws[1], draws[2])}) | "
          f"{args.scenes:,} scenes drawn and rendered {render:.1f} s")
    print("fidelity of the draws:", {k: round(v, 3) for k, v in structure.items()})


if __name__ == "__main__":
    main()
