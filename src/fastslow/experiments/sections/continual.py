"""Continual learning: one run over a stream of tasks per method (task-agnostic seed prompt), each stage normalised
(0 = value at stage start, 1 = the best any method reached in the stage; paper section 5.5)."""

from __future__ import annotations

import numpy as np

from fastslow.experiments.analysis import mean_std, normalise_stages
from fastslow.experiments.html import img, table
from fastslow.experiments.plotting import color, plot_band
from fastslow.experiments.verdicts import curve_of, fmt_ms

NAME = CLAIM = "continual"
TITLE = "Continual learning"
SUMMARY_KEYS = ("continual",)
PRECONDITION = "rl_learns_stream"
PAPER = {"claim": "FST keeps learning in later stages where RL stalls (higher final normalised accuracy)",
         "paper": "CodeIO stage: FST +19.6pp vs RL +2.5pp; Physics stage FST 100% vs RL ~92% normalised",
         "values": {"CodeIO_stage_pp": (19.6, 2.5)}}
RULE = "Continual d_i = mean over stages after the first of FST's minus RL's final normalised accuracy."


def stitched(seed_curve, tasks: list, bounds: list[tuple]) -> list[tuple[float, float]]:
    """One seed's "accuracy on the current stage's task" curve.

    A list of (step, acc) pairs is used as is. A dict {task: curve} is stitched: stage s contributes tasks[s]'s
    points with start <= x <= end, so a boundary step appears twice, first as the end of the old stage (old task)
    then as the start of the new one (new task): the convention of ``normalise_stages``.
    """
    if not isinstance(seed_curve, dict):
        return curve_of(seed_curve)
    out: list[tuple[float, float]] = []
    for s, (start, end) in enumerate(bounds):
        task_curve = sorted(curve_of(seed_curve.get(tasks[s], []) if s < len(tasks) else []), key=lambda p: p[0])
        out += [(x, y) for x, y in task_curve if start <= x <= end]
    return out


def measure(suite) -> dict:
    from fastslow.experiments.suite import evals, run_config

    p = suite.profile
    n = len(p.stream)
    curves: dict[str, list] = {}
    for method in ("fst", "rl"):
        curves[method] = []
        for s in p.seeds:
            h = suite.train_run(run_config(p, method, s, suite.out / f"continual-{method}-s{s}", p.stage_steps * n,
                                           task={"name": p.stream[0], "stream": list(p.stream),
                                                 "steps_per_stage": p.stage_steps}), f"continual {method} seed {s}")
            # every evaluation measures every task of the stream; the report stitches stage s from task s
            curves[method].append({t: [(e["step"], e[f"val_mean@4/{t}"]) for e in evals(h)] for t in p.stream})
            suite.log(f"continual: {method} seed {s} done")
    bounds = [[i * p.stage_steps, (i + 1) * p.stage_steps] for i in range(n)]
    return {"tasks": list(p.stream), "stage_bounds": bounds, "curves": curves}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    ct = results.get("continual")
    summary["continual"] = None
    if not ct:
        return
    bounds = [tuple(b) for b in ct.get("stage_bounds") or []]
    tasks = list(ct.get("tasks") or [])
    curves = {m: [stitched(c, tasks, bounds) for c in v] for m, v in (ct.get("curves") or {}).items()}
    details["continual_curves"] = curves
    n = min((len(v) for v in curves.values()), default=0)
    per_seed = [normalise_stages({m: curve_of(v[i]) for m, v in curves.items()}, bounds) for i in range(n)]
    details["continual_normalised"] = per_seed
    summary["continual"] = {
        m: [mean_std([ps[m][s]["final_normalised"] for ps in per_seed]) for s in range(len(bounds))] for m in curves}


def claim(results: dict, summary: dict, details: dict, judge):
    ct = summary["continual"]
    if ct is None or "fst" not in ct or "rl" not in ct:
        return None
    n_stages = len(ct["fst"])
    stages = list(range(1, n_stages)) if n_stages > 1 else [0]
    diffs = []
    for ps in details.get("continual_normalised") or []:
        vals = [(ps["fst"][s]["final_normalised"], ps["rl"][s]["final_normalised"]) for s in stages]
        diffs.append(None if any(a is None or b is None for a, b in vals) else float(np.mean([a - b for a, b in vals])))
    tasks = (results.get("continual") or {}).get("tasks") or []
    ours = "; ".join(f"stage {s}{' (' + tasks[s] + ')' if s < len(tasks) else ''}: FST {fmt_ms(ct['fst'][s], True)}"
                     f" vs RL {fmt_ms(ct['rl'][s], True)}" for s in range(n_stages))
    return ours, judge(diffs), diffs


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    ct = results.get("continual")
    if not ct:
        return
    bounds = [tuple(b) for b in ct.get("stage_bounds") or []]
    tasks = ct.get("tasks") or []
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    per_seed = details.get("continual_normalised") or []
    for i, m in enumerate(details.get("continual_curves") or {}):
        for s in range(len(bounds)):  # one segment per stage: (stage start, start value) then the in-stage points
            raw, normed = [], []
            for ps in per_seed:
                st = ps[m][s]
                if st["start_value"] is None:
                    continue
                raw.append([(st["start"], st["start_value"])] + list(st["points"]))
                normed.append([(st["start"], 0.0)] + list(st["curve"]))
            label = m.upper() if s == 0 else None
            plot_band(ax1, raw, label, color(m, i))
            plot_band(ax2, normed, label, color(m, i))
    for s, (lo, hi) in enumerate(bounds):
        for ax in (ax1, ax2):
            ax.axvline(lo, color="k", linestyle=":", linewidth=0.8)
        if s < len(tasks):
            ax1.text((lo + hi) / 2, 1.0, str(tasks[s]), transform=ax1.get_xaxis_transform(), ha="center",
                     va="bottom", fontsize=8)
    ax1.set(ylabel="accuracy on current task")
    ax2.set(xlabel="training step", ylabel="normalised (0 = stage start, 1 = peak)")
    ax1.legend(fontsize=7)
    fig.suptitle("Continual learning (dotted lines: stage boundaries)", fontsize=10)
    save(fig, "continual.png")


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    ct = summary["continual"]
    tasks = results["continual"].get("tasks") or []
    n = max((len(v) for v in ct.values()), default=0)
    header = ["method"] + [f"stage {s}" + (f" ({tasks[s]})" if s < len(tasks) else "") for s in range(n)]
    return (img(out_dir, figs, "continual") + "<p class='small'>Final normalised accuracy per stage (0 = value at "
            "stage start, 100% = peak across methods).</p>"
            + table(header, [[m] + [fmt_ms(v, True) for v in vs] for m, vs in ct.items()]))
