"""Drift: diagnostic KL to the base against validation accuracy at every evaluation of the data-efficiency runs, and
the paper's "less KL at matched reward" (sections 5.3 and 6), in the seed-prompt and each run's deployed context."""

from __future__ import annotations

from fastslow.experiments.analysis import kl_reduction_at_matched_reward, mean_std
from fastslow.experiments.html import esc, img, table
from fastslow.experiments.plotting import color
from fastslow.experiments.verdicts import curve_of, fmt, fmt_ms, seed_label

NAME = "drift"
CLAIM = "kl"
TITLE = "Drift: KL to base vs accuracy"
SUMMARY_KEYS = ("kl_reduction_at_matched_reward",)
PRECONDITION = "rl_improved"
PAPER = {"claim": "FST needs less KL to the base than RL at matched reward (in each run's deployed context)",
         "paper": "up to 70% less KL (CodeIO, HoVer, Physics; no separation on Polaris)",
         "values": {"max_reduction": 0.70}}
RULE = ("KL d_i = mean reduction 1 - KL_fst/KL_rl over matched rewards, with KL measured in each run's deployed "
        "context (FST: its lead prompt; RL: the seed prompt).")


def measure(suite) -> dict:
    from fastslow.experiments.suite import kl_points

    p = suite.profile
    arms = [m for m in ("fst", "rl") if (m, p.seeds[0]) in suite.runs]
    pts = {m: [kl_points(suite.runs[(m, s)]) for s in p.seeds] for m in arms}
    return {"points": {m: [sd for sd, _ in v] for m, v in pts.items()},
            "points_deployed": {m: [dep for _, dep in v] for m, v in pts.items()}}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    drift = results.get("drift")
    summary["kl_reduction_at_matched_reward"] = None
    if not drift:
        return
    out = {}
    for ctx, pts in {"deployed": drift.get("points_deployed"), "seed_prompt": drift.get("points")}.items():
        if not pts:
            continue
        fst, rl = pts.get("fst") or [], pts.get("rl") or []
        per_seed = []
        for i in range(min(len(fst), len(rl))):
            r = kl_reduction_at_matched_reward(curve_of(rl[i]), curve_of(fst[i]))
            per_seed.append({"seed": seed_label(results, i), "mean_reduction": r["mean_reduction"],
                             "max_reduction": r["max_reduction"], "matched_range": r["matched_range"],
                             "ok": r["ok"], "note": r["note"]})
            details.setdefault(f"kl_reduction_levels_{ctx}", []).append(
                {"seed": seed_label(results, i), "levels": r["levels"], "reductions": r["reductions"]})
        out[ctx] = {
            "mean_reduction": mean_std([p["mean_reduction"] for p in per_seed if p["ok"]]),
            "max_reduction": mean_std([p["max_reduction"] for p in per_seed if p["ok"]]),
            "n_ok": sum(bool(p["ok"]) for p in per_seed),
            "per_seed": per_seed,
            "final_kl": {m: mean_std([curve_of(c)[-1][0] for c in v if len(c)]) for m, v in pts.items()},
        }
    used = "deployed" if "deployed" in out else "seed_prompt"
    summary["kl_reduction_at_matched_reward"] = {**out.get(used, {}), "context": used, "contexts": out}


def claim(results: dict, summary: dict, details: dict, judge):
    kl = summary["kl_reduction_at_matched_reward"]
    if kl is None or "per_seed" not in kl:
        return None
    diffs = [p["mean_reduction"] if p["ok"] else None for p in kl["per_seed"]]
    parts = [f"{ctx}: mean reduction {fmt_ms(c['mean_reduction'], pct=True)}, final KL FST "
             f"{fmt_ms(c['final_kl'].get('fst'))} vs RL {fmt_ms(c['final_kl'].get('rl'))}"
             for ctx, c in kl["contexts"].items()]
    notes = sorted({p["note"] for p in kl["per_seed"] if p["note"]})
    v = judge(diffs)
    if notes:
        v = (v[0], v[1] + "; " + "; ".join(notes), *v[2:])
    return f"verdict context {kl['context']}; " + "; ".join(parts), v, diffs


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    drift = results.get("drift")
    if not drift:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    deployed = drift.get("points_deployed")
    for i, (m, seeds) in enumerate((deployed or drift.get("points") or {}).items()):
        pts = [p for c in seeds for p in curve_of(c)]
        ax.scatter([k for k, _ in pts], [r for _, r in pts], s=14, color=color(m, i), alpha=0.7, label=m.upper())
    ctx = "each run's deployed prompt" if deployed else "seed prompt"
    ax.set(xlabel=f"KL(π_train ‖ π_base) (token-level, context: {ctx})", ylabel="validation accuracy",
           title="KL to the base vs accuracy (all seeds pooled)")
    ax.legend(fontsize=7)
    save(fig, "kl_vs_accuracy.png")


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    kl = summary["kl_reduction_at_matched_reward"]
    rows = [[ctx, p["seed"], fmt(p["mean_reduction"], True), fmt(p["max_reduction"], True),
             "n/a" if not p["matched_range"] else f"{fmt(p['matched_range'][0], True)} to "
             f"{fmt(p['matched_range'][1], True)}",
             ", ".join(f"{m} {fmt_ms(v)}" for m, v in c["final_kl"].items()), p["note"]]
            for ctx, c in kl["contexts"].items() for p in c["per_seed"]]
    return (img(out_dir, figs, "kl_vs_accuracy")
            + f"<p>The verdict uses the <b>{esc(kl['context'])}</b> context (FST: its lead prompt; RL: the seed "
              "prompt).</p>"
            + table(["context", "seed", "mean KL reduction", "max KL reduction", "matched reward range",
                     "final KL (mean over seeds)", "note"], rows))
