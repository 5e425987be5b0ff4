"""Plasticity: fresh RL on a second task from the base, the RL-trained and the FST-trained weights."""

from __future__ import annotations

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.html import esc, img, table
from fastslow.experiments.plotting import color, plot_band
from fastslow.experiments.verdicts import combine, curve_of, fmt_ms

NAME = CLAIM = "plasticity"
TITLE = "Plasticity"
SUMMARY_KEYS = ("plasticity",)
PRECONDITION = "rl_moved"
# FST-init counts as "close to" base-init when it is at most this far below it (accuracy fraction; 0.05 = 5pp).
# The paper calls 16.7% vs 20.2% (Math arm, -3.5pp) "close".
CLOSE_TOL = 0.05
PAPER = {"claim": "FST-init keeps plasticity: fresh RL from it ends close to/above base-init and at least as high "
                  "as RL-init",
         "paper": "FST-init close to or above base-init; RL-init can collapse (Math arm 0.0%)",
         "values": {"Math->HoVer-hard": (20.2, 0.0, 16.7), "Physics->HoVer-hard": (18.3, 19.9, 24.2)}}
RULE = ("Plasticity: 'reproduced' needs both d_i = final(FST-init) - final(RL-init) and d_i = final(FST-init) - "
        f"final(base-init) + {CLOSE_TOL} to be reproduced; 'not reproduced' if either is.")


def measure(suite) -> dict:
    from fastslow.experiments.suite import curve, run_config

    p = suite.profile
    curves: dict[str, list] = {"base": [], "rl": [], "fst": []}
    for s in p.seeds:
        for init, got in curves.items():
            model = p.model if init == "base" else str(suite.out / f"{init}-s{s}" / "final")
            h = suite.train_run(run_config(p, "rl", s, suite.out / f"plasticity-{init}-s{s}", p.plasticity_steps,
                                           model=model, task={"name": p.plasticity_task}, lr=p.plasticity_lr),
                                f"plasticity {init}-init seed {s}")
            got.append(curve(h))
            suite.log(f"plasticity: {init}-init seed {s}: final {got[-1][-1][1]:.3f}")
    return {"task": p.plasticity_task, "curves": curves}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    pl = results.get("plasticity")
    summary["plasticity"] = None if not pl else {
        init: mean_std([curve_of(c)[-1][1] for c in cs if len(c)]) for init, cs in (pl.get("curves") or {}).items()}


def claim(results: dict, summary: dict, details: dict, judge):
    pl = results.get("plasticity")
    curves = (pl or {}).get("curves") or {}
    if not pl or not all(k in curves for k in ("base", "rl", "fst")):
        return None
    finals = {k: [curve_of(c)[-1][1] if len(c) else None for c in curves[k]] for k in ("base", "rl", "fst")}
    n = min(len(v) for v in finals.values())

    def d(a, b, add=0.0):
        return [None if finals[a][i] is None or finals[b][i] is None else finals[a][i] - finals[b][i] + add
                for i in range(n)]

    vs = [judge(d("fst", "rl")), judge(d("fst", "base", CLOSE_TOL))]
    v = vs[0] if vs[0][0] == "not testable here" else combine(*(x[:2] for x in vs))
    ps = summary["plasticity"]
    ours = (f"task {pl.get('task', '?')}; final acc: base {fmt_ms(ps['base'], True)}, RL-init {fmt_ms(ps['rl'], True)}"
            f", FST-init {fmt_ms(ps['fst'], True)}")
    return ours, v, {"fst_minus_rl": d("fst", "rl"), "fst_minus_base_plus_tol": d("fst", "base", CLOSE_TOL)}


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    pl = results.get("plasticity")
    if not pl:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (init, cs) in enumerate((pl.get("curves") or {}).items()):
        plot_band(ax, cs, f"{init}-init", color(init, i))
    ax.set(xlabel="phase-2 RL step", ylabel=f"validation accuracy ({pl.get('task', '?')})",
           title="Plasticity probe: fresh RL from each initialisation")
    ax.legend(fontsize=7)
    save(fig, "plasticity.png")


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    rows = [[k, fmt_ms(v, True)] for k, v in summary["plasticity"].items()]
    return (img(out_dir, figs, "plasticity") + f"<p>Phase-2 task: {esc(str(results['plasticity'].get('task', '?')))}"
            "</p>" + table(["initialisation", "final accuracy"], rows))
