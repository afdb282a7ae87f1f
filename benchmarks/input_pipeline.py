"""Input pipeline: images/s of the paper's 448 training transform on real JPEG files, with 0, 1 and
2 DataLoader workers side by side, and the rate a GPU training ResNet-101 @ 448 would need.

The files: ``--n`` JPEGs (default 64) of the embedded benchmark's Fashion-MNIST outfit scenes,
upscaled to 500 × 375 like a VOC photo, with mild noise so that the files are photo-sized (decoding
cost grows with the entropy-coded data) — the mean file size is printed beside VOC's (~100 KB).
Each image goes through ``mlgcn_core.data.images.MultiLabelImages`` with ``train_transform(448)``
(decode → MultiScaleCrop → flip → normalize), batched by 16 (the presets' batch), exactly as
``train.Engine`` loads real datasets (``pin_memory`` only matters on CUDA).

The GPU rate (``--need``, images/s): by default an estimate for one A100 training ResNet-101 @ 448
with AMP + channels_last: ResNet-50 @ 224 reaches ~2,600 images/s there (timm ``benchmark.py``,
huggingface/pytorch-image-models issue #1491), and ResNet-101 @ 448 costs 7.8 / 4.1 GFLOPs
(torchvision's model tables) × 4 (pixels) ≈ 7.6× more per image → ≈ 340 images/s. Measure yours
with ``benchmarks/train_throughput.py --device cuda`` and pass it as ``--need``.

    .venv/bin/python benchmarks/input_pipeline.py [--n 64] [--epochs 2] [--workers 0 1 2] [--need 340]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mlgcn_core.data import SMOKE, load_outfits
from mlgcn_core.data.images import MultiLabelImages, train_transform

RESNET50_224_A100 = 2600.0  # images/s, AMP + channels_last (timm issue #1491)
COST_RATIO = 7.8 / 4.1 * 4  # ResNet-101 @ 448 vs ResNet-50 @ 224 (GFLOPs × pixels)


def write_jpegs(folder: Path, n: int, size=(500, 375)) -> tuple[list[Path], np.ndarray]:
    data = load_outfits(SMOKE)["train"]
    rng = np.random.default_rng(0)
    paths = []
    for k in range(n):
        img = Image.fromarray(data["images"][k % len(data["images"])]).convert("RGB").resize(size, Image.BICUBIC)
        arr = np.asarray(img).astype(np.int16) + rng.normal(0, 12, (size[1], size[0], 3)).astype(np.int16)
        p = folder / f"{k:06d}.jpg"
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(p, format="JPEG", quality=90)
        paths.append(p)
    labels = np.where(data["labels"][np.arange(n) % len(data["labels"])] == 1, 1, -1)
    return paths, labels


def rate(ds, workers: int, epochs: int, batch: int = 16) -> float:
    """Images/s over ``epochs`` passes after one warm-up pass (workers start, files in page cache)."""
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    for _ in loader:  # warm-up
        pass
    t0, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for x, _y, _d in loader:
            seen += len(x)
    return seen / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="JPEG files")
    ap.add_argument("--epochs", type=int, default=2, help="timed passes per setting")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--need", type=float, default=RESNET50_224_A100 / COST_RATIO,
                    help="images/s the GPU trains (default: the A100 estimate in the docstring)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # each loader process decodes with one thread, as DataLoader workers do
    with tempfile.TemporaryDirectory() as tmp:
        paths, labels = write_jpegs(Path(tmp), args.n)
        kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
        ds = MultiLabelImages(paths, labels, [f"c{i}" for i in range(labels.shape[1])], train_transform(448))
        x, _, _ = ds[0]
        print(f"{args.n} JPEGs 500×375 (mean {kb:.0f} KB; VOC 2007 ≈ 100 KB) → train_transform(448) "
              f"→ {tuple(x.shape)}; batch 16; {len(os.sched_getaffinity(0))} CPU cores visible")
        print(f"{'workers':>8s} {'images/s':>10s} {'vs 0':>6s} {'GPU need':>9s} {'fed?':>6s}")
        base = None
        for w in args.workers:
            r = rate(ds, w, args.epochs)
            base = base or r
            print(f"{w:8d} {r:10.1f} {r / base:5.2f}× {args.need:9.0f} {'yes' if r >= args.need else 'no':>6s}")
    print(f"GPU need: ResNet-101 @ 448 training ≈ {args.need:.0f} images/s (see the docstring's source); "
          f"workers needed at this machine's per-worker rate ≈ {args.need / base:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
