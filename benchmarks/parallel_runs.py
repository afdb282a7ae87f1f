"""Training several runs one after the other vs in parallel processes, side by side.

The book's chapters train many small runs (heads on cached features, CPU). This trains the same
``--runs`` configs (ML-GCN re-weighted, ``--epochs`` epochs, seeds 0…) with
``mlgcn_core.scheduler.run_many(jobs=1)`` (one process, all threads) and ``run_many(jobs=N)``
(N spawned processes, threads shared out), each into a fresh runs folder, and prints the wall
times, the speed-up and the largest test-mAP difference between the two (thread counts change
floating-point summation order, so small differences are expected). The defaults are chapter
02's setting (4 variants × 3 seeds, 20 epochs). Target: speed-up ≥ 1.3× on 2 cores, mAP
difference ≤ 0.1 (below the spread over seeds).

    .venv/bin/python benchmarks/parallel_runs.py [--runs 12] [--epochs 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from mlgcn_core.book.chapters import VARIANTS
from mlgcn_core.config import ExperimentConfig
from mlgcn_core.features import prepare_features
from mlgcn_core.scheduler import run_many


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    base = ExperimentConfig(epochs=args.epochs, lr_steps=[max(1, args.epochs * 2 // 3)],
                            **VARIANTS["ML-GCN (re-weighted)"])
    configs = [base.replace(seed=s) for s in range(args.runs)]
    prepare_features(base)  # both sides start from cached features
    times, maps = {}, {}
    for jobs in (1, args.jobs):
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            runs = run_many(configs, root, jobs=jobs)
            times[jobs] = time.perf_counter() - t0
            maps[jobs] = [r.metrics["mAP"] for r in runs]
    diff = max(abs(a - b) for a, b in zip(maps[1], maps[args.jobs]))
    print(f"{args.runs} runs × {args.epochs} epochs (features mode, CPU)")
    print(f"  jobs=1:        {times[1]:7.1f} s  ({times[1] / args.runs:.2f} s per run)")
    print(f"  jobs={args.jobs}:        {times[args.jobs]:7.1f} s  ({times[args.jobs] / args.runs:.2f} s per run)")
    print(f"  speed-up:      {times[1] / times[args.jobs]:7.2f}×")
    print(f"  max |Δ mAP|:   {diff:7.4f}  (test mAP per seed, jobs=1 vs jobs={args.jobs})")


if __name__ == "__main__":
    main()
