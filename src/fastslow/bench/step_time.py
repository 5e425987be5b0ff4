"""``fst bench step-time``: wall-clock per RL step for rl, fst without rollout reuse and fst with reuse, and where
an FST step's time goes.

All arms use the ``fst demo`` settings (``experiments.suite`` standard profile: task cipher, B=8, G=8, K=4, T=6,
anchor 16, budget 64, the offline reflector at noise 0.5) and run one after the other in the same process, so
their ratios are comparable on a shared machine. Two sets of arms:

* ``same_work``: zero-variance groups are kept (``learner.drop_zero_variance: false``), so every arm trains on
  all B x G rollouts of every step: the learner does the same work and the differences are FST's own costs;
* ``defaults``: the shipped defaults (zero-variance groups dropped). On the demo task RL from the seed prompt has
  almost no signal, so its learner mostly skips and the rl arm is cheap for that reason alone.

The same-work arms are repeated on further seeds (``seeds``, ``seed_spread``), and ``model="random-base"`` runs
everything on the base model with random weights, whose completions all run to about the token limit, so that a
step is the same work in every arm (``random_copy_of_base``).

Per-step time excludes the GEPA rounds (as the paper's App. D figure does); the amortised figure adds them back.
Both are also given per trained token (completion tokens in the learner's batches). ``profile`` splits each arm's
time into phases by wrapping the trainer's parts (``StepProfile``): nothing in the training code is changed. On a
GPU every clock read waits for the queued kernels (``rl_step.sync``), so no phase is billed another's kernels.
"""

from __future__ import annotations

import functools
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from fastslow.bench.rl_step import sync
from fastslow.bench.step_profile import StepProfile
from fastslow.config import parse_config
from fastslow.trainer import Trainer

ARMS = (("rl", "rl", False), ("fst_no_reuse", "fst", False), ("fst_reuse", "fst", True))


def demo_config(name: str, mode: str, reuse: bool, drop_zero_variance: bool, out: Path, steps: int, model: str,
                seed: int) -> dict:
    from fastslow.experiments.suite import PROFILES, run_config

    data = run_config(PROFILES["standard"], mode, seed, out / name, steps, model=model)
    data["population"]["reuse_rollouts"] = reuse
    data["learner"]["drop_zero_variance"] = drop_zero_variance
    data["eval"] = {"every": 10_000, "problems": 8, "kl_problems": 0}
    data["threads"] = torch.get_num_threads()
    return data


