"""The report's self-contained HTML page (inline CSS, figures embedded as data URIs)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.claims import VERDICT_RULES
from fastslow.experiments.claims import fmt as _fmt
from fastslow.experiments.claims import fmt_ms as _fmt_ms


def _jsonable(obj):
    from fastslow.experiments.report import jsonable

    return jsonable(obj)


# --------------------------------------------------------------------------------------------------------- html --

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.reproduced{background:#d9f2d9}.notreproduced{background:#f8d7d7}.inconclusive{background:#fff3cd}
.notrun{color:#888}
.small{font-size:0.85em;color:#555}
"""


def _table(header: list[str], rows: list[list], classes: list[str] | None = None) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def _img(out_dir: Path, figs: dict, key: str) -> str:
    if key not in figs:
        return ""
    data = base64.b64encode((out_dir / figs[key]).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(key)}" src="data:image/png;base64,{data}">'


def page(results: dict, summary: dict, figs: dict, out_dir: Path) -> str:
    settings = results.get("settings") or {}
    parts = [(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>FST experiment report</title>"
              f"<style>{_CSS}</style></head><body><h1>Fast-Slow Training: experiment report</h1>")]
    parts.append("<h2>Run settings</h2>")
    parts.append(_table(["setting", "value"], [[k, v if isinstance(v, (str, int, float)) else json.dumps(
        _jsonable(v))] for k, v in settings.items()]) if settings else "<p class='notrun'>no settings given</p>")

    st = summary.get("setting")
    if st:
        crit = st["criteria"]
        parts.append("<h2>Headline setting</h2>")
        parts.append(f"<p>Task <b>{html.escape(str(st['task']))}</b> (hidden program "
                     f"{html.escape(str(st.get('program')))}); criteria declared before any FST run: both channels "
                     "must matter.</p>")
        parts.append(_table(["criterion", "declared", "measured (base model)", "met"], [
            ["told-the-rule greedy accuracy", f"<= {crit['told_the_rule_greedy_max']}",
             _fmt(st["told_the_rule_greedy"], True), st["met"]["told_the_rule_greedy"]],
            ["seed-prompt pass@16", f"<= {crit['seed_prompt_pass_at_16_max']}",
             _fmt(st["seed_prompt_pass_at_16"], True), st["met"]["seed_prompt_pass_at_16"]]]))
    parts.append("<h2>Claims</h2>")
    cl = summary["claims"]
    parts.append(_table(["claim", "paper", "ours (mean ± std over seeds)", "verdict", "why"],
                        [[c["claim"], c["paper"], c["ours"], c["verdict"], c["reason"]] for c in cl],
                        [c["verdict"].replace(" ", "") for c in cl]))
    parts.append(f"<p class='small'><b>Verdict rules.</b> {html.escape(VERDICT_RULES)}</p>")

    def section(title, name, body_fn):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if summary["sections"][name] != "ok":
            parts.append("<p class='notrun'>not run</p>")
        else:
            parts.append(body_fn())

    def data_eff():
        out = [_img(out_dir, figs, k) for k in ("accuracy_vs_step", "accuracy_vs_rollouts", "asymptote_fit")]
        sp = summary["speedup_to_rl_peak"]
        if sp:
            out.append("<h3>Speedup to RL's running peak</h3>")
            out.append(_table(["seed", "level", "RL peak", "RL steps", "RL plateaued", "FST steps", "speedup",
                               "censoring", "note"],
                              [[p["seed"], _fmt(p["level"], True), _fmt(p["rl_peak"], True), _fmt(p["rl_steps"]),
                                p["rl_plateau"]["plateaued"], _fmt(p["fst_steps"]), _fmt(p["speedup"]),
                                p["bound"] or "undetermined", p["note"]] for p in sp["per_seed"]]))
        gains = summary.get("gains") or {}
        if gains:
            out.append("<h3>FST's gain over the other arms at FST's last step</h3>")
            out.append(_table(["comparison", "accuracy difference (mean of the last two evaluations)"],
                              [[k.replace("_", " "), _fmt_ms(v, True)] for k, v in gains.items()]))
        pop = summary.get("population") or {}
        if pop:
            out.append("<h3>Population: distinct prompts per GEPA round</h3>")
            out.append(_table(["method", "mean distinct prompts per round", "rounds with > 1 distinct prompt",
                               "per seed, per round"],
                              [[m, _fmt_ms(v["distinct_per_round"]), _fmt_ms(v["rounds_with_several"], True),
                                json.dumps(v["per_seed"])] for m, v in pop.items()]))
        fits = summary["asymptote_fits"] or {}
        rows = [[m, f["seed"], _fmt(f["A"], True), _fmt(f["B"]), _fmt(f["C_mid"]), _fmt(f["R0"], True),
                 f["window"], f.get("origin"), "accepted" if f.get("accepted") else "FAILED",
                 "; ".join(f.get("failures") or []) or f["message"], (f.get("check") or {}).get("message", ""),
                 f"{_fmt(f.get('estimate'), True)} ({f.get('estimate_from')})"]
                for m, fs in fits.items() for f in fs]
        out.append("<h3>Sigmoid fits</h3>")
        out.append(_table(["method", "seed", "A", "B", "C_mid", "R0", "window", "origin", "fit", "why",
                           "scipy check", "asymptote used"], rows))
        return "".join(out)

    def drift():
        kl = summary["kl_reduction_at_matched_reward"]
        rows = [[ctx, p["seed"], _fmt(p["mean_reduction"], True), _fmt(p["max_reduction"], True),
                 "n/a" if not p["matched_range"] else f"{_fmt(p['matched_range'][0], True)} to "
                 f"{_fmt(p['matched_range'][1], True)}",
                 ", ".join(f"{m} {_fmt_ms(v)}" for m, v in c["final_kl"].items()), p["note"]]
                for ctx, c in kl["contexts"].items() for p in c["per_seed"]]
        return (_img(out_dir, figs, "kl_vs_accuracy")
                + f"<p>The verdict uses the <b>{html.escape(kl['context'])}</b> context (FST: its lead prompt; "
                  "RL: the seed prompt).</p>"
                + _table(["context", "seed", "mean KL reduction", "max KL reduction", "matched reward range",
                          "final KL (mean over seeds)", "note"], rows))

    def forgetting():
        fg = results["forgetting"]
        rows = [[m, _fmt_ms(mean_std(fg["after"][m]), True), _fmt_ms(v, True)]
                for m, v in summary["forgetting"].items()]
        return (_img(out_dir, figs, "forgetting") + f"<p>Accuracy before training: {_fmt(fg['before'], True)}</p>"
                + _table(["method", "after", "drop (before - after)"], rows))

    def plasticity():
        rows = [[k, _fmt_ms(v, True)] for k, v in summary["plasticity"].items()]
        task = html.escape(str(results["plasticity"].get("task", "?")))
        return (_img(out_dir, figs, "plasticity") + f"<p>Phase-2 task: {task}</p>"
                + _table(["initialisation", "final accuracy"], rows))

    def continual():
        ct = summary["continual"]
        tasks = results["continual"].get("tasks") or []
        n = max((len(v) for v in ct.values()), default=0)
        header = ["method"] + [f"stage {s}" + (f" ({tasks[s]})" if s < len(tasks) else "") for s in range(n)]
        rows = [[m] + [_fmt_ms(v, True) for v in vs] for m, vs in ct.items()]
        return (_img(out_dir, figs, "continual")
                + "<p class='small'>Final normalised accuracy per stage (0 = value at stage start, 100% = peak "
                  "across methods).</p>" + _table(header, rows))

    def quadrant():
        rows = [[c, _fmt_ms(v, True)] for c, v in summary["quadrant"].items()]
        return _img(out_dir, figs, "quadrant") + _table(["weights+prompt", "pass@1"], rows)

    section("Data efficiency and asymptote", "data_efficiency", data_eff)
    section("Drift: KL to base vs accuracy", "drift", drift)
    section("Forgetting", "forgetting", forgetting)
    section("Plasticity", "plasticity", plasticity)
    section("Continual learning", "continual", continual)
    section("Quadrant decomposition", "quadrant", quadrant)
    parts.append("</body></html>")
    return "\n".join(parts)
