"""Does the graph help? The controls (identity, shuffled, oracle graphs, per-seed random vectors,
the corpus graph), the exact outfit model, the recorded visibility, the training subsets (sizes,
rare labels, missing annotations), the budgets, the lr choice per variant, the plateau rule, the
regimes' tables and the expressiveness check."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch

from mlgcn_core.book import regimes as R
from mlgcn_core.book import tuning as T
from mlgcn_core.book.analysis import expressiveness, reachability
from mlgcn_core.book.chapters import VARIANTS
from mlgcn_core.config import ExperimentConfig, load_preset
from mlgcn_core.data import outfits
from mlgcn_core.data.outfits import CLASSES, OutfitsConfig
from mlgcn_core.data.sources import hide_annotations, keep_rare, load_splits, outfit_training_rows
from mlgcn_core.graph import (
    binary_adjacency,
    build_adjacency,
    conditional_probability,
    cooccurrence,
    label_graph,
    label_permutation,
    normalize_adjacency,
)
from mlgcn_core.models import GCNHead

TINY = OutfitsConfig(n_train=120, n_val=60, n_test=80)


def _labels(n=4000, seed=3):
    return outfits.sample_labels(np.random.default_rng(seed), n)


# --- run keys -------------------------------------------------------------------------------------

def test_existing_run_keys_unchanged():
    """The new fields and graph choices leave every earlier run's key (and folder) as it was."""
    base = load_preset("default").replace(grad_floor=0)  # (the floor's default gives new keys)
    assert base.key() == "34826744c82d"
    assert base.replace(model="baseline").key() == "6ebf615a740e"
    assert base.replace(model="baseline", pooling="avg").key() == "5df0dcf4e286"
    assert base.replace(graph="binary").key() == "f4dbe5a69964"
    # random vectors are drawn per seed now: a result that changed, so a new key (was 3217034d89c0)
    assert base.replace(word_vectors="random").key() not in ("3217034d89c0", base.key())
    assert base.replace(tau=1.0).key() == "07983b4ca4dd"
    # the new fields enter the key when set; the identity graph ignores τ and p
    keys = {base.replace(**c).key() for c in (dict(graph="identity"), dict(graph="shuffled"),
                                               dict(graph="oracle"), dict(train_scenes=100),
                                               dict(selection="last"),
                                               dict(rare_labels=("coat",), rare_positives=5),
                                               dict(graph_labels="corpus"), dict(graph="shuffled_oracle"),
                                               dict(hide_labels=("coat",), hide_fraction=0.5))}
    assert len(keys) == 9 and base.key() not in keys
    # a graph that is not estimated from labels ignores where the labels come from
    assert base.replace(graph="oracle", graph_labels="corpus").key() == base.replace(graph="oracle").key()
    assert base.replace(graph="identity", tau=0.1, p=0.3).key() == base.replace(graph="identity").key()


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="voc2007", graph="oracle"), "graph='oracle': only for an embedded benchmark"),
    (dict(dataset="voc2007", graph_labels="corpus"), "graph_labels='corpus': only for an embedded benchmark"),
    (dict(graph_labels="public"), "graph_labels='public': dataset 'outfits' publishes no label statistics"),
    (dict(dataset="voc2007", graph_labels="public"), "graph_labels='public': dataset 'voc2007' publishes no"),
    (dict(graph_labels="everything"), "graph_labels must be one of"),
    (dict(hide_labels=("coat",)), "hide_labels and hide_fraction go together"),
    (dict(hide_labels=("coat",), hide_fraction=1.0), "hide_labels and hide_fraction go together"),
    (dict(dataset="coco2014", train_scenes=10), "train_scenes: only for an embedded benchmark"),
    (dict(rare_labels=("coat",)), "rare_labels and rare_positives go together"),
    (dict(rare_labels=("hat",), rare_positives=5), "unknown class"),
    (dict(train_scenes=0), "train_scenes must be"),
    (dict(selection="best"), "selection must be one of"),
])
def test_bad_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**kwargs)


# --- the controls' graphs -------------------------------------------------------------------------

def test_identity_graph_is_no_propagation():
    A = label_graph(ExperimentConfig(graph="identity"), _labels(500))
    assert np.array_equal(A, np.eye(len(CLASSES)))
    assert np.array_equal(normalize_adjacency(A), np.eye(len(CLASSES)))  # Â = I


def test_shuffled_graph_permutes_the_cooccurrence_graph():
    y = _labels()
    cfg = ExperimentConfig(seed=4)
    A = label_graph(cfg, y)  # A' (re-weighted)
    S = label_graph(cfg.replace(graph="shuffled"), y)
    perm = label_permutation(len(CLASSES), 4)
    assert not (perm == np.arange(len(CLASSES))).any()  # a derangement
    assert np.array_equal(S, A[np.ix_(perm, perm)])  # P A' Pᵀ
    assert not np.array_equal(S, A)
    for axis in (0, 1):  # same (sorted) in- and out-degree sequences, same weights
        assert np.array_equal(np.sort((S > 0).sum(axis)), np.sort((A > 0).sum(axis)))
    assert np.array_equal(np.sort(S.ravel()), np.sort(A.ravel()))
    assert np.array_equal(np.diag(S), np.diag(A))
    # the permutation follows the run seed, deterministically
    assert np.array_equal(label_permutation(10, 4), perm)
    assert not np.array_equal(label_permutation(10, 5), perm)


def test_oracle_graph_uses_the_true_conditionals():
    cfg = ExperimentConfig(graph="oracle")
    M, N = outfits.label_statistics()
    assert np.array_equal(label_graph(cfg, _labels(50)), build_adjacency(M, N, cfg.tau, cfg.p, cfg.scheme))
    # independent of the training labels
    assert np.array_equal(label_graph(cfg, _labels(50)), label_graph(cfg, _labels(80, seed=9)))
    with pytest.raises(ValueError, match="only for the embedded benchmarks"):
        label_graph(_bypass(dataset="voc2007", graph="oracle"), _labels(50))


def _bypass(**fields) -> ExperimentConfig:
    """A config that skipped validation (the graph builder's own check must still fire)."""
    cfg = ExperimentConfig()
    for k, v in fields.items():
        object.__setattr__(cfg, k, v)
    return cfg


