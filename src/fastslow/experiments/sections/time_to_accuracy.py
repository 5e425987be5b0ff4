"""Time to accuracy: per seed and arm, the wall-clock and the rollouts each arm spent until it first reached RL's
final accuracy, as a ratio to RL's own. The figure a user weighs FST by: FST's GEPA rounds, reflection calls and
evaluations all count. Costs come from each run's own timers and cumulative counts (``data_efficiency.costs``)."""

from __future__ import annotations

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.html import table
from fastslow.experiments.verdicts import final_level, fmt_ms, seed_label

NAME = "time_to_accuracy"
TITLE = "Time to RL's final accuracy"
SUMMARY_KEYS = ("time_to_accuracy",)
KINDS = ("rl_rollouts", "gepa_rollouts", "eval_rollouts", "reflection_calls")


def _first(costs: list[dict], level: float) -> dict | None:
    return next((c for c in costs if c["accuracy"] >= level - 1e-12), None)


def _total(c: dict) -> int:
    return sum(c.get(k) or 0 for k in ("rl_rollouts", "gepa_rollouts", "eval_rollouts"))


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    de = results.get("data_efficiency") or {}
    costs = de.get("costs") or {}
    summary["time_to_accuracy"] = None
    if not costs.get("rl"):
        return
    per_seed = []
    for i, rl_costs in enumerate(costs["rl"]):
        target = final_level([(c["step"], c["accuracy"]) for c in rl_costs])
        rl_hit = _first(rl_costs, target)
        row = {"seed": seed_label(results, i), "target": target, "arms": {}}
        # RL "reached" its final accuracy at step 0 when it never improved: no time to compare with
        rl_ok = rl_hit is not None and rl_hit["step"] > 0 and rl_hit["wall_s"] > 0
        for m, arm in costs.items():
            hit = _first(arm[i], target) if i < len(arm) else None
            entry = {"reached": hit is not None, **({k: hit.get(k) for k in ("step", "wall_s", *KINDS)} if hit else {})}
            if hit is not None:
                entry["total_rollouts"] = _total(hit)
            if hit is not None and rl_ok:
                entry["wall_ratio"] = hit["wall_s"] / rl_hit["wall_s"]
                entry["rollout_ratio"] = _total(hit) / max(1, _total(rl_hit))
            row["arms"][m] = entry
        row["note"] = "" if rl_ok else "RL never rose above its start: no time of RL's to compare with"
        per_seed.append(row)
    arms = list(costs)
    summary["time_to_accuracy"] = {
        "per_seed": per_seed,
        "wall_ratio": {m: mean_std([r["arms"][m].get("wall_ratio") for r in per_seed]) for m in arms},
        "rollout_ratio": {m: mean_std([r["arms"][m].get("rollout_ratio") for r in per_seed]) for m in arms},
        "reached": {m: sum(r["arms"][m]["reached"] for r in per_seed) for m in arms}, "n_seeds": len(per_seed)}


def _ratio(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def rows(tta: dict) -> list[list]:
    """One row per seed and arm: the shared table of the report and the docs."""
    out = []
    for r in tta["per_seed"]:
        for m, a in r["arms"].items():
            if not a["reached"]:
                out.append([r["seed"], m, f"{100 * r['target']:.1f} %", "never", "-", "-", "-", "-", "-", "-"])
                continue
            wall, rollouts = (_ratio(a.get(k)) for k in ("wall_ratio", "rollout_ratio"))
            out.append([r["seed"], m, f"{100 * r['target']:.1f} %", a["step"], f"{a['wall_s']:.0f} ({wall})",
                        f"{a['total_rollouts']} ({rollouts})", a["rl_rollouts"], a["gepa_rollouts"],
                        a["eval_rollouts"] if a["eval_rollouts"] is not None else "n/a", a["reflection_calls"]])
    return out


HEADER = ["seed", "arm", "target (RL's final)", "step", "wall-clock s (ratio to RL)",
          "rollouts (ratio to RL)", "RL rollouts", "GEPA rollouts", "evaluation rollouts", "reflection calls"]


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    return None


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    tta = summary["time_to_accuracy"]
    if not tta:
        return "<p class='notrun'>not recorded in this run (no per-evaluation costs)</p>"
    means = "; ".join(f"{m}: wall-clock {fmt_ms(tta['wall_ratio'][m], suffix='x')}, rollouts "
                      f"{fmt_ms(tta['rollout_ratio'][m], suffix='x')}, reached in {tta['reached'][m]}/{tta['n_seeds']}"
                      for m in tta["wall_ratio"])
    notes = sorted({r["note"] for r in tta["per_seed"] if r["note"]})
    return (f"<p>Ratios to RL's own cost (mean ± std over seeds): {means}.{' ' + '; '.join(notes) if notes else ''}"
            "</p>" + table(HEADER, rows(tta)))
