"""Metrics: against sklearn (AP) and against a plain per-class reference (CP … OF1, top-3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score

from mlgcn_core.metrics import evaluate, metric_keys


def reference_prf(scores, targets, difficult=None, k=None):
    """CP, CR, CF1, OP, OR, OF1 in percent, one class and one image at a time (official meter)."""
    n, C = scores.shape
    difficult = np.zeros_like(targets, bool) if difficult is None else difficult
    Nc, Np, Ng = [0] * C, [0] * C, [0] * C
    for i in range(n):
        top = sorted(range(C), key=lambda c: (-scores[i, c], c))[:k] if k else range(C)
        for c in range(C):
            pred = scores[i, c] >= 0 and c in top
            gt = targets[i, c] == 1 and not difficult[i, c]
            Np[c] += pred
            Ng[c] += gt
            Nc[c] += pred and gt
    cp = np.mean([Nc[c] / max(Np[c], 1) for c in range(C)])
    cr = np.mean([Nc[c] / max(Ng[c], 1) for c in range(C)])
    op, orr = sum(Nc) / max(sum(Np), 1), sum(Nc) / max(sum(Ng), 1)
    f = lambda a, b: 2 * a * b / (a + b) if a + b else 0.0  # noqa: E731
    return {k_: 100 * v for k_, v in
            dict(CP=cp, CR=cr, CF1=f(cp, cr), OP=op, OR=orr, OF1=f(op, orr)).items()}


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 60), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_ap_equals_sklearn_on_continuous_scores(n, C, seed):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, C))
    targets = (rng.random((n, C)) < 0.4).astype(int)
    targets[0] = 1  # every class has a positive
    ap = evaluate(scores, targets, k=1)["AP"]
    ref = np.array([average_precision_score(targets[:, c], scores[:, c]) for c in range(C)])
    assert np.abs(ap / 100 - ref).max() <= 1e-9


@pytest.mark.filterwarnings("ignore:classes without positives")
@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 25), st.integers(3, 7)),
              elements=st.floats(-3, 3, allow_nan=False)), st.integers(0, 2**31 - 1))
def test_prf_and_top3_against_plain_reference(scores, seed):
    rng = np.random.default_rng(seed)
    targets = (rng.random(scores.shape) < 0.5).astype(int)
    difficult = rng.random(scores.shape) < 0.1
    m = evaluate(scores, targets, difficult=difficult, k=3)
    for k, suffix in ((None, ""), (3, "_top3")):
        ref = reference_prf(scores, targets, difficult, k)
        for name, v in ref.items():
            assert m[name + suffix] == pytest.approx(v, abs=1e-9), name + suffix


def test_known_values_by_hand():
    scores = np.array([[2.0, -1.0], [1.0, 0.5], [-0.5, 3.0], [0.1, -2.0]])
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    m = evaluate(scores, targets, k=1)
    # class 0 ranking: r0(+), r1(-), r3(-), r2(+) → AP = (1/1 + 2/4) / 2 = 0.75
    # class 1 ranking: r2(+), r1(+), r0, r3 → AP = 1
    assert m["AP"].tolist() == pytest.approx([75.0, 100.0])
    assert m["mAP"] == pytest.approx(87.5)
    # predicted (logit ≥ 0): class 0 rows 0,1,3 (1 correct of 3, of 2 gt); class 1 rows 1,2 (2/2)
    assert m["CP"] == pytest.approx(100 * (1 / 3 + 1) / 2)
    assert m["CR"] == pytest.approx(100 * (1 / 2 + 1) / 2)
    assert m["OP"] == pytest.approx(100 * 3 / 5)
    assert m["OR"] == pytest.approx(100 * 3 / 4)
    assert set(metric_keys(1)) <= set(m)


def test_difficult_skipped_in_ap_and_negative_in_prf():
    scores = np.array([[3.0], [2.0], [1.0]])
    targets = np.array([[0], [1], [1]])
    difficult = np.array([[True], [False], [False]])
    m = evaluate(scores, targets, difficult=difficult, k=1)
    assert m["mAP"] == pytest.approx(100.0)  # the top-ranked difficult negative is skipped
    m2 = evaluate(scores, targets, k=1)
    assert m2["mAP"] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    d = np.array([[False], [True], [False]])  # a difficult positive counts as negative in CP…OF1
    m3 = evaluate(scores, targets, difficult=d, k=1)
    assert m3["CR"] == pytest.approx(100.0) and m3["CP"] == pytest.approx(100 / 3)


def test_class_without_positives_is_nan_and_named():
    scores = np.array([[1.0, 0.2], [0.3, -1.0]])
    targets = np.array([[1, 0], [0, 0]])
    with pytest.warns(RuntimeWarning, match=r"\['bag'\]"):
        m = evaluate(scores, targets, k=1, class_names=["coat", "bag"])
    assert np.isnan(m["AP"][1]) and m["mAP"] == pytest.approx(100.0)


@pytest.mark.parametrize("scores, targets, match", [
    (np.zeros((3, 2)), np.zeros((3, 3)), "does not match"),
    (np.array([[np.nan, 1.0]]), np.array([[1, 0]]), "NaN"),
    (np.zeros((2, 2)), np.array([[2, 0], [0, 1]]), "only 0 and 1"),
    (np.zeros(3), np.zeros(3), "2-D"),
])
def test_bad_input(scores, targets, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=match):
            evaluate(scores, targets)


def test_k_out_of_range():
    with pytest.raises(ValueError, match="k must lie"):
        evaluate(np.zeros((2, 2)), np.eye(2, dtype=int), k=3)
