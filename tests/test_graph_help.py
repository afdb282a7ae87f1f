"""Does the graph help? The controls (identity, shuffled, oracle graphs), the exact outfit model,
the recorded visibility, the training subsets (sizes, rare labels), the fair budget, the lr choice,
the verdict table and the expressiveness check."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch

from mlgcn_core.book import graph_help as gh
from mlgcn_core.book.analysis import expressiveness, reachability
from mlgcn_core.book.findings import HELD, NOT_HELD, TOO_FEW
from mlgcn_core.config import ExperimentConfig, load_preset
from mlgcn_core.data import outfits
from mlgcn_core.data.outfits import CLASSES, OutfitsConfig
from mlgcn_core.data.sources import keep_rare, load_splits, outfit_training_rows
from mlgcn_core.graph import (
    build_adjacency,
    conditional_probability,
    cooccurrence,
    normalize_adjacency,
)
from mlgcn_core.models import GCNHead, label_graph, label_permutation

TINY = OutfitsConfig(n_train=120, n_val=60, n_test=80)


def _labels(n=4000, seed=3):
    return outfits.sample_labels(np.random.default_rng(seed), n)


# --- run keys -------------------------------------------------------------------------------------

def test_existing_run_keys_unchanged():
    """The new fields and graph choices leave every earlier run's key (and folder) as it was."""
    base = load_preset("default")
    assert base.key() == "34826744c82d"
    assert base.replace(model="baseline").key() == "6ebf615a740e"
    assert base.replace(model="baseline", pooling="avg").key() == "5df0dcf4e286"
    assert base.replace(graph="binary").key() == "f4dbe5a69964"
    assert base.replace(word_vectors="random").key() == "3217034d89c0"
    assert base.replace(tau=1.0).key() == "07983b4ca4dd"
    # the new fields enter the key when set; the identity graph ignores τ and p
    keys = {base.replace(**c).key() for c in (dict(graph="identity"), dict(graph="shuffled"),
                                               dict(graph="oracle"), dict(train_scenes=100),
                                               dict(selection="last"),
                                               dict(rare_labels=("coat",), rare_positives=5))}
    assert len(keys) == 6 and base.key() not in keys
    assert base.replace(graph="identity", tau=0.1, p=0.3).key() == base.replace(graph="identity").key()


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="voc2007", graph="oracle"), "graph='oracle': only for dataset='outfits'"),
    (dict(dataset="coco2014", train_scenes=10), "train_scenes: only for dataset='outfits'"),
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
    with pytest.raises(ValueError, match="only for dataset='outfits'"):
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


def test_occluded_ap():
    targets = np.array([[1, 0], [1, 1], [0, 1], [1, 0], [0, 0]])
    vis = np.array([[0.2, np.nan], [0.9, 0.3], [np.nan, 0.4], [0.3, np.nan], [np.nan, np.nan]])
    scores = np.array([[0.1, 0.0], [5.0, 0.9], [0.3, 0.2], [0.8, 0.0], [0.2, 0.5]])
    out = gh.occluded_ap(scores, targets, vis, threshold=0.5, min_positives=2)
    # class 0: occluded positives rows 0, 3; the visible row 1 is left out; negatives rows 2, 4
    # ranking 3 (0.8, pos), 2 (0.3), 4 (0.2), 0 (0.1, pos) → AP = (1/1 + 2/4) / 2
    assert out["AP"][0] == pytest.approx(100 * 0.75)
    # class 1: occluded positives rows 1, 2; ranking 1 (0.9, pos), 4 (0.5), 2 (0.2, pos), 0, 3
    assert out["AP"][1] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert out["mAP"] == pytest.approx(np.mean(out["AP"]))
    assert list(out["positives"]) == [2, 2]
    assert np.isnan(gh.occluded_ap(scores, targets, vis, 0.5, min_positives=3)["mAP"])  # none qualifies


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


# --- fair budget, selection "last", lr choice ---------------------------------------------------------

def test_fair_budget():
    assert gh.fair_budget(100, 300, 100) == {"epochs": 300, "lr_steps": (240,)}
    assert gh.fair_budget(6000, 300, 100) == {"epochs": 5, "lr_steps": (4,)}
    for n in (100, 300, 1000, 6000):
        b = gh.fair_budget(n, 300, 100)
        assert b["epochs"] * gh.steps_per_epoch(n, 100) == 300
        assert b["lr_steps"][0] * gh.steps_per_epoch(n, 100) == 240
    with pytest.raises(ValueError, match="not a whole number of epochs"):
        gh.fair_budget(6000, 300, 128)


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
    frame = gh.size_regime(base, seeds=[0, 1], sizes=(30, 120), steps=20, batch_size=30,
                           lrs=(0.003, 0.3), variants=("baseline (GMP)", "identity"), jobs=1)
    mp.undo()
    return frame, steps


