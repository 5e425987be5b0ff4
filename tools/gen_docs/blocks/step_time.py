"""FST's step time against RL's (``fst bench step-time``): same work, defaults, over seeds, on a GPU."""

from __future__ import annotations

from pathlib import Path

from gen_docs.common import _load, _ms, _on_gpu, _pct, _range, _seeds, _table  # noqa: F401


def step_time(results: Path) -> str:
    return _step_time(_load(results, "bench-step-time.json"))


def step_time_random(results: Path) -> str:
    """The same benchmark with the base model's weights re-initialised at random (``--model random-base``): every
    arm writes completions of about the same length, so a step is the same work in every arm."""
    d = _load(results, "bench-step-time-random.json")
    return _step_time(d)


def step_time_gpu(results: Path) -> str:
    """The same benchmark on a lent GPU (``src/fastslow/fastslow.bench.gpu_speed``): the same-work set only."""
    d = _load(results, "gpu-step-time-h100.json")
    return _on_gpu(d, ", HF backend") + _step_time(d)


def _step_time(d: dict) -> str:
    labels = (("rl", "rl"), ("fst_no_reuse", "fst, no reuse"), ("fst_reuse", "fst, reuse"),
              ("fst_no_reuse_unbatched_rounds", "fst, no reuse, GEPA one pair per call (before)"),
              ("fst_reuse_unbatched_rounds", "fst, reuse, GEPA one pair per call (before)"))
    def x(v):
        return f" ({v:.2f}x rl)"
    out = []
    for arm_set, title in (("same_work", "Same trained work (zero-variance groups kept in every arm)"),
                           ("defaults", "Defaults (zero-variance groups dropped)")):
        if arm_set not in d:
            continue
        arms, rows = d[arm_set], []
        for key, label in labels:
            if key not in arms:
                continue
            v, r = arms[key], arms["ratios_to_rl"].get(key)
            rounds = max(1, v["gepa_rounds"])
            trains = v["trained_tokens_per_step"] >= 1
            ratio = x(r["per_token_amortised"]) if r and arms["rl"]["trained_tokens_per_step"] >= 1 else ""
            rows.append([label, f"{v['s_per_step_median']:.3f}" + (x(r["per_step"]) if r else ""),
                         f"{v['s_per_step_amortised_with_gepa']:.3f}" + (x(r["amortised"]) if r else ""),
                         f"{v['trained_tokens_per_step']:.0f}",
                         f"{v['ms_per_trained_token_amortised_with_gepa']:.2f}{ratio}" if trains
                         else "n/a (no token trained)",
                         "-" if key == "rl" else f"{v['gepa_seconds'] / rounds:.2f}",
                         "-" if key == "rl" else f"{v.get('gepa_sampler_calls', 0) / rounds:.1f}",
                         "-" if key == "rl" else _pct(v["reused_frac"])])
        out.append(f"**{title}**\n\n" + _table(
            ["", "s / step (median)", "s / step amortised with GEPA", "trained tokens / step",
             "ms / trained token, amortised", "GEPA s / round", "sampler calls / round", "RL rollouts reused"],
            rows))
    phases = (("generation", "rl"), ("scoring", "rl"), ("learner_forward", "rl"), ("reference_forward", "rl"),
              ("backward", "rl"), ("optimizer", "rl"), ("learner_other", "rl"), ("rl_other", "rl"),
              ("generation", "gepa"), ("reflection", "gepa"), ("gepa_bookkeeping", "gepa"))
    rows = []
    for key, label in labels:
        if key not in d["same_work"]:
            continue
        prof = d["same_work"][key]["profile_s_per_step"]
        cells = [f"{prof.get(ctx, {}).get(ph, 0.0):.3f}" for ph, ctx in phases]
        total = sum(prof.get(ctx, {}).get("total", 0.0) for ctx in ("rl", "gepa"))
        rows.append([label, *cells, f"{total:.3f}"])
    head = [f"{'GEPA ' if ctx == 'gepa' else ''}{ph.replace('gepa_', '').replace('_', ' ')}" for ph, ctx in phases]
    out.append("**Where the time goes** (same trained work; seconds per RL step, GEPA rounds amortised over the "
               "steps)\n\n" + _table(["", *head, "total"], rows))
    save = d["same_work"]["reuse_saving"]
    speed = d["same_work"].get("batched_rounds_speedup", {})
    load = ", ".join(f"{v:.1f}" for v in d["load_average_before"])
    out.append(f"{d['steps']} RL steps per arm, all arms interleaved step by step in one process on {d['threads']} "
               f"CPU thread(s) (load average before the run {load}, 1/5/15 min). Reuse saves "
               f"{save['generation_s_per_step_measured']:.3f} s of generation per step measured "
               f"({save['generation_s_per_step_expected']:.3f} s expected from the reused share)"
               + (("; batched GEPA rounds " + ", ".join(f"{v:.2f}x ({k.replace('_', ' ')})" for k, v in speed.items())
                   + " faster than one pair per call (whole runs, so noisy).") if speed else "."))
    alone = d.get("gepa_round_alone")
    if alone:
        t, c, g = alone["s_per_round_median"], alone["sampler_calls"], alone["rollouts_generated"]
        names = {"lookahead": "batched with lookahead (default)", "batched": "batched without lookahead",
                 "one_pair_per_call": "one pair per call (before)"}
        paths = "; ".join(f"{names.get(k, k)} {t[k]:.2f} s, {c[k]} sampler calls, {g[k]} sampled rollouts"
                          for k in t)
        out[-1] += (f" A GEPA round alone (the fst-reuse arm's final policy and population, paths alternating, "
                    f"median of {alone['reps']}): {paths}; same decisions on every path: "
                    f"{'yes' if alone['same_decisions'] else 'no'}.")
    reuse = d["same_work"]["fst_reuse"]
    if reuse.get("reused_rollouts") is not None and reuse.get("gepa_generated"):
        out[-1] += (f" Per cycle a round sampled {reuse['gepa_generated'] / reuse['gepa_rounds']:.0f} rollouts and "
                    f"reuse served {reuse['reused_rollouts'] / reuse['gepa_rounds']:.0f} of them to RL steps, so even "
                    f"where every rollout costs the same, reuse offsets at most "
                    f"{_pct(reuse['reused_rollouts'] / reuse['gepa_generated'], 0)} of a round's generation and none "
                    f"of its reflection.")
    spread = d.get("same_work_seeds")
    if spread:
        out.append("\n" + _step_time_seeds(spread))
    verdicts = []
    for key, label, target in (("fst_reuse", "FST with reuse", 1.0), ("fst_no_reuse", "FST without reuse", 1.3)):
        cells = []
        for m, unit in (("amortised", "per step"), ("per_token_amortised", "per trained token")):
            if spread:  # judged on the mean over seeds
                ms = spread["ratios"][key][m]
                cells.append((f"{_ms(ms, pct=False, suffix='x')} {unit}", ms["mean"], ms["std"]))
            else:
                r = d["same_work"]["ratios_to_rl"][key][m]
                cells.append((f"{r:.2f}x {unit}", r, 0.0))
        verdicts.append(f"{label} <= {target:.1f}x RL: " + ", ".join(
            f"{text} ({'met' if mean <= target else 'not met'}"
            + ("; within one standard deviation of the target" if abs(mean - target) <= std else "") + ")"
            for text, mean, std in cells))
    basis = f"mean ± std over {len(spread['seeds'])} seeds" if spread else "one run"
    out[-1] += (f"\n\n**Targets** (same trained work, amortised with GEPA rounds, {basis}): " + "; ".join(verdicts)
                + ".\n")
    return "\n".join(out)