class Arm:
    """One training run of the benchmark, driven step by step (Algorithm 1 as ``Trainer.run`` does it, without the
    evaluations and checkpoints) so that the arms can be interleaved."""

    def __init__(self, name: str, data: dict, batched_rounds: bool = True):
        self.name, self.batched_rounds = name, batched_rounds
        self.trainer = Trainer(parse_config(data))
        self.profile = StepProfile(self.trainer).install()
        self.steps: list[dict] = []
        self.rounds: list[dict] = []

    def step(self) -> None:
        t, T = self.trainer, self.trainer.cfg.population.cycle_steps
        if t.step % T == 0 and t.cfg.mode == "fst":
            with _rounds_batched(self.batched_rounds):
                self.rounds.append(t.gepa_round(cycle=t.step // T))
        sync()
        start = time.perf_counter()
        metrics = t.rl_step()
        t.step += 1
        sync()
        metrics["time_step"] = time.perf_counter() - start
        self.steps.append({**metrics, **t.counts})

    def close(self) -> None:
        self.profile.remove()
        self.trainer.logger.close()

    def result(self) -> dict:
        train, rounds = self.steps, self.rounds
        gepa = sum(h["time_gepa"] for h in rounds)
        per_step = [h["time_step"] for h in train]
        tokens = sum(h.get("tokens", 0.0) for h in train)
        last = train[-1]
        out = {
            "s_per_step_median": statistics.median(per_step),
            "s_per_step_mean": statistics.mean(per_step),
            "s_per_step_amortised_with_gepa": (sum(per_step) + gepa) / len(per_step),
            "trained_tokens_per_step": tokens / len(per_step),
            "ms_per_trained_token": 1e3 * sum(per_step) / max(1.0, tokens),
            "ms_per_trained_token_amortised_with_gepa": 1e3 * (sum(per_step) + gepa) / max(1.0, tokens),
            "generation_s_median": statistics.median(h.get("time_generation", 0.0) for h in train),
            "reused_frac": last["reused_rollouts"] / max(1, last["reused_rollouts"] + last["rl_rollouts"]),
            "reused_rollouts": last["reused_rollouts"],
            "zero_variance_frac": statistics.mean(h["zero_variance_frac"] for h in train),
            "gepa_seconds": gepa,
            "gepa_rounds": len(rounds),
            "gepa_rollouts_handed_to_gepa": last["gepa_metric_calls"] + last["gepa_rescore_calls"],
            "train_reward_mean": statistics.mean(h["reward_mean"] for h in train),
            "populations": [r["population"] for r in rounds],
        }
        for key in ("gepa_generated", "gepa_sampler_calls", "speculative_unused"):
            if rounds and key in rounds[0]:
                out[key] = sum(h[key] for h in rounds)
        out["profile_s_per_step"] = self.profile.breakdown(len(per_step))
        return out


@contextmanager
def _rounds_batched(batched: bool):
    """Run the trainer's GEPA round with batched evaluation on (the default) or off (the reference path: gepa
    evaluates one (candidate, problems) pair per sampler call, as before issue 12)."""
    import fastslow.fastweights.gepa_round as module

    original = module.gepa_round
    if not batched:
        module.gepa_round = functools.partial(original, batched=False, speculate=False)
    try:
        yield
    finally:
        module.gepa_round = original


ROUND_VARIANTS = {  # GEPA round evaluation paths, newest first
    "lookahead": {"batched": True, "speculate": True, "lookahead": True},  # the default
    "batched": {"batched": True, "speculate": True, "lookahead": False},
    "one_pair_per_call": {"batched": False, "speculate": False, "lookahead": False},  # before issue 12
}


def round_speed(trainer: Trainer, reps: int = 3) -> dict:
    """GEPA round seconds of each evaluation path (``ROUND_VARIANTS``), alternating on the same policy, population
    and lookahead (the arm's state at the end of its run): item 1's effect apart from the rest of the step. A fresh
    reflector per round keeps the decisions identical (checked: same candidates and scores)."""
    from fastslow.fastweights.gepa_round import gepa_round
    from fastslow.fastweights.reflectors.factory import build_reflector

    cfg, P = trainer.cfg, trainer.cfg.population
    anchor = [p for batch in trainer.stream.peek(P.cycle_steps) for p in batch][: P.anchor_size]
    times: dict[str, list[float]] = {name: [] for name in ROUND_VARIANTS}
    results = {}
    for _ in range(reps):
        for name, flags in ROUND_VARIANTS.items():
            reflector = build_reflector(P.reflector, cfg.seed, P.max_prompt_chars)
            start = time.perf_counter()
            r = gepa_round(trainer.sampler, trainer.task, reflector, anchor, trainer.population, P.budget,
                           trainer.K, trainer.rollout_params(5), cycle=99, seed=cfg.seed,
                           minibatch_size=P.minibatch_size, max_prompt_chars=P.max_prompt_chars, fill=P.fill,
                           acceptance=P.acceptance, front_rule=P.front, **flags)
            times[name].append(time.perf_counter() - start)
            results[name] = r
    first = results["lookahead"]
    return {"s_per_round_median": {k: statistics.median(v) for k, v in times.items()},
            "speedup": statistics.median(times["one_pair_per_call"]) / statistics.median(times["lookahead"]),
            "sampler_calls": {k: r.sampler_calls for k, r in results.items()},
            "rollouts_generated": {k: r.generated for k, r in results.items()},
            "same_decisions": all(r.candidates == first.candidates and r.candidate_scores == first.candidate_scores
                                  for r in results.values()),
            "reps": reps}


RANDOM_BASE = "random-base"  # the shipped model's architecture and tokenizer with random weights


def random_copy_of_base(folder: Path, seed: int = 0) -> Path:
    """The shipped base model re-initialised at random, saved as a model folder. Near-uniform next-token
    probabilities over its 576-token vocabulary make end-of-sequence rare (about 8 % of 48-token completions stop
    early), so every arm generates and trains completions of about the same length, whatever prompt it uses: an RL
    step and an FST step then do the same work per step, as with the random Qwen3 of the GPU runs. The learning is
    not what is measured (rewards stay at zero)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from fastslow.model.loading import SHIPPED_BASE

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(SHIPPED_BASE)).save_pretrained(folder)
    for f in SHIPPED_BASE.iterdir():
        if f.name.startswith(("tokenizer", "chat_template", "generation_config")):
            (folder / f.name).write_bytes(f.read_bytes())
    return folder


ARM_SETS = {
    "same_work": False,  # drop_zero_variance
    "defaults": True,
}


def _interleave(arms: dict, steps: int) -> None:
    """Advance every arm one step at a time, in rotating order, so a change of load on the (shared) machine hits
    every arm alike."""
    order = list(arms)
    for i in range(steps):
        for key in order[i % len(order):] + order[: i % len(order)]:
            arms[key].step()
    for arm in reversed(list(arms.values())):  # last wrapped, first unwrapped (shared module globals)
        arm.close()


def ratios_to_rl(out: dict) -> dict:
    rl = out["rl"]
    return {k: {"per_step": out[k]["s_per_step_median"] / rl["s_per_step_median"],
                "amortised": out[k]["s_per_step_amortised_with_gepa"] / rl["s_per_step_amortised_with_gepa"],
                "per_token_amortised": out[k]["ms_per_trained_token_amortised_with_gepa"]
                / rl["ms_per_trained_token_amortised_with_gepa"]}
            for k in out if k != "rl"}


def generation_s(out: dict, arm: str) -> float:
    """Seconds of generation per RL step in one arm's profile (reuse's saving is the difference of two arms)."""
    return out[arm]["profile_s_per_step"]["rl"].get("generation", 0.0)


def seed_spread(model: str, steps: int, seeds: list[int], first: dict | None = None) -> dict:
    """The same-work set's three arms (rl, fst without and with reuse) on further seeds, each an interleaved run
    of its own: one run's ratios carry the luck of its trajectory (which prompts the population ends up holding
    changes how much prefix the learner shares), so the targets are judged on the mean over seeds, with spread.
    ``first``: the main run's same-work results, counted as its seed."""
    from fastslow.experiments.analysis import mean_std

    per_seed = {}
    if first is not None:
        per_seed[seeds[0]] = first
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds[1 if first is not None else 0:]:
            arms = {name: Arm(name, demo_config(f"seed{seed}-{name}", mode, reuse, False, Path(tmp), steps, model,
                                                seed))
                    for name, mode, reuse in ARMS}
            _interleave(arms, steps)
            out = {name: arm.result() for name, arm in arms.items()}
            out["ratios_to_rl"] = ratios_to_rl(out)
            per_seed[seed] = out
    keys = [name for name, _, _ in ARMS if name != "rl"]
    metrics = ("per_step", "amortised", "per_token_amortised")
    summary = {k: {m: mean_std(per_seed[s]["ratios_to_rl"][k][m] for s in per_seed) for m in metrics} for k in keys}
    for k in keys:  # reuse's own measured generation saving, apart from the learner
        summary[k]["reused_frac"] = mean_std(per_seed[s][k]["reused_frac"] for s in per_seed)
    summary["reuse_generation_saving_s_per_step"] = mean_std(
        generation_s(out, "fst_no_reuse") - generation_s(out, "fst_reuse") for out in per_seed.values())
    shown = ("s_per_step_median", "s_per_step_amortised_with_gepa", "trained_tokens_per_step",
             "ms_per_trained_token_amortised_with_gepa", "gepa_seconds", "train_reward_mean")
    return {"seeds": list(per_seed), "steps": steps, "ratios": summary,
            "per_seed": {s: {"ratios_to_rl": v["ratios_to_rl"],
                             "arms": {name: {f: v[name][f] for f in shown} for name, _, _ in ARMS},
                             "populations": {k: v[k]["populations"] for k in keys},
                             "distinct_prompts_per_round": {k: [len(set(p)) for p in v[k]["populations"]]
                                                            for k in keys}}
                         for s, v in per_seed.items()}}


