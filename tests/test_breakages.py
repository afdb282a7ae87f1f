"""Each strengthened check, fed a deliberately broken variant of the production code it guards,
fails: the engine's update doing nothing, a worker training the wrong seed, a downloader that
ignores ``.part``, a transposed Â, GloVe rows off by one, ``report.best_setting`` reporting a best
value that is not the highest mean, ``findings.judge`` on the old '2 standard errors' rule, the
words chapter 04 and the first page print calling an inconclusive row held, the regimes' own
knobs (the corpus graph's label sets, the hidden share, the binary graph's key) not reaching the
runs, and the COCO-shaped regimes' parts (the label-frequency scores, the public graph, its refusal,
the shuffled twins) broken. (The constant-model ``predict`` breakage sits beside its test in test_train.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_data import check_glove_rows, check_resumed_download
from test_findings import (
    check_claims,
    check_closing,
    check_graph_gain_beside_gmp,
    check_page_summary,
    check_regime_sentences,
    table,
)
from test_models import check_mlgcn_forward
from test_notebooks import check_best_is_highest_mean
from test_regimes import (
    check_coco_regimes_are_fixed_in_advance,
    check_every_variant_has_runs_of_its_own,
    check_frequency_on_stored_runs,
    check_graph_labels_are_keyed,
    check_hidden_share_follows_the_fraction,
    check_missing_regime_hides_each_fraction,
    check_public_graph_reaches_the_model,
    check_public_refused,
)
from test_train import TINY, check_learns, check_same_runs

from mlgcn_core.config import ExperimentConfig
from mlgcn_core.download import download
from mlgcn_core.models import MLGCN


@pytest.mark.slow
def test_learning_check_fires_when_the_engine_does_not_update(tmp_path, monkeypatch):
    """The engine's update broken (its optimizer's step does nothing): the same configuration that
    check_learns passes (test_learning_happens_and_is_deterministic) no longer learns."""
    from mlgcn_core import train

    real = train.make_optimizer

    def no_update(model, cfg):
        opt = real(model, cfg)
        opt.step = lambda *args, **kwargs: None
        return opt

    monkeypatch.setattr(train, "make_optimizer", no_update)
    cfg = ExperimentConfig(outfits=TINY, epochs=4, lr_steps=(3,), batch_size=32, model="baseline")
    with pytest.raises(AssertionError):
        check_learns(cfg, tmp_path)


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


def _report_best(tab):
    """What the ablation chapters report: ``report.best_setting`` and ``report.curve`` of a table."""
    from mlgcn_core.book import report

    return (report.best_setting(tab, "tau", "ML-GCN (re-weighted)"),
            report.curve(tab, "tau").to_dict("records"))


def test_best_value_check_fires_when_report_best_setting_breaks(monkeypatch):
    """``report.best_setting`` itself broken (the lowest mean for the highest): the check on what it
    reports, which passes on the production function, fails."""
    from mlgcn_core.book import report

    tab = table("tau", {"ML-GCN (re-weighted)": {0.2: 70.0, 0.4: 73.0, 0.6: 72.0}})
    check_best_is_highest_mean(*_report_best(tab), "tau")

    def idxmin_best_setting(t, x, variant, metric="mAP"):  # the production function with idxmin
        c = report.curve(t, x, metric)
        row = c[c["variant"] == variant].set_index(x)["mean"]
        return {x: row.idxmin(), "mean": float(row.min())}

    monkeypatch.setattr(report, "best_setting", idxmin_best_setting)
    with pytest.raises(AssertionError):
        check_best_is_highest_mean(*_report_best(tab), "tau")


def check_judge() -> None:
    """``findings.judge`` at 95 %: [1, 2, 3] (mean 2 > 2 standard errors, t-interval [-0.48, 4.48]) is
    inconclusive; a tight positive difference is held, a tight negative one reversed; one seed is
    too few."""
    from mlgcn_core.book import findings as F

    assert F.judge(F.paired_interval([1.0, 2.0, 3.0])) == F.INCONCLUSIVE
    assert F.judge(F.paired_interval([1.9, 2.0, 2.1])) == F.HELD
    assert F.judge(F.paired_interval([-2.1, -2.0, -1.9])) == F.REVERSED
    assert F.judge(F.paired_interval([1.0])) == F.TOO_FEW


def test_judge_check_fires_on_the_old_two_standard_error_rule(monkeypatch):
    """``findings.judge`` broken into the rule the book used before (held when the mean exceeds two
    standard errors): the check that passes on the production judge fails."""
    from mlgcn_core.book import findings as F

    check_judge()
    real = F.judge

    def two_standard_errors(d, *args, **kwargs):
        if d["n"] < F.MIN_SEEDS or not d["std"]:
            return real(d, *args, **kwargs)
        return F.HELD if d["mean"] > 2 * d["std"] / d["n"] ** 0.5 else real(d, *args, **kwargs)

    monkeypatch.setattr(F, "judge", two_standard_errors)
    with pytest.raises(AssertionError):
        check_judge()


def test_depth_findings_name_a_level_that_was_not_run():
    from mlgcn_core.book import findings as F

    depth = table("gcn_depth", {"ML-GCN (re-weighted)": {2: 75.0, 3: 73.0}})
    assert "not tested (depth 4 was not run)" in F.depth_findings(depth).replace("**", "")


# --- the words printed: an inconclusive row called held ----------------------------------------------

def _open_as_held(table, rows=None):
    """``table`` with its inconclusive rows (those of ``rows(table)`` only, when given) read as held."""
    from mlgcn_core.book import findings as F

    hit = table["verdict"] == F.INCONCLUSIVE
    if rows is not None:
        hit &= rows(table)
    return table.assign(verdict=table["verdict"].mask(hit, F.HELD))


def _baseline_rows(t):
    from mlgcn_core.book.regimes import GMP, RW

    return t["comparison"] == f"{RW} − {GMP}"


@pytest.mark.parametrize("name, check, broken", [
    ("regime_sentences", check_regime_sentences, lambda real: lambda t: real(_open_as_held(t))),
    # the "above the baseline" count taking an inconclusive ML-GCN − GMP level for a gain
    ("closing", check_closing, lambda real: lambda t: real(_open_as_held(t, _baseline_rows))),
    # a kind's "N held" counting its inconclusive comparisons
    ("closing", check_closing, lambda real: lambda t: real(_open_as_held(t, lambda t: t["kind"] == "graph"))),
    ("claims", check_claims, lambda real: lambda t, *a: [dict(c, verdict="held" if c["verdict"] == "inconclusive"
                                                              else c["verdict"]) for c in real(t, *a)]),
], ids=["regime_sentences", "closing-baseline-count", "closing-kind-count", "claims"])
def test_prose_checks_fire_when_an_inconclusive_row_is_called_held(monkeypatch, name, check, broken):
    """Chapter 04's sentences and its rows for the first page, each broken into calling an
    inconclusive row held: the check that passes on the production function fails."""
    from mlgcn_core.book import prose

    check()
    monkeypatch.setattr(prose, name, broken(getattr(prose, name)))
    with pytest.raises(AssertionError):
        check()


def test_page_summary_check_fires_when_an_inconclusive_claim_is_called_held(monkeypatch):
    from mlgcn_core.book import findings as F

    check_page_summary()
    real = F.page_summary
    monkeypatch.setattr(F, "page_summary", lambda rows: real(
        [dict(r, verdict=F.HELD if r["verdict"] == F.INCONCLUSIVE else r["verdict"]) for r in rows]))
    with pytest.raises(AssertionError):
        check_page_summary()


def test_graph_gain_check_fires_when_the_gmp_rows_are_left_out(monkeypatch):
    """A held gain of the corpus graph over the re-weighted one printed alone, without either graph
    against the GMP baseline beside it."""
    from mlgcn_core.book import prose

    check_graph_gain_beside_gmp()
    monkeypatch.setattr(prose, "against_baseline", lambda table, row: "")
    with pytest.raises(AssertionError):
        check_graph_gain_beside_gmp()


# --- the regimes' knobs not reaching the runs ------------------------------------------------------------

def test_run_key_check_fires_when_the_corpus_variant_loses_its_label_corpus(monkeypatch):
    """The corpus graph's row of the variant table without ``graph_labels="corpus"``: its runs' key is
    the re-weighted graph's, so it would read those runs back."""
    from mlgcn_core.book.chapters import VARIANTS
    from mlgcn_core.book.regimes import CORPUS

    check_every_variant_has_runs_of_its_own(monkeypatch)
    monkeypatch.setitem(VARIANTS, CORPUS, {k: v for k, v in VARIANTS[CORPUS].items() if k != "graph_labels"})
    with pytest.raises(AssertionError):
        check_every_variant_has_runs_of_its_own(monkeypatch)


