"""The headline setting: its declared criteria (``experiments/settings.py``) and what this run measured of them.
The base-model criteria (told-the-rule accuracy, seed-prompt pass@16) are measured here before any training; the
RL and GEPA-only ones by ``Suite.check_criteria`` on those arms, before FST runs. The simulated reflector's strength
is measured here too, on this task at this run's mistake rate (``fastslow.bench.reflector_recovery``: the share of
reflection calls that write the hidden rule or an equivalent one), so that every report shows how close to an
oracle the reflector behind its results was."""

from __future__ import annotations

from dataclasses import asdict

from fastslow.experiments.html import esc, table
from fastslow.experiments.verdicts import fmt

RECOVERY_CALLS = 100  # reflection minibatches for the reflector's recovery rate (a few seconds on the base model)
NAME = "setting"
TITLE = "Headline setting"
SUMMARY_KEYS = ("setting",)


def measure(suite) -> dict:
    from fastslow.evaluation.base_report import eval_base
    from fastslow.experiments.settings import Criteria, Setting
    from fastslow.model.base import load_model

    p = suite.profile
    st = suite.setting or Setting("custom", "the profile's task, no declared criteria", p.task, Criteria())
    model, tok = load_model(p.model)
    entry = eval_base(model, tok, n_explicit=0, n_task=64, tasks=[p.task])["tasks"][p.task]
    told, pass16 = entry["explicit_accuracy"], entry["seed_prompt_pass_at_16"]
    c = st.criteria
    met = {}
    if c.told_the_rule_greedy_max is not None:
        met["told_the_rule_greedy"] = told <= c.told_the_rule_greedy_max
    if c.seed_prompt_pass_at_16_max is not None:
        met["seed_prompt_pass_at_16"] = pass16 <= c.seed_prompt_pass_at_16_max
    suite.log(f"setting {st.name}: {p.task}: told-the-rule greedy {told:.3f}, seed-prompt pass@16 {pass16:.3f}"
              + (f"; base-model criteria met: {all(met.values())}" if met else ""))
    recovery = None
    if p.model == "base":  # the measurement samples reflection minibatches from the shipped base model
        from fastslow.bench.reflector_recovery import measure as measure_recovery

        row = measure_recovery(p.task, RECOVERY_CALLS, [p.reflector_noise], seed=0, log=lambda _: None,
                               model=model, tok=tok)["rows"][0]  # the base model loaded above
        recovery = {"noise": row["noise"], "calls": RECOVERY_CALLS, "recovered": row["recovered"],
                    "exact": row["exact"], "equivalent": row["equivalent"]}
        suite.log(f"setting {st.name}: the simulated reflector at mistake rate {p.reflector_noise} writes the hidden "
                  f"rule (or an equivalent) in {100 * row['recovered']:.0f} % of {RECOVERY_CALLS} calls")
    return {"name": st.name, "description": st.description, "task": p.task, "partial_credit": st.partial_credit,
            "criteria": asdict(c), "told_the_rule_greedy": told, "seed_prompt_pass_at_16": pass16, "met": met,
            "all_met": all(met.values()), "program": entry.get("program"), "reflector_recovery": recovery}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    st = results.get("setting")
    if st and st.get("arms"):  # the RL / GEPA-only criteria, measured before FST ran
        st = {**st, "met": {**st["met"], **st["arms"]["met"]}}
        st["all_met"] = all(st["met"].values())
    summary["setting"] = st


def criteria_rows(st: dict) -> list[list]:
    """(criterion, declared, measured, met) rows; old results (one headline, base-model criteria only) too."""
    c, met, arms = st["criteria"], st.get("met") or {}, st.get("arms") or {}
    def per(vs):
        return " / ".join("n/a" if v is None else f"{100 * v:.1f}" for v in vs)
    need = arms.get("seeds_needed")
    rows = [["told-the-rule greedy accuracy (base model)",
             f"<= {c['told_the_rule_greedy_max']}" if c.get("told_the_rule_greedy_max") is not None else "reported",
             fmt(st["told_the_rule_greedy"], True), met.get("told_the_rule_greedy", "-")],
            ["seed-prompt pass@16 (base model)",
             f"<= {c['seed_prompt_pass_at_16_max']}" if c.get("seed_prompt_pass_at_16_max") is not None
             else "reported", fmt(st["seed_prompt_pass_at_16"], True), met.get("seed_prompt_pass_at_16", "-")]]
    rec = st.get("reflector_recovery")
    if rec:
        rows.append([f"simulated reflector at mistake rate {rec['noise']}: calls writing the hidden rule (or an "
                     f"equivalent), of {rec['calls']}", "reported", fmt(rec["recovered"], True), "-"])
    if arms:
        if c.get("rl_gain_min") is not None:
            rows.append([f"RL alone improves (final - first evaluation, points) in >= {need} seeds",
                         f">= {100 * c['rl_gain_min']:.0f}", per(arms["rl_gain_per_seed"]),
                         met.get("rl_improves", "-")])
        else:
            rows.append(["RL alone: final - first evaluation (points, per seed)", "reported",
                         per(arms["rl_gain_per_seed"]), "-"])
        if c.get("gepa_final_max") is not None:
            rows.append([f"GEPA-only final accuracy (%) in >= {need} seeds", f"<= {100 * c['gepa_final_max']:.0f}",
                         per(arms["gepa_final_per_seed"]), met.get("gepa_plateaus_below", "-")])
    return rows


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    return None


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    st = summary["setting"]
    return (f"<p>Setting <b>{esc(str(st.get('name', 'headline')))}</b>: task <b>{esc(str(st['task']))}</b> (hidden "
            f"program {esc(str(st.get('program')))}{', partial-credit reward' if st.get('partial_credit') else ''})."
            " Criteria declared before any FST run.</p>"
            + table(["criterion", "declared", "measured", "met"],
                    [[*r[:3], {True: "yes", False: "NO"}.get(r[3], r[3])] for r in criteria_rows(st)]))
