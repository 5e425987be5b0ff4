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

MARKER = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S)
DOC_FILES = ("docs/BENCHMARKS.md", "README.md")


def _load(results: Path, name: str) -> dict:
    return json.loads((results / name).read_text())


def _pct(v, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f} %"


def _ms(ms: dict | None, pct: bool = True, suffix: str = "") -> str:
    if not ms or ms.get("mean") is None:
        return "n/a"
    if pct:
        return f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f} %"
    return f"{ms['mean']:.2f} ± {ms['std']:.2f}{suffix}"


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
    d = _load(results, "bench-rl-step.json")
    trl = d["trl_s_per_step_median"]
    rows = [["TRL `GRPOTrainer`", f"{trl:.3f}", "1x"]]
    for label, key in (("fastslow, exactly TRL's work (zero-variance groups kept, no KL log)",
                        "fastslow_same_work_as_trl_s_per_step_median"),
                       ("fastslow + per-step KL log (one extra forward of the frozen base model)",
                        "fastslow_s_per_step_median"),
                       ("fastslow default step (KL log, zero-variance groups dropped, as ScaleRL)",
                        "fastslow_drop_zero_variance_s_per_step_median")):
        rows.append([label, f"{d[key]:.3f}", f"{trl / d[key]:.2f}x"])
    if "engine_trl_1_process_s_per_step_median" in d:
        v = d["engine_trl_1_process_s_per_step_median"]
        rows.append(["`engine: trl`, 1 process (FST on TRL's trainer, fastslow's sampler)", f"{v:.3f}",
                     f"{trl / v:.2f}x"])
    return _table(["", "s / step", "vs TRL"], rows)


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
    return _table(["step"] + [f"{s.replace('seed', 'seed ')} mean@4 / KL" for s in seeds], rows)


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
    d = _load(results, "bench-step-time.json")
    rows = []
    for key, label in (("rl", "rl"), ("fst_no_reuse", "fst, no reuse"), ("fst_reuse", "fst, reuse")):
        v = d[key]
        ratio = "" if key == "rl" else f" ({d['ratios_to_rl'][key]:.2f}x rl)"
        rows.append([label, f"{v['s_per_step_median']:.3f}{ratio}", f"{v['s_per_step_amortised_with_gepa']:.3f}",
                     f"{v['generation_s_median']:.3f}", "-" if key == "rl" else _pct(v["reused_frac"])])
    return _table(["", "s / step (median)", "amortised with GEPA", "generation s / step", "rollouts reused"], rows)


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
        parts.append(f"The speedup is censored in {sp['n_censored']}/{sp['n_seeds']} seeds (a lower bound: "
                     + "; ".join(sorted({p["note"] for p in sp["per_seed"] if p["note"]})) + ").")
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


BLOCKS: dict[str, Callable[[Path], str]] = {
    "base-model-facts": base_model_facts, "base-model": base_model, "sampler": sampler, "rl-step": rl_step,
    "acceptance-rl": acceptance_rl,
    "acceptance-gepa": acceptance_gepa, "step-time": step_time, "feedback": feedback,
    "demo-setting": demo_setting, "demo-claims": demo_claims, "demo-details": demo_details,
    "demo-fill": demo_fill, "reflector-sweep": reflector_sweep, "readme-findings": readme_findings,
    "real-model": real_model, "trl-gpu": trl_gpu,
}


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