def test_missing_regime_check_fires_when_its_fraction_is_ignored(monkeypatch):
    from mlgcn_core.book import regimes

    check_missing_regime_hides_each_fraction(monkeypatch)
    real = regimes._head

    def one_fraction(base, batch_size, variant, **fields):  # every level hides 70 %
        return real(base, batch_size, variant, **dict(fields, **({"hide_fraction": 0.7} if "hide_fraction" in fields
                                                                 else {})))

    monkeypatch.setattr(regimes, "_head", one_fraction)
    with pytest.raises(AssertionError):
        check_missing_regime_hides_each_fraction(monkeypatch)


def test_hidden_share_check_fires_when_hide_annotations_hides_one_fraction(monkeypatch):
    from mlgcn_core.data import sources

    check_hidden_share_follows_the_fraction()
    real = sources.hide_annotations
    monkeypatch.setattr(sources, "hide_annotations", lambda cfg, labels: real(cfg.replace(hide_fraction=0.5), labels))
    with pytest.raises(AssertionError):
        check_hidden_share_follows_the_fraction()


def test_graph_key_check_fires_when_the_binary_graph_does_not_key_its_label_sets(monkeypatch):
    import dataclasses

    from mlgcn_core.graph import GRAPHS

    check_graph_labels_are_keyed()
    monkeypatch.setitem(GRAPHS._entries, "binary", dataclasses.replace(GRAPHS["binary"], reads=("tau",)))
    with pytest.raises(AssertionError):
        check_graph_labels_are_keyed()


