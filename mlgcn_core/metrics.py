"""Multi-label metrics with the semantics of the official ``AveragePrecisionMeter``.

mAP (non-interpolated AP per class, mean over classes), CP, CR, CF1 (per-class
precision/recall averaged over classes), OP, OR, OF1 (counts pooled over classes),
each also for the top-k labels of every image (paper Table 1 reports k = 3).
Everything is vectorized over classes and images (see ``benchmarks/metrics_speed.py``).
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

Array = np.ndarray


def _validate(scores, targets, difficult) -> tuple[Array, Array, Array]:
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (images × classes), got shape {scores.shape}")
    if targets.shape != scores.shape:
        raise ValueError(
            f"targets shape {targets.shape} does not match scores shape {scores.shape}"
        )
    if np.isnan(scores).any():
        rows = np.unique(np.nonzero(np.isnan(scores))[0])[:5].tolist()
        raise ValueError(f"scores contain NaN (first rows: {rows})")
    if not ((targets == 0) | (targets == 1)).all():
        raise ValueError("targets must contain only 0 and 1 (mark difficult labels with `difficult`)")
    if difficult is None:
        difficult = np.zeros(scores.shape, dtype=bool)
    else:
        difficult = np.asarray(difficult, dtype=bool)
        if difficult.shape != scores.shape:
            raise ValueError(
                f"difficult shape {difficult.shape} does not match scores shape {scores.shape}"
            )
    return scores, targets.astype(bool), difficult


def average_precision(scores, targets, difficult=None, class_names=None) -> Array:
    """Per-class non-interpolated AP in [0, 1], shape (C,).

    For class c, images are sorted by score (descending); difficult entries are
    skipped; AP_c = mean over positives of precision at the positive's rank.
    A class without (non-difficult) positives gets NaN and a warning naming it.
    """
    scores, pos, diff = _validate(scores, targets, difficult)
    return _average_precision(scores, pos, diff, class_names)


def _ranked_positives(scores: Array, pos_t: Array) -> tuple[Array, Array]:
    """Per class, the items sorted by score (best first) and which of them are positives.

    Classes are split into two halves sorted on two threads (NumPy releases the GIL in sort).
    """
    neg_t = np.ascontiguousarray(-scores.T)  # (C, n): contiguous rows sort fastest
    order = np.empty(neg_t.shape, dtype=np.intp)
    tp = np.empty(neg_t.shape, dtype=bool)

    def work(sl: slice) -> None:
        order[sl] = np.argsort(neg_t[sl], axis=1)
        tp[sl] = np.take_along_axis(pos_t[sl], order[sl], axis=1)

    C = neg_t.shape[0]
    if C * neg_t.shape[1] < 200_000 or C < 2:
        work(slice(None))
    else:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, (slice(0, C // 2), slice(C // 2, C))))
    return order, tp


def _topk_mask(scores: Array, k: int) -> Array:
    """(n, C) bool: the k highest scores of each image (ties → lower class index first)."""
    work = scores.copy()
    mask = np.zeros(scores.shape, dtype=bool)
    rows = np.arange(scores.shape[0])
    for _ in range(k):  # k passes of a row-wise argmax
        j = work.argmax(axis=1)
        mask[rows, j] = True
        work[rows, j] = -np.inf
    return mask


def _average_precision(scores: Array, pos: Array, diff: Array, class_names=None) -> Array:
    n, C = scores.shape
    valid = ~diff.T  # (C, n)
    order, tp = _ranked_positives(scores, pos.T & valid)  # (C, n) each
    cls, rank = np.nonzero(tp)  # row-major: grouped by class, ascending rank
    n_pos = np.bincount(cls, minlength=C)  # (C,)
    start = np.concatenate(([0], np.cumsum(n_pos)[:-1]))  # (C,)
    hits = np.arange(cls.size) - start[cls] + 1.0  # positives ranked at or above each positive
    if diff.any():  # difficult entries are skipped: they do not count in the rank
        seen = np.cumsum(np.take_along_axis(valid, order, axis=1), axis=1)  # (C, n)
        above = seen[cls, rank].astype(np.float64)
    else:
        above = rank + 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.bincount(cls, weights=hits / above, minlength=C) / n_pos  # (C,)
    empty = np.flatnonzero(n_pos == 0)
    if empty.size:
        names = [class_names[i] if class_names is not None else int(i) for i in empty]
        warnings.warn(
            f"classes without positives get AP = NaN and are left out of mAP: {names}",
            RuntimeWarning,
            stacklevel=3,
        )
    return ap


def _prf(pred: Array, pos: Array, prefix: str, suffix: str) -> dict[str, float]:
    """CP, CR, CF1, OP, OR, OF1 (percent) from boolean predictions (n, C)."""
    n_correct = (pred & pos).sum(axis=0).astype(np.float64)  # (C,)
    n_pred = np.maximum(pred.sum(axis=0), 1).astype(np.float64)  # Np = 0 counts as 1
    n_gt = np.maximum(pos.sum(axis=0), 1).astype(np.float64)
    cp = float(np.mean(n_correct / n_pred))
    cr = float(np.mean(n_correct / n_gt))
    op = float(n_correct.sum() / max(pred.sum(), 1))
    orr = float(n_correct.sum() / max(pos.sum(), 1))
    f1 = lambda a, b: 2 * a * b / (a + b) if a + b > 0 else 0.0  # noqa: E731
    vals = {"CP": cp, "CR": cr, "CF1": f1(cp, cr), "OP": op, "OR": orr, "OF1": f1(op, orr)}
    return {f"{prefix}{k}{suffix}": 100.0 * v for k, v in vals.items()}


def evaluate(scores, targets, difficult=None, k: int = 3, class_names=None) -> dict:
    """All metrics of the paper's Table 1, in percent.

    Args:
        scores: logits, shape (n, C). A label is predicted when its logit ≥ 0.
        targets: {0,1}, shape (n, C).
        difficult: optional bool mask (n, C): skipped in AP, counted as negative
            (not a ground-truth positive) in CP…OF1, as the official meter does.
        k: top-k variant: a label counts as predicted only if it is among the
            image's k highest scores and its logit ≥ 0.
    Returns:
        dict with ``mAP``, ``CP``, ``CR``, ``CF1``, ``OP``, ``OR``, ``OF1``,
        ``CP_top{k}`` … ``OF1_top{k}`` (floats) and ``AP`` (per-class array, percent).
    """
    scores, pos, diff = _validate(scores, targets, difficult)
    if not (1 <= int(k) <= scores.shape[1]):
        raise ValueError(f"k must lie in [1, {scores.shape[1]}], got {k!r}")
    ap = _average_precision(scores, pos, diff, class_names)
    gt = pos & ~diff  # difficult counts as negative
    pred = scores >= 0  # (n, C)
    out: dict = {"mAP": 100.0 * float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")}
    out.update(_prf(pred, gt, "", ""))
    out.update(_prf(pred & _topk_mask(scores, k), gt, "", f"_top{k}"))
    out["AP"] = 100.0 * ap
    return out


METRIC_KEYS = ["mAP", "CP", "CR", "CF1", "OP", "OR", "OF1"]


def metric_keys(k: int = 3) -> list[str]:
    """The 13 scalar keys of :func:`evaluate`, in the paper's column order."""
    return METRIC_KEYS + [f"{m}_top{k}" for m in METRIC_KEYS[1:]]


FREQUENCY_BINS = ("head", "medium", "tail")


def frequency_bins(train_positives, bins: tuple[str, ...] = FREQUENCY_BINS) -> dict[str, Array]:
    """The labels split by how many training positives they have: ``{bin: label indices}``, the
    labels sorted by their count (most first, ties by index) and cut into ``len(bins)`` groups of
    equal size (the first groups one larger when C does not divide), so the bins partition the
    labels — on COCO's long tail, "tail" is the third with the fewest training images.
    ``train_positives``: (n, C) {0, 1} or the (C,) counts."""
    counts = np.asarray(train_positives)
    counts = counts.sum(axis=0) if counts.ndim == 2 else counts  # (C,)
    order = np.lexsort((np.arange(len(counts)), -counts))  # most positives first
    return {name: np.sort(part) for name, part in zip(bins, np.array_split(order, len(bins)))}


def map_by_bin(ap, bins: dict[str, Array]) -> dict[str, float]:
    """Mean of per-class ``ap`` (C,) over each bin of :func:`frequency_bins` (NaN entries skipped)."""
    ap = np.asarray(ap, dtype=float)
    return {name: float(np.nanmean(ap[idx])) if len(idx) else float("nan") for name, idx in bins.items()}
