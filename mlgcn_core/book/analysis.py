"""Looking inside finished runs: scores on a split, the learned classifiers W, retrieval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.sources import load_splits
from ..distributed import loader_workers
from ..features import extract_dataset_features, extract_features
from ..inference import model_from_checkpoint
from ..io import atomic_path
from ..runs import RunResult


@torch.no_grad()
def run_outputs(run: RunResult, split: str = "test", device: str | None = None) -> dict[str, np.ndarray]:
    """For a finished run: ``scores`` (n, C) logits, ``targets`` (n, C), ``features`` (n, D) pooled
    image features, on ``split``. Features mode reads the cached backbone features; end2end mode
    runs the run's own fine-tuned backbone over the images, batch by batch on ``device`` (default:
    the run's device when available, else the CPU), and keeps the result beside the run
    (``outputs-<split>.npz``, tied to its ``model.pt``) so later chapters do not recompute it."""
    cfg = run.config
    if device is None:
        device = cfg.device if cfg.device == "cpu" or torch.cuda.is_available() else "cpu"
    weights = run.path / "model.pt"
    stamp = f"{weights.stat().st_size}-{weights.stat().st_mtime_ns}"
    cache = run.path / f"outputs-{split}.npz"
    if cfg.mode == "end2end" and cache.is_file():
        z = np.load(cache)
        if str(z["stamp"]) == stamp:
            return {k: z[k] for k in ("scores", "targets", "features")}
    model, _, _ = model_from_checkpoint(weights, device, images=cfg.mode != "features")
    splits = load_splits(cfg)
    ds = {"train": splits.eval_train, "val": splits.val, "test": splits.test}[split]
    if cfg.mode == "features":
        f, y, _ = extract_dataset_features(cfg, {split: ds}, splits.key, progress=False)[split]
    else:
        arrays = extract_features(model.backbone, ds, batch_size=cfg.batch_size, device=device,
                                  workers=loader_workers(cfg.workers), progress=False)
        f, y = torch.from_numpy(arrays[cfg.pooling]), torch.from_numpy(arrays["targets"])  # (n, D), (n, C)
    out = {"scores": model.head(f.to(device)).float().cpu().numpy(), "targets": y.numpy().astype(np.int64),
           "features": f.numpy()}
    if cfg.mode == "end2end":  # (features mode: the backbone features are cached already)
        with atomic_path(cache) as tmp:
            np.savez(tmp, stamp=np.array(stamp), **out)
    return out


def probabilities(run: RunResult, split: str = "test") -> np.ndarray:
    """(n, C) label probabilities (sigmoid of the logits) of a finished run on ``split``."""
    return 1 / (1 + np.exp(-run_outputs(run, split)["scores"]))


@torch.no_grad()
def classifiers(run: RunResult) -> np.ndarray:
    """The learned per-label classifiers W (C × D): GCN output (ML-GCN) or linear weights (baseline)."""
    model, _, _ = model_from_checkpoint(run.path / "model.pt", images=False)
    return model.classifiers().numpy()


def cooccurrence_agreement(vectors: np.ndarray, train_positives: np.ndarray) -> float:
    """How well per-label vectors (C, D) follow the labels' co-occurrence (Fig. 8a's claim, as a
    number): the Spearman correlation, over label pairs i < j, between the cosine similarity of
    the two vectors and the symmetric co-occurrence rate (P(L_j|L_i) + P(L_i|L_j)) / 2 (Eq. 6) on
    the training labels (n, C)."""
    from scipy.stats import spearmanr

    from ..graph import conditional_probability, cooccurrence

    P = conditional_probability(*cooccurrence(train_positives))  # (C, C)
    z = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    iu = np.triu_indices(len(P), 1)
    return float(spearmanr((z @ z.T)[iu], ((P + P.T) / 2)[iu]).statistic)


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
    rows, neighbours, shared_done = [], {}, False
    for name, rs in runs.items():
        for r in rs:
            out = run_outputs(r)
            by_probs = nearest(1 / (1 + np.exp(-out["scores"])), k)  # (n_test, k)
            neighbours.setdefault(name, by_probs)
            rows.append({"variant": f"{name}: label probabilities", "seed": r.config.seed,
                         **retrieval_scores(by_probs, out["targets"])})
            shared = r.config.mode == "features"
            if not (shared and shared_done):
                shared_done = shared_done or shared
                rows.append({"variant": "pooled features (shared)" if shared else f"{name}: pooled features",
                             "seed": -1 if shared else r.config.seed,
                             **retrieval_scores(nearest(out["features"], k), out["targets"])})
    return pd.DataFrame(rows), neighbours


@torch.no_grad()
def reachability(head, w_target) -> dict:
    """The expressiveness argument, numerically: can the ML-GCN head ``head`` (a
    :class:`~mlgcn_core.models.GCNHead`) express the classifier matrix ``w_target`` (C × D)?

    The head's classifiers are W = Â·H·W_last (Eq. 2 for the last layer): H (C × hidden) is the
    last layer's input (the word vectors through the earlier layers and LeakyReLU), Â the
    propagation matrix. When Â·H has rank C (hidden ≥ C and Â invertible), every C × D matrix is
    Â·H·X for some X, so the graph changes the parameterization — how training reaches a
    classifier — not which classifiers the head can express. Returns ``rank`` (of Â·H, float64),
    ``C``, ``hidden``, and ``residual`` = ‖Â·H·W_last − w_target‖ / ‖w_target‖ for the
    least-squares W_last = lstsq(Â·H, w_target) (≈ 1e-15 … 1e-6 when reachable)."""
    gcn = head.gcn
    h = head.word_vectors  # (C, d)
    for layer in gcn.layers[:-1]:
        h = gcn.act(layer(h, head.adj_hat))  # (C, hidden)
    ah = (head.adj_hat.double() @ h.double()).numpy()  # (C, hidden) Â·H
    w = np.asarray(w_target, dtype=np.float64)  # (C, D)
    if w.shape[0] != ah.shape[0]:
        raise ValueError(f"w_target has {w.shape[0]} rows, the head has {ah.shape[0]} labels")
    w_last, *_ = np.linalg.lstsq(ah, w, rcond=None)  # (hidden, D)
    residual = float(np.linalg.norm(ah @ w_last - w) / np.linalg.norm(w))
    return {"rank": int(np.linalg.matrix_rank(ah)), "C": int(ah.shape[0]), "hidden": int(ah.shape[1]),
            "residual": residual}


def expressiveness(mlgcn_run: RunResult, baseline_run: RunResult) -> dict:
    """:func:`reachability` of a trained baseline's classifier matrix (its linear head's weight,
    C × D; the bias, which ML-GCN's head lacks, aside) by a trained ML-GCN run's head, both read
    from their ``model.pt``. Also ``own_residual``: the same fit of the ML-GCN run's own
    classifiers (a check of the decomposition W = Â·H·W_last; ≈ 0)."""
    model, cfg, _ = model_from_checkpoint(mlgcn_run.path / "model.pt", images=False)
    if cfg.model != "mlgcn":
        raise ValueError(f"{mlgcn_run.path}: not an ML-GCN run (model={cfg.model!r})")
    out = reachability(model.head, classifiers(baseline_run))
    out["own_residual"] = reachability(model.head, model.classifiers().detach().numpy())["residual"]
    return out