def test_size_regime_same_steps_at_every_size(regime):
    frame, steps = regime
    # 2 sizes × 2 variants × 2 lrs × 2 seeds runs, each exactly 20 optimizer steps
    assert len(steps) == 16 and set(steps.values()) == {20}
    assert len(frame) == 2 * 2 * 2 and set(frame["steps"]) == {20}
    assert set(frame.columns) >= {"regime", "level", "variant", "seed", "lr", "score", "val_score", "mAP"}
    assert frame.groupby(["level", "variant"])["lr"].nunique().eq(1).all()
    grid = frame.attrs["lr_grid"]
    for (lvl, v), lr in gh.picked_lrs(frame).items():
        g = grid[(grid.level == lvl) & (grid.variant == v)]
        assert lr == g.loc[g.val_score.idxmax(), "lr"]
    from mlgcn_core.runs import load_run

    r = load_run(frame["run"].iloc[0])
    assert r.config.selection == "last" and r.best_epoch == r.config.epochs
    assert np.isnan(r.history[0]["val_mAP"]) or r.config.epochs == 1
    assert np.isfinite(r.history[-1]["val_mAP"])


def test_lr_is_picked_on_validation_not_test():
    rows = []
    for seed in (0, 1, 2):
        rows += [{"level": 100, "variant": "v", "seed": seed, "lr": 0.01, "val_score": 60, "score": 70},
                 {"level": 100, "variant": "v", "seed": seed, "lr": 0.1, "val_score": 65, "score": 50}]
    picked = gh.pick_lr(pd.DataFrame(rows))
    assert set(picked["lr"]) == {0.1} and len(picked) == 3  # the val-best, though test prefers 0.01


# --- verdicts -------------------------------------------------------------------------------------

def _frame(diffs: dict[str, list[float]], regime="training scenes", level=100) -> pd.DataFrame:
    """Scores: identity = 50 at every seed, each other variant 50 + its differences."""
    rows = []
    for v, ds in {"identity": [0.0] * len(next(iter(diffs.values()))), **diffs}.items():
        rows += [{"regime": regime, "level": level, "variant": v, "seed": s, "score": 50 + d}
                 for s, d in enumerate(ds)]
    return pd.DataFrame(rows)


def test_verdict_table_and_sentences():
    up = [1.0, 1.2, 0.9, 1.1, 1.0]
    flat = [0.3, -0.2, 0.1, -0.4, 0.2]
    helps = _frame({"co-occurrence": up, "shuffled": flat, "oracle": up, "baseline (GMP)": flat,
                    "co-occurrence, random vectors": flat})
    flat2 = [-0.1, 0.2, 0.0, 0.3, -0.2]
    nothing = _frame({"co-occurrence": flat, "shuffled": flat2, "oracle": flat2}, level=6000)
    table = gh.verdict_table([helps, nothing])
    t = table.set_index(["level", "comparison"])
    assert t.loc[(100, "co-occurrence − identity"), "verdict"] == HELD
    assert t.loc[(100, "co-occurrence − shuffled"), "verdict"] == HELD
    assert t.loc[(100, "co-occurrence − baseline (GMP)"), "verdict"] == HELD
    assert t.loc[(6000, "co-occurrence − identity"), "verdict"] == NOT_HELD
    assert (6000, "co-occurrence − baseline (GMP)") not in t.index  # not run: no row
    assert t.loc[(100, "co-occurrence − identity"), "seeds"] == 5
    assert t.loc[(100, "co-occurrence − identity"), "difference"] == pytest.approx(1.04)
    assert gh.graph_reading(table, "training scenes", 100) == "helps"
    assert gh.graph_reading(table, "training scenes", 6000) == "nothing"
    text = gh.graph_sentences(table)
    assert "beats the identity and shuffled graphs at 100" in text
    assert "at 6,000 training scenes it is not better" in text and "contributes nothing there" in text
    only_nothing = gh.graph_sentences(gh.verdict_table(nothing))
    assert "contributes nothing in this regime" in only_nothing
    few = gh.verdict_table(_frame({"co-occurrence": [1.0, 2.0], "shuffled": [0.0, 0.1],
                                   "oracle": [0.5, 0.4]}))
    assert set(few["verdict"]) == {TOO_FEW}
    assert gh.graph_reading(few, "training scenes", 100) == "too few seeds"
    below = gh.graph_sentences(gh.verdict_table(_frame({"co-occurrence": [-1.0, -1.1, -0.9],
                                                        "shuffled": flat2[:3], "oracle": flat[:3]})))
    assert "*below* its control" in below
    assert gh.verdict_counts(table)[HELD] == 5
    assert list(gh.paper_scale()["difference"]) == [5.7, 1.1, 4.1, 1.0]  # COCO, VOC: over GAP, over GMP


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
    # a head too narrow (hidden < C) cannot reach an arbitrary matrix
    narrow = GCNHead(z, A, D, depth=2, hidden=4)
    assert reachability(narrow, w_base)["residual"] > 0.1


