"""Turn an experiment ``results`` dict into a report folder: ``report.json``, PNG figures and a self-contained
HTML page. The layers: :mod:`claims` (the paper's numbers as data, summaries and verdicts; pure data),
:mod:`figures` (matplotlib) and :mod:`html` (the page); this module wires them together.

Input: the ``results`` dict
===========================

All accuracies/rewards are **fractions in [0, 1]**; a "curve" is a list of ``(x, y)`` pairs sorted by x (lists of
two numbers are accepted too, so a dict read back from JSON works). Every per-seed list in every section is
aligned by index with ``data_efficiency["seeds"]``::

    {"settings": {...free-form key/values...},
     "data_efficiency": {"seeds": [..],
                         "curves": {"fst": [[(step, acc), ...] per seed], "rl": [...], "gepa": [...]},
                         "rollout_curves": {method: [[(total_rollouts, acc), ...] per seed]},
                         "populations": {method: [[distinct prompts per GEPA round] per seed]},   # optional
                         "fit_window": (lo, hi),     # optional: x range of the sigmoid fit (default: all)
                         "fit_origin": x0},          # optional: fit steps since x0 (warm-up exclusion)
     "drift": {"points": {"fst": [[(kl, acc), ...] per seed], "rl": [...]},       # KL under the seed prompt
               "points_deployed": {...}},            # optional: KL under each run's deployed (lead) prompt
     "forgetting": {"before": float, "after": {"fst": [per-seed floats], "rl": [...], "gepa": [...]}},
     "plasticity": {"task": str, "curves": {"base": [[(step, acc)] per seed], "rl": ..., "fst": ...}},
     "continual": {"tasks": [..], "stage_bounds": [[0, 20], [20, 40], [40, 60]],
                   "curves": {"fst": [[(step, acc_on_current_stage_task)] per seed], "rl": [...]}},
                   # a seed's entry may instead be {task: [(step, acc_on_that_task)]}; see claims._continual_curve
     "quadrant": {"cells": {"base+seed": [per-seed], "base+evolved": [...], "fst+seed": [...],
                            "fst+evolved": [...]}}}

Any section may be missing (a quick run); its summary entry is then None, ``summary["sections"][name]`` is
``"not run"``, its claim's verdict is ``"not run"`` and the HTML says "not run".

Output: ``report.json``
=======================

``{"summary": ..., "settings": ..., "figures": {name: file}, "details": {...}}``; ``summary`` (also returned by
:func:`write_report`) holds ``sections``, ``speedup_to_rl_peak`` (censored speedups per seed), ``asymptote`` /
``asymptote_fits`` / ``asymptote_failed_fits`` (every fit with its acceptance checks), ``gains`` (FST minus each
other arm at FST's last step), ``population`` (distinct prompts per GEPA round), ``kl_reduction_at_matched_reward``
(both KL contexts, the verdict's context on top), ``forgetting``, ``plasticity``, ``continual``, ``quadrant``,
``claims`` (one per paper claim: id, claim, paper, ours, verdict, reason, evidence), ``verdicts`` (id -> verdict)
and ``verdict_rules``. Every ``mean_std`` is ``{"mean", "std", "n", "values"}`` over seeds (sample std).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from fastslow.experiments.claims import (  # noqa: F401 - re-exported: the report's public vocabulary
    PAPER,
    PLASTICITY_CLOSE_TOL,
    QUADRANT_CELLS,
    SECTIONS,
    VERDICT_RULES,
    VERDICTS,
    _continual_curve,
    summarise,
    summarise_all,
    verdict,
)


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


def write_report(results: dict, out_dir: Path) -> dict:
    """Write ``report.json``, the PNG figures and a self-contained ``report.html`` into ``out_dir``.

    The HTML embeds every figure as a ``data:image/png;base64,`` URI and uses inline CSS only (no external
    resources), so it opens from disk without a server. Returns the summary dict (as written to report.json, i.e.
    JSON-safe: tuples become lists and non-finite floats become None).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastslow.experiments.figures import figures
    from fastslow.experiments.html import page

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, details = summarise_all(results)
    with plt.rc_context({"axes.titlesize": 10}):
        figs = figures(results, summary, details, out_dir, plt)
    summary = jsonable(summary)
    report = {"summary": summary, "settings": jsonable(results.get("settings") or {}), "figures": figs,
              "details": jsonable(details)}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    (out_dir / "report.html").write_text(page(results, summary, figs, out_dir), encoding="utf-8")
    return summary
