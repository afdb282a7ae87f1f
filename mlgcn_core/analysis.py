"""Looking inside finished runs: scores on a split, the learned classifiers W, retrieval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .data.sources import load_splits
from .features import extract_dataset_features
from .inference import model_from_checkpoint
from .train import RunResult


@torch.no_grad()
def run_outputs(run: RunResult, split: str = "test") -> dict[str, np.ndarray]:
    """For a finished run: ``scores`` (n, C) logits, ``targets`` (n, C), ``features`` (n, D) pooled
    image features, on ``split`` (cached features in features mode, images in end2end mode)."""
    cfg = run.config
    model, _, _ = model_from_checkpoint(run.path / "model.pt")
    splits = load_splits(cfg)
    ds = {"train": splits.eval_train, "val": splits.val, "test": splits.test}[split]
    if cfg.mode == "features":
        f, y, _ = extract_dataset_features(cfg, {split: ds}, splits.key, progress=False)[split]
    else:
        xs, ys = zip(*[(x, t) for x, t, _ in torch.utils.data.DataLoader(ds, batch_size=32)])
        f = torch.cat([model.features(x) for x in xs])
        y = torch.cat(ys)
    return {"scores": model.head(f).numpy(), "targets": y.numpy().astype(np.int64), "features": f.numpy()}


@torch.no_grad()
def classifiers(run: RunResult) -> np.ndarray:
    """The learned per-label classifiers W (C × D): GCN output (ML-GCN) or linear weights (baseline)."""
    model, _, _ = model_from_checkpoint(run.path / "model.pt")
    return model.classifiers().numpy()


def nearest(representation: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices (n, k) of each item's k nearest other items by cosine similarity."""
    z = representation / np.maximum(np.linalg.norm(representation, axis=1, keepdims=True), 1e-12)
    sim = z @ z.T  # (n, n)
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def retrieval_scores(neighbours: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """precision@k: share of retrieved images with ≥ 1 label of the query; mean Jaccard overlap
    of the label sets; exact@k: share with exactly the query's label set."""
    q = targets[:, None, :].astype(bool)  # (n, 1, C)
    r = targets[neighbours].astype(bool)  # (n, k, C)
    inter, union = (q & r).sum(-1), (q | r).sum(-1)
    return {"precision@k": float((inter > 0).mean()), "jaccard@k": float((inter / np.maximum(union, 1)).mean()),
            "exact@k": float((r == q).all(-1).mean())}


def retrieval(runs: dict[str, list[RunResult]], k: int = 5) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Fig. 7's retrieval over the test split, for each model (name → runs over seeds).

    Each test image queries the others by cosine similarity of (a) the model's label
    probabilities (sigmoid of the logits) and (b) its pooled image features: one row per model and
    seed when the backbone was fine-tuned (end2end), one shared row (seed −1) in features mode,
    where every head reads the same frozen features. Returns the tidy table (``variant``
    = representation, ``seed``, precision@k, jaccard@k, exact@k) and, per model, the first seed's
    neighbours by label probabilities, (n_test, k)."""
    rows, neighbours = [], {}
    for name, rs in runs.items():
        for r in rs:
            out = run_outputs(r)
            by_probs = nearest(1 / (1 + np.exp(-out["scores"])), k)  # (n_test, k)
            neighbours.setdefault(name, by_probs)
            rows.append({"variant": f"{name}: label probabilities", "seed": r.config.seed,
                         **retrieval_scores(by_probs, out["targets"])})
            shared = r.config.mode == "features"
            if not shared or not any(row["seed"] == -1 for row in rows):
                rows.append({"variant": "pooled features (shared)" if shared else f"{name}: pooled features",
                             "seed": -1 if shared else r.config.seed,
                             **retrieval_scores(nearest(out["features"], k), out["targets"])})
    return pd.DataFrame(rows), neighbours
