"""Per-epoch seconds of the three training regimes, side by side, on the embedded benchmark.

* ``features``: frozen EfficientNet-Lite0, cached pooled features, only the head learns;
* ``top`` (one row per cut): the backbone's last ``trainable_blocks`` MBConv blocks + its 1×1
  ``conv_head`` learn with the head, on cached maps of the frozen bottom;
* ``end2end``: the whole backbone learns on images.

One epoch = the training pass over ``n_train`` scenes + scoring the validation split, as
``train.run_experiment`` does, with the Engine training uses. The frozen-features row and the
FIRST cut of ``--cuts`` run whole epochs on the real caches; the other cuts and end2end run the
same Engine on the first ``--partial-batches`` training batches and two validation batches (their
own small caches) and are EXTRAPOLATED to a whole epoch (labelled so). Cache extraction is not
part of an epoch. ML-GCN head, batch 128, ``--threads`` torch threads (1: a process of
``run_many(jobs=2)`` on 2 cores); end2end: ``--e2e-threads`` (2: run_many trains it alone).

    .venv/bin/python benchmarks/top_finetune.py [--n-train 6000] [--cuts 0,1,2] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from mlgcn_core import distributed as D
from mlgcn_core.config import load_preset
from mlgcn_core.data import OutfitsConfig
from mlgcn_core.data.sources import Splits, load_splits
from mlgcn_core.train import Engine


def first_batches(splits: Splits, batches: int, batch_size: int) -> Splits:
    """The first ``batches`` training batches and two validation / one test batch of ``splits``,
    under their own cache key (a partial epoch, extrapolated)."""
    n, n_val = batches * batch_size, 2 * batch_size
    sub = lambda ds, k: torch.utils.data.Subset(ds, list(range(min(k, len(ds)))))  # noqa: E731
    return dataclasses.replace(splits, train=sub(splits.train, n), eval_train=sub(splits.eval_train, n),
                               val=sub(splits.val, n_val), test=sub(splits.test, batch_size),
                               train_positives=splits.train_positives[:n],
                               key=f"{splits.key}-first{n}-{n_val}")


def epoch_seconds(cfg, splits: Splits, partial_batches: int | None) -> dict:
    """Seconds of one epoch (train + validation scoring) of ``cfg``; ``partial_batches``: time that
    many training batches and two validation batches, extrapolated to the whole splits."""
    run_on = first_batches(splits, partial_batches, cfg.batch_size) if partial_batches else splits
    t = time.perf_counter()
    eng = Engine(cfg, run_on, D.Context(), progress=False)
    setup = time.perf_counter() - t
    t = time.perf_counter()
    eng.train_one_epoch(0, "(benchmark)")
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    eng.evaluate("val")
    val_s = time.perf_counter() - t
    if partial_batches:
        train_s *= len(splits.train) / len(run_on.train)
        val_s *= len(splits.val) / len(run_on.val)
    return {"setup_s": setup, "train_s": train_s, "val_s": val_s, "epoch_s": train_s + val_s,
            "extrapolated": bool(partial_batches),
            "trainable_params": sum(p.numel() for p in eng.model.parameters() if p.requires_grad)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=6000)
    ap.add_argument("--image-size", type=int, default=112)
    ap.add_argument("--cuts", default="0,1", help="trainable_blocks values of top mode, comma-separated")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--partial-batches", type=int, default=3)
    ap.add_argument("--e2e-threads", type=int, default=2,
                    help="threads of the end2end row (run_many trains end2end runs one at a time)")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                    help="NHWC for the top's and end2end's convolutions (1.4× on CPU for the top)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = load_preset("default").replace(
        outfits=OutfitsConfig(n_train=a.n_train), image_size=a.image_size)
    # top rows first: their cache extraction also writes the pooled features the features row reads
    partial = a.partial_batches
    rows = [(f"top: trainable_blocks={k}" + (" (conv_head only)" if k == 0 else " + conv_head"),
             base.replace(mode="top", trainable_blocks=k, channels_last=a.channels_last), partial if i else None)
            for i, k in enumerate(map(int, a.cuts.split(",")))]
    rows.append(("features (frozen, head only)", base, None))
    rows.append(("end2end (whole backbone)", base.replace(mode="end2end", channels_last=a.channels_last),
                 partial))
    splits = load_splits(base)
    print(f"{a.n_train} training scenes, {len(splits.val)} validation, {a.image_size} px, ML-GCN head, "
          f"batch {base.batch_size}, {a.threads} thread(s)")
    print(f"{'regime':42s} {'trainable':>10s} {'train s':>8s} {'val s':>7s} {'epoch s':>8s}  note")
    for name, cfg, part in rows:
        torch.set_num_threads(a.e2e_threads if cfg.mode == "end2end" else a.threads)
        r = epoch_seconds(cfg, splits, part)
        note = f"whole epoch; setup {r['setup_s']:.0f} s (cache extraction when not cached)"
        if r["extrapolated"]:
            note = f"EXTRAPOLATED from {part} train batches + 2 val batches"
        if cfg.mode == "end2end":
            note += f", {a.e2e_threads} thread(s)"
        print(f"{name:42s} {r['trainable_params']:>10,d} {r['train_s']:8.2f} {r['val_s']:7.2f} "
              f"{r['epoch_s']:8.2f}  {note}", flush=True)


if __name__ == "__main__":
    main()
