"""The ``population`` section of a run config: the fast weights (K, T, the GEPA round's budget and selection
rules) and the ``reflector`` that proposes prompt edits.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fastslow.config_base import Section


class ReflectorConfig(Section):
    kind: Literal["rulebook", "llm", "python"] = Field("rulebook", description="rulebook (the simulated reflector: "
                                                      "program induction with a mistake rate, Rulebook tasks only), "
                                                      "llm (any model through litellm), python (your own: id)")
    # python: your own reflector, a class or factory returning an object with propose(current_prompt, examples)
    id: str | None = Field(None, description="kind python: 'package.module:attr' or 'path/to/file.py:attr'")
    args: dict = Field(default_factory=dict, description="kind python: keyword arguments for the class or factory")
    # rulebook (the simulated reflector): its strength knobs
    max_depth: int = Field(3, ge=1, le=3)
    examples_seen: int | None = Field(None, ge=1)
    noise: float = Field(0.0, ge=0, le=1, description="simulated reflector's mistake rate (strength = 1 - noise)")
    # when the prompt's rule already explains every example, a careful simulated call rewords the framing around
    # it (on) or proposes nothing (off). The reworded variants are equivalent by construction, and on the RL-learns
    # setting FST with them ended within the seed spread of FST without (docs/results/reframe-comparison.json), so
    # the default is off (issue 18, item 5)
    reframe: bool = Field(False, description="simulated reflector: reword a working prompt's framing")
    # LLM reflector through litellm
    model: str = "openai/gpt-5.2"
    api_base: str | None = None
    temperature: float = Field(1.0, ge=0)
    timeout: float = Field(60.0, gt=0)
    retries: int = Field(3, ge=0, le=10, description="retries after a failed API call (timeouts, 5xx, rate limits); "
                         "bounded so a dead server costs minutes, not hours")
    backoff: float = Field(1.0, ge=0, le=60, description="seconds before the first retry, doubled for each next "
                           "one (capped at 60 s)")
    # issue 20: the reflector's answer length was fixed at 1024 tokens, too few for a thinking model's reasoning
    max_tokens: int = Field(1024, ge=16, description="most tokens in one reflector answer (thinking included)")
    preflight: bool = Field(True, description="one short call at start: a missing litellm, bad model name, bad "
                            "credentials or unreachable api_base stop the run before training, not hours later")

    @model_validator(mode="after")
    def _python_needs_id(self) -> ReflectorConfig:
        if self.kind == "python" and not self.id:
            raise ValueError("kind 'python' needs population.reflector.id: 'package.module:attr' (or "
                             "'path/to/file.py:attr') naming a reflector class or factory")
        return self


class PopulationConfig(Section):
    size: int = Field(4, ge=1, description="K: prompts in the population (forced to 1 in rl mode)")
    cycle_steps: int = Field(6, ge=1, description="T: RL steps between GEPA rounds")
    anchor_size: int = Field(24, ge=1, description="anchor problems per round, drawn from the next T batches")
    budget: int = Field(120, ge=0, description="metric calls (rollouts) per round for new proposals")
    minibatch_size: int = Field(3, ge=1, description="reflection minibatch size")
    max_prompt_chars: int = Field(1000, ge=10, description="prompt length cap")
    fill: Literal["front", "dominated"] = Field("front", description="top-K of the Pareto front only (repeated "
                                                "if the front is smaller than K), or also fill with the best "
                                                "dominated candidates")
    acceptance: Literal["improvement_or_equal", "strict_improvement", "paired"] = Field(
        "improvement_or_equal", description="gepa's test of a child on its reflection minibatch: ties with the "
        "parent accepted (keeps the population diverse), strict improvement (gepa's default), or 'paired': beats "
        "the parent beyond the paired standard error at selection_z (fastweights/acceptance.py); docs/DECISIONS.md")
    # issue 21: with 0/1 rewards a lucky junk prompt can take the population under the 'front' rule; the default,
    # 'protected' with confirm_rollouts 2, was chosen by measurement on the simulated reflector (cipher, mistake
    # rates 0.5 and 0.9) and the recorded junk reflector (SmolLM2 + chain_sum): docs/BENCHMARKS.md section 16
    selection: Literal["front", "gated", "protected"] = Field(
        "protected", description="how the next population is chosen: 'front' = top-K of the per-instance Pareto "
        "front (fastweights/population.py); 'gated' = a protected incumbent that only a candidate better beyond "
        "noise on the anchor set replaces, other members only with that evidence and new coverage; 'protected' = the "
        "same protected incumbent, other seats open to any candidate not worse beyond noise that adds coverage "
        "(fastweights/incumbent.py; fill and front are then unused)")
    rollouts_per_anchor: int = Field(1, ge=1, le=16, description="rollouts per anchor problem in full anchor "
                                     "evaluations (re-scoring and accepted children): more tell candidates apart "
                                     "better, at r x the anchor cost (counted in metric_calls/rescore_calls and "
                                     "reported as selection_rollouts)")
    confirm_rollouts: int = Field(2, ge=0, le=8, description="gated/protected selection: extra rollouts per anchor "
                                  "problem for the incumbent and each close challenger (ahead but not beyond "
                                  "noise), then the test again on all of them; spent only where a decision hangs "
                                  "on them, outside the budget, counted in rescore_calls and selection_rollouts")
    confirm_max: int = Field(2, ge=1, le=16, description="gated/protected selection: at most this many close "
                             "challengers are confirmed per round (the best by mean gain)")
    parent_selector: Literal["pareto", "lexicase"] = Field(
        "pareto", description="how GEPA picks the parent to mutate: gepa's pruned Pareto front (can give the best "
        "candidate zero weight under 0/1 scores, gepa issue #432) or lexicase (fastweights/selectors.py)")
    selection_z: float = Field(1.645, gt=0, le=5, description="one-sided threshold, in paired standard errors, "
                               "for 'beats beyond noise' (gated/protected selection and paired acceptance); "
                               "1.645 = 5% one-sided; the measured false-acceptance rate is in docs/BENCHMARKS.md")
    front: Literal["pareto", "gepa"] = Field("pareto", description="the front the population is taken from: "
                                             "Pareto non-dominance with ties kept, oldest first, or gepa's "
                                             "dominator pruning (keeps one of a tie, the newest)")
    reuse_rollouts: bool = Field(True, description="fill RL group slots with this cycle's GEPA rollouts")
    reflect_on_rl_rollouts: bool = Field(False, description="serve reflection minibatches of carried prompts from "
                                         "the previous cycle's RL rollouts (saves metric calls; new, see docs)")
    reflector: ReflectorConfig = ReflectorConfig()
    # issue 20: a reflector that fails every proposal turns FST into RL with K copies of the seed prompt, silently
    max_failed_rounds: int = Field(2, ge=0, description="stop the run after this many GEPA rounds in a row in "
                                   "which every proposal failed (no usable proposal); 0 never stops")
