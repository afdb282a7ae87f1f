"""The words the chapter "Does the graph help?" prints, generated from its verdict table
(:func:`mlgcn_core.book.findings.verdict_table`) so they cannot contradict it: each sentence names
only comparisons that ran, with their interval, Holm-adjusted p and three-way verdict, and keeps
the kinds of question apart (graph against no graph, right graph against a wrong one, ML-GCN
against the GMP baseline, …; :data:`mlgcn_core.book.regimes.KINDS`)."""

from __future__ import annotations

import pandas as pd

from .findings import HELD, INCONCLUSIVE, NOT_CONVERGED, NOT_TESTED, REVERSED, TOO_FEW
from .regimes import GMP, KINDS, RW, SHUFFLED_TWIN


def _level(level) -> str:
    return f"{level:,}" if isinstance(level, int) else str(level)


def row_text(row) -> str:
    """'A − B: **held**, +0.52 [+0.31, +0.73] (95 % CI, 5 seeds), Holm p = 0.004'."""
    if row["verdict"] in (NOT_TESTED, NOT_CONVERGED):
        return f"{row['comparison']}: **{row['verdict']}** {row['interval']}"
    p = f", Holm p = {row['p_holm']:.3g}" if pd.notna(row.get("p_holm")) else ""
    return f"{row['comparison']}: **{row['verdict']}**, {row['interval']}{p}"


def against_baseline(table: pd.DataFrame, row) -> str:
    """For a held or reversed comparison of one graph variant with another (neither of them the
    GMP baseline): the rows ``a − GMP`` and, where the table has it, ``b − GMP`` at the same
    regime and level, with their verdicts — ``a − GMP`` "not tested" when it was not compared
    there — as a parenthesis to print beside it; '' for any other row. A graph that beats another
    graph may still be below the paper's own fair baseline, or only back at its level (the
    official README's GMP baseline, ML-GCN's +1.1 COCO / +1.0 VOC margin over it)."""
    if row["verdict"] not in (HELD, REVERSED) or GMP in (row["a"], row["b"]):
        return ""
    here = table[(table["regime"] == row["regime"]) & (table["level"] == row["level"]) & (table["b"] == GMP)]
    parts = []
    for variant in (row["a"], row["b"]):
        same = here[here["a"] == variant]
        if len(same):
            parts.append(row_text(same.iloc[0]))
        elif variant == row["a"]:
            parts.append(f"{variant} − {GMP}: **{NOT_TESTED}** (not compared at this level)")
    return f" (against the GMP baseline at this level: {'; '.join(parts)})"


def regime_sentences(table: pd.DataFrame) -> str:
    """One Markdown bullet per (regime, level) of the verdict table, its comparisons grouped by
    kind, each with its adjusted verdict; a held or reversed comparison of two graphs carries both
    graphs against the GMP baseline beside it (:func:`against_baseline`)."""
    lines = []
    for (regime, level), g in table.groupby(["regime", "level"], sort=False):
        parts = []
        for kind, what in KINDS.items():
            rows = g[g["kind"] == kind]
            if len(rows):
                parts.append(f"*{what}* — " + "; ".join(row_text(r) + against_baseline(table, r)
                                                         for _, r in rows.iterrows()))
        lines.append(f"* **{regime}, {_level(level)}**: " + ". ".join(parts) + ".")
    return "\n".join(lines)


def _where(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r['regime']} ({_level(r['level'])})" for _, r in rows.iterrows()) or "none"


def _named(rows: pd.DataFrame) -> str:
    """' (A − B in regime (level); …)' for the rows given, '' for none."""
    named = "; ".join(f"{r['comparison']} in {r['regime']} ({_level(r['level'])})" for _, r in rows.iterrows())
    return f" ({named})" if named else ""


