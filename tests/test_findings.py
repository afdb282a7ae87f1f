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


def test_holm_family_per_benchmark():
    """``family="benchmark"``: each benchmark's rows are one Holm family — their adjusted p are
    :func:`F.holm` of that benchmark's p alone —, the rows carry the benchmark their runs trained on,
    and the claims for the first page carry it too."""
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import GMP, RW, Comparison

    c = Comparison(RW, GMP, "baseline")
    frames = []
    for bench, regime, diffs in (("A", "ra", [1.0, 1.2, 0.9, 1.1, 1.0]), ("A", "rb", [0.5, 0.0, 0.9, 0.2, 0.8]),
                                 ("B", "rc", [0.6, 0.0, 1.0, 0.2, 0.7])):
        frames.append(_scores({RW: diffs}, regime=regime).assign(benchmark=bench,
                                                                 variant=lambda f: f.variant.replace("b", GMP)))
    frame = pd.concat(frames, ignore_index=True)
    regimes = [_Regime(r, (c,), c) for r in ("ra", "rb", "rc")]
    t = F.verdict_table(frame, regimes, family="benchmark")
    assert list(t.benchmark) == ["A", "A", "B"]
    for _, g in t.groupby("benchmark"):
        assert list(g.p_holm) == pytest.approx(F.holm(list(g.p)))
    assert t.p_holm.iloc[2] == pytest.approx(t.p.iloc[2])  # alone in its family: not adjusted
    one = F.verdict_table(frame, regimes)  # one family: all three rows adjusted together
    assert list(one.p_holm) == pytest.approx(F.holm(list(one.p))) and one.p_holm.iloc[2] > t.p_holm.iloc[2]
    assert [c["benchmark"] for c in prose.claims(t, "fallback")] == ["A", "A", "B"]


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
    assert "(up still gaining at its last budget)" in t.loc["up − b", "interval"]
    # the family holds the judged row only: Holm over one p is the p itself
    assert t.loc["down − b", "p_holm"] == pytest.approx(t.loc["down − b", "p"])
    assert "up − b: **not converged** (up still gaining at its last budget)" in prose.regime_sentences(t.reset_index())


def test_converged_cells_carry_the_size_regimes_verdicts_to_the_occlusion_bins():
    from mlgcn_core.book import regimes

    conv = pd.DataFrame([{"regime": regimes.SIZE.name, "level": 6000, "variant": "v", "converged": False},
                         {"regime": regimes.RARE.name, "level": "K = 5", "variant": "w", "converged": True}])
    cells = regimes.converged_cells(conv)
    assert cells[(regimes.SIZE.name, 6000, "v")] is False and cells[(regimes.RARE.name, "K = 5", "w")] is True
    assert all(cells[(regimes.OCCLUSION.name, f"{lo:g}–{hi:g}", "v")] is False for lo, hi in regimes.VISIBILITY_BINS)


# --- the words printed cannot outrun the table: an inconclusive row is never called held --------------

HELD_D, REVERSED_D, OPEN_D = [1.0, 1.2, 0.9, 1.1, 1.0], [-1.0, -1.2, -0.9, -1.1, -1.0], [0.1, -0.1, 0.2, -0.2, 0.0]


def mixed_table() -> pd.DataFrame:
    """A verdict table (:func:`F.verdict_table`) of one regime "r" at three levels: ML-GCN −
    GMP held at 1, reversed at 2, inconclusive at 3; the re-weighted graph against the identity
    graph inconclusive at 1, held at 2, reversed at 3 (the Holm-adjusted verdicts, m = 6)."""
    from mlgcn_core.book.regimes import GMP, IDENTITY, RW, Comparison

    regime = _Regime("r", (Comparison(RW, GMP, "baseline"), Comparison(RW, IDENTITY, "graph")),
                     Comparison(RW, IDENTITY, "graph"))
    rows = []
    for level, (base, graph) in enumerate(((HELD_D, OPEN_D), (REVERSED_D, HELD_D), (OPEN_D, REVERSED_D)), 1):
        for s in range(5):
            rows += [{"regime": "r", "level": level, "variant": GMP, "seed": s, "score": 50.0},
                     {"regime": "r", "level": level, "variant": RW, "seed": s, "score": 50.0 + base[s]},
                     {"regime": "r", "level": level, "variant": IDENTITY, "seed": s,
                      "score": 50.0 + base[s] - graph[s]}]
    t = F.verdict_table(pd.DataFrame(rows), [regime])
    assert list(t.verdict) == [F.HELD, F.INCONCLUSIVE, F.REVERSED, F.HELD, F.INCONCLUSIVE, F.REVERSED]
    return t


