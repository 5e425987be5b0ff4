"""FST-distill (paper §5.7, Observation 2): GEPA rounds as in FST, but the slow step is on-policy reverse-KL
self-distillation of the policy under the seed prompt towards the frozen policy under the evolved prompt, so reward
rises only through the fast weights. The paper's ceiling study on full HoVer orders the arms FST > FST-distill >
GEPA-only; this claim checks that ordering on the demo's setting.

It has no ``measure`` of its own: the arm is one more method (``fst-distill``) of the data-efficiency runs, present
only where a setting lists it among its methods. Every arm is judged under the trainer's standard evaluation
(validation accuracy under the run's lead prompt at each evaluation), the same for all arms.
"""

from __future__ import annotations

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.html import img, table
from fastslow.experiments.plotting import color
from fastslow.experiments.verdicts import curve_of, final_level, fmt, fmt_ms, seed_label

NAME = CLAIM = "distill"
TITLE = "FST-distill (beyond the paper's main results)"
SUMMARY_KEYS = ("distill",)
PRECONDITION = None
WHEN_ABSENT = "no fst-distill arm among this setting's methods"
ARMS = ("fst", "fst-distill", "gepa")
PAPER = {"claim": "FST > FST-distill > GEPA-only (final validation accuracy)",
         "paper": "full HoVer, step 600: FST ~48 %, FST-distill ~30-33 %, GEPA-only ~24.7 %",
         "values": {"HoVer (full)": (48.0, 31.5, 24.7)}}
RULE = ("FST-distill d_i = min(FST - FST-distill, FST-distill - GEPA-only), each arm's final level (mean of its "
        "last two evaluations) at FST's last step: d_i > 0 when seed i shows the whole ordering.")


def _finals(results: dict) -> dict[str, list[float | None]] | None:
    curves = ((results.get("data_efficiency") or {}).get("curves")) or {}
    if not all(curves.get(a) for a in ARMS):
        return None
    n = min(len(curves[a]) for a in ARMS)
    out: dict[str, list[float | None]] = {a: [] for a in ARMS}
    for i in range(n):
        end = max(x for x, _ in curve_of(curves["fst"][i]))
        for a in ARMS:
            out[a].append(final_level(curves[a][i], end))
    return out


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    finals = _finals(results)
    summary["distill"] = None if finals is None else {
        "final": {a: mean_std(v) for a, v in finals.items()},
        "per_seed": [{"seed": seed_label(results, i), **{a: finals[a][i] for a in ARMS}}
                     for i in range(len(finals["fst"]))],
    }


def _d(row: dict) -> float | None:
    if any(row[a] is None for a in ARMS):
        return None
    return min(row["fst"] - row["fst-distill"], row["fst-distill"] - row["gepa"])


def claim(results: dict, summary: dict, details: dict, judge):
    sd = summary.get("distill")
    if sd is None:
        return None
    diffs = [_d(r) for r in sd["per_seed"]]
    ours = ", ".join(f"{a} {fmt_ms(sd['final'][a], True)}" for a in ARMS)
    return ours, judge(diffs), diffs


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    sd = summary.get("distill")
    if not sd:
        return
    ms = [sd["final"][a] for a in ARMS]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(ARMS, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms], capsize=4,
           color=[color(a, i) for i, a in enumerate(ARMS)])
    for i, a in enumerate(ARMS):
        ys = [r[a] for r in sd["per_seed"] if r[a] is not None]
        ax.scatter([i] * len(ys), ys, color="k", s=10, zorder=3)
    ax.set(ylabel="validation accuracy at FST's last step", title="FST vs FST-distill vs GEPA-only (dots: seeds)")
    save(fig, "distill.png")


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    sd = summary.get("distill")
    if not sd:
        return "<p class='small'>No FST-distill arm in this setting.</p>"
    rows = [[r["seed"], *(fmt(r[a], True) for a in ARMS), fmt(_d(r))] for r in sd["per_seed"]]
    return img(out_dir, figs, "distill") + table(["seed", "FST", "FST-distill", "GEPA-only", "d_i"], rows)
