"""The summary of an experiment ``results`` dict: every section's entries, the measured preconditions and one claim
per paper claim with its verdict (pure data in, plain data out: no plotting, no HTML, no torch).

The loop runs over the section modules in catalog order (``experiments/sections/``); a section whose results are
missing is "not run", and so is its claim. Layout of ``results``: see :mod:`fastslow.experiments.report`.
"""

from __future__ import annotations

from fastslow.experiments import preconditions
from fastslow.experiments.catalog import EXPERIMENTS
from fastslow.experiments.sections import judge_for, make_claim, modules
from fastslow.experiments.verdicts import GENERAL_RULE, NOT_RUN


def _needs() -> dict[str, tuple[str, ...]]:
    return {module: needs for module, needs in EXPERIMENTS.values()}


def claim_sections() -> list:
    return [s for s in modules() if getattr(s, "CLAIM", None)]


def verdict_rules() -> str:
    """The rules, in words: the general rule, then each claim's own (from its section)."""
    return GENERAL_RULE + " Per claim: " + " ".join(s.RULE for s in claim_sections())


def rules_hash() -> str:
    """Which verdict rules judged a result: a hash of the modules that decide verdicts."""
    from fastslow.experiments import analysis, fits, verdicts
    from fastslow.provenance import rules_hash as _hash

    return _hash(verdicts, preconditions, analysis, fits, *claim_sections())


def summarise_all(results: dict) -> tuple[dict, dict]:
    """(summary, details): the summary that report.json holds and its bulkier details."""
    pre = preconditions.measure(results)
    needs = _needs()
    summary: dict = {"sections": {}, "preconditions": pre}
    details: dict = {}
    for s in modules():
        ok = bool(results.get(needs[s.__name__.rsplit(".", 1)[1]][-1]))  # its own results (the last it needs)
        summary["sections"][s.NAME] = "ok" if ok else NOT_RUN
        s.summarise(results, summary, details, pre)
    claims = []
    for s in claim_sections():
        got = s.claim(results, summary, details, judge_for(s, pre)) if summary["sections"][s.NAME] == "ok" else None
        if got is None:
            planned = (results.get("settings") or {}).get("experiments")
            why = ("not among this setting's experiments (time budget: it runs in another setting)"
                   if planned is not None and s.NAME not in planned and s.NAME not in ("data_efficiency", "drift")
                   else "section not run")
            if summary["sections"][s.NAME] == "ok" and getattr(s, "WHEN_ABSENT", None):
                why = s.WHEN_ABSENT  # its section ran, but without what the claim compares (e.g. an arm)
            claims.append(make_claim(s, NOT_RUN, (NOT_RUN, why), None, pre))
        else:
            ours, v, evidence = got
            claims.append(make_claim(s, ours, v, evidence, pre))
    summary["claims"] = claims
    summary["verdicts"] = {c["id"]: c["verdict"] for c in claims}
    summary["verdict_rules"] = verdict_rules()
    summary["rules_hash"] = rules_hash()
    return summary, details


def summarise(results: dict) -> dict:
    """The summary of a (possibly partial) results dict."""
    return summarise_all(results)[0]
