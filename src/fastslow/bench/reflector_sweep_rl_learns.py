"""The reflector-strength sweep in the "RL learns" setting (issue 18, item 4): FST and GEPA-only at several
simulated-reflector mistake rates, RL alone beside them (its runs do not use a reflector).

    python -m fastslow.bench.reflector_sweep_rl_learns run OUT.json --noise 0.9 --seed 0      # one cell, both arms
    python -m fastslow.bench.reflector_sweep_rl_learns combine OUT.json PART.json [...] --confirm setting-confirm.json

``combine`` takes the mistake-rate-0.5 cell and RL from the setting's confirm runs (the same configs) and writes
FST's final accuracy minus GEPA-only's and minus RL's per seed (mean of the last two evaluations at FST's last step).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from fastslow.experiments.suite import curve, distinct_prompts, run_config, train
from fastslow.provenance import provenance
from fastslow.rulebook.setting import RL_LEARNS_PROFILE, final_level

torch.set_num_threads(1)


def run_cell(noise: float, seed: int) -> list[dict]:
    from fastslow.bench.reframe_comparison import profile  # the setting's Profile

    p = profile()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("fst", "gepa"):
            start = time.process_time()
            data = run_config(p, mode, seed, Path(tmp) / f"{mode}", p.steps, reflector_noise=noise,
                              task={"name": p.task, "partial_credit": RL_LEARNS_PROFILE["partial_credit"]})
            history = train(data)
            out.append({"mode": mode, "seed": seed, "noise": noise, "curve": curve(history),
                        "distinct_per_round": distinct_prompts(history),
                        "cpu_seconds": round(time.process_time() - start, 1)})
            print(mode, noise, seed, out[-1]["curve"][-1], flush=True)
    return out


def combine(parts: list[dict], confirm: dict) -> list[dict]:
    runs = [r for part in parts for r in part["runs"]]
    noise = confirm["profile"]["reflector_noise"]
    runs += [{**r, "noise": noise} for r in confirm["runs"] if r["mode"] in ("fst", "gepa")]
    rl = {r["seed"]: r for r in confirm["runs"] if r["mode"] == "rl"}
    rows = []
    for n in sorted({r["noise"] for r in runs}):
        for s in sorted({r["seed"] for r in runs if r["noise"] == n}):
            by = {r["mode"]: r for r in runs if r["noise"] == n and r["seed"] == s}
            if not {"fst", "gepa"} <= by.keys() or s not in rl:
                continue
            end = by["fst"]["curve"][-1][0]
            final = {m: final_level(by[m]["curve"]) for m in ("fst", "gepa")}
            final["rl"] = final_level([pt for pt in rl[s]["curve"] if pt[0] <= end])
            rows.append({"noise": n, "strength": round(1 - n, 4), "seed": s, "final": final,
                         "fst_minus_gepa": final["fst"] - final["gepa"], "fst_minus_rl": final["fst"] - final["rl"],
                         "distinct_per_round": {m: by[m]["distinct_per_round"] for m in ("fst", "gepa")}})
    return rows


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("run", "combine"))
    ap.add_argument("out", type=Path)
    ap.add_argument("parts", nargs="*", type=Path)
    ap.add_argument("--noise", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--confirm", type=Path, help="the mistake-rate-0.5 cell and RL: a setting-confirm.json, or "
                    "the same layout built from a demo's rl-learns results")
    ap.add_argument("--note", default="", help="what the combined record should say about its cells")
    args = ap.parse_args(argv)
    command = "python -m fastslow.bench.reflector_sweep_rl_learns " + " ".join(argv)
    if args.stage == "run":
        record = {"runs": run_cell(args.noise, args.seed)}
    else:
        confirm = json.loads(args.confirm.read_text())
        parts = [json.loads(p.read_text()) for p in args.parts]
        record = {"task": confirm["program"], "steps": confirm["profile"]["steps"], "rows": combine(parts, confirm),
                  "parts_provenance": [part["provenance"] for part in parts],
                  "confirm_provenance": confirm.get("provenance"),
                  "note": args.note or "noise 0.5 and RL are the --confirm file's runs"}
    record["provenance"] = provenance(command)
    args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
