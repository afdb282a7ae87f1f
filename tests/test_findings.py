"""The book's verdicts: a paired 95 % t-interval over seeds, "held" only when it lies above zero,
"not enough seeds to judge" below MIN_SEEDS (or with no spread), and an ordering claim over levels
that were not all run is "not tested", naming the missing level — for every findings function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgcn_core.book import findings as F

RW, BI = "ML-GCN (re-weighted)", "ML-GCN (binary)"


def table(x: str, means: dict[str, dict], seeds=(0, 1, 2), jitter: float = 0.3) -> pd.DataFrame:
    """A tidy sweep table (variant, x, seed, mAP, error): mAP = the given mean + per-row noise."""
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"variant": v, x: val, "seed": s, "mAP": m + jitter * rng.standard_normal(),
                          "error": None}
                         for v, row in means.items() for val, m in row.items() for s in seeds])


# --- paired_interval / judge / verdict -------------------------------------------------------------

def test_paired_interval_is_the_95_t_interval():
    d = F.paired_interval([1.0, 2.0, 3.0])
    assert (d["mean"], d["std"], d["n"]) == (2.0, 1.0, 3)
    half = 4.302652729911275 / 3 ** 0.5  # t_{0.975, 2} = 4.30, not 2 (a 95 %, not an 80 %, interval)
    assert d["lo"] == pytest.approx(2 - half) and d["hi"] == pytest.approx(2 + half)
    one = F.paired_interval([0.5, float("nan")])  # non-finite differences are dropped
    assert one["n"] == 1 and np.isnan(one["lo"]) and np.isnan(one["std"])


@pytest.mark.parametrize("values, expected", [
    ([3.0, 3.2, 2.9, 3.1], F.HELD),              # interval well above zero
    ([1.0, 2.0, 3.0], F.INCONCLUSIVE),           # mean 2 > 2 SE (the old rule: "holds") but 95 % reaches 0
    ([-1.0, -0.8, -1.2], F.REVERSED),            # significantly below zero: not hidden as "not held"
    ([-1.0, 0.5, -1.2], F.INCONCLUSIVE),         # below on average, the interval reaches above zero
    ([0.01], F.TOO_FEW),                         # one seed: any positive difference used to "hold"
    ([5.0, 6.0], F.TOO_FEW),                     # fewer than MIN_SEEDS
    ([1.0, 1.0, 1.0], F.TOO_FEW),                # no spread to judge by
])
def test_judge_every_branch(values, expected):
    d = F.paired_interval(values)
    assert F.judge(d) == expected
    assert F.effect_holds(d) == (expected == F.HELD)


def test_verdict_states_the_interval_and_the_judgement():
    held = F.verdict(F.paired_interval([3.0, 3.2, 2.9, 3.1]), "ML-GCN − baseline", "the paper's gain")
    assert "+3.05 [+2.84, +3.26] mAP (95 % CI, 4 seeds)" in held and "**holds** here" in held
    assert "the paper's gain" in held and "[3.0, 3.2, 2.9, 3.1]" in held
    no = F.verdict(F.paired_interval([1.0, 2.0, 3.0]), "a − b")
    assert "+2.00 [-0.48, +4.48] mAP (95 % CI, 3 seeds)" in no and "**inconclusive**" in no and "holds" not in no
    rev = F.verdict(F.paired_interval([-1.0, -0.8, -1.2]), "a − b")
    assert "is **reversed** here" in rev and "holds" not in rev
    few = F.verdict(F.paired_interval([0.01]), "a − b")
    assert "+0.01 mAP (1 seed, no interval)" in few and "**not enough seeds to judge**" in few
    assert "holds" not in few and "≥ 3 seeds" in few


def test_paired_difference_pairs_by_seed():
    frame = pd.DataFrame([{"variant": v, "seed": s, "mAP": m} for v, s, m in
                          [("a", 0, 5.0), ("a", 1, 6.0), ("a", 2, 7.5), ("b", 2, 7.0), ("b", 0, 4.0),
                           ("b", 1, 5.5), ("a", 3, 9.0)]])  # seed 3 has no partner
    d = F.paired_difference(frame, "a", "b")
    assert d["n"] == 3 and sorted(d["values"]) == [0.5, 0.5, 1.0]


# --- the ablation chapters' findings ----------------------------------------------------------------

def test_tau_findings_branches():
    held = F.tau_findings(table("tau", {RW: {0.2: 75.0, 0.5: 76.0}, BI: {0.2: 70.0, 0.5: 71.0}}), 0.4)
    assert "re-weighted **0.5** (" in held and "τ = 0.4" in held
    assert "at every τ (the paper's finding): **holds**" in held and "held at 2 of 2 τ values" in held
    mixed = F.tau_findings(table("tau", {RW: {0.2: 75.0, 0.5: 76.0}, BI: {0.2: 70.0, 0.5: 76.1}}))
    assert "at every τ (the paper's finding): **inconclusive**" in mixed and "held at 1 of 2" in mixed
    assert "τ = 0.5: inconclusive" in mixed
    against = F.tau_findings(table("tau", {RW: {0.2: 75.0, 0.5: 70.0}, BI: {0.2: 70.0, 0.5: 76.0}}))
    assert "at every τ (the paper's finding): **reversed**" in against and "τ = 0.5: reversed" in against
    few = F.tau_findings(table("tau", {RW: {0.2: 75.0}, BI: {0.2: 70.0}}, seeds=(0, 1)))
    assert "**not enough seeds to judge**" in few and "holds" not in few
    missing = table("tau", {RW: {0.2: 75.0, 0.5: 76.0}, BI: {0.2: 70.0}})
    text = F.tau_findings(missing)
    assert "**not tested**" in text and "binary at τ 0.5 was not run" in text and "holds" not in text


def test_p_findings_branches():
    collapse = F.p_findings(table("p", {RW: {0.2: 75.0, 0.9: 70.0, 1.0: 44.0}}), 0.2)
    assert "Best p: **0.2**" in collapse and "for p < 1" in collapse and "a clear collapse" in collapse
    no = F.p_findings(table("p", {RW: {0.2: 75.0, 1.0: 74.9}}))
    assert "no collapse shown" in no
    few = F.p_findings(table("p", {RW: {0.2: 75.0, 1.0: 44.0}}, seeds=(0,)))
    assert "not enough seeds to judge" in few and "collapse, as" not in few
    not_run = F.p_findings(table("p", {RW: {0.2: 75.0, 0.5: 74.0}}))
    assert "p = 1 collapse: **not tested** (p = 1 was not run)" in not_run


def test_depth_findings_branches():
    holds = F.depth_findings(table("gcn_depth", {RW: {1: 70.0, 2: 75.0, 3: 73.0, 4: 71.0}}))
    assert "**2** layers" in holds and "2 > 3 > 4: **holds**" in holds and "2 − 3 +" in holds
    fails = F.depth_findings(table("gcn_depth", {RW: {2: 75.0, 3: 73.0, 4: 74.0}}))
    assert "2 > 3 > 4: **reversed**" in fails  # 3 − 4 is significantly below zero
    few = F.depth_findings(table("gcn_depth", {RW: {2: 75.0, 3: 73.0, 4: 71.0}}, seeds=(0, 1)))
    assert "2 > 3 > 4: **not enough seeds to judge**" in few
    missing = F.depth_findings(table("gcn_depth", {RW: {2: 75.0, 3: 73.0}}))
    assert "2 > 3 > 4: **not tested** (depth 4 was not run)" in missing and "holds" not in missing
    failed = table("gcn_depth", {RW: {2: 75.0, 3: 73.0, 4: 71.0}})
    failed.loc[failed.gcn_depth == 4, "error"] = "RuntimeError: …"  # a failed point was not run
    assert "(depth 4 was not run)" in F.depth_findings(failed)


def test_embedding_findings_branches():
    semantic = F.embedding_findings(table("word_vectors", {RW: {"glove6b50d": 75.0, "onehot": 72.0,
                                                                "random": 73.0}}))
    assert "Best input: **glove6b50d**" in semantic and "one-hot (the paper's finding): **holds**" in semantic
    assert "word semantics add" in semantic
    not_semantic = F.embedding_findings(table("word_vectors", {RW: {"glove6b50d": 75.0, "onehot": 72.0,
                                                                    "random": 75.1}}))
    assert "random vectors (the gain is semantic): **inconclusive**" in not_semantic
    assert "**not** shown to come from the words' meaning" in not_semantic
    below = F.embedding_findings(table("word_vectors", {RW: {"glove6b50d": 73.0, "onehot": 74.0}}))
    assert "one-hot (the paper's finding): **reversed**" in below
    assert "random vectors (the gain is semantic): **not tested** (input random was not run)" in below
    few = F.embedding_findings(table("word_vectors", {RW: {"glove6b50d": 75.0, "onehot": 72.0}}, seeds=(0,)))
    assert "**not enough seeds to judge**" in few and "holds" not in few


def test_ablation_claims_pair_levels_and_name_what_was_not_run():
    from mlgcn_core.book.findings import ablation_claims

    rows = [{"variant": v, "word_vectors": w, "seed": s, "mAP": m + 0.1 * s, "error": None}
            for v, w, m in (("ML-GCN (re-weighted)", "glove6b50d", 75.0), ("ML-GCN (re-weighted)", "onehot", 74.0))
            for s in range(3)]
    (c,) = ablation_claims(pd.DataFrame(rows), "word_vectors")
    assert c["verdict"] == "not enough seeds to judge" and c["here"].startswith("+1.00")  # no spread: 1.0 each seed
    rows[-1]["mAP"] += 0.3  # spread, still above zero
    (c,) = ablation_claims(pd.DataFrame(rows), "word_vectors")
    assert c["verdict"] == "held"
    (c,) = ablation_claims(pd.DataFrame([r for r in rows if r["word_vectors"] != "onehot"]), "word_vectors")
    assert c["verdict"] == "not tested" and "word_vectors = onehot" in c["here"]


# --- three outcomes, Holm, the verdict table and the words printed from it ----------------------------

def test_p_value_agrees_with_the_interval():
    for values in ([3.0, 3.2, 2.9, 3.1], [1.0, 2.0, 3.0], [-1.0, -0.8, -1.2], [0.1, -0.1, 0.2, 0.0]):
        d = F.paired_interval(values)
        assert (d["p"] < 0.05) == (d["lo"] > 0 or d["hi"] < 0)
    assert np.isnan(F.paired_interval([1.0, 1.0, 1.0])["p"])


def test_holm_adjustment():
    # sorted 0.01, 0.02, 0.04 (m = 3) → 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04
    assert F.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert F.holm([0.5, float("nan"), 0.01]) == pytest.approx([0.5, float("nan"), 0.02], nan_ok=True)
    assert F.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 2 × 0.8 capped at 1, then monotone
    assert F.holm([0.3, 0.01]) == pytest.approx([0.3, 0.02])


class _Regime:
    def __init__(self, name, comparisons, primary):
        self.name, self.comparisons, self.primary = name, comparisons, primary


def _scores(diffs: dict[str, list[float]], regime="r", level=1):
    rows = [{"regime": regime, "level": level, "variant": "b", "seed": s, "score": 50.0}
            for s in range(len(next(iter(diffs.values()))))]
    rows += [{"regime": regime, "level": level, "variant": v, "seed": s, "score": 50.0 + d}
             for v, ds in diffs.items() for s, d in enumerate(ds)]
    return pd.DataFrame(rows)


def test_verdict_table_three_outcomes_holm_and_not_tested():
    from mlgcn_core.book.regimes import Comparison

    up = Comparison("up", "b", "graph")
    down = Comparison("down", "b", "right")
    weak = Comparison("weak", "b", "baseline")  # interval excludes 0 alone, not after Holm
    weak2 = Comparison("weak2", "b", "baseline")
    absent = Comparison("absent", "b", "graph")
    regime = _Regime("r", (up, down, weak, weak2, absent), up)
    frame = _scores({"up": [1.0, 1.2, 0.9, 1.1, 1.0], "down": [-2.1, -2.3, -1.9, -2.2, -2.0],
                     "weak": [0.5, 0.0, 0.9, 0.2, 0.8], "weak2": [0.6, 0.0, 1.0, 0.2, 0.7]})
    t = F.verdict_table(frame, [regime]).set_index("comparison")
    assert t.loc["up − b", "verdict"] == F.HELD and t.loc["up − b", "primary"]
    assert t.loc["down − b", "verdict"] == F.REVERSED  # a significant loss is printed "reversed"
    assert t.loc["weak − b", "lo"] > 0 and t.loc["weak − b", "p"] < 0.05
    # p 0.0488 and 0.0491: Holm multiplies the 3rd smallest of m = 4 by 2, the 4th takes the max
    assert t.loc["weak − b", "p_holm"] == pytest.approx(2 * t.loc["weak − b", "p"])
    assert t.loc["weak − b", "verdict"] == F.INCONCLUSIVE
    assert t.loc["weak2 − b", "lo"] > 0 and t.loc["weak2 − b", "p_holm"] >= t.loc["weak − b", "p_holm"]
    assert t.loc["weak2 − b", "verdict"] == F.INCONCLUSIVE  # 95 % alone excludes 0; adjusted it does not
    assert t.loc["absent − b", "verdict"] == F.NOT_TESTED and t.loc["absent − b", "seeds"] == 0
    assert t.loc["up − b", "seeds"] == 5 and t.loc["up − b", "difference"] == pytest.approx(1.04)
    assert F.verdict_counts(t.reset_index())[F.HELD] == 1


def test_sentences_name_only_comparisons_that_ran_and_keep_kinds_apart():
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import GMP, RW, Comparison

    graph = Comparison(RW, "b", "graph")
    right = Comparison(RW, "shuffled", "right")
    base = Comparison(RW, GMP, "baseline")
    regime = _Regime("r", (graph, right, base), graph)
    frame = _scores({RW: [1.0, 1.2, 0.9, 1.1, 1.0], GMP: [2.0, 2.1, 1.9, 2.2, 2.0]})
    t = F.verdict_table(frame, [regime])
    text = prose.regime_sentences(t)
    assert "*graph against no graph* — ML-GCN (re-weighted) − b: **held**" in text
    assert "*right graph against a wrong one" in text
    assert "− shuffled: **not tested** (shuffled did not run here)" in text
    assert "*ML-GCN against the GMP baseline* — ML-GCN (re-weighted) − baseline (GMP): **reversed**" in text
    assert "random vectors" not in text and "oracle" not in text  # nothing that did not run is named
    close = prose.closing(t)
    assert "above the baseline in **0**" in close and "significantly below it in **1** (r (1))" in close
    assert "strongest positive finding after adjustment**: r (1), ML-GCN (re-weighted) − b: **held**" in close
    assert "strongest negative finding after adjustment**: r (1), ML-GCN (re-weighted) − baseline (GMP)" in close
    none = prose.closing(F.verdict_table(_scores({RW: [0.1, -0.1, 0.2, -0.2, 0.0], GMP: [0.0] * 5}),
                                         [regime]))
    assert "No positive finding survives the adjustment" in none and "No negative finding" in none
    claims = prose.claims(t)
    assert [c["verdict"] for c in claims] == [F.HELD, F.REVERSED]  # the primary, and ML-GCN − GMP
    assert "primary" in claims[0]["claim"] and "Holm p = " in claims[0]["here"]


def test_a_credited_graph_is_read_against_its_own_shuffled_twin():
    """The closing section's strongest positive finding, when it credits a graph, says what that
    graph's shuffled twin at the same level says: the gain is the right edges' only when that
    comparison holds too."""
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import CORPUS, RW, SHUFFLED_CORPUS, Comparison

    regime = _Regime("r", (Comparison(CORPUS, RW, "corpus"), Comparison(CORPUS, SHUFFLED_CORPUS, "right")),
                      Comparison(CORPUS, RW, "corpus"))
    ties = _scores({CORPUS: [5.0, 5.2, 4.9, 5.1, 5.0], RW: [0.0] * 5, SHUFFLED_CORPUS: [5.0, 4.0, 6.0, 3.0, 7.0]})
    close = prose.closing(F.verdict_table(ties, [regime]))
    assert f"{CORPUS} − {RW}: **held**" in close
    assert f"Against its own control, the same graph with its labels permuted: {CORPUS} − {SHUFFLED_CORPUS}: " \
           "**inconclusive**" in close and "cannot yet be credited to the right edges" in close
    right = _scores({CORPUS: [5.0, 5.2, 4.9, 5.1, 5.0], RW: [0.0] * 5, SHUFFLED_CORPUS: [0.1, 0.0, 0.2, 0.1, 0.0]})
    assert "so the gain is the right edges'" in prose.closing(F.verdict_table(right, [regime]))
    alone = _Regime("r", (Comparison(CORPUS, RW, "corpus"),), Comparison(CORPUS, RW, "corpus"))
    assert "is not credited to the right edges" in prose.closing(F.verdict_table(ties, [alone]))


def test_a_variant_that_had_not_plateaued_is_not_judged():
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import Comparison

    up, other = Comparison("up", "b", "graph"), Comparison("down", "b", "right")
    regime = _Regime("r", (up, other), up)
    frame = _scores({"up": [1.0, 1.2, 0.9, 1.1, 1.0], "down": [-2.1, -2.3, -1.9, -2.2, -2.0]})
    t = F.verdict_table(frame, [regime], converged={("r", 1, "up"): False, ("r", 1, "b"): True}).set_index("comparison")
    assert t.loc["up − b", "verdict"] == F.NOT_CONVERGED and pd.isna(t.loc["up − b", "p_holm"])
    assert "(up had not plateaued)" in t.loc["up − b", "interval"]
    # the family holds the judged row only: Holm over one p is the p itself
    assert t.loc["down − b", "p_holm"] == pytest.approx(t.loc["down − b", "p"])
    assert "up − b: **not converged** (up had not plateaued)" in prose.regime_sentences(t.reset_index())


def test_converged_cells_carry_the_size_regimes_verdicts_to_the_occlusion_bins():
    from mlgcn_core.book import regimes

    conv = pd.DataFrame([{"regime": regimes.SIZE.name, "level": 6000, "variant": "v", "converged": False},
                         {"regime": regimes.RARE.name, "level": "K = 5", "variant": "w", "converged": True}])
    cells = regimes.converged_cells(conv)
    assert cells[(regimes.SIZE.name, 6000, "v")] is False and cells[(regimes.RARE.name, "K = 5", "w")] is True
    assert all(cells[(regimes.OCCLUSION.name, f"{lo:g}–{hi:g}", "v")] is False for lo, hi in regimes.VISIBILITY_BINS)
