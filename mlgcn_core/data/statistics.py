"""Label statistics of a set of label sets (Chen et al., CVPR 2019, Sec. 3.4): the co-occurrence
counts (M, N) and the conditional probabilities P(L_j | L_i) of Eq. 6 — what the label graph
(:mod:`mlgcn_core.graph`, which re-exports both) is built from, and what the COCO-shaped benchmark's
label model is fitted to and checked against."""

from __future__ import annotations

import numpy as np


def _check_binary_labels(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (images × classes), got shape {labels.shape}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        bad = np.unique(labels[~np.isin(labels, (0, 1))])[:5]
        raise ValueError(f"{name} must contain only 0 and 1, found values such as {bad.tolist()}")
    return labels.astype(np.int64, copy=False)


def cooccurrence(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count label co-occurrences in the training set (Sec. 3.4).

    Args:
        labels: {0,1} array, shape (num_images, C).

    Returns:
        ``(M, N)``: M (C, C) int64, M_ij = #images labelled with both i and j, zero
        diagonal; N (C,) int64, N_i = #images labelled with i. The layout of the
        official ``{'adj': M, 'nums': N}`` pickles.
    """
    y = _check_binary_labels(labels)  # (n, C)
    M = y.T @ y  # (C, C); diagonal = N
    N = np.diag(M).copy()  # (C,)
    np.fill_diagonal(M, 0)
    return M, N


def conditional_probability(M: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Eq. 6: P_ij = M_ij / N_i = P(L_j | L_i). Row i conditions on label i; not symmetric.

    Raises ValueError naming the classes with N_i = 0 (P would be undefined).
    """
    M = np.asarray(M, dtype=np.float64)
    N = np.asarray(N, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be a square C×C matrix, got shape {M.shape}")
    if N.shape != (M.shape[0],):
        raise ValueError(f"N must have shape ({M.shape[0]},) to match M, got {N.shape}")
    empty = np.flatnonzero(N <= 0)
    if empty.size:
        raise ValueError(
            f"N: class index(es) {empty.tolist()} have no training images (N_i = 0); "
            "P(L_j | L_i) is undefined — drop these classes or add images"
        )
    return M / N[:, None]  # (C, C)
