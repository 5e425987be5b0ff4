"""Issue 21, embedded world: FST and GEPA-only on the demo's config shape (standard profile, task cipher, offline
rulebook reflector) with the old and the new population selection, at reflector mistake rates 0.5 and 0.9.

Each run is ``experiments.suite.run_config`` (the demo's runs) plus the arm's population fields. Final accuracy is
the demo's: mean of the last two evaluations (``val_mean@4``). Per run the JSON also keeps the first evaluation
(the seed prompt on the base weights), distinct prompts per round, GEPA rollouts and the rollouts selection spent.

  python -m fastslow.bench.selection_compare --out docs/results/selection-embedded.json --jobs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ARMS = {
    # today's rule (before issue 21): ties accepted on the minibatch, top-K of the unpruned Pareto front
    "old": {"selection": "front", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1},
    "gated": {"selection": "gated", "acceptance": "strict_improvement", "rollouts_per_anchor": 1,
              "confirm_rollouts": 0},
    "gated-ioe": {"selection": "gated", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1,
                  "confirm_rollouts": 0},
    "gated-r2": {"selection": "gated", "acceptance": "strict_improvement", "rollouts_per_anchor": 2,
                 "confirm_rollouts": 0},
    "gated-confirm": {"selection": "gated", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1,
                      "confirm_rollouts": 2, "confirm_max": 2},
    # the protected incumbent with open other seats (incumbent module), ties accepted on the minibatch as before
    "protected": {"selection": "protected", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1,
                  "confirm_rollouts": 0},
    "protected-confirm": {"selection": "protected", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1,
                          "confirm_rollouts": 2, "confirm_max": 2},
    "gated-lex": {"selection": "gated", "acceptance": "strict_improvement", "rollouts_per_anchor": 1,
                  "parent_selector": "lexicase", "confirm_rollouts": 0},
}


def one(job: tuple) -> dict:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from fastslow.experiments.verdicts import final_level
    from fastslow.experiments.suite import PROFILES, curve, distinct_prompts, run_config, train

    arm, method, noise, seed, steps, root = job
    p = PROFILES["standard"]
    out = Path(root) / f"{arm}-{method}-n{noise:g}-s{seed}"
    data = run_config(p, method, seed, out, steps, reflector_noise=noise)
    data["population"].update(ARMS[arm])
    start = time.time()
    hist = train(data)
    c = curve(hist)
    rounds = [h for h in hist if h["kind"] == "gepa"]
    return {"arm": arm, "method": method, "noise": noise, "seed": seed, "steps": steps,
            "final": final_level(c, c[-1][0]), "first": c[0][1], "curve": c,
            "distinct_per_round": distinct_prompts(hist),
            "gepa_rollouts": sum(h["metric_calls"] + h["rescore_calls"] for h in rounds),
            "selection_rollouts": sum(h.get("selection_rollouts", 0) for h in rounds),
            "incumbent_replaced": sum(bool(h.get("incumbent_replaced")) for h in rounds),
            "accepted": sum(h["accepted"] for h in rounds), "lead_final": rounds[-1]["population"][0] if rounds
            else None, "seconds": time.time() - start}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--arms", default="old,gated")
    ap.add_argument("--methods", default="gepa,fst")
    ap.add_argument("--noises", default="0.9,0.5")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--runs", type=Path, default=Path("/tmp/fst-selection-runs"))
    ap.add_argument("--merge", nargs="*", default=[], help="also take the rows of these result files (runs split "
                    "over several processes); rows already in --out win")
    ap.add_argument("--no-run", action="store_true", help="only merge and write (runs cut short stay out)")
    args = ap.parse_args(argv)
    from fastslow.provenance import provenance

    # seed-major, so that a cut-short run still has every arm and setting on its first seeds
    jobs = [(arm, m, float(n), int(s), args.steps, str(args.runs)) for s in args.seeds.split(",")
            for n in args.noises.split(",") for m in args.methods.split(",") for arm in args.arms.split(",")]
    previous = json.loads(args.out.read_text())["rows"] if args.out.is_file() else []
    def key(r):
        return (r["arm"], r["method"], r["noise"], r["seed"], r["steps"])
    for extra in args.merge:
        have = {key(r) for r in previous}
        previous += [r for r in json.loads(Path(extra).read_text())["rows"] if key(r) not in have]
    done = {(r["arm"], r["method"], r["noise"], r["seed"], r["steps"]) for r in previous}
    jobs = [] if args.no_run else [j for j in jobs if j[:5] not in done]
    rows = list(previous)
    command = "python -m fastslow.bench.selection_compare " + " ".join(sys.argv[1:] if argv is None else argv)
    if not jobs:
        args.out.write_text(json.dumps({"arms": ARMS, "rows": rows, "provenance": provenance(command)}, indent=1))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(one, jobs):
            rows.append(row)
            print(f"{row['arm']:>10} {row['method']:>4} noise {row['noise']} seed {row['seed']}: final "
                  f"{row['final']:.3f} (first {row['first']:.3f}) distinct {row['distinct_per_round']} "
                  f"{row['seconds']:.0f}s", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"arms": ARMS, "rows": rows, "provenance": provenance(command)},
                                           indent=1))


if __name__ == "__main__":
    main()
