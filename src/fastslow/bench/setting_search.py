"""Search for the "RL learns" headline setting over Rulebook programs (issue 18, item 1).

The criteria are declared in code before any FST run (``fastslow.rulebook.setting.RL_LEARNS_CRITERIA``); this
script measures candidates against them in three stages, cheapest first, and appends every measurement to one log
(``docs/results/setting-search.json``) so the search itself is on record, failures included:

    python -m fastslow.bench.setting_search probe   LOG.json SPEC [SPEC ...]   # base model: told-the-rule, seed-prompt pass@16
    python -m fastslow.bench.setting_search screen  LOG.json SPEC [SPEC ...]   # RL and GEPA-only, seed 0
    python -m fastslow.bench.setting_search confirm LOG.json SPEC              # RL and GEPA-only, seeds 0-2 (+ FST timing)
    python -m fastslow.bench.setting_search merge   SEARCH.json LOG.json [...] --confirm CONFIRM.json --program NAME
                                  # one search log from several (parallel runs write their own), and the named
                                  # task's confirm runs, judged, as CONFIRM.json

Options (``--steps N``, ``--rl-steps N``, ``--lr X``, ``--ppb N``, ``--no-partial``, ``--arms rl,gepa``) change
the profile for every arm alike. Runs use the demo's own config shape (``experiments.suite.run_config``), so the
numbers transfer to ``fst demo``. Single-threaded; each run's wall-clock is recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from fastslow.experiments.suite import Profile, curve, distinct_prompts, run_config, train
from fastslow.provenance import provenance
from fastslow.rulebook import NAMED_TASKS
from fastslow.rulebook.setting import RL_LEARNS_CRITERIA, judge

torch.set_num_threads(1)


def task_ref(spec: str, partial: bool) -> dict:
    """A named task as the demo writes it (``{name, partial_credit}``), else the program under the name
    ``candidate`` (the name seeds the problem draws, so a named task's runs are the ones that transfer)."""
    if spec in NAMED_TASKS:
        return {"name": spec, "partial_credit": partial}
    return {"id": "rulebook/candidate", "args": {"program": spec}, "partial_credit": partial}


def probe(spec: str, partial: bool) -> dict:
    from fastslow.evaluation.base_report import eval_base
    from fastslow.model.base import load_model

    model, tok = load_model("base")
    start = time.time()
    ref = task_ref(spec, partial)
    task_id = ref.get("id", f"rulebook/{spec}")
    args = {**ref.get("args", {}), "partial_credit": partial}
    report = eval_base(model, tok, n_explicit=0, n_task=64, tasks=[task_id], task_args={task_id: args})
    entry = next(iter(report["tasks"].values()))
    return {**entry, "seconds": round(time.time() - start, 1)}


def arm(profile: Profile, mode: str, seed: int, spec: str, partial: bool, steps: int, tmp: Path) -> dict:
    start, cpu = time.time(), time.process_time()
    data = run_config(profile, mode, seed, tmp / f"{mode}-s{seed}", steps, task=task_ref(spec, partial))
    history = train(data)
    evals = [h for h in history if h["kind"] == "eval"]
    # cpu_seconds: this process's CPU time, the single-threaded cost; wall-clock depends on the machine's load
    return {"mode": mode, "seed": seed, "steps": steps, "seconds": round(time.time() - start, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1),
            "curve": curve(history), "distinct_per_round": distinct_prompts(history), "lead_prompt": evals[-1].get("lead_prompt")}


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("probe", "screen", "confirm", "merge"))
    ap.add_argument("log", type=Path)
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rl-steps", type=int, default=90)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--ppb", type=int, default=8, help="problems per RL step")
    ap.add_argument("--no-partial", action="store_true", help="0/1 reward instead of partial credit")
    ap.add_argument("--arms", default="rl,gepa")
    ap.add_argument("--seeds", default=None, help="comma-separated (default: 0 for screen, 0,1,2 for confirm)")
    ap.add_argument("--noise", type=float, default=0.5, help="simulated reflector's mistake rate")
    ap.add_argument("--confirm", type=Path, help="merge: where to write the named task's judged confirm runs")
    ap.add_argument("--program", help="merge: the named task whose confirm runs are judged")
    ap.add_argument("--note", action="append", default=[], help="merge: a note kept in the search log (repeatable)")
    args = ap.parse_args(argv)
    if args.stage == "merge":
        return merge(args.log, [Path(s) for s in args.specs], args.confirm, args.program,
                     "python -m fastslow.bench.setting_search " + " ".join(argv), args.note)
    partial = not args.no_partial
    profile = replace(Profile(), steps=args.steps, rl_steps=args.rl_steps, lr=args.lr,
                      problems_per_step=args.ppb, reflector_noise=args.noise)
    log = json.loads(args.log.read_text()) if args.log.is_file() else {"criteria": RL_LEARNS_CRITERIA,
                                                                       "entries": []}
    command = "python -m fastslow.bench.setting_search " + " ".join(argv)
    for spec in args.specs:
        entry = {"stage": args.stage, "program": spec, "partial_credit": partial, "command": command}
        if args.stage == "probe":
            entry["probe"] = probe(spec, partial)
            print(spec, {k: entry["probe"][k] for k in ("explicit_accuracy", "seed_prompt_pass_at_16",
                                                          "seed_prompt_reward", "seconds")}, flush=True)
        else:
            seeds = [int(s) for s in (args.seeds or ("0" if args.stage == "screen" else "0,1,2")).split(",")]
            entry["profile"] = {k: v for k, v in asdict(profile).items()
                                if k in ("steps", "rl_steps", "lr", "problems_per_step", "group_size",
                                         "eval_every", "eval_problems", "reflector_noise", "population_size",
                                         "cycle_steps", "anchor_size", "budget")}
            entry["runs"] = []
            with tempfile.TemporaryDirectory() as tmp:
                for seed in seeds:
                    for mode in args.arms.split(","):
                        steps = profile.rl_steps if mode == "rl" else profile.steps
                        run = arm(profile, mode, seed, spec, partial, steps, Path(tmp) / spec.replace("|", "_"))
                        entry["runs"].append(run)
                        print(spec, mode, seed, f"{run['cpu_seconds']:.0f} cpu-s",
                              " ".join(f"{s}:{v:.2f}" for s, v in run["curve"]), run["lead_prompt"], flush=True)
            entry["verdict"] = judge(entry["runs"])
            print(spec, "verdict", entry["verdict"], flush=True)
        entry["provenance"] = provenance(command)
        log["entries"].append(entry)
        args.log.write_text(json.dumps(log, indent=1))


