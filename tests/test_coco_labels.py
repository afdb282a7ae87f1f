"""COCO's label structure: the shipped counts (against the official coco_adj.pkl), the maximum-entropy
label model (fit, seeded draws, the model's own statistics) and the fidelity measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from mlgcn_core import graph
from mlgcn_core.data import coco_labels as cl
from mlgcn_core.io import load_label_stats
from mlgcn_core.paths import PROJECT_ROOT

SMALL = {"chains": 300, "sweeps": 40}  # a tiny fit: determinism and caching, not fidelity


@pytest.fixture(scope="module")
def counts():
    return cl.load_counts()


@pytest.fixture(scope="module")
def model():
    """The default fit (4,000 chains, 1,500 sweeps), once per test session (cached in the session's
    temporary $MLGCN_CACHE)."""
    t = time.perf_counter()
    m = cl.fit_label_model()
    print(f"\nfit: {time.perf_counter() - t:.1f} s")
    return m


@pytest.fixture(scope="module")
def drawn(model):
    t = time.perf_counter()
    y = cl.draw_labels(model, 50_000, seed=0)
    print(f"\n50,000 draws: {time.perf_counter() - t:.1f} s")
    return y


# --- the shipped counts ----------------------------------------------------------------------------

@pytest.mark.reference
def test_shipped_counts_equal_the_official_statistics(official_dir, counts, tmp_path):
    adj, nums = load_label_stats(official_dir / "coco_adj.pkl")
    assert np.array_equal(counts.nums, nums) and np.array_equal(counts.adj, adj)
    category = json.loads((official_dir / "category.json").read_text())
    assert list(counts.names) == sorted(category, key=category.get)
    assert counts.n_images == 82081
    # the shipped file is exactly what the generator writes from the official pickle
    out = cl.write_counts(official_dir / "coco_adj.pkl", tmp_path / "coco_counts.json")
    assert out.read_bytes() == cl.COUNTS_FILE.read_bytes()


def test_coco_ids_and_supercategories(counts):
    ids = counts.coco_ids
    assert sorted(ids.values()) == [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    by_id = sorted(counts.names, key=ids.get)
    assert by_id[:9] == ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"]
    assert (ids["stop sign"], ids["bench"], ids["bird"], ids["tv"], ids["toothbrush"]) == (13, 15, 16, 72, 90)
    sups = [counts.supercategories[n] for n in by_id]
    order = list(dict.fromkeys(sups))  # COCO's id order groups names by supercategory
    assert order == ["person", "vehicle", "outdoor", "animal", "accessory", "sports", "kitchen", "food",
                     "furniture", "electronic", "appliance", "indoor"]
    assert sups == sorted(sups, key=order.index)


def _bad(tmp_path, edit=None, text=None):
    d = json.loads(cl.COUNTS_FILE.read_text())
    if edit:
        edit(d)
    p = tmp_path / "coco_counts.json"
    p.write_text(text if text is not None else json.dumps(d))
    return p


def _transpose_breaker(d):
    d["adj"][0][1] += 1


@pytest.mark.parametrize("edit, text, field", [
    (None, '{"names": ["a", "b"], "nums": [1, 2', "not valid JSON"),  # truncated
    (lambda d: d["nums"].pop(), None, "'nums'"),
    (lambda d: d["adj"].pop(), None, "'adj'"),
    (lambda d: d["adj"][3].append(0), None, "'adj'"),  # ragged
    (_transpose_breaker, None, "'adj'"),  # not symmetric
    (lambda d: d["adj"][5].__setitem__(5, 1), None, "'adj'"),  # nonzero diagonal
    (lambda d: d["nums"].__setitem__(0, -1), None, "'nums'"),
    (lambda d: [d["adj"][0].__setitem__(35, 500), d["adj"][35].__setitem__(0, 500)], None, "'adj'"),  # > nums
    (lambda d: d.pop("adj"), None, "'adj'"),
    (lambda d: d["names"].pop(), None, "'nums'"),  # 79 names: the counts no longer fit
    (lambda d: d.__setitem__("n_images", "many"), None, "'n_images'"),
])
def test_a_corrupt_counts_file_is_one_line_naming_file_and_field(tmp_path, edit, text, field):
    p = _bad(tmp_path, edit, text)
    with pytest.raises(ValueError) as exc:
        cl.load_counts(p)
    msg = str(exc.value)
    assert "\n" not in msg and str(p) in msg and field in msg, msg


def test_a_missing_counts_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\.json: file missing; reinstall the package"):
        cl.load_counts(tmp_path / "nothing.json")


# --- the model: determinism, caching -----------------------------------------------------------------

_CHILD = """
import sys, numpy as np
from mlgcn_core.data import coco_labels as cl
m = cl.fit_label_model(chains=300, sweeps=40)
np.save(sys.argv[1] + "/h.npy", m.h); np.save(sys.argv[1] + "/J.npy", m.J)
np.save(sys.argv[1] + "/y.npy", cl.draw_labels(m, 3000, seed=7))
"""


def test_fit_and_draw_are_bit_identical_across_processes_and_workers(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
           "MLGCN_CACHE": str(tmp_path / "child-cache")}  # the child fits afresh
    subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], check=True, env=env, cwd=PROJECT_ROOT,
                   timeout=300)
    m = cl.fit_label_model(**SMALL)
    assert np.array_equal(np.load(tmp_path / "h.npy"), m.h) and np.array_equal(np.load(tmp_path / "J.npy"), m.J)
    y1 = cl.draw_labels(m, 3000, seed=7)
    assert np.array_equal(np.load(tmp_path / "y.npy"), y1)
    assert y1.dtype == np.int64 and y1.shape == (3000, 80) and set(np.unique(y1)) <= {0, 1}
    assert y1.sum(1).min() >= 1  # never an empty set
    y2 = cl.draw_labels(m, 3000, seed=7, workers=2)  # two chunks in two processes
    assert np.array_equal(y1, y2)
    assert np.array_equal(cl.draw_labels(m, 1000, seed=7), y1[:1000])  # a smaller draw is a prefix
    assert not np.array_equal(cl.draw_labels(m, 1000, seed=8), y1[:1000])


def test_a_corrupt_fit_cache_is_fitted_again(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MLGCN_CACHE", str(tmp_path))
    m = cl.fit_label_model(**SMALL)
    files = list((cl.cache_root() / "coco_labels").glob("*.npz"))
    assert files
    for f in files:
        f.write_bytes(b"PK\x03\x04 truncated")
    again = cl.fit_label_model(**SMALL)
    assert np.array_equal(again.h, m.h) and np.array_equal(again.J, m.J)
    err = capsys.readouterr().err
    assert "is corrupted" in err and "computing it again" in err


def test_model_shape(model, counts):
    assert model.h.shape == (80,) and model.J.shape == (80, 80)
    assert np.array_equal(model.J, model.J.T) and not np.diag(model.J).any()
    assert model.names == counts.names
    assert cl.label_model(0).settings == model.settings


# --- fidelity ---------------------------------------------------------------------------------------

def test_drawn_label_sets_meet_the_targets(drawn):
    s = cl.label_structure(drawn)
    print("\n50,000 drawn sets:", {k: round(v, 4) for k, v in s.items()})
    assert s["n"] == 50_000
    assert cl.fidelity_failures(s, "drawn") == []
    s12 = cl.label_structure(drawn[:12_000])  # a training split's size (the prefix: a draw of 12,000)
    print("12,000 drawn sets:", {k: round(v, 4) for k, v in s12.items()})
    assert cl.fidelity_failures(s12, "train") == []


def test_burn_in_reaches_the_stationary_distribution(model):
    """Sets drawn after BURN_IN sweeps and after 3 × BURN_IN sweeps have the same label frequencies
    (within Monte Carlo noise): the chains have forgotten their empty start."""
    n = 2 * cl.CHUNK
    a = cl.draw_labels(model, n, seed=11)
    b = cl.draw_labels(model, n, seed=12, burn_in=3 * cl.BURN_IN)
    fa, fb = a.mean(0), b.mean(0)
    pooled = (fa + fb) / 2
    z = (fa - fb) / np.sqrt(pooled * (1 - pooled) * 2 / n + 1e-12)
    se = np.sqrt((a.sum(1).var() + b.sum(1).var()) / n)
    print(f"\nfrequency z rms {np.sqrt((z ** 2).mean()):.2f}; labels per set {a.sum(1).mean():.3f} vs "
          f"{b.sum(1).mean():.3f} (se of the difference {se:.3f})")
    assert np.sqrt((z ** 2).mean()) < 1.5
    assert abs(a.sum(1).mean() - b.sum(1).mean()) < 4 * se


def test_independent_labels_miss_the_structure_targets(counts):
    rng = np.random.default_rng(0)
    y = (rng.random((50_000, 80)) < counts.frequencies).astype(np.int64)  # each label on its own
    s = cl.label_structure(y)
    failed = " ".join(cl.fidelity_failures(s, "drawn"))
    assert "conditional_pearson" in failed and "edge_jaccard" in failed, s
    assert "frequency_rel_err_median" not in failed


def test_a_label_without_positives_has_zero_conditionals(drawn):
    y = drawn[:5000].copy()
    y[:, 35] = 0  # hair drier never present
    s = cl.label_structure(y)
    assert np.isfinite(s["conditional_pearson"]) and 0 <= s["edge_jaccard"] <= 1
    with pytest.raises(ValueError, match="80 columns"):
        cl.label_structure(y[:, :79])


def test_fidelity_failures_name_each_missed_target():
    good = {"frequency_rel_err_median": 0.05, "conditional_pearson": 0.995, "edge_jaccard": 0.9,
            "mean_labels": 2.94, "n": 1}
    assert cl.fidelity_failures(good, "drawn") == []
    bad = {**good, "edge_jaccard": 0.5, "mean_labels": 3.5, "frequency_rel_err_median": 0.2}
    out = cl.fidelity_failures(bad, "drawn")
    assert len(out) == 3 and out[0].startswith("frequency_rel_err_median = 0.200, above")
    assert any(o.startswith("mean_labels = 3.500, outside") for o in out)
    assert cl.fidelity_failures({**good, "conditional_pearson": float("nan")}, "train") == [
        "conditional_pearson = nan, below the target 0.98"]


def test_the_models_own_conditionals_are_cocos(model, counts):
    M, N = cl.model_statistics(model, n=20_480)
    assert M.shape == (80, 80) and N.shape == (80,) and not np.diag(M).any()
    P = graph.conditional_probability(M, N)
    P_coco = graph.conditional_probability(counts.adj, counts.nums)
    pairs = counts.adj >= 50
    r = np.corrcoef(P[pairs], P_coco[pairs])[0, 1]
    print(f"\nmodel statistics (20,480 draws): P(L_j | L_i) Pearson {r:.4f}")
    assert r >= 0.99
    M2, N2 = cl.model_statistics(model, n=20_480)  # read back from the cache
    assert np.array_equal(M, M2) and np.array_equal(N, N2)