# --- the COCO-shaped regimes' parts broken ----------------------------------------------------------------

def _frequency_val_from_test(real):
    """frequency_regime whose validation score is read off the test AP."""
    def broken(frame, train_positives, *args, **kwargs):
        out = real(frame, train_positives, *args, **kwargs)
        return out.assign(val_score=out["score"])
    return broken


def _frequency_bins_by_index(real):
    """frequency_regime that cuts the labels into thirds by index, not by their training positives."""
    def broken(frame, train_positives, *args, **kwargs):
        counts = np.asarray(train_positives).sum(0)
        return real(frame, np.broadcast_to(np.arange(len(counts))[::-1], (1, len(counts))), *args, **kwargs)
    return broken


@pytest.mark.parametrize("broken", [_frequency_val_from_test, _frequency_bins_by_index],
                         ids=["val-from-test", "bins-by-index"])
def test_frequency_check_fires_when_the_bins_or_the_splits_are_wrong(monkeypatch, broken):
    from mlgcn_core.book import regimes

    check_frequency_on_stored_runs(monkeypatch)
    monkeypatch.setattr(regimes, "frequency_regime", broken(regimes.frequency_regime))
    with pytest.raises(AssertionError):
        check_frequency_on_stored_runs(monkeypatch)


def test_public_graph_check_fires_when_the_public_counts_do_not_reach_the_graph(monkeypatch):
    """The graph's statistics ignoring ``graph_labels="public"`` (the run's own label sets instead)."""
    from mlgcn_core import graph

    check_public_graph_reaches_the_model()
    monkeypatch.setattr(graph, "graph_statistics", lambda cfg, positives: graph.cooccurrence(positives))
    with pytest.raises(AssertionError):
        check_public_graph_reaches_the_model()


def test_public_graph_check_fires_when_the_reweighted_graph_does_not_key_its_statistics(monkeypatch):
    import dataclasses

    from mlgcn_core.graph import GRAPHS

    check_public_graph_reaches_the_model()
    monkeypatch.setitem(GRAPHS._entries, "reweighted",
                        dataclasses.replace(GRAPHS["reweighted"], reads=("tau", "p", "scheme")))
    with pytest.raises(AssertionError):
        check_public_graph_reaches_the_model()


def test_refusal_check_fires_when_the_config_accepts_public_counts_it_lacks(monkeypatch):
    check_public_refused()
    monkeypatch.setattr(ExperimentConfig, "_check_subset", lambda self: None)
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):  # the config made without a word
        check_public_refused()


def test_run_key_check_fires_when_the_public_variant_loses_its_statistics(monkeypatch):
    from mlgcn_core.book.chapters import VARIANTS
    from mlgcn_core.book.regimes import PUBLIC

    check_every_variant_has_runs_of_its_own(monkeypatch)
    monkeypatch.setitem(VARIANTS, PUBLIC, {k: v for k, v in VARIANTS[PUBLIC].items() if k != "graph_labels"})
    with pytest.raises(AssertionError):
        check_every_variant_has_runs_of_its_own(monkeypatch)


