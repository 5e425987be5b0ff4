"""Generate the figure tables of ``docs/BENCHMARKS.md`` and the README's results paragraph from
``docs/results/*.json``, so the docs can only say what the artefacts say.

Each generated block sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; the text between
the markers is replaced by :data:`BLOCKS` ``[NAME](results_dir)``. Everything outside the markers is hand-written
prose. ``python scripts/gen-docs.py`` rewrites the blocks; ``--check`` exits 1 when a block differs from what the
JSON gives (``tests/test_docs.py`` runs the same check).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from fastslow.experiments.claims import fmt_ms

MARKER = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S)
DOC_FILES = ("docs/BENCHMARKS.md", "README.md")


def _load(results: Path, name: str) -> dict:
    return json.loads((results / name).read_text())


def _pct(v, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f} %"


def _ms(ms: dict | None, pct: bool = True, suffix: str = "") -> str:
    """The report's mean ± std in the docs' style: percent by default, "12.3 %", no seed count (tables say it)."""
    return fmt_ms(ms, pct, suffix, show_n=False, pct_sep=" ")


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _seeds(values, fmt) -> str:
    return " / ".join(fmt(v) for v in values)


def _range(values, fmt=str) -> str:
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


# ------------------------------------------------------------------------------------------------------ blocks --


def base_model_facts(results: Path) -> str:
    folder = results.parent.parent / "src" / "fastslow" / "assets" / "base-model"
    cfg = json.loads((folder / "config.json").read_text())
    rec = json.loads((folder / "pretrain_record.json").read_text())
    raw = (folder / "model.safetensors").read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])
    params = sum(int(__import__("math").prod(t["shape"])) for k, t in header.items() if k != "__metadata__")
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    r, secs = rec["recipe"], rec["history"][-1]["seconds"]
    return _table(["", "value"], [
        ["architecture", f"{cfg['architectures'][0]}, hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} "
                         f"layers, {cfg['num_attention_heads']} heads ({cfg['num_key_value_heads']} KV), vocab "
                         f"{cfg['vocab_size']}"],
        ["parameters (safetensors)", f"{params:,}"],
        ["folder size", f"{size / 1e6:.1f} MB; target <= 10 MB"],
        ["pretraining (`pretrain_record.json`)", f"{r['steps']:,} steps x {r['batch_size']} examples, seed "
                                                 f"{r['seed']}, {r['threads']} thread: **{secs:,.0f} s "
                                                 f"({secs / 60:.1f} min)**; target <= 45 min"]])


def base_model(results: Path) -> str:
    d = _load(results, "eval-base.json")
    targets = {"1": ">= 90 %", "2": ">= 60 %", "3": "reported"}
    depth = _table(["explicit instruction, depth", "exact match", "target"],
                   [[k, f"**{_pct(v)}**", targets.get(k, "")] for k, v in d["explicit_accuracy_by_depth"].items()])
    rows = [[name, t["program"].replace("|", "\\|"), _pct(t["seed_prompt_accuracy"]),
             _pct(t["seed_prompt_pass_at_16"]), _pct(t["explicit_accuracy"])] for name, t in d["tasks"].items()]
    tasks = _table(["task", "hidden program", "seed-prompt accuracy (T=1)", "seed-prompt pass@16",
                    "told the rule (greedy)"], rows)
    return depth + "\n" + tasks


def sampler(results: Path) -> str:
    d = _load(results, "bench-sampler.json")
    return _table(["", "completions / s (median)"], [
        ["`HFSampler` (fastslow)", f"{d['fastslow_completions_per_s']:.0f}"],
        ["`model.generate`", f"{d['generate_completions_per_s']:.0f}"],
        ["**ratio (medians)**", f"**{d['speedup_median_ratio']:.2f}x** (per-pair median "
                                f"{d['speedup_per_pair_median']:.2f}x) — goal >= 2x"]])


def rl_step(results: Path) -> str:
    return _rl_step(_load(results, "bench-rl-step.json"))


def _on_gpu(d: dict, backend: str = "") -> str:
    """What a ``bench/gpu_speed.py`` result ran on, as the opening of its block."""
    return (f"On {d['device']} (torch {d['torch']}; {d['model']}, {d['parameters'] / 1e9:.2f}B parameters, "
            f"{d['dtype']}{backend}; CUDA synchronised at every clock read):\n\n")


def rl_step_gpu(results: Path) -> str:
    """The same benchmark on a lent GPU (``bench/gpu_speed.py``)."""
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


def real_model(results: Path) -> str:
    d = _load(results, "real-model-rl.json")
    rows = []
    for seed, r in sorted(d["seeds"].items()):
        curve = " -> ".join(f"{v:.3f}" for _, v in r["val_mean@4"])
        rows.append([seed, curve, f"**{r['gain']:+.3f}**", f"{r['train_reward_first5']:.2f} -> "
                     f"{r['train_reward_last5']:.2f}", f"{r['s_per_step_median']:.1f}",
                     f"{r['wall_seconds'] / 60:.1f} min" if "wall_seconds" in r else "n/a"])
    steps = [s for s, _ in next(iter(d["seeds"].values()))["val_mean@4"]]
    return (_table(["seed", f"val mean@4 at steps {', '.join(map(str, steps))}", "change", "train reward (first "
                    "5 -> last 5 steps)", "s / step (median)", "wall"], rows)
            + f"\nEvery seed improved: **{'yes' if d['every_seed_improved'] else 'no'}** (mean change "
              f"{d['gain_mean']:+.3f}). Model: {d['model']}; lr {d['learner_lr']}, {d['steps']} steps of "
              f"{d['rollout']['problems_per_step']} problems x {d['rollout']['group_size']} rollouts x "
              f"{d['rollout']['max_new_tokens']} new tokens. {d['hardware']}.\n")


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


def acceptance_rl(results: Path) -> str:
    d = _load(results, "acceptance-rl.json")
    seeds = sorted(d)
    steps = [c[0] for c in d[seeds[0]]["curve"]]
    rows = []
    for i, step in enumerate(steps):
        if step % 20:
            continue
        rows.append([step] + [f"{d[s]['curve'][i][1]:.3f} / {d[s]['curve'][i][2]:.2f}" for s in seeds])
    first = [d[s]["curve"][0][1] for s in seeds]
    last = [d[s]["curve"][-1][1] for s in seeds]
    secs = [d[s]["seconds"] for s in seeds]
    pct = lambda v: f"{100 * v:.0f} %"  # noqa: E731
    return _table(["step"] + [f"{s.replace('seed', 'seed ')} mean@4 / KL" for s in seeds], rows) + (
        f"\nEach run took {_range(secs, lambda v: f'{v:.0f}')} s (target <= 20 min). RL alone lifts mean@4 from "
        f"{_range(first, pct)} to {_range(last, pct)}.\n")


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


def acceptance_gepa(results: Path) -> str:
    d = _load(results, "acceptance-gepa.json")
    told = _load(results, "eval-base.json")["tasks"]
    tasks = list(dict.fromkeys(k.split("/")[0] for k in d))
    rows = []
    for t in tasks:
        runs = [v for k, v in sorted(d.items()) if k.split("/")[0] == t]
        base = [r["curve"][0][1] for r in runs]
        first = [r["curve"][1][1] for r in runs]
        last = [r["curve"][-1][1] for r in runs]
        calls = [r["calls"][-1] for r in runs]
        two = lambda v: f"{v:.2f}"  # noqa: E731
        rows.append([t, _range(base, two), _range(first, two), _seeds(last, lambda v: f"{v:.3f}"),
                     f"{told[t]['explicit_accuracy']:.3f}",
                     f"{_range([c[1] for c in calls])} + {_range([c[2] for c in calls])}",
                     _range([c[3] for c in calls])])
    n_rounds = len(next(iter(d.values()))["curve"]) - 1
    return _table(["task", "base mean@4", "after round 1", f"after {n_rounds} rounds (seeds)", "told the rule (greedy)",
                   "metric calls (budgeted + re-scoring)", "reflector calls"], rows)


def step_time(results: Path) -> str:
    return _step_time(_load(results, "bench-step-time.json"))


def step_time_random(results: Path) -> str:
    """The same benchmark with the base model's weights re-initialised at random (``--model random-base``): every
    arm writes completions of about the same length, so a step is the same work in every arm."""
    d = _load(results, "bench-step-time-random.json")
    return _step_time(d)


def step_time_gpu(results: Path) -> str:
    """The same benchmark on a lent GPU (``bench/gpu_speed.py``): the same-work set only."""
    d = _load(results, "gpu-step-time-h100.json")
    return _on_gpu(d, ", HF backend") + _step_time(d)


def _step_time(d: dict) -> str:
    labels = (("rl", "rl"), ("fst_no_reuse", "fst, no reuse"), ("fst_reuse", "fst, reuse"),
              ("fst_no_reuse_unbatched_rounds", "fst, no reuse, GEPA one pair per call (before)"),
              ("fst_reuse_unbatched_rounds", "fst, reuse, GEPA one pair per call (before)"))
    x = lambda v: f" ({v:.2f}x rl)"  # noqa: E731
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
    x = lambda ms: _ms(ms, pct=False, suffix="x")  # noqa: E731
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


def feedback(results: Path) -> str:
    d = _load(results, "feedback-reuse.json")
    rows = []
    for key in dict.fromkeys(k.rsplit("/", 1)[0] for k in d):
        runs = [v for k, v in sorted(d.items()) if k.rsplit("/", 1)[0] == key]
        task, option = key.split("/")
        rc = [r["reflection_calls"] for r in runs]
        gs = [r["gepa_seconds"] for r in runs]
        rows.append([task, option, _seeds([r["metric_calls"] for r in runs], str), _range(rc),
                     _range(gs, lambda v: f"{v:.1f}"), _seeds([r["val"][-1][1] for r in runs], lambda v: f"{v:.3f}")])
    return _table(["task", "option", "budgeted GEPA metric calls (seeds)", "reflector calls", "GEPA seconds",
                   "final val mean@4 (seeds)"], rows)


def _demo(results: Path) -> dict:
    return _load(results, "demo/report.json")


def demo_setting(results: Path) -> str:
    r = _demo(results)
    st = r["summary"]["setting"]
    s = r["settings"]
    rows = [["told-the-rule greedy accuracy (64 held-out problems)",
             f"<= {st['criteria']['told_the_rule_greedy_max']}", _pct(st["told_the_rule_greedy"]),
             "yes" if st["met"]["told_the_rule_greedy"] else "**no**"],
            ["seed-prompt pass@16 (64 problems x 16 samples, T=1)",
             f"<= {st['criteria']['seed_prompt_pass_at_16_max']}", _pct(st["seed_prompt_pass_at_16"]),
             "yes" if st["met"]["seed_prompt_pass_at_16"] else "**no**"]]
    head = (f"Task `{st['task']}` (hidden program `{st['program']}`), {len(s['seeds'])} seeds, FST and GEPA-only "
            f"{s['steps']} steps, RL capped at {s['rl_steps']} steps, reflector noise {s['reflector_noise']} "
            f"(strength {1 - s['reflector_noise']:.1f}), lr {s['lr']:g}; **wall-clock {s['wall_seconds']:.0f} s "
            f"({s['wall_seconds'] / 60:.1f} min)** on the shared 2-core machine (1-minute load average "
            f"{s['load_average_1min_at_end']} at the end); CPU time of the single-threaded run "
            f"{s['cpu_seconds']:.0f} s "
            f"({s['cpu_seconds'] / 60:.1f} min), about its wall-clock on a quiet machine.\n\n")
    return head + _table(["criterion (declared before running FST)", "threshold", "measured", "met"], rows)


def demo_claims(results: Path) -> str:
    r = _demo(results)
    rows = [[c["id"].replace("_", " "), c["paper"], c["ours"], f"**{c['verdict']}**", c["reason"]]
            for c in r["summary"]["claims"]]
    return _table(["claim", "paper", "ours (3 seeds)", "verdict", "why"], rows)


def demo_details(results: Path) -> str:
    s = _demo(results)["summary"]
    out = []
    sp = s["speedup_to_rl_peak"]
    sym = {"lower": ">= ", "upper": "<= "}
    out.append(_table(["seed", "level", "RL peak", "RL plateaued", "FST step", "speedup", "censoring"], [
        [p["seed"], _pct(p["level"]), _pct(p["rl_peak"]), "yes" if p["rl_plateau"]["plateaued"] else "no",
         p["fst_steps"] if p["fst_steps"] is not None else "never",
         "n/a" if p["speedup"] is None else f"{sym.get(p['bound'], '')}{p['speedup']:.2f}x",
         p["bound"] or "undetermined"] for p in sp["per_seed"]]))
    rows = []
    for m, fits in s["asymptote_fits"].items():
        for f in fits:
            rows.append([m, f["seed"], _pct(f["A"]), "accepted" if f["accepted"] else "failed",
                         "; ".join(f["failures"]) or "-", (f.get("check") or {}).get("message") or "-",
                         f"{_pct(f['estimate'])} ({f['estimate_from']})"])
    out.append(_table(["arm", "seed", "fitted A", "fit", "why rejected", "scipy check", "asymptote used"], rows))
    kl = s["kl_reduction_at_matched_reward"]
    out.append(_table(["KL context", "mean reduction at matched reward", "final KL FST", "final KL RL"], [
        [ctx + (" (verdict)" if ctx == kl["context"] else ""), _ms(c["mean_reduction"]),
         _ms(c["final_kl"].get("fst"), pct=False), _ms(c["final_kl"].get("rl"), pct=False)]
        for ctx, c in kl["contexts"].items()]))
    pop = s.get("population") or {}
    g = s.get("gains") or {}
    out.append(_table(["arm", "distinct prompts per GEPA round (mean over rounds, ± over seeds)",
                       "rounds with > 1 prompt"],
                      [[m, _ms(v["distinct_per_round"], pct=False), _ms(v["rounds_with_several"])]
                       for m, v in pop.items()]))
    out.append(_table(["FST minus", "accuracy at FST's last step (mean of the last two evaluations)"],
                      [[k.removeprefix("fst_minus_"), _ms(v)] for k, v in g.items()]))
    return "\n".join(out)


def demo_fill(results: Path) -> str:
    old = {"fill = dominated": _load(results, "demo-fill-dominated/report.json")["summary"],
           "fill = front": _load(results, "demo-tidy/report.json")["summary"]}
    rows = [["KL reduction at matched reward (seed-prompt context)"]
            + [_ms(v["kl_reduction_at_matched_reward"]["mean_reduction"]) for v in old.values()],
            ["FST weights + seed prompt (quadrant)"] + [_ms(v["quadrant"]["fst+seed"]) for v in old.values()],
            ["base weights + seed prompt"] + [_ms(v["quadrant"]["base+seed"]) for v in old.values()],
            ["forgetting, FST (points lost)"] + [_ms(v["forgetting"]["fst"]) for v in old.values()],
            ["plasticity: FST-init final accuracy on `mirror`"] + [_ms(v["plasticity"]["fst"]) for v in old.values()],
            ["plasticity: base-init final accuracy on `mirror`"]
            + [_ms(v["plasticity"]["base"]) for v in old.values()]]
    return _table(["tidy, 3 seeds, noise-free reflector"] + list(old), rows)


def reflector_sweep(results: Path) -> str:
    path = results / "reflector-sweep.json"
    if not path.is_file():
        return "(not measured yet: `fst experiment reflector-sweep`)\n"
    d = json.loads(path.read_text())["results"]["reflector_sweep"]
    by: dict = {}
    for row in d["rows"]:
        by.setdefault(row["noise"], []).append(row)
    rows = []
    for noise, rs in sorted(by.items()):
        def col(key):
            vals = [r[key] for r in rs]
            return _seeds(vals, lambda v: f"{100 * v:+.1f}")
        finals = {m: _seeds([r["final"][m] for r in rs], lambda v: f"{100 * v:.1f}") for m in ("fst", "gepa", "rl")}
        distinct = [sum(r["distinct_per_round"]["fst"]) / max(1, len(r["distinct_per_round"]["fst"])) for r in rs]
        rows.append([f"{1 - noise:.1f} (noise {noise:g})", finals["fst"], finals["gepa"], finals["rl"],
                     col("fst_minus_gepa"), col("fst_minus_rl"), _seeds(distinct, lambda v: f"{v:.2f}")])
    return _table(["reflector strength", "FST final % (seeds)", "GEPA-only final %", "RL final %",
                   "FST - GEPA-only (pts)", "FST - RL (pts)", "FST distinct prompts / round"], rows)


def _pts(ms: dict | None) -> str:
    return "n/a" if not ms or ms.get("mean") is None else f"{100 * ms['mean']:+.1f} ± {100 * ms['std']:.1f} points"


def readme_findings(results: Path) -> str:
    r = _demo(results)
    s, st, cfg = r["summary"], r["summary"]["setting"], r["settings"]
    v = {c["id"]: c["verdict"] for c in s["claims"]}
    groups: dict[str, list[str]] = {}
    names = {"data_efficiency": "data efficiency (steps to RL's peak)", "asymptote": "higher fitted asymptote",
             "kl": "less KL to the base at matched reward", "forgetting": "less forgetting than RL",
             "plasticity": "plasticity", "continual": "continual learning",
             "quadrant": "the joint quadrant cell is best"}
    for cid, verdict in v.items():
        groups.setdefault(verdict, []).append(names[cid])
    parts = [f"On `{st['task']}` (told-the-rule greedy accuracy {_pct(st['told_the_rule_greedy'])}, seed-prompt "
             f"pass@16 {_pct(st['seed_prompt_pass_at_16'])}: neither channel can get there alone), "
             f"{len(cfg['seeds'])} seeds, offline reflector with mistake rate {cfg['reflector_noise']} "
             f"({cfg['cpu_seconds'] / 60:.1f} CPU-minutes):"]
    for word in ("reproduced", "inconclusive", "not reproduced"):
        if groups.get(word):
            parts.append(f"**{word}**: {', '.join(groups[word])}.")
    q, g = s["quadrant"], s.get("gains") or {}
    parts.append(f"At its last step FST is {_pts(g.get('fst_minus_gepa'))} above GEPA-only and "
                 f"{_pts(g.get('fst_minus_rl'))} above RL; quadrant: evolved prompt on the base weights "
                 f"{_ms(q['base+evolved'])}, on FST's weights {_ms(q['fst+evolved'])}.")
    sp = s["speedup_to_rl_peak"]
    if sp["n_censored"]:
        seeds = [set(p["note"].split("; ")) - {""} for p in sp["per_seed"]]
        clauses = sorted(set().union(*seeds), key=lambda c: (not c.startswith("RL"), c))  # each reason once
        counted = [c + ("" if all(c in r for r in seeds) else f" in {sum(c in r for r in seeds)}/{len(seeds)} seeds")
                   for c in clauses]
        parts.append(f"The speedup is censored in {sp['n_censored']}/{sp['n_seeds']} seeds (a lower bound: "
                     + "; ".join(counted) + ").")
    kl = s["kl_reduction_at_matched_reward"]["contexts"]
    rl_kl = [c["final_kl"].get("rl") or {} for c in kl.values()]
    if rl_kl and all(k.get("mean") == 0.0 for k in rl_kl):
        parts.append("RL alone never gets a reward here, so its weights never move: the KL, forgetting and "
                     "plasticity comparisons are against an untrained model, and the paper's mechanism behind them "
                     "is not tested by this setting.")
    fails = s.get("asymptote_failed_fits") or {}
    if fails.get("fst"):
        parts.append(f"{fails['fst']} of {len(s['asymptote_fits']['fst'])} FST asymptote fits were rejected "
                     "(details in BENCHMARKS section 9).")
    pop = (s.get("population") or {}).get("fst")
    if pop:
        parts.append(f"FST's population held {_ms(pop['distinct_per_round'], pct=False)} distinct prompts per GEPA "
                     "round.")
    return " ".join(parts) + "\n"


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
    dtype = lambda d: d.get("dtype", d.get("vllm_dtype", "fp32"))  # noqa: E731  (older runs: vllm_dtype)
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


def speed_curves(results: Path) -> str:
    """The demo's data-efficiency curves before the speed work (commit 076d292) and after it, same seeds: the mean
    over seeds at every evaluation, and whether each difference lies within two standard errors of the seed
    spread (with three seeds a weak test, and said so)."""
    import statistics

    before = _load(results, "demo-before-speed/data-efficiency.json")["results"]["data_efficiency"]["curves"]
    after = _load(results, "demo/results.json")["data_efficiency"]["curves"]
    rows, outside, compared = [], 0, 0
    for method in ("fst", "gepa", "rl"):
        b, a = before[method], after[method]
        n = min(len(b), len(a))
        steps = [p[0] for p in b[0]]
        worst = (0.0, None)
        for i, step in enumerate(steps):
            vb = [seed[i][1] for seed in b[:n]]
            va = [seed[i][1] for seed in a[:n]]
            se = ((statistics.stdev(vb) ** 2 + statistics.stdev(va) ** 2) / n) ** 0.5 if n > 1 else 0.0
            diff = statistics.mean(va) - statistics.mean(vb)
            z = abs(diff) / se if se > 0 else (0.0 if diff == 0 else float("inf"))
            outside += z > 2
            compared += 1
            if z >= worst[0]:
                worst = (z, step)
        fb = [seed[-1][1] for seed in b[:n]]
        fa = [seed[-1][1] for seed in a[:n]]
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0  # noqa: E731
        rows.append([method, f"{100 * statistics.mean(fb):.1f} ± {100 * sd(fb):.1f} %",
                     f"{100 * statistics.mean(fa):.1f} ± {100 * sd(fa):.1f} %",
                     " / ".join(f"{100 * v:.1f}" for v in fb), " / ".join(f"{100 * v:.1f}" for v in fa),
                     f"{worst[0]:.2f} (step {worst[1]:g})"])
    verdict = ("every evaluation's difference lies within two standard errors" if outside == 0 else
               f"{outside} of {compared} evaluations differ by more than two standard errors")
    return _table(["arm", "final, before (mean ± std)", "final, after", "seeds before", "seeds after",
                   "largest |difference| / standard error"], rows) + (
        f"\nSame seeds, {n} per arm: {verdict} of the seed spread (where the two are samples of one procedure, "
        f"about {0.05 * compared:.1f} of {compared} are expected to by chance).\n")


BLOCKS: dict[str, Callable[[Path], str]] = {
    "base-model-facts": base_model_facts, "base-model": base_model, "sampler": sampler, "rl-step": rl_step,
    "acceptance-rl": acceptance_rl,
    "acceptance-gepa": acceptance_gepa, "step-time": step_time, "feedback": feedback,
    "demo-setting": demo_setting, "demo-claims": demo_claims, "demo-details": demo_details,
    "demo-fill": demo_fill, "reflector-sweep": reflector_sweep, "readme-findings": readme_findings,
    "real-model": real_model, "trl-gpu": trl_gpu, "rl-step-gpu": rl_step_gpu, "step-time-gpu": step_time_gpu,
    "step-time-random": step_time_random,
    "sampler-backends": sampler_backends, "device-check": device_check,
    "speed-curves": speed_curves,
}


def _plugin_blocks() -> dict[str, Callable[[Path], str]]:
    """Blocks defined one topic per file in ``tools/gen_docs/blocks/*.py`` (each module exports ``BLOCKS``), so a new
    benchmark adds its own file instead of editing this one."""
    import importlib.util

    found: dict[str, Callable[[Path], str]] = {}
    folder = Path(__file__).resolve().parents[3] / "tools" / "gen_docs" / "blocks"
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"gen_docs_blocks_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.update(getattr(module, "BLOCKS", {}))
    return found


BLOCKS.update(_plugin_blocks())


def regenerate(text: str, results: Path) -> str:
    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown generated block {name!r}")
        return m.group(1) + BLOCKS[name](results) + m.group(4)

    return MARKER.sub(sub, text)


def stale(root: Path) -> list[str]:
    """'FILE: NAME' for every generated block whose text differs from what the JSON gives."""
    out = []
    for rel in DOC_FILES:
        text = (root / rel).read_text()
        fresh = regenerate(text, root / "docs" / "results")
        old = {m.group("name"): m.group("body") for m in MARKER.finditer(text)}
        new = {m.group("name"): m.group("body") for m in MARKER.finditer(fresh)}
        out += [f"{rel}: {name}" for name in old if old[name] != new[name]]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[argv.index("--root") + 1]) if "--root" in argv else Path.cwd()
    if "--check" in argv:
        bad = stale(root)
        for b in bad:
            print(f"out of date: {b}")
        return 1 if bad else 0
    for rel in DOC_FILES:
        path = root / rel
        path.write_text(regenerate(path.read_text(), root / "docs" / "results"))
    print("regenerated " + ", ".join(DOC_FILES))
    return 0
