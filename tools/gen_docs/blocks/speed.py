"""Speed benchmarks: the sampler, one RL step against TRL (CPU and a lent GPU), TRL on a GPU, the device check and the sampler backends."""

from __future__ import annotations

from pathlib import Path

from gen_docs.common import _load, _ms, _on_gpu, _pct, _range, _seeds, _table  # noqa: F401


def sampler(results: Path) -> str:
    d = _load(results, "bench-sampler.json")
    return _table(["", "completions / s (median)"], [
        ["`HFSampler` (fastslow)", f"{d['fastslow_completions_per_s']:.0f}"],
        ["`model.generate`", f"{d['generate_completions_per_s']:.0f}"],
        ["**ratio (medians)**", f"**{d['speedup_median_ratio']:.2f}x** (per-pair median "
                                f"{d['speedup_per_pair_median']:.2f}x) — goal >= 2x"]])


def rl_step(results: Path) -> str:
    return _rl_step(_load(results, "bench-rl-step.json"))


def rl_step_gpu(results: Path) -> str:
    """The same benchmark on a lent GPU (``src/fastslow/fastslow.bench.gpu_speed``)."""
    d = _load(results, "gpu-rl-step-h100.json")
    return _on_gpu(d) + _rl_step(d)


def _rl_step(d: dict) -> str:
    v = d["variants"]
    trl = v["trl"]

    def row(label: str, s: dict) -> list:
        tok = s["s_per_trained_token_median"]
        per_tok = f"{trl['s_per_trained_token_median'] / tok:.2f}x" if tok else "n/a"
        return [label, f"{s['s_per_step_median']:.3f}", f"{trl['s_per_step_median'] / s['s_per_step_median']:.2f}x",
                f"{s['generated_tokens_per_step_median']:.0f} / {s['trained_tokens_per_step_median']:.0f}",
                f"{1000 * tok:.2f}" if tok else "n/a", per_tok]

    rows = [row("TRL `GRPOTrainer`", trl)]
    for label, key in (("**fastslow, exactly TRL's work** (zero-variance groups kept, no KL log)", "same_work"),
                       ("fastslow, same work, the whole batch in one micro-batch (as TRL)",
                        "same_work_one_micro_batch"),
                       ("fastslow, same work, shared-prefix learning off", "same_work_unshared_prefix"),
                       ("fastslow + per-step KL log (one extra forward of the frozen base model)", "kl_log"),
                       ("fastslow default step (KL log, zero-variance groups dropped, as ScaleRL)", "default")):
        if key in v:
            rows.append(row(label, v[key]))
    if "engine_trl_1_process_s_per_step_median" in d:
        e = d["engine_trl_1_process_s_per_step_median"]
        rows.append(["`engine: trl`, 1 process (FST on TRL's trainer, fastslow's sampler; run after, not "
                     "interleaved)", f"{e:.3f}", f"{trl['s_per_step_median'] / e:.2f}x", "n/a", "n/a", "n/a"])
    table = _table(["", "s / step", "vs TRL (step)", "tokens generated / trained per step",
                    "ms / trained token", "vs TRL (token)"], rows)
    parts = ["generation", "scoring", "learner_forward", "learner_ref_forward", "learner_backward", "optimizer",
             "other"]
    runs = (("TRL `GRPOTrainer`", trl), ("fastslow same work, shared prefix off (before)",
                                         v["same_work_unshared_prefix"]),
            ("fastslow same work, shared prefix on (after)", v["same_work"]))
    breakdown = _table(["median s per step", *[p.replace("_", " ") for p in parts], "step"],
                       [[label, *[f"{s['breakdown_s_median'][p]:.3f}" for p in parts],
                         f"{s['s_per_step_median']:.3f}"] for label, s in runs])
    load = ", ".join(f"{x:.1f}" for x in d["loadavg_before"])
    return (table + f"\nMedians of {d['steps_timed']} timed steps per trainer after one warm-up, interleaved step by "
            f"step in one run; learning rate {d['lr']:g}, {d['lr_schedule']}; {d['threads']} CPU thread(s); load "
            f"average before the run {load} (1/5/15 min). Paired (median over rounds of each round's ratio, which "
            f"cancels load swings): fastslow on TRL's work is {d['paired_speedup_vs_trl_same_work']:.2f}x TRL per step "
            f"and {d['paired_speedup_vs_trl_same_work_per_trained_token']:.2f}x per trained token. Shared-prefix "
            f"learning, time without it over time with it (above 1: it saves time): the learner's share of a step "
            f"{d['shared_prefix_learner_speedup_same_work']:.2f}x (paired "
            f"{d['paired_shared_prefix_learner_speedup_same_work']:.2f}x), the whole step "
            f"{d['shared_prefix_speedup_same_work']:.2f}x (paired {d['paired_shared_prefix_speedup_same_work']:.2f}x)."
            + _goal_2x(d) + "\n\n" + breakdown)


def _goal_2x(d: dict) -> str:
    step, token = d["speedup_vs_trl_same_work"], d["speedup_vs_trl_same_work_per_trained_token"]
    met = "met" if min(step, token) >= 2.0 else "not met"
    return f" Goal >= 2x TRL on identical work, per step and per trained token: **{met}** ({step:.2f}x, {token:.2f}x)."