def check_regime_sentences() -> None:
    """Each level's bullet prints each row's own verdict: the inconclusive rows as inconclusive."""
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import GMP, IDENTITY, RW

    lines = prose.regime_sentences(mixed_table()).splitlines()
    assert len(lines) == 3
    said = [{v: line.count(f": **{v}**") for v in (F.HELD, F.REVERSED, F.INCONCLUSIVE)} for line in lines]
    # the held (level 2) and reversed (level 3) graph rows carry RW − GMP beside them: reversed at
    # level 2, inconclusive at level 3 — each said once more
    assert said == [{F.HELD: 1, F.REVERSED: 0, F.INCONCLUSIVE: 1}, {F.HELD: 1, F.REVERSED: 2, F.INCONCLUSIVE: 0},
                    {F.HELD: 0, F.REVERSED: 1, F.INCONCLUSIVE: 2}]
    assert f"{RW} − {IDENTITY}: **inconclusive**" in lines[0] and f"{RW} − {GMP}: **inconclusive**" in lines[2]


def check_closing() -> None:
    """The closing section's counts are the table's: ML-GCN above the baseline at one level of three
    (not the inconclusive one), and the graph-against-no-graph kind 1 held, 1 reversed, 1 inconclusive."""
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import IDENTITY, RW

    close = prose.closing(mixed_table())
    assert ("Judged in 3 regime levels: ML-GCN (re-weighted) is above the baseline in **1** (r (1)), "
            "significantly below it in **1** (r (2)), and inconclusive in **1** (r (3)).") in close
    assert (f"3 comparisons judged: 1 held ({RW} − {IDENTITY} in r (2)), 1 reversed ({RW} − {IDENTITY} in r (3)), "
            "1 inconclusive.") in close


def check_claims() -> None:
    """The first page's rows of the chapter carry the table's verdicts, one for one."""
    from mlgcn_core.book import prose

    t = mixed_table()
    claims = prose.claims(t, "Fashion outfits")
    assert [c["verdict"] for c in claims] == list(t.verdict)  # every row is primary or ML-GCN − GMP
    assert [c["claim"].endswith(" — primary") for c in claims] == list(t.primary)
    assert {c["benchmark"] for c in claims} == {"Fashion outfits"}


def test_the_words_printed_keep_every_verdict_of_the_table():
    check_regime_sentences()
    check_closing()
    check_claims()


CORPUS_D, RW_D = [7.0, 7.9, 6.4, 7.6, 6.8], [-6.4, -6.6, -6.5, -6.3, -6.7]  # corpus − RW, RW − GMP


def graph_gain_table(with_corpus_row: bool = True) -> pd.DataFrame:
    """The rare-label case: the corpus graph far above the re-weighted one, which is far below GMP,
    so the corpus graph is only back at GMP's level (corpus − GMP inconclusive)."""
    from mlgcn_core.book.regimes import CORPUS, GMP, RW, Comparison

    comps = (Comparison(CORPUS, RW, "corpus"), Comparison(RW, GMP, "baseline"))
    comps += (Comparison(CORPUS, GMP, "practitioner"),) if with_corpus_row else ()
    gmp = [47.9, 47.5, 48.3, 47.6, 48.0]
    rows = [{"regime": "rare labels", "level": "K = 5", "variant": v, "seed": s, "score": x}
            for s in range(5)
            for v, x in ((GMP, gmp[s]), (RW, gmp[s] + RW_D[s]), (CORPUS, gmp[s] + RW_D[s] + CORPUS_D[s]))]
    return F.verdict_table(pd.DataFrame(rows), [_Regime("rare labels", comps, comps[0])])


def check_graph_gain_beside_gmp() -> None:
    """corpus − re-weighted held: the chapter's sentences about it carry corpus − GMP and
    re-weighted − GMP beside it."""
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import CORPUS, GMP, RW

    t = graph_gain_table()
    gain = prose.row_text(t[t.comparison == f"{CORPUS} − {RW}"].iloc[0])
    for text in (prose.regime_sentences(t), prose.closing(t)):
        assert gain in text
        beside = text.split(gain, 1)[1].split(").", 1)[0]  # the parenthesis right after it
        assert beside.startswith(f" (against the GMP baseline at this level: {CORPUS} − {GMP}: **inconclusive**, ")
        assert f"; {RW} − {GMP}: **reversed**, " in beside


