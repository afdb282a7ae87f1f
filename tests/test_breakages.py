"""Each strengthened check, fed a deliberately broken variant, fails: learning at lr ≈ 0, a worker
training the wrong seed, a downloader that ignores ``.part``, a transposed Â, GloVe rows off by
one, an ablation reporting a best value that is not the highest mean, the old '2 standard errors'
verdict. (The constant-model ``predict`` breakage sits beside its test in test_train.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_data import check_glove_rows, check_resumed_download
from test_findings import table
from test_models import check_mlgcn_forward
from test_notebooks import check_best_is_highest_mean
from test_train import TINY, check_learns, check_same_runs

from mlgcn_core.config import ExperimentConfig
from mlgcn_core.download import download
from mlgcn_core.models import MLGCN


@pytest.mark.slow
def test_learning_check_fires_at_lr_zero(tmp_path):
    cfg = ExperimentConfig(outfits=TINY, epochs=4, lr_steps=(3,), batch_size=32, model="baseline")
    with pytest.raises(AssertionError):
        check_learns(cfg, tmp_path, trained_lr=1e-9)


@pytest.mark.slow
def test_parallel_check_fires_on_a_wrong_seed_worker(tmp_path, monkeypatch):
    import breakage_helpers

    from mlgcn_core import scheduler

    configs = [ExperimentConfig(outfits=TINY, epochs=4, lr_steps=(3,), batch_size=32, seed=s) for s in (0, 1)]
    monkeypatch.setattr(scheduler, "_train_in_worker", breakage_helpers.wrong_seed_worker)
    broken = scheduler.run_many(configs, tmp_path / "a", jobs=2)
    with pytest.raises(AssertionError):
        check_same_runs(broken, scheduler.run_many(configs, tmp_path / "b", jobs=1))


def test_download_check_fires_when_part_is_ignored(server, tmp_path):
    def ignores_part(url, dest, digest, **kw):
        (tmp_path / "f.bin.part").unlink()  # starts over, as a downloader ignoring .part would
        return download(url, dest, digest, **kw)

    with pytest.raises(AssertionError, match=r"\[None\]"):
        check_resumed_download(server, tmp_path, fetch=ignores_part)


def test_gcn_check_fires_on_a_transposed_adjacency():
    from mlgcn_core.graph import build_adjacency, cooccurrence

    rng = np.random.default_rng(0)
    M, N = cooccurrence((rng.random((200, 6)) < 0.4).astype(int))
    z, A = rng.standard_normal((6, 50)).astype(np.float32), build_adjacency(M, N, 0.3, 0.2)
    model = MLGCN(z, A, feature_dim=64)
    with torch.no_grad():
        model.head.adj_hat.copy_(model.head.adj_hat.t().clone())
    with pytest.raises(AssertionError, match="max"):
        check_mlgcn_forward(model, z, A, torch.rand(5, 64))


def test_glove_check_fires_on_rows_off_by_one():
    from mlgcn_core.embeddings import GloVe6B50

    g = GloVe6B50()
    g._row = {w: i + 1 for w, i in g._row.items()}
    with pytest.raises(AssertionError):
        check_glove_rows(g)


def test_best_value_check_fires_when_best_is_not_the_highest_mean():
    curve = [{"variant": "ML-GCN (re-weighted)", "tau": 0.2, "mean": 70.0},
             {"variant": "ML-GCN (re-weighted)", "tau": 0.6, "mean": 72.0}]
    check_best_is_highest_mean({"tau": 0.6, "mean": 72.0}, curve, "tau")
    with pytest.raises(AssertionError):
        check_best_is_highest_mean({"tau": 0.2, "mean": 70.0}, curve, "tau")  # e.g. idxmin for idxmax


def test_old_two_standard_error_rule_would_have_held():
    from mlgcn_core.book import findings as F

    d = F.paired_interval([1.0, 2.0, 3.0])
    assert d["mean"] > 2 * d["std"] / d["n"] ** 0.5  # what "held" used to mean …
    assert F.judge(d) == F.INCONCLUSIVE  # … is inconclusive at 95 % (t = 4.30 at 2 degrees of freedom)
    depth = table("gcn_depth", {"ML-GCN (re-weighted)": {2: 75.0, 3: 73.0}})
    assert "not tested (depth 4 was not run)" in F.depth_findings(depth).replace("**", "")
