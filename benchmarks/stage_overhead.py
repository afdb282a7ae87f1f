"""What a tuned cell pays besides training: chapter 04 and every sweep point call
``scheduler.run_many`` once per stage (the lr grid, the doubled pick, the other seeds), each with
two one-thread workers. Side by side on the book's own runs (COCO-shaped outfits, 3,000 training
scenes, ML-GCN re-weighted, 3 epochs — short, so the overhead shows):

* ``fresh``: new workers for every call (what ``run_many`` did: each spawned process imported
  torch and read the caches again);
* ``kept``: the workers kept between calls (``scheduler._workers``).

And what a process pays to open the scene cache: every array read (what ``load_npz`` did: the
images decompressed, hundreds of MB) against the labels alone (``io.NpzArrays``: the images are
read only to extract features).

    MLGCN_FASHION_MNIST=… .venv/bin/python benchmarks/stage_overhead.py [--stages 4]

Measured on the 2-core build machine: see the README's "Benchmarks" table.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from mlgcn_core import io, scheduler
from mlgcn_core.config import load_preset
from mlgcn_core.data.catalog import load_scenes


def stages(n: int, fresh: bool, root: str) -> float:
    """Seconds for ``n`` calls of run_many, two new runs each."""
    base = load_preset("coco_shaped").replace(train_scenes=3000, epochs=3, lr_steps=(2,))
    t = time.perf_counter()
    for i in range(n):
        if fresh and scheduler._POOL is not None:
            scheduler._POOL[1].shutdown()
            scheduler._POOL = None
        scheduler.run_many([base.replace(seed=100 * i + s) for s in (0, 1)], root, jobs=2)
    return time.perf_counter() - t


def open_scenes(every_array: bool) -> float:
    cfg = load_preset("coco_shaped")
    io._NPZ.clear()
    t = time.perf_counter()
    data = load_scenes(cfg)
    if every_array:
        for arrays in data.values():
            for k in arrays:
                np.asarray(arrays[k])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", type=int, default=4)
    args = ap.parse_args()
    load_scenes(load_preset("coco_shaped"))  # generated and cached, if not yet
    every, labels = open_scenes(True), open_scenes(False)
    print(f"open the COCO-shaped scene cache: every array {every:.2f} s, labels only {labels:.2f} s")
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        fresh = stages(args.stages, True, a)
        kept = stages(args.stages, False, b)
    print(f"{args.stages} stages of 2 runs (3 epochs) on 2 workers: fresh workers each stage {fresh:.1f} s, "
          f"kept workers {kept:.1f} s   ratio {kept / fresh:.2f}")


if __name__ == "__main__":
    main()
