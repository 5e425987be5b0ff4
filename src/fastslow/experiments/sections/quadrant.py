"""Quadrant: {base, FST-trained weights} x {seed prompt, FST's evolved lead prompt}."""

from __future__ import annotations

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.html import img, table
from fastslow.experiments.plotting import color
from fastslow.experiments.verdicts import fmt_ms

NAME = CLAIM = "quadrant"
TITLE = "Quadrant decomposition"
SUMMARY_KEYS = ("quadrant",)
PRECONDITION = None
CELLS = ("base+seed", "base+evolved", "fst+seed", "fst+evolved")
PAPER = {"claim": "Joint cell (FST weights + evolved prompt) is the best of the four",
         "paper": "joint best on HoVer-hard (21.2) and CodeIO (43.3); Math: slow weights carry the gain "
                  "(48.4 vs 47.2)",
         "values": {"HoVer-hard": (2.0, 10.6, 11.6, 21.2), "Math": (20.0, 20.3, 47.2, 48.4),
                    "CodeIO": (19.4, 34.5, 25.1, 43.3)}}
RULE = "Quadrant d_i = fst+evolved - max(other cells)."


def measure(suite) -> dict:
    from fastslow.evaluation.quadrant import quadrant_cells
    from fastslow.experiments.suite import evals

    p = suite.profile
    cells: dict[str, list[float]] = {}
    for s in p.seeds:
        lead = evals(suite.runs[("fst", s)])[-1]["lead_prompt"]
        for cell, value in quadrant_cells(suite.out / f"fst-s{s}" / "final", p.task, lead, p.eval_problems,
                                          seed=s, base_path=p.model).items():
            cells.setdefault(cell, []).append(value)
    suite.log("quadrant: " + ", ".join(f"{c} {sum(v) / len(v):.3f}" for c, v in cells.items()))
    return {"cells": cells}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    qd = results.get("quadrant")
    summary["quadrant"] = None if not qd else {c: mean_std(v) for c, v in (qd.get("cells") or {}).items()}


def claim(results: dict, summary: dict, details: dict, judge):
    cells = ((results.get("quadrant") or {}).get("cells")) or {}
    others = [c for c in cells if c != "fst+evolved"]
    if summary["quadrant"] is None or "fst+evolved" not in cells or not others:
        return None
    n = min(len(v) for v in cells.values())
    diffs = [cells["fst+evolved"][i] - max(cells[c][i] for c in others) for i in range(n)]
    return ", ".join(f"{c} {fmt_ms(summary['quadrant'][c], True)}" for c in cells), judge(diffs), diffs


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    qd = results.get("quadrant")
    if not qd:
        return
    cells = qd.get("cells") or {}
    names = list(cells)
    ms = [mean_std(cells[c]) for c in names]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms], capsize=4,
           color=[color(c, i) for i, c in enumerate(names)])
    for i, c in enumerate(names):
        ax.scatter([i] * len(cells[c]), cells[c], color="k", s=10, zorder=3)
    ax.set(ylabel="pass@1", title="Weights x prompt quadrant (mean ± std; dots: seeds)")
    save(fig, "quadrant.png")


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    rows = [[c, fmt_ms(v, True)] for c, v in summary["quadrant"].items()]
    return img(out_dir, figs, "quadrant") + table(["weights+prompt", "pass@1"], rows)
