"""Table 1 with learned features: ML-GCN (re-weighted) against the GMP baseline when the top of the
backbone learns jointly with the classifier (``mode="top"``), as in the paper's end-to-end regime.

On frozen pooled features the label graph only re-parameterizes a linear head (the expressiveness
argument of "Does the graph help?"); here the backbone's final 1×1 ``conv_head`` (and BN) of
EfficientNet-Lite0 — the layer whose outputs are globally max-pooled into x — is trained by the
head's gradients, from cached maps of the frozen bottom (``features.extract_dataset_maps``). The
runs keep their last epoch at a fixed lr: short of convergence, they are shown, never judged, in
"Does the graph help?". Their cost and the measured numbers: ``benchmarks/top_finetune.py`` and
the README.
"""

from __future__ import annotations

from .chapters import chapter_config, run_variants

TRAINABLE_BLOCKS = 0  # conv_head + BN only: the one cut that fits 2 CPU cores (benchmarks/top_finetune.py)
EPOCHS = 8  # of the preset's 20 (lr step 15 → 6)
TRAIN_SCENES = 1000  # of the 6,000 (a seeded subset per run): 10 runs fit the book's budget on 2 cores
SEEDS = (0, 1, 2, 3, 4)
VARIANT_NAMES = ("baseline (GMP)", "ML-GCN (re-weighted)")


def learned_config(preset: str = "default", data_root: str = "", config: dict | None = None, seeds=SEEDS,
                   epochs: int = EPOCHS, trainable_blocks: int = TRAINABLE_BLOCKS, smoke: bool = False):
    """The chapters' base config (:func:`~mlgcn_core.book.chapters.chapter_config`, the same
    ``preset`` / ``data_root`` / ``config``) in top mode at the cut ``trainable_blocks`` for
    ``epochs`` on :data:`TRAIN_SCENES` training scenes (the final epoch, ``selection="last"``),
    channels_last (faster on CPU too, ``benchmarks/top_finetune.py``), and the seeds:
    ``(config, seeds)``. :data:`TRAIN_SCENES` is what fits the book's time budget on 2 cores (the
    README's measurements)."""
    fields = {"epochs": epochs, "train_scenes": TRAIN_SCENES, "selection": "last", **dict(config or {}),
              "mode": "top", "trainable_blocks": trainable_blocks, "channels_last": True}
    cfg, seeds = chapter_config(preset, data_root, fields, seeds, smoke_seeds=3, smoke=smoke)
    if cfg.train_scenes is not None and cfg.train_scenes >= cfg.outfits.n_train:  # e.g. the tiny smoke benchmark
        cfg = cfg.replace(train_scenes=None)  # a subset as large as the split is the split
    return cfg, seeds


def learned_feature_runs(preset: str = "default", data_root: str = "", config: dict | None = None,
                         seeds=SEEDS, epochs: int = EPOCHS, trainable_blocks: int = TRAINABLE_BLOCKS,
                         jobs: int = 2, smoke: bool = False) -> dict[str, list]:
    """Train (or read back) the GMP baseline and ML-GCN (re-weighted) in top mode for every seed:
    ``{variant: [RunResult per seed]}`` — for ``report.results_frame`` / ``report.mean_std`` and
    ``findings.paired_difference``. Arguments as :func:`learned_config`; ``jobs``: parallel
    processes on the CPU (``scheduler.run_many``)."""
    cfg, seeds = learned_config(preset, data_root, config, seeds, epochs, trainable_blocks, smoke)
    return run_variants(cfg, list(VARIANT_NAMES), seeds, jobs=jobs)


def learned_findings(runs: dict[str, list]) -> str:
    """The paired verdict of ML-GCN (re-weighted) − baseline (GMP) test mAP over the seeds."""
    from . import findings, report

    d = findings.paired_difference(report.results_frame(runs), *VARIANT_NAMES[::-1])
    return findings.verdict(d, "ML-GCN (re-weighted) − baseline (GMP), learned top (test mAP)",
                            claim="the paper's gain of ML-GCN over the GMP baseline")