def test_a_held_gain_of_one_graph_over_another_is_printed_beside_both_against_gmp():
    """corpus − re-weighted held: both sentences functions print corpus − GMP (inconclusive) and
    re-weighted − GMP (reversed) beside it, with their intervals and Holm p; a − GMP not compared at
    that level is said "not tested"."""
    from mlgcn_core.book import prose
    from mlgcn_core.book.regimes import CORPUS, GMP, RW

    check_graph_gain_beside_gmp()
    t = graph_gain_table()
    gain = t[t.comparison == f"{CORPUS} − {RW}"].iloc[0]
    assert gain.verdict == F.HELD
    beside = prose.against_baseline(t, gain)
    assert beside.startswith(f" (against the GMP baseline at this level: {CORPUS} − {GMP}: **inconclusive**, ")
    assert f"; {RW} − {GMP}: **reversed**, -6.50 [" in beside and beside.count("Holm p = ") == 2
    sentence = f"{prose.row_text(gain)}{beside}"
    assert sentence in prose.regime_sentences(t)
    assert f"**The strongest positive finding after adjustment**: rare labels (K = 5), {sentence}." in prose.closing(t)
    for kind_row in t[t.b == GMP].itertuples():  # a row against GMP needs nothing beside it
        assert prose.against_baseline(t, t.loc[kind_row.Index]) == ""
    alone = graph_gain_table(with_corpus_row=False)
    beside = prose.against_baseline(alone, alone.iloc[0])
    assert f"{CORPUS} − {GMP}: **not tested** (not compared at this level); {RW} − {GMP}: **reversed**" in beside
    assert beside in prose.closing(alone) and beside in prose.regime_sentences(alone)
    assert prose.against_baseline(t, dict(gain, verdict=F.INCONCLUSIVE)) == ""


# --- the first page: sentences before the claims, one table per benchmark ------------------------------

def two_benchmark_claims() -> list[dict]:
    """Claims on two benchmarks: Fashion outfits 2 held, 1 reversed, 2 inconclusive, 1 not tested;
    PASCAL VOC 2007 1 held, 1 inconclusive, 1 not converged."""
    d = {F.HELD: F.paired_interval(HELD_D), F.REVERSED: F.paired_interval(REVERSED_D),
         F.INCONCLUSIVE: F.paired_interval(OPEN_D)}
    rows = []
    for bench, verdicts in (("Fashion outfits", [F.HELD, F.INCONCLUSIVE, F.REVERSED, F.HELD, F.INCONCLUSIVE,
                                                 F.NOT_TESTED]),
                            ("PASCAL VOC 2007", [F.INCONCLUSIVE, F.HELD, F.NOT_CONVERGED])):
        for i, v in enumerate(verdicts):
            text = f"{bench} claim {i} ({v})"
            c = (F.claim(text, None, benchmark=bench) if v == F.NOT_TESTED else
                 {"claim": text, "paper": "", "here": "(x still gaining at its last budget)", "verdict": v,
                  "benchmark": bench}
                 if v == F.NOT_CONVERGED else F.claim(text, d[v], benchmark=bench))
            assert c["verdict"] == v
            rows.append(dict(c, chapter="04_does_the_graph_help"))
    return rows


def check_page_summary() -> None:
    """The first page's sentences count the claims as the table has them, per benchmark: an
    inconclusive claim is never among the held."""
    rows = two_benchmark_claims()
    text = F.page_summary(rows)
    assert text == (
        "On **Fashion outfits**, **2** of 6 claims held (Fashion outfits claim 0 (held); Fashion outfits "
        "claim 3 (held)); **1** was reversed, significantly the other way (Fashion outfits claim 2 (reversed)). "
        "On **PASCAL VOC 2007**, **1** of 3 claims held (PASCAL VOC 2007 claim 1 (held)); none was "
        "reversed. Still open: 2 inconclusive, 1 not tested on Fashion outfits; 1 inconclusive, 1 not converged "
        "on PASCAL VOC 2007.")
    held_part = "".join(s.split("; ")[0] for s in text.split(". On "))
    assert "(inconclusive)" not in held_part


def test_page_summary_counts_each_benchmarks_claims():
    check_page_summary()
    assert "nothing is judged yet" in F.page_summary([])
    judged = [r for r in two_benchmark_claims() if r["verdict"] in (F.HELD, F.REVERSED)]
    assert F.page_summary(judged).endswith("Nothing stays open: every claim was judged held or reversed.")
    assert F.page_summary(judged).count(". ") + 1 == 3  # one sentence per benchmark, one for what is open


def test_claims_table_is_split_by_benchmark():
    rows = two_benchmark_claims()
    text = F.claims_table(rows)
    outfits, voc = text.split("**On PASCAL VOC 2007**")
    assert outfits.startswith("**On Fashion outfits**\n\n| the paper's claim |")
    assert outfits.count("| Fashion outfits claim") == 6 and "PASCAL" not in outfits
    assert voc.count("| PASCAL VOC 2007 claim") == 3 and "Fashion outfits claim" not in voc
    assert "**On benchmark not recorded**" in F.claims_table([dict(rows[0], benchmark="")])