def test_exact_outfit_model_matches_sampling():
    dist = outfits.label_set_distribution()
    assert sum(dist.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(0 < len(s) <= outfits.MAX_ITEMS for s in dist)
    n = 40_000
    y = _labels(n, seed=11)
    # label-set frequencies: every set within 5 binomial standard errors
    keys, counts = np.unique(y, axis=0, return_counts=True)
    seen = {tuple(np.flatnonzero(k)): c / n for k, c in zip(keys, counts)}
    assert set(seen) <= set(dist)
    for s, p in dist.items():
        assert abs(seen.get(s, 0.0) - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-4, s
    # P(L_j | L_i): the oracle's matrix against the sample's
    M, N = outfits.label_statistics()
    P = conditional_probability(M, N)
    Pe = conditional_probability(*cooccurrence(y))
    se = np.sqrt(P * (1 - P) / (N[:, None] * n))
    assert (np.abs(P - Pe) <= 5 * se + 1e-4).all()
    assert np.allclose(N, y.mean(0), atol=0.01)
    # the structure the book relies on: a coat mostly brings ankle boots, never sandals
    coat, boot, sandal = (CLASSES.index(c) for c in ("coat", "ankle boot", "sandal"))
    assert P[coat, boot] > 0.8 and P[coat, sandal] == 0 and P[boot, coat] < P[coat, boot]


# --- visibility -----------------------------------------------------------------------------------

def test_visibility_recorded_and_scenes_unchanged():
    data = outfits.generate(OutfitsConfig(n_train=40, n_val=20, n_test=30))
    h = hashlib.sha256()
    for s in ("train", "val", "test"):
        for k in ("images", "labels", "sources"):
            h.update(np.ascontiguousarray(data[s][k]).tobytes())
    # the generator's output before the visibility was recorded (same random numbers drawn)
    assert h.hexdigest() == "1838b1beb04505fb97ba98ea221f4b1672ac4c67b382979b4b1d9ad1b74771f4"
    for s in data:
        vis, y = data[s]["visibility"], data[s]["labels"]
        assert vis.shape == y.shape and vis.dtype == np.float32
        assert np.array_equal(np.isnan(vis), y == 0)
        present = vis[y == 1]
        assert (present > 0).all() and (present <= 1).all()
        alone = y.sum(1) == 1
        assert (vis[alone][y[alone] == 1] == 1).all()  # a garment alone is fully visible
    allvis = np.concatenate([data[s]["visibility"][data[s]["labels"] == 1] for s in data])
    assert (allvis < 1).any() and (allvis == 1).any()


def test_visibility_counts_painted_pixels():
    """One hand-checked scene: the second garment covers part of the first."""
    cfg = OutfitsConfig(n_train=1, n_val=1, n_test=1, canvas=16, min_size=8, max_size=8, max_overlap=1.0)
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[:] = 200  # every pixel inked
    labels = np.zeros((1, len(CLASSES)), dtype=np.int64)
    labels[0, [0, 1]] = 1
    rng = np.random.default_rng(0)
    canv, sources, vis = outfits.render(labels, [np.array([0]), np.array([1])] + [np.array([0])] * 8,
                                        images, cfg, rng)
    # replay the draws to find the boxes: order, then per garment (source, size, y, x)
    r = np.random.default_rng(0)
    order = r.permutation([0, 1])
    boxes = []
    for _ in order:
        r.choice([0])
        s = int(r.integers(8, 9))
        boxes.append((int(r.integers(0, 16 - s + 1)), int(r.integers(0, 16 - s + 1)), s))
    (y0, x0, s0), (y1, x1, s1) = boxes
    inter = max(0, min(y0 + s0, y1 + s1) - max(y0, y1)) * max(0, min(x0 + s0, x1 + s1) - max(x0, x1))
    first, second = order
    assert vis[0, second] == 1.0
    assert vis[0, first] == pytest.approx(1 - inter / (s0 * s0))


def test_visibility_kept_beside_the_cached_scenes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLGCN_CACHE", str(tmp_path))
    cfg = OutfitsConfig(n_train=8, n_val=4, n_test=4)
    first = outfits.load_outfits(cfg)
    assert set(first["test"]) == {"images", "labels", "sources"}
    vis = outfits.load_visibility(cfg)
    assert np.array_equal(vis["test"], outfits.generate(cfg)["test"]["visibility"], equal_nan=True)
    (outfits.cache_dir(cfg) / "visibility.npz").unlink()  # a cache from before the visibility
    again = outfits.load_visibility(cfg)
    assert np.array_equal(again["val"], vis["val"], equal_nan=True)
    assert np.array_equal(outfits.load_outfits(cfg)["test"]["images"], first["test"]["images"])


def test_visibility_ap_by_bin():
    targets = np.array([[1, 0], [1, 1], [0, 1], [1, 0], [0, 0]])
    vis = np.array([[0.2, np.nan], [0.9, 0.3], [np.nan, 0.4], [0.3, np.nan], [np.nan, np.nan]])
    scores = np.array([[0.1, 0.0], [5.0, 0.9], [0.3, 0.2], [0.8, 0.0], [0.2, 0.5]])
    out = R.visibility_ap(scores, targets, vis, 0.0, 0.5, min_positives=2)
    # class 0: occluded positives rows 0, 3; the visible row 1 is left out; negatives rows 2, 4
    # ranking 3 (0.8, pos), 2 (0.3), 4 (0.2), 0 (0.1, pos) → AP = (1/1 + 2/4) / 2
    assert out["AP"][0] == pytest.approx(100 * 0.75)
    # class 1: occluded positives rows 1, 2; ranking 1 (0.9, pos), 4 (0.5), 2 (0.2, pos), 0, 3
    assert out["AP"][1] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert out["mAP"] == pytest.approx(np.mean(out["AP"]))
    assert list(out["positives"]) == [2, 2]
    assert np.isnan(R.visibility_ap(scores, targets, vis, 0.0, 0.5, min_positives=3)["mAP"])  # none qualifies
    # the top bin holds the well visible garment of class 0 (row 1, visibility 0.9) and its negatives
    top = R.visibility_ap(scores, targets, vis, 0.5, 1.0, min_positives=1)
    assert list(top["positives"]) == [1, 0] and top["AP"][0] == pytest.approx(100.0)


# --- training subsets -----------------------------------------------------------------------------

def test_keep_rare_keeps_exactly_k_positives_and_the_rest():
    y = _labels(3000)
    rare = [CLASSES.index("coat"), CLASSES.index("sandal")]
    rows = keep_rare(y, np.arange(len(y)), rare, 7, np.random.default_rng(0))
    assert (y[rows][:, rare].sum(0) == 7).all()
    without = np.flatnonzero(y[:, rare].sum(1) == 0)
    assert set(without) <= set(rows)  # every scene without a rare label is kept
    assert len(rows) == len(without) + 14  # coat and sandal never share a scene
    # co-occurring rare labels: still exactly K each
    both = [CLASSES.index("coat"), CLASSES.index("ankle boot")]
    rows2 = keep_rare(y, np.arange(len(y)), both, 5, np.random.default_rng(1))
    assert (y[rows2][:, both].sum(0) == 5).all()
    with pytest.raises(ValueError, match="yields only"):
        keep_rare(y[:50], np.arange(50), rare, 40, np.random.default_rng(0))


def test_training_rows_follow_the_seed_and_the_splits_use_them():
    y = _labels(500)
    cfg = ExperimentConfig(outfits=TINY, train_scenes=50)
    a, b = outfit_training_rows(cfg, y), outfit_training_rows(cfg.replace(seed=1), y)
    assert len(a) == 50 and np.array_equal(a, np.sort(a)) and not np.array_equal(a, b)
    assert np.array_equal(a, outfit_training_rows(cfg, y))
    assert outfit_training_rows(ExperimentConfig(outfits=TINY), y) is None
    with pytest.raises(ValueError, match="has only 500"):
        outfit_training_rows(cfg.replace(train_scenes=501), y)
    # the splits: the training subset, its labels untouched; val/test as they were
    full = load_splits(ExperimentConfig(outfits=TINY))
    rcfg = ExperimentConfig(outfits=TINY, rare_labels=("coat",), rare_positives=3, seed=2)
    sub = load_splits(rcfg)
    rows = sub.train_rows
    assert len(sub.train) == len(rows) and (sub.train_positives[:, CLASSES.index("coat")].sum() == 3)
    assert np.array_equal(sub.train_positives, full.train_positives[rows])
    assert sub.key == full.key and len(sub.val) == len(full.val) and len(sub.test) == len(full.test)
    # the graph is built from the reduced split
    assert not np.array_equal(label_graph(rcfg, sub.train_positives),
                              label_graph(rcfg, full.train_positives))




def test_random_vectors_are_drawn_per_seed():
    from mlgcn_core.embeddings import make_vectors

    a, b = (make_vectors(CLASSES, "random", seed=s) for s in (0, 1))
    assert a.shape == (len(CLASSES), 50) and not np.allclose(a, b)
    assert np.array_equal(a, make_vectors(CLASSES, "random", seed=0))


def test_shuffled_oracle_permutes_the_oracle_graph():
    y = _labels(500)
    oracle = label_graph(ExperimentConfig(graph="oracle", seed=4), y)
    shuffled = label_graph(ExperimentConfig(graph="shuffled_oracle", seed=4), y)
    perm = label_permutation(len(CLASSES), 4)
    assert np.array_equal(shuffled, oracle[np.ix_(perm, perm)]) and not np.array_equal(shuffled, oracle)


def test_corpus_graph_and_hidden_annotations():
    """The corpus graph counts every training scene's labels; hidden annotations leave the images
    and take the label out of the training targets and of the split's own statistics."""
    full = load_splits(ExperimentConfig(outfits=TINY))
    rare = ExperimentConfig(outfits=TINY, rare_labels=("coat",), rare_positives=3, seed=2)
    corpus = load_splits(rare.replace(graph_labels="corpus"))
    assert np.array_equal(corpus.train_positives, full.train_positives)  # all 120 scenes' label sets
    assert len(corpus.train) == len(load_splits(rare).train) < len(full.train)
    coat = CLASSES.index("coat")
    hid = ExperimentConfig(outfits=TINY, hide_labels=("coat",), hide_fraction=0.5, seed=1)
    sp = load_splits(hid)
    n = int(full.train_positives[:, coat].sum())
    assert len(sp.train) == len(full.train)  # every image stays
    assert sp.train_targets[:, coat].sum() == n - round(0.5 * n)
    assert np.array_equal(sp.train_positives, sp.train_targets)  # the graph sees what is annotated
    other = [c for c in range(len(CLASSES)) if c != coat]
    assert np.array_equal(sp.train_targets[:, other], full.train_positives[:, other])
    assert np.array_equal(load_splits(hid.replace(graph_labels="corpus")).train_positives, full.train_positives)
    assert not np.array_equal(hide_annotations(hid, full.train_positives),
                              hide_annotations(hid.replace(seed=2), full.train_positives))
    # the engine trains on the hidden targets (features mode: rows of the cached features)
    from mlgcn_core import distributed
    from mlgcn_core.features import cached_split_features

    feats = cached_split_features(hid, sp, "cpu", distributed.Context(), progress=False)
    assert np.array_equal(feats["train"][1].numpy(), sp.train_targets)


# --- budgets, the lr choice per variant, the plateau rule ----------------------------------------------

def test_budget_is_chapter_02s_recipe_at_full_size():
    base = load_preset("default")
    assert T.budget(6000, 940, 128) == {"epochs": base.epochs, "lr_steps": base.lr_steps}
    # so the size regime's re-weighted and GMP runs at lr 0.02 are chapter 02's runs (one run key)
    for v in (R.RW, R.GMP):
        ours = R._head(base, 128, v, **T.budget(6000, 940, 128), train_scenes=None).replace(lr=0.02, seed=3)
        assert ours.key() == base.replace(seed=3, **VARIANTS[v]).key()
    assert T.budget(3000, 470, 128) == {"epochs": 20, "lr_steps": (15,)}  # 24 steps an epoch
    # the COCO-shaped size regime at its full 12,000 scenes: chapter 02's recipe there (94 steps an epoch)
    coco = load_preset("coco_shaped")
    s = R.settings()["coco_size"]
    assert T.budget(12000, s["steps"], 128) == {"epochs": coco.epochs, "lr_steps": coco.lr_steps}
    assert 0.02 in s["lrs"]  # chapter 02's lr inside the grid: its runs are the tuning seed's
    for v in (R.RW, R.GMP):
        ours = R._head(coco, 128, v, **T.budget(12000, s["steps"], 128), train_scenes=None).replace(lr=0.02, seed=3)
        assert ours.key() == coco.replace(seed=3, **VARIANTS[v]).key()


def test_a_controls_lr_is_picked_on_its_own_validation_score():
    rows = []
    for seed in (0, 1):
        for v, best in (("model", 0.02), ("control", 0.08)):
            for lr in (0.005, 0.02, 0.08):
                val = 70 - abs(np.log(lr / best))  # each variant's own optimum
                test = 70 if lr == 0.02 else 60  # test would prefer 0.02 for both: never looked at
                rows.append({"regime": "r", "level": 1, "variant": v, "seed": seed, "lr": lr,
                             "val_score": val, "score": test})
    picks = T.pick_lr(pd.DataFrame(rows)).set_index("variant")
    assert picks.loc["model", "lr"] == 0.02 and picks.loc["control", "lr"] == 0.08
    assert not picks.loc["model", "edge"] and picks.loc["control", "edge"]  # 0.08 is the grid's edge


def test_the_grid_grows_past_an_edge_pick(monkeypatch):
    """A cell whose validation optimum lies below the grid gets lower lrs (×¼ each round) until its
    pick is interior, or is flagged when ``extend`` runs out; the other cells keep their grid."""
    import types

    def fake_train(configs, jobs):  # validation peaks at lr 0.001 for "low", at 0.02 for "mid"
        best = {R.IDENTITY: 0.001, R.GMP: 0.02}
        return [types.SimpleNamespace(config=c, best_epoch=1, path=f"/runs/{c.model}-{c.graph}-{c.lr}-{c.seed}",
                                      metrics={"mAP": 50.0}, history=[{"epoch": 1, "val_mAP": 60.0}],
                                      val_metrics={"mAP": 70 - abs(np.log(c.lr / best[_variant(c)]))})
                for c in configs]

    def _variant(c):
        return R.GMP if c.model == "baseline" else R.IDENTITY

    monkeypatch.setattr(T, "train_runs", fake_train)
    base = ExperimentConfig(outfits=TINY)
    cells = [T.Cell("r", 1, v, R._head(base, 30, v, epochs=1, lr_steps=(1,)), 4) for v in (R.GMP, R.IDENTITY)]
    out = T.tuned_runs(cells, [0, 1, 2], (0.005, 0.02, 0.08), R.mean_ap, tune_seeds=2, jobs=1, extend=2)
    grid = T.lr_grid(out)
    low = grid[grid.variant == R.IDENTITY]
    assert sorted(low.lr) == pytest.approx([0.0003125, 0.00125, 0.005, 0.02, 0.08])  # grown twice
    assert low[low.picked].lr.iloc[0] == pytest.approx(0.00125) and not low.edge.any()
    assert sorted(grid[grid.variant == R.GMP].lr) == [0.005, 0.02, 0.08]  # interior at once
    assert list(out[out.variant == R.IDENTITY].lr) == pytest.approx([0.00125] * 3) and len(out) == 6
    once = T.lr_grid(T.tuned_runs(cells, [0, 1], (0.005, 0.02, 0.08), R.mean_ap, 2, 1, extend=1))
    assert once[once.variant == R.IDENTITY].query("picked").edge.all()  # still at the edge: flagged
    assert T.edge_picks(T.tuned_runs(cells, [0, 1], (0.005, 0.02, 0.08), R.mean_ap, 2, 1, extend=0)) == [
        f"{R.IDENTITY} at 1: lr 0.005"]


def _saturating(full_epochs):
    """A fake ``train_runs``: a run's validation mAP rises linearly to 70 at ``full_epochs(config)``
    epochs and stays there (less a penalty away from lr 0.02); every config trained is kept."""
    import types

    trained = []

    def fake_train(configs, jobs):
        trained.extend(configs)
        out = []
        for c in configs:
            curve = [70 * min(1.0, e / full_epochs(c)) for e in range(1, c.epochs + 1)]
            out.append(types.SimpleNamespace(
                config=c, best_epoch=c.epochs, path=f"/runs/{c.model}-{c.epochs}-{c.lr}-{c.seed}",
                metrics={"mAP": 50.0}, val_metrics={"mAP": curve[-1] - abs(np.log(c.lr / 0.02))},
                history=[{"epoch": e + 1, "val_mAP": v} for e, v in enumerate(curve)]))
        return out

    return fake_train, trained


def test_a_cell_still_gaining_when_doubled_trains_longer(monkeypatch):
    """The doubling test: the pick trains twice the epochs (the lr step at the same share) on the
    tuning seed; a cell that gains more than 0.2 mAP from it moves to the doubled budget, is tuned
    again there (its doubled run reused) and tested again, until doubling no longer gains or
    ``lengthen`` runs out; a cell that gains nothing keeps its budget. The other seeds train once,
    at the final budget."""
    fake, trained = _saturating(lambda c: 8 if c.model == "baseline" else 1)  # GMP needs 8 epochs
    monkeypatch.setattr(T, "train_runs", fake)
    base = ExperimentConfig(outfits=TINY)
    cells = [T.Cell("r", 1, v, R._head(base, 30, v, epochs=2, lr_steps=(1,)), 20) for v in (R.GMP, R.IDENTITY)]
    out = T.tuned_runs(cells, [0, 1], (0.005, 0.02, 0.08), R.mean_ap, tune_seeds=1, jobs=1, extend=0, lengthen=2)
    gmp, ident = out[out.variant == R.GMP], out[out.variant == R.IDENTITY]
    assert set(gmp.steps) == {80} and set(ident.steps) == {20}  # 2 → 4 → 8 epochs; the other unchanged
    assert T.lengthened(out) == [f"{R.GMP} at 1: 40 steps", f"{R.GMP} at 1: 80 steps"]
    epochs = sorted({(c.epochs, c.lr_steps) for c in trained if c.model == "baseline"})
    assert epochs == [(2, (1,)), (4, (2,)), (8, (4,)), (16, (8,))]  # the lr step keeps its share
    assert sorted({c.epochs for c in trained if c.model == "baseline" and c.seed == 1}) == [8]  # final budget only
    assert sorted({c.epochs for c in trained if c.model != "baseline"}) == [2, 4]  # its budget and its test
    tests = T.doubling(out)
    assert [(t.steps, round(t.gain, 1)) for t in tests[tests.variant == R.GMP].itertuples()] == [
        (20, 17.5), (40, 35.0), (80, 0.0)]
    assert tests[tests.variant == R.IDENTITY].gain.tolist() == [0.0]
    grid = T.lr_grid(out)  # the grid of the final budget only
    assert len(grid[grid.variant == R.GMP]) == 3 and grid.picked.sum() == 2
    short = T.tuned_runs(cells, [0, 1], (0.005, 0.02, 0.08), R.mean_ap, tune_seeds=1, jobs=1, extend=0, lengthen=1)
    assert set(short[short.variant == R.GMP].steps) == {40}  # the cap: still gaining at 4 epochs
    last = T.doubling(short).query("variant == @R.GMP").iloc[-1]
    assert last.steps == 40 and last.gain > 0.2  # recorded, so convergence() calls it not converged


def test_the_doubling_test_catches_a_curve_the_plateau_rule_passes(monkeypatch):
    """A run that rises slowly and steadily passes the plateau rule (its last quarter gains < 0.2
    mAP) yet gains far more when trained twice as long: the doubling test lengthens it."""
    import types

    def fake_train(configs, jobs):
        out = []
        for c in configs:
            curve = [60 + 0.05 * e for e in range(1, c.epochs + 1)]  # +0.05 an epoch, whatever the budget
            out.append(types.SimpleNamespace(
                config=c, best_epoch=c.epochs, path=f"/runs/{c.epochs}-{c.lr}-{c.seed}", metrics={"mAP": 50.0},
                val_metrics={"mAP": curve[-1] - abs(np.log(c.lr / 0.02))},
                history=[{"epoch": e + 1, "val_mAP": v} for e, v in enumerate(curve)]))
        return out

    monkeypatch.setattr(T, "train_runs", fake_train)
    assert T.plateau([60 + 0.05 * e for e in range(1, 9)])["converged"]  # 8 epochs: gains 0.1 in its last quarter
    cell = T.Cell("r", 1, R.GMP, R._head(ExperimentConfig(outfits=TINY), 30, R.GMP, epochs=8, lr_steps=(6,)), 80)
    out = T.tuned_runs([cell], [0, 1], (0.005, 0.02, 0.08), R.mean_ap, tune_seeds=1, jobs=1, extend=0, lengthen=1)
    assert set(out.steps) == {160} and T.doubling(out).gain.round(2).tolist() == [0.4, 0.8]


def test_the_lengthening_averages_curves_as_the_convergence_table_does():
    """A missing epoch value is skipped in the mean over seeds, as pandas' mean in
    validation_curves skips it: the rule that lengthens and the table that judges read one curve."""
    assert T.mean_curve([[60.0, float("nan"), 70.0], [62.0, 66.0, 72.0]]) == [61.0, 66.0, 71.0]


@pytest.fixture(scope="module")
def regime(tmp_path_factory):
    """A tiny size regime trained in-process, counting every optimizer step per run."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    import mlgcn_core.scheduler as scheduler
    import mlgcn_core.train as train

    root = tmp_path_factory.mktemp("runs")
    steps: dict[str, int] = {}
    real = train.run_experiment

    def counting(cfg, *a, **k):
        n = [0]
        h = register_optimizer_step_post_hook(lambda *_: n.__setitem__(0, n[0] + 1))
        try:
            r = real(cfg, root, *a[1:], **k)
        finally:
            h.remove()
        steps[cfg.run_name()] = n[0]
        return r

    mp = pytest.MonkeyPatch()
    mp.setattr(scheduler, "run_experiment", counting)  # what run_many calls
    base = ExperimentConfig(outfits=TINY)
    frame = R.size_regime(base, seeds=[0, 1, 2], sizes=(30, 120), steps=20, batch_size=30,
                          lrs=(0.003, 0.03, 0.3), tune_seeds=1, variants=(R.GMP, R.IDENTITY), jobs=1,
                          extend=0, lengthen=0)
    mp.undo()
    return frame, steps


def test_size_regime_tunes_each_variant_then_runs_the_other_seeds(regime):
    frame, steps = regime
    # per (size, variant): 3 lrs × 1 tuning seed, the pick's doubling test (40 steps; measured even
    # where nothing may lengthen: convergence is judged in every regime), then 2 more seeds at the pick
    assert len(steps) == 2 * 2 * (3 + 1 + 2) and sorted(steps.values()).count(40) == 4
    assert set(steps.values()) == {20, 40}
    assert len(frame) == 2 * 2 * 3 and set(frame["steps"]) == {20}
    assert frame.groupby(["level", "variant"])["lr"].nunique().eq(1).all()
    assert all(sorted(g) == [0, 1, 2] for _, g in frame.groupby(["level", "variant"])["seed"])
    grid = T.lr_grid(frame)
    for (lvl, v), g in frame.groupby(["level", "variant"]):
        own = grid[(grid.level == lvl) & (grid.variant == v)]
        assert g["lr"].iloc[0] == own.loc[own.val_score.idxmax(), "lr"]  # its own validation best
        assert own.picked.sum() == 1
    from mlgcn_core.runs import load_run

    r = load_run(frame["run"].iloc[0])
    assert r.config.selection == "val" and len(r.history) == r.config.epochs
    assert all(np.isfinite(h["val_mAP"]) for h in r.history)  # the validation curve, every epoch


def test_plateau_rule():
    rising = [50, 60, 65, 68, 70, 71, 72, 73]  # still +2 in the last quarter
    flat = [50, 60, 65, 68, 70, 70.1, 70.0, 70.1]
    assert not T.plateau(rising)["converged"] and T.plateau(rising)["gain"] == pytest.approx(2.0)
    assert T.plateau(flat)["converged"] and T.plateau(flat)["plateau_at"] == 5
    noisy_down = [60, 70, 69.5, 69.9]  # best early, the end within tol: converged
    assert T.plateau(noisy_down)["converged"]
    assert not T.plateau([50])["converged"]


def test_convergence_table_from_the_runs(regime):
    frame, _ = regime
    conv = T.convergence(frame)
    assert len(conv) == 4 and set(conv.columns) >= {"steps", "plateau_at_step", "gain_last_quarter",
                                                    "gain_when_doubled", "converged"}
    assert set(conv["steps"]) == {20} and (conv["plateau_at_step"] <= 20).all()
    tests = T.doubling(frame)
    assert len(tests) == 4 and set(tests["steps"]) == {20}  # one test per cell, at its budget
    gain = {(t.level, t.variant): t.gain for t in tests.itertuples()}
    assert all(r.gain_when_doubled == round(gain[(r.level, r.variant)], 2) for r in conv.itertuples())
    assert all(r.converged == (gain[(r.level, r.variant)] <= 0.2) for r in conv.itertuples())  # the test decides
    curves = T.validation_curves(frame[frame.level == 120])
    assert set(curves["variant"]) == {R.GMP, R.IDENTITY} and curves["step"].max() == 20


def test_regimes_name_their_comparisons_and_primary_before_running():
    for regime in R.REGIMES.values():
        assert regime.primary in regime.comparisons
        assert all({c.a, c.b} <= set(regime.variants) for c in regime.comparisons)
        assert all(c.kind in R.KINDS for c in regime.comparisons)
    # the shuffled graph runs wherever a true graph is compared: each graph a comparison credits
    # (graph against none, corpus against annotations) meets its own shuffled twin (same edge
    # weights, labels permuted) in that regime
    for regime in R.REGIMES.values():
        graphs = {c.a for c in regime.comparisons if c.kind in ("graph", "corpus")}
        assert graphs, regime.name
        for g in graphs:
            assert R.Comparison(g, R.SHUFFLED_TWIN[g], "right") in regime.comparisons, (regime.name, g)
    with pytest.raises(ValueError, match="does not run"):
        R.Regime("x", "", "", (R.RW,), (R.Comparison(R.RW, R.GMP, "baseline"),), R.Comparison(R.RW, R.GMP, "baseline"))


def test_settings_grid_and_smoke():
    s = R.settings(smoke=False)
    assert s["size"]["steps"] == 940 and s["size"]["batch_size"] == 128 and s["size"]["sizes"] == (6000,)
    lrs = s["size"]["lrs"]
    assert len(lrs) >= 3 and max(lrs) / min(lrs) >= 16
    with pytest.raises(ValueError, match="≥ 3 values spanning ≥ 16×"):
        R.settings(lrs=(0.01, 0.02, 0.04), smoke=False)
    tiny = R.settings(smoke=True)
    assert max(tiny["size"]["sizes"]) < 6000 and tiny["size"]["steps"] < 940


def test_rare_drops_and_incoming_edges():
    base = ExperimentConfig(outfits=OutfitsConfig(n_train=600, n_val=60, n_test=80))
    drops = R.rare_drops(base, [0, 1], 5)
    assert drops.loc["coat", "kept"] == 5 and drops.loc["sandal", "kept"] == 5
    assert drops.loc["all scenes", "kept"] < drops.loc["all scenes", "full split"]
    assert drops.loc["ankle boot", "lost (%)"] > 20  # the partners lose scenes too: said on the page
    incoming = R.incoming_edges(load_preset("default"))
    assert set(incoming.index) == set(CLASSES) and (incoming == 0).any() and (incoming > 0).any()


def test_regime_table_and_learned_rows():
    frame = pd.DataFrame([{"regime": "r", "level": 100, "variant": v, "seed": s, "score": 70.0 + s * d}
                          for v, d in ((R.GMP, 0.0), (R.RW, 1.0)) for s in range(5)])
    t = R.regime_table(frame)
    assert t.loc[100, "seeds"] == 5 and t.loc[100, R.GMP] == "70.0 ± 0.0"

    class Run:  # the fields of a RunResult that learned_frame reads
        def __init__(self, seed, m):
            self.config, self.metrics, self.best_epoch, self.path = ExperimentConfig(seed=seed), {"mAP": m}, 8, "p"

    rows = R.learned_frame({R.GMP: [Run(0, 75.0)], R.RW: [Run(0, 74.5)]})
    assert set(rows.variant) == {R.GMP, R.RW} and set(rows.regime) == {"features learned"}
    assert list(R.paper_scale()["difference"]) == [5.7, 1.1, 4.1, 1.0]  # COCO, VOC: over GAP, over GMP


# --- expressiveness -----------------------------------------------------------------------------------

def test_reachability_of_a_baseline_classifier_by_a_trained_head():
    torch.manual_seed(0)
    C, d, D = 10, 50, 64
    rng = np.random.default_rng(0)
    z = rng.standard_normal((C, d)).astype(np.float32)
    A = build_adjacency(*cooccurrence(_labels(500)))
    head = GCNHead(z, A, D, depth=2, hidden=32)
    x = torch.randn(256, D)
    y = (torch.randn(256, C) > 0.5).float()
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(20):  # a few steps: a trained head
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(head(x), y).backward()
        opt.step()
    w_base = rng.standard_normal((C, D))  # any baseline classifier matrix
    out = reachability(head, w_base)
    assert out["rank"] == C and out["hidden"] == 32 and out["residual"] < 1e-6
    narrow = GCNHead(z, A, D, depth=2, hidden=4)  # a head too narrow (hidden < C) cannot
    assert reachability(narrow, w_base)["residual"] > 0.1


def test_expressiveness_of_runs(regime):
    """From two finished runs' model.pt: an identity-graph ML-GCN head reaches the baseline's W."""
    from mlgcn_core.runs import load_run

    frame, _ = regime
    pick = lambda v: load_run(frame[frame.variant == v]["run"].iloc[0])  # noqa: E731
    out = expressiveness(pick(R.IDENTITY), pick(R.GMP))
    assert out["rank"] == len(CLASSES) and out["residual"] < 1e-6 and out["own_residual"] < 1e-5
    with pytest.raises(ValueError, match="not an ML-GCN run"):
        expressiveness(pick(R.GMP), pick(R.GMP))


# --- the regimes' own knobs reach the runs ---------------------------------------------------------------

LABELS_BASE = ExperimentConfig(outfits=OutfitsConfig(n_train=600, n_val=60, n_test=80))
COCO = ExperimentConfig(dataset="coco_shaped")  # the COCO-shaped benchmark (12,000 training scenes)


def regime_cells(monkeypatch, run, *args, **kwargs) -> list:
    """The cells a regime function hands to :func:`~mlgcn_core.book.tuning.tuned_runs`, nothing trained."""
    got = []
    monkeypatch.setattr(R, "tuned_runs", lambda cells, *a, **k: got.extend(cells) or pd.DataFrame())
    run(*args, **kwargs)
    return got


def check_every_variant_has_runs_of_its_own(monkeypatch) -> None:
    """Within each level of the rare- and missing-label regimes and the COCO-shaped public-statistics
    regime, no two variants share a run key (a variant whose config lost what sets it apart would
    silently read another's runs back): the corpus and the public graph's runs are not the
    re-weighted graph's, their shuffled twins' not the shuffled graph's."""
    cells = (regime_cells(monkeypatch, R.rare_regime, LABELS_BASE, [0, 1], positives=(5,),
                          weight_decay_factors=(1, 10), variants=R.RARE.variants)
             + regime_cells(monkeypatch, R.missing_regime, LABELS_BASE, [0, 1], fractions=(0.3, 0.7)))
    public = regime_cells(monkeypatch, R.public_regime, COCO, [0, 1], sizes=(3000,),
                          variants=R.PUBLIC_CORPUS.variants)
    levels = {(c.regime, c.level) for c in cells}
    assert len(levels) == 4 and {(c.regime, c.level) for c in public} == {(R.PUBLIC_CORPUS.name, 3000)}
    for regime, level in levels | {(R.PUBLIC_CORPUS.name, 3000)}:
        keys = {c.variant: c.config.replace(lr=0.02, seed=3).key() for c in cells + public
                if (c.regime, c.level) == (regime, level)}
        graphs = {R.PUBLIC, R.RW} if regime == R.PUBLIC_CORPUS.name else {R.CORPUS, R.RW}
        assert graphs <= set(keys) and len(set(keys.values())) == len(keys), (regime, level, keys)


def check_missing_regime_hides_each_fraction(monkeypatch) -> None:
    """missing_regime's cells at 30 % and 70 % hidden carry those fractions, and a variant's runs at
    the two levels have different keys."""
    cells = regime_cells(monkeypatch, R.missing_regime, LABELS_BASE, [0, 1], fractions=(0.3, 0.7))
    for c in cells:
        f = {"30 % hidden": 0.3, "70 % hidden": 0.7}[c.level]
        assert c.config.hide_fraction == f and c.config.hide_labels == R.FOCUS_LABELS, (c.level, c.variant)
    for v in R.MISSING.variants:
        keys = {c.config.key() for c in cells if c.variant == v}
        assert len(keys) == 2, v


def check_hidden_share_follows_the_fraction() -> None:
    """The training targets a run gets (load_splits) hide round(f · positives) of each hidden label,
    at two different fractions f."""
    from mlgcn_core.data import sources

    full = sources.load_splits(ExperimentConfig(outfits=TINY)).train_positives
    for label in ("coat", "sandal"):
        c = CLASSES.index(label)
        n = int(full[:, c].sum())
        for f in (0.3, 0.7):
            cfg = ExperimentConfig(outfits=TINY, hide_labels=(label,), hide_fraction=f, seed=1)
            assert sources.load_splits(cfg).train_targets[:, c].sum() == n - round(f * n), (label, f)
            assert sources.hide_annotations(cfg, full)[:, c].sum() == n - round(f * n), (label, f)


def check_graph_labels_are_keyed() -> None:
    """Every graph whose adjacency changes with where its label sets come from (the run's scenes or
    the label corpus) keys ``graph_labels``: two configs that differ only there have different run
    keys — the binary and re-weighted graphs among them."""
    from mlgcn_core.graph import GRAPHS

    rare = ExperimentConfig(outfits=TINY, rare_labels=("coat",), rare_positives=3, seed=2)
    changed = []
    for name in GRAPHS.names():
        own, corpus = rare.replace(graph=name), rare.replace(graph=name, graph_labels="corpus")
        if not np.array_equal(label_graph(own, load_splits(own).train_positives),
                              label_graph(corpus, load_splits(corpus).train_positives)):
            changed.append(name)
            assert own.key() != corpus.key(), name
    assert {"binary", "reweighted", "shuffled"} <= set(changed)


def test_the_regimes_knobs_reach_the_runs(monkeypatch):
    check_every_variant_has_runs_of_its_own(monkeypatch)
    check_missing_regime_hides_each_fraction(monkeypatch)
    check_hidden_share_follows_the_fraction()
    check_graph_labels_are_keyed()


# --- the COCO-shaped regimes: label frequency, public label statistics ----------------------------------


def check_frequency_scores(frame: pd.DataFrame, train_positives: np.ndarray) -> None:
    """:func:`R.frequency_regime` on a size regime's runs: its bins partition the labels (head ≥ medium ≥
    tail by training positives), it reads the largest level only, and each row's ``score`` /
    ``val_score`` is :func:`map_by_bin` of its run's test / validation AP over that bin."""
    from mlgcn_core.metrics import FREQUENCY_BINS, frequency_bins, map_by_bin
    from mlgcn_core.runs import load_run

    bins = frequency_bins(train_positives)
    counts = np.asarray(train_positives).sum(0)  # (C,)
    assert sorted(np.concatenate(list(bins.values())).tolist()) == list(range(len(counts)))  # a partition
    assert counts[bins["head"]].min() >= counts[bins["medium"]].max() >= 0
    assert counts[bins["medium"]].min() >= counts[bins["tail"]].max()
    out = R.frequency_regime(frame, train_positives)
    top = frame[frame["level"] == frame["level"].max()]
    assert len(out) == len(FREQUENCY_BINS) * len(top) and set(out["run"]) == set(top["run"])
    assert list(dict.fromkeys(out["level"])) == list(FREQUENCY_BINS) and set(out["regime"]) == {R.FREQUENCY.name}
    for r in out.itertuples():
        run = load_run(r.run)
        assert r.score == pytest.approx(map_by_bin(run.metrics["AP"], bins)[r.level]), (r.level, r.variant)
        assert r.val_score == pytest.approx(map_by_bin(run.val_metrics["AP"], bins)[r.level]), (r.level, r.variant)
        assert r.classes == len(bins[r.level])


def test_frequency_regime_reads_the_bins_off_the_runs(regime):
    frame, _ = regime
    check_frequency_scores(frame, load_splits(ExperimentConfig(outfits=TINY)).train_positives)


def check_frequency_on_stored_runs(monkeypatch) -> None:
    """:func:`check_frequency_scores` on a stand-in run store (two levels, two variants, three seeds,
    80 labels with a long tail: per-label AP drawn at random per run and split), nothing trained."""
    import types

    import mlgcn_core.runs as runs

    rng = np.random.default_rng(0)
    positives = (rng.random((3000, 80)) < np.geomspace(0.5, 0.002, 80)).astype(np.int64)  # (n, C) a long tail
    store, rows = {}, []
    for level in (1000, 3000):
        for v in (R.GMP, R.RW):
            for seed in range(3):
                name = f"/runs/{level}-{v}-{seed}"
                store[name] = types.SimpleNamespace(metrics={"AP": rng.uniform(0, 100, 80)},
                                                    val_metrics={"AP": rng.uniform(0, 100, 80)})
                rows.append({"regime": R.COCO_SIZE.name, "level": level, "variant": v, "seed": seed, "lr": 0.02,
                             "steps": 10, "mAP": 50.0, "run": name, "benchmark": "COCO-shaped outfits"})
    monkeypatch.setattr(runs, "load_run", lambda path: store[str(path)])
    check_frequency_scores(pd.DataFrame(rows), positives)


def test_frequency_regime_on_a_long_tail(monkeypatch):
    check_frequency_on_stored_runs(monkeypatch)


def check_public_graph_reaches_the_model() -> None:
    """``graph_labels="public"``: the graph a COCO-shaped run propagates over — the head's Â — is the
    paper's graph (Eq. 6–8) on COCO 2014 train's shipped counts, whatever the run's own label sets
    (binary and shuffled alike); it is in the run key (not the annotations' graph's, nor the
    corpus graph's), and a graph that reads no label statistics ignores it."""
    from mlgcn_core.data import coco_shaped
    from mlgcn_core.data.coco_labels import load_counts
    from mlgcn_core.models import build_model

    counts = load_counts()
    cfg = COCO.replace(graph_labels="public", seed=4)
    own = (np.random.default_rng(0).random((60, 80)) < 0.1).astype(np.int64)  # a run's own label sets
    own[0] = 1  # every label seen
    expected = build_adjacency(counts.adj, counts.nums, cfg.tau, cfg.p, cfg.scheme)  # (80, 80) A'
    assert np.array_equal(label_graph(cfg, own), expected)
    assert not np.array_equal(label_graph(cfg.replace(graph_labels="train"), own), expected)
    model = build_model(cfg, own, coco_shaped.classes(), feature_dim=16)
    assert np.allclose(model.head.adj_hat.numpy(), normalize_adjacency(expected), atol=1e-6)
    assert np.array_equal(label_graph(cfg.replace(graph="binary"), own),
                          binary_adjacency(counts.adj, counts.nums, cfg.tau))
    perm = label_permutation(80, cfg.seed)
    assert np.array_equal(label_graph(cfg.replace(graph="shuffled"), own), expected[np.ix_(perm, perm)])
    for graph in ("reweighted", "binary", "shuffled"):
        keys = {COCO.replace(graph=graph, graph_labels=g).key() for g in ("train", "corpus", "public")}
        assert len(keys) == 3, graph
    for graph in ("identity", "oracle"):
        assert COCO.replace(graph=graph, graph_labels="public").key() == COCO.replace(graph=graph).key()


def test_public_graph_reaches_the_model_and_the_run_key():
    check_public_graph_reaches_the_model()


def check_public_refused() -> None:
    """A dataset that publishes no label statistics refuses ``graph_labels="public"`` when the config
    is made, in one line naming the datasets that do; the graph builder refuses it too."""
    for fields in (dict(), dict(dataset="voc2007"), dict(dataset="custom")):
        with pytest.raises(ValueError) as err:
            ExperimentConfig(graph_labels="public", **fields)
        assert "\n" not in str(err.value) and "publishes no label statistics" in str(err.value)
        assert "(only ['coco_shaped'] do)" in str(err.value)
    with pytest.raises(ValueError, match="publishes no label statistics"):  # the builder's own check
        label_graph(_bypass(graph_labels="public"), _labels(50))


def test_a_dataset_without_public_counts_refuses_them_in_one_line():
    check_public_refused()


def check_coco_regimes_are_fixed_in_advance() -> None:
    """The COCO-shaped regimes are in the chapter's family with their primary comparison, each
    variant they compare runs in them, and each graph a comparison credits meets its shuffled twin
    there — the public graph its own (same edge weights on permuted labels)."""
    assert list(R.COCO_REGIMES) == [R.COCO_SIZE.name, R.FREQUENCY.name, R.PUBLIC_CORPUS.name,
                                    R.PUBLIC_FREQUENCY.name]
    assert set(R.COCO_REGIMES) <= set(R.REGIMES)
    for regime in R.COCO_REGIMES.values():
        assert regime.primary in regime.comparisons
        assert all({c.a, c.b} <= set(regime.variants) for c in regime.comparisons), regime.name
        for g in {c.a for c in regime.comparisons if c.kind in ("graph", "corpus")}:
            assert R.SHUFFLED_TWIN[g] in regime.variants, (regime.name, g)
            assert R.Comparison(g, R.SHUFFLED_TWIN[g], "right") in regime.comparisons, (regime.name, g)
        assert R.Comparison(R.RW, R.GMP, "baseline") in regime.comparisons  # ML-GCN − GMP beside every regime
        assert R.Comparison(R.UNCOUPLED, R.GMP, "practitioner") in regime.comparisons
    assert R.PUBLIC_CORPUS.primary == R.Comparison(R.PUBLIC, R.RW, "corpus")
    assert R.Comparison(R.PUBLIC, R.GMP, "practitioner") in R.PUBLIC_CORPUS.comparisons
    # the default build's variants are the regimes' own; every comparison the default runs has both
    s = R.settings()
    for key, regime in (("coco_size", R.COCO_SIZE), ("public", R.PUBLIC_CORPUS)):
        assert set(s[key]["variants"]) <= set(regime.variants)


def test_coco_regimes_are_fixed_in_advance():
    check_coco_regimes_are_fixed_in_advance()


def test_read_off_regimes_take_their_sources_convergence():
    """The label-frequency bins (and the occlusion bins) read the runs of their source regime's
    largest level, so they take its plateau verdicts."""
    conv = pd.DataFrame([{"regime": R.COCO_SIZE.name, "level": lvl, "variant": v, "converged": ok}
                         for lvl, v, ok in ((3000, "a", True), (12000, "a", False), (12000, "b", True))]
                        + [{"regime": R.PUBLIC_CORPUS.name, "level": 3000, "variant": "c", "converged": False}])
    cells = R.converged_cells(conv)
    assert all(cells[(R.FREQUENCY.name, b, "a")] is False and cells[(R.FREQUENCY.name, b, "b")] is True
               for b in ("head", "medium", "tail"))
    assert all(cells[(R.PUBLIC_FREQUENCY.name, b, "c")] is False for b in ("head", "medium", "tail"))
    assert not any(k[0] == R.OCCLUSION.name for k in cells)  # no 10-label size regime ran


def test_empty_regimes_leave_no_rows():
    """A regime left out of the build (no levels) trains nothing and has no rows, no convergence."""
    out = R.size_regime(ExperimentConfig(outfits=TINY), [0, 1, 2], sizes=())
    assert out.empty and T.lr_grid(out).empty and T.lengthened(out) == [] and T.convergence(out).empty
