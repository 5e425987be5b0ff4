"""Turn an experiment ``results`` dict into a report folder: ``report.json``, PNG figures and a self-contained HTML
page. The layers: :mod:`summary` (verdicts; pure data), the section modules (each one's figures and HTML fragment),
:mod:`page` (the page); this module wires them together and imports none of them back.

Input: the ``results`` dict
===========================

All accuracies/rewards are **fractions in [0, 1]**; a "curve" is a list of ``(x, y)`` pairs sorted by x (lists of
two numbers are accepted too, so a dict read back from JSON works). Every per-seed list in every section is
aligned by index with ``data_efficiency["seeds"]``; each section's own layout is in its module's ``measure``::

    {"settings": {...free-form key/values...},
     "setting": {...the headline setting: criteria and what was measured of them...},
     "data_efficiency": {"seeds": [..], "curves": {"fst": [[(step, acc), ...] per seed], "rl": ..., "gepa": ...},
                         "rollout_curves": {method: [[(total_rollouts, acc), ...] per seed]},
                         "wall_curves": {method: [[(wall_s, acc), ...] per seed]},               # optional
                         "costs": {method: [[{step, accuracy, wall_s, rl_rollouts, gepa_rollouts,
                                              reflection_calls, eval_rollouts} per eval] per seed]},  # optional
                         "populations": {method: [[distinct prompts per GEPA round] per seed]},   # optional
                         "anchor_scores": {method: [[[per-anchor score per prompt] per round] per seed]},
                         "fit_window": (lo, hi), "fit_origin": x0},                             # optional
     "drift": {"points": {"fst": [[(kl, acc), ...] per seed], "rl": [...]}, "points_deployed": {...}},
     "forgetting": {"before": float, "after": {"fst": [per-seed floats], "rl": [...], "gepa": [...]}},
     "plasticity": {"task": str, "curves": {"base": [[(step, acc)] per seed], "rl": ..., "fst": ...}},
     "continual": {"tasks": [..], "stage_bounds": [[0, 20], ...], "curves": {"fst": [per seed], "rl": [...]}},
     "quadrant": {"cells": {"base+seed": [per-seed], "base+evolved": [...], "fst+seed": [...], "fst+evolved": [...]}}}

Any section may be missing (a quick run); its summary entry is then None, ``summary["sections"][name]`` is
``"not run"`` and so is its claim's verdict.

Output: ``report.json``
=======================

``{"summary": ..., "settings": ..., "figures": {name: file}, "details": {...}, "provenance": {...}}``; ``summary``
holds ``sections``, ``preconditions`` (per seed, :mod:`preconditions`), each section's entries (its module's
``SUMMARY_KEYS``), ``claims`` (id, claim, paper, ours, verdict, reason, evidence, precondition), ``verdicts``,
``verdict_rules`` and ``rules_hash``. Every ``mean_std`` is ``{"mean", "std", "n", "values"}`` over seeds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from fastslow.experiments.summary import rules_hash, summarise, summarise_all  # noqa: F401 - the public vocabulary
from fastslow.experiments.verdicts import VERDICTS, verdict  # noqa: F401


def jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def make_figures(results: dict, summary: dict, details: dict, out_dir: Path) -> dict[str, str]:
    """Every section's figures as PNGs in ``out_dir``: {name: file}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastslow.experiments.sections import modules

    figs: dict[str, str] = {}

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        figs[name.removesuffix(".png")] = name

    with plt.rc_context({"axes.titlesize": 10}):
        for s in modules():
            if summary["sections"].get(s.NAME) == "ok":
                s.figures(results, summary, details, save, plt)
    return figs


def build(results: dict, out_dir: Path, command: str | None = None) -> dict:
    """Summary, figures and the report.json record of one setting's results (written to ``out_dir``)."""
    from fastslow.provenance import provenance

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, details = summarise_all(results)
    figs = make_figures(results, summary, details, out_dir)
    report = {"summary": jsonable(summary), "settings": jsonable(results.get("settings") or {}), "figures": figs,
              "details": jsonable(details), "provenance": provenance(command, rules=summary["rules_hash"])}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    return report


def write_report(results: dict, out_dir: Path, command: str | None = None) -> dict:
    """Write ``report.json``, the PNG figures and a self-contained ``report.html`` (every figure embedded as a
    ``data:`` URI, inline CSS only: it opens from disk without a server). Returns the JSON-safe summary."""
    from fastslow.experiments.page import single_page

    report = build(results, out_dir, command)
    (Path(out_dir) / "report.html").write_text(single_page(results, report, Path(out_dir)), encoding="utf-8")
    return report["summary"]
