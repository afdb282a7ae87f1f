"""Label graph: unit tests, and reference tests against the official statistics."""

from __future__ import annotations

import numpy as np
import pytest

from mlgcn_core import graph
from mlgcn_core.io import load_label_stats, load_pickle, save_label_stats


def test_cooccurrence_counts_by_hand():
    y = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]])
    M, N = graph.cooccurrence(y)
    assert N.tolist() == [3, 2, 3]
    assert M.tolist() == [[0, 2, 2], [2, 0, 1], [2, 1, 0]]


def test_paper_scheme_columns_sum_to_p_and_diagonal():
    y = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
    M, N = graph.cooccurrence(y)
    A = graph.build_adjacency(M, N, tau=0.3, p=0.2, scheme="paper")
    P = M / N[:, None]
    B = (P >= 0.3).astype(float)
    np.fill_diagonal(B, 0)
    off = A - np.diag(np.diag(A))
    assert np.allclose(np.diag(A), 0.8)
    col = off.sum(0)
    assert np.allclose(col[B.sum(0) > 0], 0.2)  # each non-empty column carries p
    assert np.all(col[B.sum(0) == 0] == 0)
    assert np.array_equal(off > 0, B > 0)


def test_binarize_threshold_is_inclusive():
    P = np.array([[0.0, 0.4], [0.39999, 0.0]])
    assert graph.binarize(P, 0.4).tolist() == [[0, 1], [0, 0]]


@pytest.mark.parametrize("kwargs, field", [
    (dict(tau=-0.1), "tau"), (dict(tau=1.5), "tau"), (dict(p=1.0), "p"), (dict(p=-0.2), "p"),
])
def test_bad_tau_p(kwargs, field):
    M, N = graph.cooccurrence(np.eye(3, dtype=int))
    with pytest.raises(ValueError, match=field):
        graph.build_adjacency(M, N, **kwargs)


def test_class_without_images_is_named():
    M, N = graph.cooccurrence(np.array([[1, 0, 0], [1, 1, 0]]))
    with pytest.raises(ValueError, match=r"\[2\].*N_i = 0"):
        graph.build_adjacency(M, N)


def test_labels_must_be_binary():
    with pytest.raises(ValueError, match="labels must contain only 0 and 1"):
        graph.cooccurrence(np.array([[1, 2], [0, 1]]))
    with pytest.raises(ValueError, match="labels must be a 2-D"):
        graph.cooccurrence(np.array([1, 0, 1]))


def test_scheme_name_checked():
    M, N = graph.cooccurrence(np.eye(2, dtype=int))
    with pytest.raises(ValueError, match="scheme"):
        graph.build_adjacency(M, N, scheme="nope")


def test_symmetric_normalization_option():
    A = np.array([[1.0, 0.5], [0.0, 1.0]])
    S = graph.normalize_adjacency(A, "symmetric")
    d = A.sum(1) ** -0.5
    assert np.allclose(S, d[:, None] * A * d[None, :])


def test_label_stats_roundtrip(tmp_path):
    M, N = graph.cooccurrence(np.array([[1, 1], [0, 1]]))
    save_label_stats(tmp_path / "adj.pkl", M, N)
    M2, N2 = load_label_stats(tmp_path / "adj.pkl")
    assert np.array_equal(M, M2) and np.array_equal(N, N2) and M2.dtype == np.int64


def test_restricted_unpickler_rejects_other_globals(tmp_path):
    import pickle

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"adj": print}))
    with pytest.raises(ValueError, match="builtins.print is not allowed"):
        load_pickle(tmp_path / "evil.pkl")


# --- reference: the official statistics, official scheme (tau 0.4, p 0.25) -----------------------

def _official_by_hand(M, N, tau=0.4, p=0.25):
    """gen_A + gen_adj of the official code, written out with loops."""
    C = len(N)
    A = [[1.0 if M[i][j] / N[i] >= tau else 0.0 for j in range(C)] for i in range(C)]
    for i in range(C):
        A[i][i] = 0.0  # official: P's diagonal is 0 since adj has a zero diagonal
    col = [sum(A[k][j] for k in range(C)) for j in range(C)]
    Ap = [[p * A[i][j] / (col[j] + 1e-6) + (1.0 if i == j else 0.0) for j in range(C)] for i in range(C)]
    row = [sum(Ap[i]) for i in range(C)]
    Ahat = [[Ap[j][i] * row[i] ** -0.5 * row[j] ** -0.5 for j in range(C)] for i in range(C)]
    edges = sum(A[i][j] for i in range(C) for j in range(C))
    return np.array(Ap), np.array(Ahat), int(edges)


@pytest.mark.reference
@pytest.mark.parametrize("name, C", [("voc_adj.pkl", 20), ("coco_adj.pkl", 80)])
def test_official_scheme_on_official_statistics(official_dir, name, C):
    M, N = load_label_stats(official_dir / name)
    assert M.shape == (C, C) and (np.diag(M) == 0).all() and (M == M.T).all()
    A = graph.build_adjacency(M, N, tau=0.4, p=0.25, scheme="official")
    Ahat = graph.normalize_adjacency(A)
    Ap_ref, Ahat_ref, edges = _official_by_hand(M.tolist(), N.tolist())
    assert np.abs(A - Ap_ref).max() < 1e-12
    assert np.abs(Ahat - Ahat_ref).max() < 1e-12
    assert int(((A > 0) & ~np.eye(C, dtype=bool)).sum()) == edges
    assert np.allclose(np.diag(A), 1.0)  # official diagonal is 1, not 1 - p
    assert not np.allclose(A, A.T)  # P(L_j | L_i) is not symmetric, nor is the graph
    assert not np.allclose(Ahat, Ahat.T)


@pytest.mark.reference
def test_official_voc_exact_entries(official_dir):
    """A few entries derived by hand from the raw counts."""
    M, N = load_label_stats(official_dir / "voc_adj.pkl")
    A = graph.build_adjacency(M, N, tau=0.4, p=0.25, scheme="official")
    P = M / N[:, None]
    i, j = np.unravel_index(np.argmax(P), P.shape)  # the strongest conditional probability
    assert P[i, j] >= 0.4
    n_in = int(sum(M[k, j] / N[k] >= 0.4 for k in range(20) if k != j))
    assert A[i, j] == pytest.approx(0.25 / (n_in + 1e-6), abs=1e-15)
    # an edge whose reverse is absent shows the asymmetry explicitly
    one_way = [(a, b) for a in range(20) for b in range(20)
               if a != b and P[a, b] >= 0.4 and P[b, a] < 0.4]
    assert one_way, "VOC statistics should have one-way edges"
    a, b = one_way[0]
    assert A[a, b] > 0 and A[b, a] == 0


def test_p_one_only_when_allowed():
    M, N = graph.cooccurrence(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]]))
    with pytest.raises(ValueError, match="p must"):
        graph.build_adjacency(M, N, tau=0.3, p=1.0)
    A = graph.build_adjacency(M, N, tau=0.3, p=1.0, allow_p_one=True)
    assert np.allclose(np.diag(A), 0.0) and np.allclose(A.sum(0), 1.0)


def test_paper_reference_tables_are_consistent():
    """Typed-in paper numbers: each VOC row's mean equals the mAP the paper prints."""
    from mlgcn_core.book import reference

    t2 = reference.table2_voc()
    for method, row in t2.iterrows():
        assert row[reference.VOC_COLUMNS].mean() == pytest.approx(row["mAP"], abs=0.05), method
    assert reference.table1_coco().shape == (3, 13)
