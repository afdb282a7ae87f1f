"""Label co-occurrence graph of ML-GCN (Chen et al., CVPR 2019, Sec. 3.4).

The data's path: training labels → counts (M, N) → conditional probabilities
P(L_j | L_i) (Eq. 6; :mod:`mlgcn_core.data.statistics`, re-exported here) →
binary graph A (Eq. 7) → re-weighted graph A' (Eq. 8)
→ normalized propagation matrix Â used by every GCN layer (Eq. 2 / Eq. 5).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np

from .data.catalog import EMBEDDED
from .data.statistics import conditional_probability, cooccurrence  # Eq. 6 (counted where the labels are)
from .registry import Registry

if TYPE_CHECKING:
    from .config import ExperimentConfig

Scheme = Literal["paper", "official"]
Normalization = Literal["official", "symmetric"]


def binarize(P: np.ndarray, tau: float) -> np.ndarray:
    """Eq. 7: A_ij = 1 if P_ij ≥ τ else 0 (float64, diagonal kept as it is in P: zero)."""
    if not (0.0 <= float(tau) <= 1.0):
        raise ValueError(f"tau must lie in [0, 1], got {tau!r}")
    return (np.asarray(P) >= tau).astype(np.float64)


def build_adjacency(
    M: np.ndarray,
    N: np.ndarray,
    tau: float = 0.4,
    p: float = 0.2,
    scheme: Scheme = "paper",
    allow_p_one: bool = False,
) -> np.ndarray:
    """Binarized (Eq. 7) and re-weighted (Eq. 8) correlation matrix A' with its diagonal.

    ``scheme="paper"``: the authors' corrected Eq. 8 —
    A'_ij = p · A_ij / Σ_{k≠j} A_kj for i ≠ j (column sums; 0 where a column is empty),
    A'_ii = 1 − p. Each non-empty column's off-diagonal part sums to p.

    ``scheme="official"``: exactly what the official ``gen_A`` computes:
    A' = p · A / (A.sum(0) + 1e-6) + I (its default p is 0.25; diagonal 1).

    Args:
        M: (C, C) co-occurrence counts; N: (C,) per-class counts.
        tau: binarization threshold τ ∈ [0, 1] (paper: 0.4).
        p: re-weighting p ∈ [0, 1) (paper: 0.2; official code: 0.25).
        allow_p_one: accept the degenerate p = 1 (a node ignores its own feature; the paper's
            Fig. 6 reports that training does not converge) for the p ablation.
    Returns:
        (C, C) float64 matrix A'.
    """
    if not (0.0 <= float(p) < 1.0 or (allow_p_one and float(p) == 1.0)):
        raise ValueError(f"p must lie in [0, 1), got {p!r}")
    P = conditional_probability(M, N)  # (C, C)
    A = binarize(P, tau)  # (C, C)
    np.fill_diagonal(A, 0.0)
    C = A.shape[0]
    col = A.sum(axis=0, keepdims=True)  # (1, C): Σ_k A_kj
    if scheme == "paper":
        with np.errstate(divide="ignore", invalid="ignore"):
            Ap = np.where(col > 0, p * A / col, 0.0)
        Ap[np.diag_indices(C)] = 1.0 - p
        return Ap
    if scheme == "official":
        return p * A / (col + 1e-6) + np.eye(C)
    raise ValueError(f"scheme must be 'paper' or 'official', got {scheme!r}")


def official_p(p: float) -> float:
    """The official ``gen_A``'s p that gives the same normalized Â as the paper's Eq. 8 at ``p``:
    p / (1 − p) (paper 0.2 ≡ official 0.25; paper 0.5 ≡ official 1; paper p = 1, the degenerate
    case, has no official counterpart).

    Why: off the diagonal both schemes weight A by p / column sum; the official diagonal is 1, the
    paper's 1 − p'. Scaling the official A' by 1 − p' turns it into the paper's A' exactly when
    (1 − p') · p = p', and Â = D^-1/2 A'ᵀ D^-1/2 does not change when A' is scaled
    (:func:`normalize_adjacency`). Equal to ≤ 1e-6 (the official +1e-6 in the column sums)."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"paper p must lie in [0, 1) to have an official counterpart, got {p!r}")
    return float(p) / (1.0 - float(p))


def paper_p(p: float, scheme: Scheme = "official") -> float:
    """A run's p in the paper's terms (Eq. 8): p / (1 + p) for the official scheme (official 0.25 ≡
    paper 0.2; the official grid 0…1 spans paper p 0…0.5 only), ``p`` itself for the paper scheme.

    The p ablation (Fig. 6) is read in the paper's p on every preset by *running* its sweep in the
    paper scheme (``scheme="paper"`` beside the grid of p): one scheme for the whole curve 0…1, the
    paper's optimum 0.2 and its degenerate p = 1 mean what the paper says. This function labels a
    single official-scheme run (e.g. a ``paper_voc`` run at 0.25 → paper p 0.2) beside it."""
    if scheme == "paper":
        return float(p)
    if scheme != "official":
        raise ValueError(f"scheme must be 'paper' or 'official', got {scheme!r}")
    return float(p) / (1.0 + float(p))


def binary_adjacency(M: np.ndarray, N: np.ndarray, tau: float = 0.4) -> np.ndarray:
    """The paper's "binary" variant (Table 1, ML-GCN (Binary)): A of Eq. 7 plus self-loops I."""
    A = binarize(conditional_probability(M, N), tau)  # (C, C)
    np.fill_diagonal(A, 1.0)
    return A


def normalize_adjacency(A: np.ndarray, kind: Normalization = "official") -> np.ndarray:
    """Propagation matrix Â used in H^{l+1} = h(Â H^l W^l) (Eq. 2).

    ``kind="official"`` (used by our models): the official ``gen_adj``:
    D = diag(rowsum(A)^-1/2), Â = (A D)ᵀ D = D Aᵀ D (not symmetric when A is not).
    ``kind="symmetric"``: Kipf & Welling's D^-1/2 A D^-1/2.
    Rows with zero sum give zero rows/columns instead of inf.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    rowsum = A.sum(axis=1)  # (C,)
    with np.errstate(divide="ignore"):
        d = np.where(rowsum > 0, rowsum ** -0.5, 0.0)  # (C,)
    if kind == "official":
        return d[:, None] * A.T * d[None, :]  # D Aᵀ D
    if kind == "symmetric":
        return d[:, None] * A * d[None, :]
    raise ValueError(f"kind must be 'official' or 'symmetric', got {kind!r}")



# --- the graph a run propagates over: one registry entry per choice of ``ExperimentConfig.graph`` ---
#
# Each builder takes (cfg, train_positives): ``train_positives`` (n, C) are the label sets the graph
# is estimated from (the data layer's choice, ``cfg.graph_labels``: the run's training annotations
# or the benchmark's whole label corpus) — or, with ``graph_labels="public"``, the counts the
# dataset entry publishes stand in for them (:func:`graph_statistics`). The head normalizes the
# result to Â. To add a graph,
# register its builder here with the config fields it reads; the config's check, the run key and
# ``build_model`` follow from the entry.
GRAPHS = Registry("graph")

# the paper's estimate from the training labels: τ, p and the scheme, from the chosen label sets
FROM_LABELS = ("tau", "p", "scheme", "graph_labels")
# the benchmark generator's true statistics: the same τ, p and scheme, no label sets
FROM_TRUTH = ("tau", "p", "scheme")


def reweighted_adjacency(M: np.ndarray, N: np.ndarray, cfg: ExperimentConfig) -> np.ndarray:
    """A' of Eq. 7–8 with ``cfg``'s τ, p and scheme; p = 1 (the paper scheme's degenerate case,
    Fig. 6) is allowed, with a warning."""
    if cfg.p == 1.0 and cfg.scheme == "paper":  # the official scheme has no degenerate p
        warnings.warn("p = 1: every label ignores its own word vector (the paper's Fig. 6: training "
                      "does not converge)", RuntimeWarning, stacklevel=3)
    return build_adjacency(M, N, cfg.tau, cfg.p, cfg.scheme, allow_p_one=True)  # (C, C) A'


def graph_statistics(cfg: ExperimentConfig, train_positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The counts ``(M, N)`` (Eq. 6's input) a label-estimated graph is built from: the
    co-occurrence of the label sets ``train_positives`` (n, C) — the run's annotations or the
    benchmark's label corpus, as the data layer chose them —, or with ``graph_labels="public"``
    the counts ``cfg.dataset``'s entry publishes (:attr:`mlgcn_core.data.catalog.Dataset.public`),
    whatever the images trained on."""
    if cfg.graph_labels != "public":
        return cooccurrence(train_positives)
    from .data.catalog import WITH_PUBLIC, dataset

    public = dataset(cfg.dataset).public
    if public is None:
        raise ValueError(f"graph_labels='public': dataset {cfg.dataset!r} publishes no label statistics "
                         f"(only {list(WITH_PUBLIC)} do)")
    return public()


@GRAPHS.register("reweighted", reads=FROM_LABELS)
def reweighted_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """A' of Eq. 8 from the training labels' co-occurrence (Eq. 6–7; :func:`graph_statistics`)."""
    return reweighted_adjacency(*graph_statistics(cfg, train_positives), cfg)


@GRAPHS.register("binary", reads=("tau", "graph_labels"))
def binary_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """A + I (Eq. 7): the paper's ML-GCN (Binary)."""
    return binary_adjacency(*graph_statistics(cfg, train_positives), cfg.tau)


@GRAPHS.register("identity")
def identity_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """I: no propagation (Â = I), every label keeps its own word vector (a control)."""
    return np.eye(np.asarray(train_positives).shape[1])  # (C, C)


@GRAPHS.register("shuffled", reads=FROM_LABELS)
def shuffled_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """P A' Pᵀ: the re-weighted graph with the labels permuted (:func:`label_permutation`) — same
    degrees, wrong semantics (a control)."""
    A = reweighted_graph(cfg, train_positives)
    return permute_labels(A, label_permutation(len(A), cfg.seed))


def _true_statistics(cfg: ExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    """The embedded benchmark's true P(L_i, L_j) (C, C) and P(L_i) (C,): its dataset entry's
    label model (:data:`mlgcn_core.data.catalog.DATASETS`)."""
    from .data.catalog import dataset, scene_settings

    entry = dataset(cfg.dataset)
    if entry.truth is None:
        raise ValueError(f"graph={cfg.graph!r} needs the benchmark's true label model: only for "
                         f"the embedded benchmarks {list(EMBEDDED)}, got dataset={cfg.dataset!r}")
    return entry.truth(scene_settings(cfg))


@GRAPHS.register("oracle", reads=FROM_TRUTH, datasets=EMBEDDED)
def oracle_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """Eq. 7–8 (the same τ, p, scheme) on the benchmark generator's true P(L_j | L_i) instead of
    the training counts (a control: the best graph the labels could give)."""
    return reweighted_adjacency(*_true_statistics(cfg), cfg)


@GRAPHS.register("shuffled_oracle", reads=FROM_TRUTH, datasets=EMBEDDED)
def shuffled_oracle_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """The oracle graph with the labels permuted, as ``shuffled``."""
    A = oracle_graph(cfg, train_positives)
    return permute_labels(A, label_permutation(len(A), cfg.seed))


SHUFFLE_STREAM = 1_000_003  # the shuffled graph's permutation: rng([SHUFFLE_STREAM, run seed])


def label_permutation(num_classes: int, seed: int) -> np.ndarray:
    """The "shuffled" control's permutation π of the C labels: a derangement (no label keeps its
    own row), drawn with ``rng([SHUFFLE_STREAM, seed])`` — the run seed, so that the seeds of a
    comparison average over several wrong graphs instead of judging one arbitrary permutation,
    while every variant at a seed stays paired with one fixed graph."""
    rng = np.random.default_rng([SHUFFLE_STREAM, int(seed)])
    while True:
        perm = rng.permutation(num_classes)  # (C,)
        if num_classes < 2 or not (perm == np.arange(num_classes)).any():
            return perm


def permute_labels(A: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """P A Pᵀ: (P A Pᵀ)_ij = A_{π(i) π(j)} — the same edge weights and degree sequence with the
    label identities permuted (the diagonal stays the diagonal)."""
    perm = np.asarray(perm)
    return np.asarray(A)[np.ix_(perm, perm)]  # (C, C)


def label_graph(cfg: ExperimentConfig, train_positives: np.ndarray) -> np.ndarray:
    """The graph the GCN propagates over (normalized to Â by the head): the :data:`GRAPHS` entry
    named by ``cfg.graph``, from the label sets ``train_positives`` (n, C)."""
    return GRAPHS.build(cfg, train_positives)
