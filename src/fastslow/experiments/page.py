"""The report page: findings first (verdicts with their preconditions, the headline curves against steps and
against wall-clock, the setting's criteria, time to accuracy), then every section's details, the run settings
last. One page per setting (``single_page``) or one for the demo's settings together (``demo_page``)."""

from __future__ import annotations

import json
from pathlib import Path

from fastslow.experiments.html import CSS, esc, img, table, verdict_class

HEADLINE = ("accuracy_vs_step", "accuracy_vs_wallclock")


def _precondition(c: dict) -> str:
    pre = c.get("precondition")
    if not pre:
        return "none"
    vals = pre.get("per_seed")
    measured = ""
    if vals:
        pct = pre["key"] != "rl_moved"
        measured = "; per seed " + " / ".join(
            "n/a" if v is None else (f"{100 * v:+.1f} pts" if pct else f"KL {v:.3g}") for v in vals)
    met = {True: "met", False: "NOT met", None: "not measured"}[pre.get("met")]
    return f"needs {pre['needs']}: {met}{measured}"


def claims_table(summary: dict) -> str:
    cl = summary["claims"]
    return table(["claim", "paper", "ours (mean ± std over seeds)", "precondition", "verdict", "why"],
                 [[c["claim"], c["paper"], c["ours"], _precondition(c), c["verdict"], c["reason"]] for c in cl],
                 [verdict_class(c["verdict"]) for c in cl])


def _section(s, results, summary, figs, out_dir) -> str:
    if summary["sections"].get(s.NAME) != "ok":
        return f"<h3>{esc(s.TITLE)}</h3><p class='notrun'>not run</p>"
    body = s.html(results, summary, figs, out_dir)
    return f"<h3>{esc(s.TITLE)}</h3>{body}" if body else ""


def findings(results: dict, report: dict, out_dir: Path, title: str) -> str:
    from fastslow.experiments.sections import load

    summary, figs = report["summary"], report["figures"]
    parts = [f"<h2>{esc(title)}</h2>", claims_table(summary),
             "<div class='pair'>" + "".join(img(out_dir, figs, k) for k in HEADLINE) + "</div>"]
    for name in ("setting", "time_to_accuracy"):
        s = load(name)
        if summary["sections"].get(s.NAME) == "ok":
            parts.append(_section(s, results, summary, figs, out_dir))
    return "".join(parts)


def details(results: dict, report: dict, out_dir: Path, title: str) -> str:
    from fastslow.experiments.sections import modules

    summary, figs = report["summary"], report["figures"]
    skip = {"setting", "time_to_accuracy", "reflector_sweep"}
    body = [_section(s, results, summary, figs, out_dir) for s in modules() if s.NAME not in skip]
    return f"<h2>{esc(title)}</h2>" + "".join(body)


def settings_table(report: dict, title: str) -> str:
    settings = report.get("settings") or {}
    rows = [[k, v if isinstance(v, (str, int, float)) else json.dumps(v)] for k, v in settings.items()]
    prov = report.get("provenance") or {}
    rows += [[f"provenance: {k}", v if isinstance(v, (str, int, float)) else json.dumps(v)] for k, v in prov.items()]
    return f"<h3>{esc(title)}</h3>" + table(["setting", "value"], rows)


def _wrap(body: list[str], rules: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>FST experiment report</title><style>{CSS}"
            "</style></head><body><h1>Fast-Slow Training: experiment report</h1>" + "\n".join(body)
            + f"<h2>Verdict rules</h2><p class='small'>{esc(rules)}</p></body></html>")


def single_page(results: dict, report: dict, out_dir: Path) -> str:
    return _wrap([findings(results, report, out_dir, "Findings"), details(results, report, out_dir, "Details"),
                  "<h2>Run settings</h2>", settings_table(report, "this run")],
                 report["summary"]["verdict_rules"])


def demo_page(parts: dict[str, tuple[dict, dict, Path]]) -> str:
    """``parts``: setting name -> (results, report, its folder)."""
    body = [findings(r, rep, d, f"Findings: {name}") for name, (r, rep, d) in parts.items()]
    body += [details(r, rep, d, f"Details: {name}") for name, (r, rep, d) in parts.items()]
    body.append("<h2>Run settings</h2>")
    body += [settings_table(rep, name) for name, (_, rep, _) in parts.items()]
    rules = next(iter(parts.values()))[1]["summary"]["verdict_rules"]
    return _wrap(body, rules)
