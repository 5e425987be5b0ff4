"""The demo's two headline settings, declared in code before any FST run, with the criteria each must meet.

A setting fixes what the claims are measured on: task, reward, learning rate, step caps and the simulated
reflector's mistake rate. Its criteria are re-measured in every demo run (the base-model ones before training, the
RL and GEPA-only ones on those arms *before FST runs*, ``Suite.check_criteria``), so a report always says whether
the setting it judged was the one it claims to be.

* ``rl-no-signal`` (``cipher``): RL alone from the seed prompt gets no reward (0/1 reward, pass@16 <= 0.05), so its
  weights never move. FST's gain there is the prompt channel's; claims that compare with a *learning* RL arm are
  "not testable here".
* ``rl-learns``: RL alone improves (the paper's regime: RL learns, only slower). Task ``tail``
  (``dedupe|keep_last:3``) with the partial-credit reward, found by a logged search against criteria declared
  before it (``fastslow.rulebook.setting``: ``RL_LEARNS_CRITERIA``, ``RL_LEARNS_PROFILE``; the search log and the
  3-seed confirmation are in docs/results/setting-*.json). It also runs the FST-distill arm (``mode: fst-distill``,
  paper §5.7), judged by the ``distill`` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastslow.experiments.preconditions import rl_gain
from fastslow.rulebook.setting import RL_LEARNS_CRITERIA, RL_LEARNS_PROFILE
from fastslow.experiments.verdicts import final_level


@dataclass(frozen=True)
class Criteria:
    """What a setting must show; None: not a criterion of this setting (still reported)."""

    told_the_rule_greedy_max: float | None = None  # base model, told the hidden rule (greedy)
    seed_prompt_pass_at_16_max: float | None = None  # base model, seed prompt, 16 samples at T = 1
    rl_gain_min: float | None = None  # RL alone: final level minus its first evaluation, at least this ...
    rl_gain_max: float | None = None  # ... or at most this (RL has no signal)
    gepa_final_max: float | None = None  # GEPA-only's final level (the prompt alone cannot finish the job)
    seeds_min: int = 2  # ... in at least this many seeds (of the profile's; all of them when there are fewer)


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    task: str
    criteria: Criteria
    partial_credit: bool = False  # Rulebook edit-distance reward instead of 0/1 (accuracy is still exact match)
    lr: float | None = None  # None: the profile's
    steps: int | None = None  # FST and GEPA-only steps (None: the profile's)
    rl_steps: int | None = None  # RL's cap
    reflector_noise: float | None = None  # the simulated reflector's mistake rate (None: the profile's)
    # which experiments run beyond data efficiency, drift and time to accuracy (None: the profile's)
    experiments: tuple[str, ...] | None = None
    overrides: dict = field(default_factory=dict)

    def apply(self, profile):
        """The profile with this setting's task, reward and knobs."""
        pick = {k: getattr(self, k) for k in ("lr", "steps", "rl_steps", "reflector_noise", "experiments")
                if getattr(self, k) is not None}
        return replace(profile, task=self.task, partial_credit=self.partial_credit, **pick, **self.overrides)


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("rl-no-signal", "RL alone has no signal: the instruction alone gets the base model only part of the way "
            "and RL from the seed prompt never sees a reward", task="cipher",
            criteria=Criteria(told_the_rule_greedy_max=0.5, seed_prompt_pass_at_16_max=0.05),
            experiments=()),
    Setting("rl-learns", "RL alone learns, and the prompt alone cannot finish the job: tail (remove repeated "
            "letters, then keep the last 3) with a partial-credit reward; the prompt carries the instruction, the "
            "weights must learn the dedupe step", task=RL_LEARNS_PROFILE["task"],
            partial_credit=RL_LEARNS_PROFILE["partial_credit"],
            criteria=Criteria(rl_gain_min=RL_LEARNS_CRITERIA["rl_gain_min"],
                              gepa_final_max=1.0 - RL_LEARNS_CRITERIA["gepa_gap_min"],
                              seeds_min=RL_LEARNS_CRITERIA["rl_seeds_min"]),
            overrides={"methods": ("fst", "rl", "gepa", "fst-distill")}),
)}


def check(setting: Setting, curves: dict, n_seeds: int) -> dict:
    """The RL and GEPA-only criteria on those arms' validation curves (``{"rl": [per seed], "gepa": [...]}``):
    per-seed numbers, whether each criterion holds in enough seeds, and ``all_met``."""
    c = setting.criteria
    need = min(c.seeds_min, n_seeds)
    out: dict = {"seeds_needed": need, "met": {}}
    gains = [rl_gain(x) for x in curves.get("rl") or []]
    finals = [final_level(x) for x in curves.get("gepa") or []]
    out["rl_gain_per_seed"], out["gepa_final_per_seed"] = gains, finals
    if c.rl_gain_min is not None:
        out["met"]["rl_improves"] = sum(g is not None and g >= c.rl_gain_min for g in gains) >= need
    if c.rl_gain_max is not None:
        out["met"]["rl_has_no_signal"] = sum(g is not None and g <= c.rl_gain_max for g in gains) >= need
    if c.gepa_final_max is not None:
        out["met"]["gepa_plateaus_below"] = sum(f is not None and f <= c.gepa_final_max for f in finals) >= need
    return out