def trl_gpu(results: Path) -> str:
    d = _load(results, "trl-gpu-check-h100.json")
    fst = d["trl_engine_fst"]
    rows = [["native engine, rl", f"{d['native_rl']['median_s']:.2f}", "1x"],
            ["`engine: trl`, rl", f"{d['trl_engine_rl']['median_s']:.2f}", f"{d['trl_engine_over_native']:.2f}x"],
            ["`engine: trl`, fst (GEPA rounds excluded)", f"{fst['median_s']:.2f}",
             f"{fst['median_s'] / d['native_rl']['median_s']:.2f}x"]]
    rounds = ", ".join(f"{g['time_gepa']:.1f} s" for g in fst["gepa_rounds"])
    return (_table(["", "s / step (median)", "vs native"], rows)
            + f"\n{d['device']}, torch {d['torch']}, transformers {d['transformers']}, trl {d['trl']}; a randomly "
              f"initialised Qwen3 of {d['parameters'] / 1e9:.2f}B parameters, {d['batch']['problems']} problems x "
              f"{d['batch']['rollouts_per_problem']} rollouts x {d['batch']['new_tokens']} new tokens, fp32, "
              f"{d['steps']} steps each (the first a warm-up); GEPA rounds of the fst run took {rounds}; peak GPU "
              f"memory {d['max_memory_gib']:.1f} GiB.\n")




def device_check(results: Path) -> str:
    d = _load(results, "device-check-h200.json")
    s = d["sampler"]
    return (f"On a lent {d['device']} (torch {d['torch']}) the same `Trainer` ran rl and fst for 12 steps through "
            f"accelerate: median RL step {d['rl']['median_step_s']:.2f} s (rl) and {d['fst']['median_step_s']:.2f} s "
            f"(fst); fst's validation mean@4 went {d['fst']['val'][0][1]:.2f} -> {d['fst']['val'][-1][1]:.2f} and "
            f"rl's {d['rl']['val'][0][1]:.2f} -> {d['rl']['val'][-1][1]:.2f}. The sampler benchmark of section 2 "
            f"there: `HFSampler` {s['fastslow_completions_per_s']:.0f} completions/s vs `model.generate` "
            f"{s['generate_completions_per_s']:.0f} ({s['speedup_median_ratio']:.2f}x; at this model size the GPU is "
            f"launch-bound).\n")




def sampler_backends(results: Path) -> str:
    """``fst bench sampler --backend hf --backend vllm --backend generate`` on SmolLM2 (fp32 and bf16, one and two
    threads) and on the shipped model; every row compares the backends in one process, same dtype and threads."""
    names = (("SmolLM2-135M-Instruct", "smollm2"), ("SmolLM2-135M-Instruct", "smollm2-2threads"),
             ("SmolLM2-135M-Instruct", "smollm2-bf16"),
             ("SmolLM2-135M-Instruct, vLLM compiled", "smollm2-bf16-compiled"),
             ("SmolLM2-135M-Instruct, vLLM compiled", "smollm2-bf16-2threads-compiled"),
             ("shipped base model (1.7M)", "base"))
    runs = {name: _load(results, f"bench-sampler-vllm-{name}.json") for _, name in names
            if (results / f"bench-sampler-vllm-{name}.json").exists()}
    def dtype(d):
        return d.get("dtype", d.get("vllm_dtype", "fp32"))
    rows, steps, smol = [], [], []
    for label, name in names:
        if name not in runs:
            continue
        d = runs[name]
        load = d["load_average_1_5_15"][-1][0]
        gen = d.get("generate_completions_per_s")
        rows.append([label, dtype(d), f"{d['hf_completions_per_s']:.2f}", f"{d['vllm_completions_per_s']:.2f}",
                     "not run" if gen is None else f"{gen:.2f}", f"**{d['vllm_over_hf']:.2f}x**",
                     str(d["repeats"]), f"{d['torch_threads']} / {load:.1f}", f"{d['vllm_engine_start_s']:.0f}"])
        if name.startswith("smollm2"):
            smol.append((d["vllm_over_hf"], f"{dtype(d)}, vLLM {'compiled' if d.get('vllm_compile') else 'eager'}, "
                         f"{d['torch_threads']} thread{'s' if d['torch_threads'] > 1 else ''}: "
                         f"{d['vllm_over_hf']:.2f}x"))
        if "rl_step" in d:
            r = d["rl_step"]
            shape = f"{r['problems_per_step']} x {r['group_size']} rollouts x {r['max_new_tokens']} tokens"
            for backend in ("hf", "vllm"):
                b = r[backend]
                steps.append([f"{label}, {shape}, {dtype(d)}", f"`{backend}`", f"{b['s_per_step_median']:.1f}",
                              f"{b['generation_s_median']:.1f}", f"{b['learning_s_median']:.1f}",
                              f"{b['weight_sync_s_median']:.2f}", str(r["steps"])])
    table = _table(["model (64 completions x 128 tokens)", "dtype", "`HFSampler` completions / s",
                    "vLLM completions / s", "`model.generate` completions / s", "vLLM / `HFSampler`",
                    "timed calls (median)", "threads / load",
                    "vLLM start / s (not counted)"], rows)
    if steps:
        table += "\n" + _table(["RL step (rl mode, one CISPO step)", "backend", "s / step (median)", "generation s",
                                "learner s", "weight sync s", "timed steps"], steps)
        note = runs["smollm2"].get("rl_step", {}).get("note")
        table += f"\nRL step: {note}.\n" if note else ""
    met = [text for ratio, text in smol if ratio >= 2.0]
    unmet = [text for ratio, text in smol if ratio < 2.0]
    first = runs["smollm2"]
    table += (f"\nGoal vLLM >= 2x `HFSampler` on SmolLM2 on this CPU: **{'met' if met else 'not met'}**"
              + (f" with {'; '.join(met)}" if met else "") + (f"; not met with {'; '.join(unmet)}" if unmet else "")
              + f". Hardware: {runs.get('smollm2-bf16', first)['hardware']}.\n")
    return table


BLOCKS = {"sampler": sampler, "rl-step": rl_step, "rl-step-gpu": rl_step_gpu, "trl-gpu": trl_gpu, "device-check": device_check, "sampler-backends": sampler_backends}
