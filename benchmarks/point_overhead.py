"""The cost of a sweep point around its training: a fresh kernel per point vs one warm kernel
(``mlgcn_core.book.notebook.KernelSession``), side by side in one run.

Why: an ablation point is chapter 02 run by papermill for one grid value; on the embedded
benchmark its training takes seconds, while a fresh kernel costs its start plus the notebook's
imports (torch, pandas, matplotlib, the package). The sweeps and the book's chapters therefore run
their notebooks one after another in a warm kernel, cleared between notebooks. This runs the real
``notebooks/02_train.ipynb`` ``--points`` times per way with runs that already exist (read back,
nothing trained), so what is timed is the per-point overhead alone.

    .venv/bin/python benchmarks/point_overhead.py [--points 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="point-overhead-"))
    os.environ.setdefault("MLGCN_RUNS", str(tmp / "runs"))  # inherited by the kernels
    from mlgcn_core.book.notebook import KernelSession, execute
    from mlgcn_core.paths import PROJECT_ROOT

    nb = PROJECT_ROOT / "notebooks" / "02_train.ipynb"
    params = {"variants": ["baseline (GMP)"], "seeds": [0], "learned_table": False,
              "config": {"epochs": 1, "lr_steps": [1]}}
    execute(nb, tmp / "warmup.ipynb", params)  # trains the one run (and caches features) once
    times = {}
    t0 = time.perf_counter()
    for i in range(args.points):
        execute(nb, tmp / f"cold{i}.ipynb", params)
    times["fresh kernel per point"] = (time.perf_counter() - t0) / args.points
    with KernelSession(cwd=PROJECT_ROOT) as session:
        t0 = time.perf_counter()
        for i in range(args.points):
            execute(nb, tmp / f"warm{i}.ipynb", params, session=session)
        times["one warm kernel"] = (time.perf_counter() - t0) / args.points
    print(f"02_train as a sweep point, its run read back (nothing trained), {args.points} points each:")
    for k, v in times.items():
        print(f"  {k:24s} {v:6.2f} s per point")
    cold, warm = times.values()
    print(f"  ratio fresh / warm: {cold / warm:.2f}×  (saved per point: {cold - warm:.2f} s)")


if __name__ == "__main__":
    main()
