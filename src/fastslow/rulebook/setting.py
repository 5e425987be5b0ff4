"""The "RL learns" headline setting: its criteria, declared before any FST run, and the judge that checks them.

The paper's claims are about a regime where RL from the seed prompt *does* learn, only slower, and where the
prompt alone cannot finish the job. A setting qualifies when (issue 18):

* RL alone, from the seed prompt, improves validation accuracy (val_mean@4) by at least ``rl_gain_min`` within
  its step cap, in at least ``rl_seeds_min`` of the seeds;
* GEPA-only, with the demo's simulated-reflector strength, plateaus at least ``gepa_gap_min`` below 100 %;
* told-the-rule accuracy is reported alongside, but is not a criterion: the simulated reflector finds equivalent
  phrasings that the model executes better than the canonical instruction, so only the GEPA-only arm measures
  what the prompt channel can reach.

``judge`` reads plain run records (``{"mode", "seed", "curve": [(step, val_mean@4), ...]}``), so the search
script, a test and the demo can all apply the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

EPS = 1e-9  # accuracies are multiples of 1/(problems x samples): a gain of exactly 0.10 counts as 0.10

RL_LEARNS_CRITERIA: dict = {
    "rl_gain_min": 0.10,  # final level minus the step-0 evaluation, per seed
    "rl_seeds_min": 2,  # seeds (of those run) that must show the gain
    "gepa_gap_min": 0.20,  # 1 - GEPA-only's final level, mean over seeds
    "final_level": "mean of the last two evaluations",  # one noisy evaluation is not a plateau
}


# The setting that met the criteria (fastslow.bench.setting_search; docs/results/setting-search.json, setting-confirm.json):
# the demo's standard-profile fields (experiments.suite.Profile), the same for every arm. Only the task and the
# partial-credit reward differ from the "RL has no signal" (cipher) setting.
RL_LEARNS_PROFILE: dict = {
    "task": "tail",  # dedupe|keep_last:3
    "partial_credit": True,  # task.partial_credit: 1 - normalised edit distance; accuracy stays exact match
    "steps": 60,  # FST and GEPA-only
    "rl_steps": 90,  # RL's cap, 1.5 x FST's steps
    "lr": 2e-4,
    "problems_per_step": 8,
    "group_size": 8,
    "eval_every": 6,
    "eval_problems": 48,  # val_mean@4 on 48 validation problems
    "reflector_noise": 0.5,  # the simulated reflector's mistake rate, as in the demo
}


def final_level(curve: Sequence[Sequence[float]]) -> float:
    """The mean of the last two evaluations (the last one alone if there is only one)."""
    tail = [float(v) for _, v in curve[-2:]]
    return sum(tail) / len(tail)


def judge(runs: Sequence[Mapping], criteria: Mapping = RL_LEARNS_CRITERIA) -> dict:
    """Each criterion measured and met or not, from the RL and GEPA-only runs present (a missing arm: None)."""
    rl = [r for r in runs if r["mode"] == "rl"]
    gepa = [r for r in runs if r["mode"] == "gepa"]
    out: dict = {"criteria": dict(criteria)}
    if rl:
        gains = {r["seed"]: final_level(r["curve"]) - float(r["curve"][0][1]) for r in rl}
        improved = sum(g >= criteria["rl_gain_min"] - EPS for g in gains.values())
        out["rl_gain"] = gains
        out["rl_improved_seeds"] = improved
        out["rl_learns"] = improved >= min(criteria["rl_seeds_min"], len(rl))
    else:
        out["rl_learns"] = None
    if gepa:
        finals = {r["seed"]: final_level(r["curve"]) for r in gepa}
        mean = sum(finals.values()) / len(finals)
        out["gepa_final"] = finals
        out["gepa_final_mean"] = mean
        out["gepa_plateaus_below"] = 1.0 - mean >= criteria["gepa_gap_min"] - EPS
    else:
        out["gepa_plateaus_below"] = None
    out["all_met"] = out["rl_learns"] is True and out["gepa_plateaus_below"] is True
    return out