def run(model: str = "base", steps: int = 18, seed: int = 0, sets: tuple[str, ...] = ("same_work", "defaults"),
        unbatched: bool = True, round_reps: int = 3, seeds: int = 1) -> dict:
    """All arms of all sets advance one step at a time, in rotating order, so a change of load on the (shared)
    machine hits every arm alike; ratios are taken within a set. ``seeds`` > 1 repeats the same-work set's three
    arms on seeds ``seed + 1 ...`` (``seed_spread``)."""
    if model == RANDOM_BASE:
        with tempfile.TemporaryDirectory() as folder:
            return {**run(str(random_copy_of_base(Path(folder))), steps, seed, sets, unbatched, round_reps, seeds),
                    "model": RANDOM_BASE}
    results: dict = {"task": "cipher (fst demo settings)", "steps": steps, "seed": seed, "model": model,
                     "threads": torch.get_num_threads(), "load_average_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as tmp:
        arms: dict[tuple[str, str], Arm] = {}
        for arm_set in sets:
            drop = ARM_SETS[arm_set]
            specs = [(name, mode, reuse, True) for name, mode, reuse in ARMS]
            if unbatched and arm_set == "same_work":  # the "before" arms: one (candidate, problems) per call
                specs += [(f"{name}_unbatched_rounds", mode, reuse, False) for name, mode, reuse in ARMS
                          if mode == "fst"]
            for name, mode, reuse, batched in specs:
                data = demo_config(f"{arm_set}-{name}", mode, reuse, drop, Path(tmp), steps, model, seed)
                arms[(arm_set, name)] = Arm(name, data, batched)
        _interleave(arms, steps)
        if ("same_work", "fst_reuse") in arms:
            results["gepa_round_alone"] = round_speed(arms[("same_work", "fst_reuse")].trainer, round_reps)
        for arm_set in sets:
            out = {name: arm.result() for (s_, name), arm in arms.items() if s_ == arm_set}
            out["ratios_to_rl"] = ratios_to_rl(out)
            out["reuse_saving"] = {
                "generation_s_per_step_measured": generation_s(out, "fst_no_reuse") - generation_s(out, "fst_reuse"),
                # reused rollouts x the no-reuse arm's generation seconds per live rollout (same batch shape)
                "generation_s_per_step_expected": out["fst_reuse"]["reused_frac"] * generation_s(out, "fst_no_reuse"),
            }
            if unbatched and arm_set == "same_work":
                out["batched_rounds_speedup"] = {
                    k: out[f"{k}_unbatched_rounds"]["gepa_seconds"] / max(1e-9, out[k]["gepa_seconds"])
                    for k in ("fst_no_reuse", "fst_reuse")}
            results[arm_set] = out
    if seeds > 1 and "same_work" in results:
        results["same_work_seeds"] = seed_spread(model, steps, list(range(seed, seed + seeds)),
                                                 first=results["same_work"])
    results["load_average_after"] = list(os.getloadavg())
    return results
