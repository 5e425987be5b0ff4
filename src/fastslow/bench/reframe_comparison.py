"""FST with and without the simulated reflector's ``reframe`` (issue 18, item 5), in the "RL learns" setting.

``reframe`` makes a careful call on a prompt whose rule already explains its examples reword the framing sentence
(one of the generic sentences the base model was pretrained on) instead of proposing nothing. The variants are
equivalent by construction, so the question is whether they change what FST achieves. Same seeds, same reflector
draws (``reframe=False`` draws the variant and discards it), so the two arms differ only in those proposals.

    python -m fastslow.bench.reframe_comparison OUT.json [--seeds 0,1,2] [--arms on,off] [--on-from CONFIRM.json]

``--on-from`` takes the "on" arm from the setting's confirmation runs (``fastslow.bench.setting_search confirm``: the
same FST config with reframe at its default, on), so those runs are not repeated; their config is checked equal.

Decision rule, fixed before the runs: reframe "changes what FST achieves" when the difference of the two arms'
mean final accuracies exceeds the larger of their seed standard deviations; otherwise it is within the seed spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from fastslow.experiments.suite import Profile, curve, distinct_prompts, run_config, train
from fastslow.provenance import provenance
from fastslow.rulebook.setting import RL_LEARNS_PROFILE, final_level

torch.set_num_threads(1)


def profile() -> Profile:
    fields = {k: v for k, v in RL_LEARNS_PROFILE.items() if k in Profile.__dataclass_fields__}
    return replace(Profile(), **fields)


def fst(p: Profile, seed: int, reframe: bool, tmp: Path) -> dict:
    start, cpu = time.time(), time.process_time()
    data = run_config(p, "fst", seed, tmp / f"fst-{reframe}-s{seed}", p.steps,
                      task={"name": p.task, "partial_credit": RL_LEARNS_PROFILE["partial_credit"]})
    data["population"]["reflector"]["reframe"] = reframe
    history = train(data)
    c = curve(history)
    return {"seed": seed, "curve": c, "final": final_level(c), "distinct_per_round": distinct_prompts(history),
            "seconds": round(time.time() - start, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}


def decide(arms: dict) -> dict:
    means = {a: statistics.mean(r["final"] for r in runs) for a, runs in arms.items()}
    stds = {a: statistics.stdev([r["final"] for r in runs]) if len(runs) > 1 else 0.0 for a, runs in arms.items()}
    diff, spread = means["on"] - means["off"], max(stds.values())
    changes = abs(diff) > spread
    return {"means": means, "stds": stds, "difference": diff, "spread": spread, "changes_fst": changes,
            "decision": ("reframe changes what FST achieves beyond the seed spread: keep it on" if changes else
                         "within the seed spread: reframe does not change what FST achieves, default it off")}


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--arms", default="on,off")
    ap.add_argument("--on-from", type=Path, help="setting-confirm.json whose FST runs are the 'on' arm")
    ap.add_argument("--merge", type=Path, nargs="*", default=[], help="earlier outputs (e.g. one per seed, run in "
                    "parallel) whose runs join this one")
    args = ap.parse_args(argv)
    p = profile()
    old = json.loads(args.out.read_text()) if args.out.is_file() else {}
    arms = old.get("arms", {})
    for part in args.merge:
        for arm, runs in json.loads(part.read_text())["arms"].items():
            seeds = {r["seed"] for r in runs}
            arms[arm] = [r for r in arms.get(arm, []) if r["seed"] not in seeds] + runs
    if args.on_from:
        confirm = json.loads(args.on_from.read_text())
        if confirm["program"] != p.task or confirm["profile"]["steps"] != p.steps \
                or confirm["profile"]["reflector_noise"] != p.reflector_noise:
            raise SystemExit(f"{args.on_from}: its FST runs are not this setting's ({confirm['program']}, "
                             f"{confirm['profile']})")
        arms["on"] = [{"seed": r["seed"], "curve": r["curve"], "final": final_level(r["curve"]),
                       "distinct_per_round": r["distinct_per_round"], "seconds": r["seconds"],
                       "cpu_seconds": r["cpu_seconds"], "from": str(args.on_from)}
                      for r in confirm["runs"] if r["mode"] == "fst"]
    with tempfile.TemporaryDirectory() as tmp:
        for arm in filter(None, args.arms.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                run = fst(p, seed, arm == "on", Path(tmp))
                arms.setdefault(arm, [])
                arms[arm] = [r for r in arms[arm] if r["seed"] != seed] + [run]
                print(f"reframe {arm} seed {seed}: final {run['final']:.3f} ({run['cpu_seconds']:.0f} cpu-s)",
                      flush=True)
    record = {"task": p.task, "steps": p.steps, "noise": p.reflector_noise, "arms": arms}
    if {"on", "off"} <= arms.keys():
        record.update(decide(arms))
    record["provenance"] = provenance("python -m fastslow.bench.reframe_comparison " + " ".join(argv))
    args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
