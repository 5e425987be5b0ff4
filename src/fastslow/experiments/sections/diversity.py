"""Functional diversity of the population after each GEPA round: how many of the K prompts behave differently,
not how many strings differ (equivalent phrasings are one behaviour).

The test: two prompts differ when their per-anchor outcomes (each prompt's score on each anchor problem under the
same weights, from the round) differ by more than sampling noise: an exact two-sided McNemar (sign) test on the
anchors where exactly one of the two succeeds, at ALPHA. With one rollout per prompt and anchor, two prompts that
succeed equally often but on different anchors cannot be told apart from noise, and count as one. A prompt counts
as a new behaviour when it differs from every behaviour counted before it (in population order). Rounds recorded before the anchor scores were logged fall
back to the string count, labelled as such.
"""

from __future__ import annotations

from math import comb

import numpy as np

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.html import table
from fastslow.experiments.verdicts import fmt_ms

NAME = "diversity"
TITLE = "Population diversity"
SUMMARY_KEYS = ("population",)
ALPHA = 0.05


def mcnemar_p(a: list[float], b: list[float]) -> float:
    """Exact two-sided McNemar p-value for paired outcomes (scores >= 0.5 count as success)."""
    wins = sum(x >= 0.5 > y for x, y in zip(a, b))
    losses = sum(y >= 0.5 > x for x, y in zip(a, b))
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def functional_count(vectors: list[list[float]], alpha: float = ALPHA) -> int:
    kept: list[list[float]] = []
    for v in vectors:
        if all(mcnemar_p(v, k) < alpha for k in kept):
            kept.append(v)
    return len(kept)


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    de = results.get("data_efficiency") or {}
    pops, scores = de.get("populations") or {}, de.get("anchor_scores") or {}
    summary["population"] = None
    if not pops:
        return
    out = {}
    for m, seeds in pops.items():
        func = []
        for i, rounds in enumerate(scores.get(m) or []):
            func.append([functional_count(r) if r else None for r in rounds])
        measured = bool(func) and all(v is not None for r in func for v in r)
        out[m] = {"distinct_strings_per_round": mean_std([float(np.mean(r)) for r in seeds if r]),
                  "strings_per_seed": seeds,
                  "functional_per_round": mean_std([float(np.mean(r)) for r in func if r]) if measured else None,
                  "functional_per_seed": func if measured else None,
                  "rounds_with_several": mean_std([float(np.mean([v > 1 for v in r])) for r in (func if measured
                                                                                              else seeds) if r]),
                  "basis": f"per-anchor outcomes (McNemar, alpha {ALPHA})" if measured else "distinct strings"}
    summary["population"] = out


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    return None


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    pop = summary["population"]
    if not pop:
        return "<p class='notrun'>no GEPA rounds recorded</p>"
    return ("<p class='small'>" + __doc__.split("\n\n")[1].replace("\n", " ") + "</p>" + table(
        ["method", "functionally distinct prompts per round", "distinct strings per round",
         "rounds with > 1 behaviour", "basis"],
        [[m, fmt_ms(v["functional_per_round"]), fmt_ms(v["distinct_strings_per_round"]),
          fmt_ms(v["rounds_with_several"], True), v["basis"]] for m, v in pop.items()]))