def merge(out: Path, logs: list[Path], confirm: Path | None, program: str | None, command: str,
          notes: list[str] = ()) -> None:
    entries = [e for log in logs for e in json.loads(log.read_text())["entries"]]
    out.write_text(json.dumps({"criteria": RL_LEARNS_CRITERIA, "notes": list(notes), "entries": entries,
                               "provenance": provenance(command)}, indent=1))
    if confirm is None or program is None:
        return
    mine = [e for e in entries if e["program"] == program]
    runs = {(r["mode"], r["seed"]): r for e in mine if e["stage"] == "confirm" for r in e["runs"]}
    probes = [e["probe"] for e in mine if e["stage"] == "probe"]
    profiles = {json.dumps(e["profile"], sort_keys=True) for e in mine if e["stage"] == "confirm"}
    if len(profiles) != 1:
        raise SystemExit(f"confirm runs of {program!r} come from {len(profiles)} different profiles; expected one")
    ordered = [runs[k] for k in sorted(runs, key=lambda k: (k[1], k[0]))]
    record = {"program": program, "partial_credit": mine[0]["partial_credit"], "profile": json.loads(profiles.pop()),
              "told_the_rule": probes[-1]["explicit_accuracy"] if probes else None,
              "seed_prompt_pass_at_16": probes[-1]["seed_prompt_pass_at_16"] if probes else None,
              "runs": ordered, "verdict": judge(ordered),
              "cpu_seconds_per_arm": {m: sum(r["cpu_seconds"] for r in ordered if r["mode"] == m) / max(1, sum(
                  r["mode"] == m for r in ordered)) for m in sorted({r["mode"] for r in ordered})},
              "provenance": provenance(command)}
    confirm.write_text(json.dumps(record, indent=1))
    print(program, record["verdict"], record["cpu_seconds_per_arm"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
