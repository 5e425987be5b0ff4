"""Acceptance runs: RL alone, GEPA alone, a real model under RL, and reflection on the RL rollouts."""

from __future__ import annotations

from pathlib import Path

from gen_docs.common import _load, _ms, _pct, _range, _seeds, _table  # noqa: F401


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
    def pct(v):
        return f"{100 * v:.0f} %"
    return _table(["step"] + [f"{s.replace('seed', 'seed ')} mean@4 / KL" for s in seeds], rows) + (
        f"\nEach run took {_range(secs, lambda v: f'{v:.0f}')} s (target <= 20 min). RL alone lifts mean@4 from "
        f"{_range(first, pct)} to {_range(last, pct)}.\n")




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
        def two(v):
            return f"{v:.2f}"
        rows.append([t, _range(base, two), _range(first, two), _seeds(last, lambda v: f"{v:.3f}"),
                     f"{told[t]['explicit_accuracy']:.3f}",
                     f"{_range([c[1] for c in calls])} + {_range([c[2] for c in calls])}",
                     _range([c[3] for c in calls])])
    n_rounds = len(next(iter(d.values()))["curve"]) - 1
    return _table(["task", "base mean@4", "after round 1", f"after {n_rounds} rounds (seeds)", "told the rule (greedy)",
                   "metric calls (budgeted + re-scoring)", "reflector calls"], rows)




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


BLOCKS = {"real-model": real_model, "acceptance-rl": acceptance_rl, "acceptance-gepa": acceptance_gepa, "feedback": feedback}