def test_expressiveness_of_runs(regime, tmp_path):
    """From two finished runs' model.pt: an identity-graph ML-GCN head reaches the baseline's W."""
    from mlgcn_core.runs import load_run

    frame, _ = regime
    pick = lambda v: load_run(frame[frame.variant == v]["run"].iloc[0])  # noqa: E731
    out = expressiveness(pick("identity"), pick("baseline (GMP)"))
    assert out["rank"] == len(CLASSES) and out["residual"] < 1e-6 and out["own_residual"] < 1e-5
    with pytest.raises(ValueError, match="not an ML-GCN run"):
        expressiveness(pick("baseline (GMP)"), pick("baseline (GMP)"))


def test_chapter_settings_fit_the_fair_budget_and_shrink_under_smoke():
    s = gh.settings(smoke=False)
    for n in s["size"]["sizes"]:  # every size gets the same steps, whole epochs, lr decay on an epoch
        b = gh.fair_budget(n, s["size"]["steps"], s["size"]["batch_size"])
        assert b["epochs"] * gh.steps_per_epoch(n, s["size"]["batch_size"]) == s["size"]["steps"]
    assert set(s["control_sizes"]) <= set(s["size"]["sizes"])
    tiny = gh.settings(smoke=True)
    for n in tiny["size"]["sizes"]:
        gh.fair_budget(n, tiny["size"]["steps"], tiny["size"]["batch_size"])
    assert max(tiny["size"]["sizes"]) < max(s["size"]["sizes"])


def _regime_rows(scores: dict, regime="training scenes"):
    """Tidy regime rows: {(level, variant): [score per seed]}."""
    return pd.DataFrame([{"regime": regime, "level": lvl, "variant": v, "seed": i, "lr": 0.02, "score": x,
                          "val_score": x, "mAP": x, "run": f"r{lvl}{v}{i}"}
                         for (lvl, v), xs in scores.items() for i, x in enumerate(xs)])


def test_regime_table_claims_and_learned_rows():
    up = [1.0, 1.2, 0.9, 1.1, 1.0]
    frame = _regime_rows({(100, "co-occurrence"): [70 + u for u in up], (100, "baseline (GMP)"): [70] * 5,
                    (100, "identity"): [70.5, 70.4, 70.6, 70.5, 70.5],
                    (6000, "co-occurrence"): [75.0] * 5, (6000, "baseline (GMP)"): [75.1, 74.9, 75.2, 74.8, 75.0],
                    (6000, "identity"): [75.0, 75.1, 74.9, 75.0, 75.0]})
    t = gh.regime_table(frame)
    assert t.loc[100, "seeds"] == 5 and t.loc[100, "baseline (GMP)"] == "70.0 ± 0.0"
    table = gh.verdict_table(frame)
    claims = gh.claims(table)  # the hardest level (fewest scenes) only, both comparisons
    assert [c["claim"] for c in claims] == ["ML-GCN above the GMP baseline: training scenes, 100",
                                            "the co-occurrence graph above no graph (identity): training scenes, 100"]
    assert [c["verdict"] for c in claims] == ["held", "held"] and claims[0]["here"].startswith("+1.04 [")

    class R:  # the fields of a RunResult that learned_frame reads
        def __init__(self, seed, m):
            self.config, self.metrics, self.val_metrics, self.path = \
                ExperimentConfig(seed=seed), {"mAP": m}, {"mAP": m}, f"run{seed}{m}"

    rows = gh.learned_frame({"baseline (GMP)": [R(0, 75.0), R(1, 75.1)],
                             "ML-GCN (re-weighted)": [R(0, 74.5), R(1, 74.4)]})
    assert set(rows.variant) == {"baseline (GMP)", "co-occurrence"} and set(rows.regime) == {"features learned"}
    t = gh.verdict_table(rows)
    assert list(t.comparison) == ["co-occurrence − baseline (GMP)"] and t.verdict.iloc[0] == "not enough seeds to judge"
    assert "not isolated" in gh.graph_sentences(t)
