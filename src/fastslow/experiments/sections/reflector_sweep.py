"""Reflector sweep (not part of ``fst demo``): FST and GEPA-only at each mistake rate of the simulated reflector
(its strength is 1 - mistake rate), RL from the data-efficiency runs: FST's final accuracy minus each arm's (mean of
the last two evaluations), per seed."""

from __future__ import annotations

NAME = "reflector_sweep"
TITLE = "Simulated reflector sweep"
SUMMARY_KEYS = ()


def measure(suite) -> dict:
    from fastslow.experiments.suite import curve, distinct_prompts, run_config
    from fastslow.experiments.verdicts import final_level

    p = suite.profile
    rows = []
    for noise in p.sweep_noises:
        for s in p.sweep_seeds:
            h = {m: suite.train_run(run_config(p, m, s, suite.out / f"sweep-n{noise:g}-{m}-s{s}", p.steps,
                                               reflector_noise=noise), f"sweep {m} noise {noise:g} seed {s}")
                 for m in ("fst", "gepa")}
            h["rl"] = suite.train_run(run_config(p, "rl", s, suite.out / f"rl-s{s}", p.rl_steps), f"rl seed {s}")
            end = curve(h["fst"])[-1][0]
            final = {m: final_level(curve(v), end) for m, v in h.items()}
            rows.append({"noise": noise, "strength": 1 - noise, "seed": s, "final": final,
                         "fst_minus_gepa": final["fst"] - final["gepa"], "fst_minus_rl": final["fst"] - final["rl"],
                         "distinct_per_round": {m: distinct_prompts(h[m]) for m in ("fst", "gepa")}})
            suite.log(f"sweep: noise {noise}: seed {s}: " + ", ".join(f"{m} {v:.3f}" for m, v in final.items()))
    return {"task": p.task, "steps": p.steps, "rows": rows}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    return None


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    return None


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    return ""