def closing(table: pd.DataFrame) -> str:
    """The chapter's closing section, "What this chapter can say": in how many regime levels the
    re-weighted ML-GCN beats the GMP baseline (and where it is below it, or undecided), each kind
    of question's count of held, reversed and inconclusive comparisons (naming the held and the
    reversed), and the strongest positive and negative findings after the Holm adjustment — a
    finding between two graphs printed beside both graphs against the GMP baseline
    (:func:`against_baseline`)."""
    base = table[table["comparison"] == f"{RW} − {GMP}"]
    judged = base[base["verdict"].isin([HELD, REVERSED, INCONCLUSIVE])]
    n = len(judged)
    held, rev = judged[judged.verdict == HELD], judged[judged.verdict == REVERSED]
    und = judged[judged.verdict == INCONCLUSIVE]
    lines = [f"* **ML-GCN against the GMP baseline.** Judged in {n} regime level{'s' if n != 1 else ''}: "
             f"ML-GCN (re-weighted) is above the baseline in **{len(held)}** ({_where(held)}), "
             f"significantly below it in **{len(rev)}** ({_where(rev)}), and inconclusive in "
             f"**{len(und)}** ({_where(und)})."]
    for kind in (k for k in KINDS if k != "baseline"):  # the baseline's own bullet is above
        rows = table[(table["kind"] == kind) & table["verdict"].isin([HELD, REVERSED, INCONCLUSIVE])]
        if len(rows):
            held, rev = rows[rows.verdict == HELD], rows[rows.verdict == REVERSED]
            lines.append(f"* **{KINDS[kind][0].upper() + KINDS[kind][1:]}.** {len(rows)} comparison"
                         f"{'s' if len(rows) != 1 else ''} judged: {len(held)} held{_named(held)}, "
                         f"{len(rev)} reversed{_named(rev)}, "
                         f"{int((rows.verdict == INCONCLUSIVE).sum())} inconclusive.")
    for verdict, what in ((HELD, "positive"), (REVERSED, "negative")):
        rows = table[table["verdict"] == verdict].sort_values(["p_holm", "difference"],
                                                               ascending=[True, verdict == REVERSED])
        if len(rows):
            r = rows.iloc[0]
            lines.append(f"* **The strongest {what} finding after adjustment**: {r['regime']} "
                         f"({_level(r['level'])}), {row_text(r)}{against_baseline(table, r)}."
                         + (_twin_note(table, r) if verdict == HELD else ""))
        else:
            lines.append(f"* **No {what} finding survives the adjustment**: no comparison is "
                         f"{verdict} at Holm-adjusted p < 0.05.")
    few = table[table["verdict"].isin([TOO_FEW, NOT_TESTED, NOT_CONVERGED])]
    if len(few):
        lines.append(f"* Not judged: {len(few)} comparison{'s' if len(few) != 1 else ''} "
                     f"({', '.join(sorted(set(few.verdict)))}).")
    return "\n".join(lines)


# what a graph's own control (the same graph, labels permuted) says of a finding credited to it
_TWIN_READS = {HELD: "so the gain is the right edges', not any graph that dense",
               REVERSED: "the permuted graph does better: the gain is not the right edges'",
               INCONCLUSIVE: "so the gain cannot yet be credited to the right edges rather than to any graph "
                             "that dense"}


def _twin_note(table: pd.DataFrame, row) -> str:
    """For a finding that credits a graph (graph against none, corpus against annotations): what
    the comparison with that graph's shuffled twin at the same regime and level says, or ''."""
    twin = SHUFFLED_TWIN.get(row["a"])
    if row["kind"] not in ("graph", "corpus") or twin is None:
        return ""
    same = table[(table["regime"] == row["regime"]) & (table["level"] == row["level"]) & (table["a"] == row["a"])
                 & (table["b"] == twin)]
    if not len(same):
        return f" No comparison with {twin} ran at this level: the gain is not credited to the right edges."
    t = same.iloc[0]
    reads = _TWIN_READS.get(t["verdict"], "its control was not judged, so the gain is not credited to the "
                                          "right edges")
    return f" Against its own control, the same graph with its labels permuted: {row_text(t)} — {reads}."


def claims(table: pd.DataFrame, benchmark: str = "") -> list[dict]:
    """The chapter's rows for the book's first page (the fields of
    :func:`mlgcn_core.book.findings.claim`; ``benchmark`` the name of the data it ran on — each
    row's own, the verdict table's ``benchmark`` column, where it has one): each regime's primary
    comparison, ML-GCN against the GMP baseline and what a practitioner can build against it, at
    every level, with the adjusted three-way verdict."""
    out = []
    wanted = table[table["primary"] | (table["comparison"] == f"{RW} − {GMP}") | (table["kind"] == "practitioner")]
    for _, r in wanted.iterrows():
        paper = "+1.1 COCO, +1.0 VOC (authors' README)" if r["kind"] == "baseline" else "—"
        here = r["interval"] if r["verdict"] in (NOT_TESTED, NOT_CONVERGED) else (
            f"{r['interval']}, Holm p = {r['p_holm']:.3g}" if pd.notna(r["p_holm"]) else r["interval"])
        out.append({"claim": f"{r['comparison']} ({r['regime']}, {_level(r['level'])})"
                             + (" — primary" if r["primary"] else ""),
                    "paper": paper, "here": here, "verdict": r["verdict"],
                    "benchmark": r.get("benchmark") or benchmark})
    return out
