"""One module per experiment of the demo suite. Each module holds everything about its experiment:

* ``NAME`` (its key in ``summary["sections"]``), ``TITLE``, ``SUMMARY_KEYS`` (what ``fst experiment`` prints);
* optionally ``measure(suite) -> dict``: the training/evaluation it runs (its result is ``results[NAME]``; a
  derived experiment such as the asymptote reads another's results and has none);
* ``summarise(results, summary, details, pre)``: its entries of the summary (``pre``: the measured
  preconditions, :mod:`fastslow.experiments.preconditions`);
* optionally ``CLAIM`` (its id), ``PAPER`` (the paper's row, as data), ``RULE`` (its verdict rule, in words),
  ``PRECONDITION`` (a key of ``pre`` or None) and ``claim(results, summary, details, judge) -> (ours, verdict,
  evidence) | None``, where ``judge(per_seed_evidence)`` applies the verdict rule on the seeds where the
  precondition holds ("not testable here" when fewer than two);
* ``figures(results, summary, details, save, plt)`` and ``html(results, summary, figs, out_dir) -> str``.

``suite``, ``summary``, ``report`` and the page loop over :func:`modules` in catalog order, so adding an experiment
means one new file here plus one line in :mod:`fastslow.experiments.catalog`.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from fastslow.experiments.catalog import EXPERIMENTS
from fastslow.experiments.verdicts import gate


def load(module: str) -> ModuleType:
    return import_module(f"fastslow.experiments.sections.{module}")


def modules() -> list[ModuleType]:
    """Every section module, once, in catalog order."""
    names = list(dict.fromkeys(module for module, _ in EXPERIMENTS.values()))
    return [load(n) for n in names]


def judge_for(section: ModuleType, pre: dict):
    """The verdict function a section's ``claim`` calls on its per-seed evidence: :func:`verdicts.gate` with the
    section's precondition (a precondition that could not be measured, its results missing, holds nowhere)."""
    key = getattr(section, "PRECONDITION", None)
    if not key:
        return lambda diffs, **kw: gate(diffs, None, "", **kw)
    entry = pre.get(key) or {}
    return lambda diffs, **kw: gate(diffs, list(entry.get("holds") or []), entry.get("needs", key), **kw)


def make_claim(section: ModuleType, ours: str, v: tuple, evidence, pre: dict) -> dict:
    """One row of the claims table, with the section's precondition as measured."""
    precondition = None
    if getattr(section, "PRECONDITION", None):
        entry = pre.get(section.PRECONDITION) or {}
        precondition = {"key": section.PRECONDITION, "needs": entry.get("needs", section.PRECONDITION),
                        "met": entry.get("met"), "per_seed": entry.get("per_seed"), "holds": entry.get("holds")}
    return {"id": section.CLAIM, "claim": section.PAPER["claim"], "paper": section.PAPER["paper"], "ours": ours,
            "verdict": v[0], "reason": v[1], "evidence": evidence, "precondition": precondition}