def test_an_ablation_claim_on_a_point_still_gaining_is_not_judged():
    """A sweep point whose variant still gained when its budget was doubled (chapter 02's
    ``converged`` False) makes the first page's claim "not converged", naming it — never "held"."""
    rows = [{"tau": 0.4, "variant": v, "seed": s, "mAP": m + s * (1 + 0.1 * (v == "ML-GCN (binary)")),
             "converged": c}
            for v, m, c in (("ML-GCN (re-weighted)", 37.0, True), ("ML-GCN (binary)", 31.0, False)) for s in range(3)]
    (c,) = F.ablation_claims(pd.DataFrame(rows), "tau")
    assert c["verdict"] == F.NOT_CONVERGED and "ML-GCN (binary) at tau = 0.4 still gaining" in c["here"]
    judged = pd.DataFrame([dict(r, converged=True) for r in rows])
    assert F.ablation_claims(judged, "tau")[0]["verdict"] == F.HELD
    assert F.ablation_claims(judged.drop(columns=["converged"]), "tau")[0]["verdict"] == F.HELD  # older records


def test_the_ablation_chapters_words_say_not_converged_where_the_claims_table_does():
    """A chapter's own findings (τ, p, depth, word vectors) never judge a comparison whose point was
    still gaining at its last budget: they read "not converged", as the first page's claim does —
    the words cannot outrun the table (the cold build printed "GloVe above one-hot: reversed"
    beside a one-hot point still gaining 2.76 mAP when doubled)."""
    def stuck(t, x, variant, level):
        t = t.assign(converged=True)
        t.loc[(t["variant"] == variant) & (t[x] == level), "converged"] = False
        return t

    words = stuck(table("word_vectors", {RW: {"glove6b50d": 73.0, "onehot": 74.0}}), "word_vectors", RW, "onehot")
    text = F.embedding_findings(words)
    assert "one-hot (the paper's finding): **not converged**" in text and "reversed" not in text
    assert "Best input: **onehot**" in text and "not converged: still gaining" in text
    assert F.ablation_claims(words, "word_vectors")[0]["verdict"] == F.NOT_CONVERGED
    depth = stuck(table("gcn_depth", {RW: {2: 75.0, 3: 73.0, 4: 71.0}}), "gcn_depth", RW, 3)
    assert "2 > 3 > 4: **not converged**" in F.depth_findings(depth) and "holds" not in F.depth_findings(depth)
    tau = stuck(table("tau", {RW: {0.2: 75.0, 0.5: 76.0}, BI: {0.2: 70.0, 0.5: 71.0}}), "tau", BI, 0.5)
    said = F.tau_findings(tau)
    assert "at every τ (the paper's finding): **not converged**" in said and "τ = 0.5: not converged" in said
    p = stuck(table("p", {RW: {0.2: 75.0, 1.0: 44.0}}), "p", RW, 1.0)
    assert "not converged" in F.p_findings(p) and "a clear collapse" not in F.p_findings(p)
    fine = table("word_vectors", {RW: {"glove6b50d": 73.0, "onehot": 74.0}}).assign(converged=True)
    assert "one-hot (the paper's finding): **reversed**" in F.embedding_findings(fine)


def test_a_chapters_first_page_claims_are_one_holm_family():
    """Chapter 02's four claims reach the first page as one family: four differences each with its
    own interval above zero (p ≈ 0.02) are held alone, inconclusive after Holm over the four."""
    d = F.paired_interval([0.2, 1.0, 0.6, 0.1, 0.9])  # 5 seeds, p ≈ 0.02
    assert F.claim("alone", d)["verdict"] == F.HELD and 0.01 < d["p"] < 0.05
    got = F.family_claims([("a", d, ""), ("b", d, ""), ("c", d, ""), ("d", d, ""), ("e", None, "")])
    assert [c["verdict"] for c in got] == [F.INCONCLUSIVE] * 4 + [F.NOT_TESTED]
    assert "Holm p = " in got[0]["here"] and "Holm" not in got[4]["here"]
    strong = F.paired_interval([3.0, 3.2, 2.9, 3.1, 3.05])
    mixed = F.family_claims([("a", strong, ""), ("b", d, ""), ("c", d, ""), ("d", d, "")])
    assert [c["verdict"] for c in mixed] == [F.HELD] + [F.INCONCLUSIVE] * 3