def _step_time_seeds(spread: dict) -> str:
    """The same-work set's ratios to RL over seeds (``step_time.seed_spread``): each seed an interleaved run."""
    labels = (("fst_no_reuse", "fst, no reuse"), ("fst_reuse", "fst, reuse"))
    def x(ms):
        return _ms(ms, pct=False, suffix="x")
    rows = []
    for key, label in labels:
        r = spread["ratios"][key]
        per_seed = [v["ratios_to_rl"][key]["per_token_amortised"] for v in spread["per_seed"].values()]
        rows.append([label, x(r["per_step"]), x(r["amortised"]), x(r["per_token_amortised"]),
                     _seeds(per_seed, lambda v: f"{v:.2f}"), _ms(r["reused_frac"])])
    save = spread["ratios"]["reuse_generation_saving_s_per_step"]
    return (f"**Same trained work over {len(spread['seeds'])} seeds** (seeds {', '.join(map(str, spread['seeds']))}; "
            f"ratio to the RL arm of the same run, {spread['steps']} steps per arm; mean ± std)\n\n"
            + _table(["", "s / step (median)", "s / step amortised with GEPA", "ms / trained token, amortised",
                      "per token, amortised, by seed", "RL rollouts reused"], rows)
            + f"\nReuse's measured generation saving: {save['mean']:.3f} ± {save['std']:.3f} s per step.")


BLOCKS = {"step-time": step_time, "step-time-random": step_time_random, "step-time-gpu": step_time_gpu}