def test_twin_check_fires_when_the_public_graph_runs_without_its_shuffled_twin(monkeypatch):
    from mlgcn_core.book import regimes as R

    check_coco_regimes_are_fixed_in_advance()
    old = R.PUBLIC_CORPUS
    alone = R.Regime(old.name, old.unit, old.score, tuple(v for v in old.variants if v != R.SHUFFLED_PUBLIC),
                     tuple(c for c in old.comparisons if R.SHUFFLED_PUBLIC not in (c.a, c.b)), old.primary)
    monkeypatch.setitem(R.COCO_REGIMES, old.name, alone)
    with pytest.raises(AssertionError):
        check_coco_regimes_are_fixed_in_advance()


# --- the successors' heads and ASL (checks in test_heads.py) ----------------------------------------

def test_csra_check_fires_without_the_weight_norm():
    """CSRA's scores not divided by ‖m_k‖ (the paper's plain m_kᵀ x_j): the hand-computed case fails."""
    from test_heads import check_csra

    from mlgcn_core.heads import CSRABranch

    class Unnormalized(CSRABranch):
        def forward(self, x):
            s = self.scores(x).flatten(2)  # (N, K, h·w)
            att = s.amax(2) if self.temperature == float("inf") else (s * torch.softmax(self.temperature * s, 2)).sum(2)
            return s.mean(2) + self.lam * att

    check_csra()
    with pytest.raises(AssertionError):
        check_csra(Unnormalized)


def test_csra_check_fires_when_infinity_is_not_the_max():
    """T = ∞ taken as a large finite temperature would pass; taken as T = 1 (a softmax in place of
    the max), the check fails."""
    from test_heads import check_csra

    from mlgcn_core.heads import CSRABranch

    class NoMax(CSRABranch):
        def __init__(self, *args, temperature=1.0, **kwargs):
            super().__init__(*args, temperature=1.0 if temperature == float("inf") else temperature, **kwargs)

    with pytest.raises(AssertionError):
        check_csra(NoMax)


def test_group_wise_linear_check_fires_on_a_full_linear_read_out():
    """Every label read from every label's embedding (a full linear layer over the queries): fails."""
    from test_heads import check_group_wise_linear

    from mlgcn_core.heads import GroupWiseLinear

    class FullLinear(GroupWiseLinear):
        def forward(self, h):
            return torch.einsum("nkd,jd->nj", h, self.weight) + self.bias  # (N, K)

    check_group_wise_linear()
    with pytest.raises(AssertionError):
        check_group_wise_linear(FullLinear)


def test_ml_decoder_group_check_fires_on_interleaved_labels():
    """Query q decoding labels q, q + K_q, … (interleaved) instead of the block q·g … q·g + g − 1: fails."""
    from test_heads import check_ml_decoder_groups

    from mlgcn_core.heads import MLDecoderHead

    class Interleaved(MLDecoderHead):
        def forward(self, x):
            tokens = torch.relu(self.embed(x.flatten(2).transpose(1, 2)))
            h = self.layer(self.queries().unsqueeze(0).expand(x.shape[0], -1, -1), tokens)
            out = torch.einsum("nqd,qdg->ngq", h, self.pool_weight).flatten(1)  # label j·K_q + q
            return out[:, :self.num_classes] + self.pool_bias

    check_ml_decoder_groups()
    with pytest.raises(AssertionError):
        check_ml_decoder_groups(Interleaved)


def test_asl_check_fires_when_the_weight_carries_gradient():
    """ASL's focusing weight differentiated although the gradient-free weight is asked for: the
    values still match, the gradient does not."""
    from test_heads import check_asl

    from mlgcn_core.losses import AsymmetricLoss

    class WeightGrad(AsymmetricLoss):
        def __init__(self, *args, weight_grad=False, **kwargs):
            super().__init__(*args, weight_grad=True, **kwargs)

    check_asl()
    with pytest.raises(AssertionError):
        check_asl(WeightGrad)


def test_head_key_check_fires_when_an_entry_omits_a_field(monkeypatch):
    """CSRA's entry not declaring ``csra_temperatures``: the temperature drops out of its run key
    (two CSRA runs at T = 1 and T = ∞ would share a folder), and the check fails."""
    import dataclasses

    from test_heads import check_head_keys

    from mlgcn_core.config import MODELS

    check_head_keys()
    entries = dict(MODELS._entries)
    entries["csra"] = dataclasses.replace(entries["csra"], reads=("csra_lambda",))
    monkeypatch.setattr(MODELS, "_entries", entries)
    with pytest.raises(AssertionError):
        check_head_keys()
