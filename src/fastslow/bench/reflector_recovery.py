"""How often the simulated reflector writes the hidden rule (issue 18, item 4).

The Rulebook reflector is a *simulated* reflector: program induction over the DSL, made fallible by a mistake
rate. Its strength is what this measures: from realistic reflection minibatches (three training problems, one
base-model rollout each under the seed prompt, scored by the task's own verifier, exactly the three strings a GEPA
round hands it), the share of calls whose proposed prompt holds

* the exact hidden program (``exact``),
* or a program that is functionally equivalent to it on every validation and test input (``equivalent``),

at each mistake rate, per task. ``recovered = exact + equivalent``. Calls that propose nothing or a wrong program
are counted too.

    python -m fastslow.bench.reflector_recovery OUT.json [--tasks cipher,...] [--calls 100] [--noises 0,0.25,0.5,0.75,0.9]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from fastslow.fastweights.reflectors.rulebook import RulebookReflector, _sentences, parse_instruction
from fastslow.provenance import provenance
from fastslow.rulebook.tasks import EVAL_POOL_SIZE
from fastslow.sampling import HFSampler, SamplingParams
from fastslow.tasks import load_task

torch.set_num_threads(1)
MINIBATCH = 3  # population.minibatch_size's default: what a GEPA round shows the reflector


def minibatches(task, calls: int, seed: int, model=None, tok=None) -> list[list[dict]]:
    """``calls`` reflection minibatches of base-model rollouts under the seed prompt (temperature 1); ``model`` and
    ``tok``: the base model already loaded by the caller (loaded here otherwise)."""
    from fastslow.model.base import load_model
    from fastslow.tasks.base import safe_score

    if model is None:
        model, tok = load_model("base")
    sampler = HFSampler(model, tok)
    problems = task.problems("train", calls * MINIBATCH)
    rows = sampler.sample([task.render(p, task.seed_prompt) for p in problems],
                          SamplingParams(temperature=1.0, max_new_tokens=64, seed=seed), n=1)
    examples = []
    for p, row in zip(problems, rows):
        score, _ = safe_score(task, p, row[0].text)
        examples.append({"Inputs": p.text, "Generated Outputs": row[0].text, "Feedback": score.feedback})
    return [examples[i : i + MINIBATCH] for i in range(0, len(examples), MINIBATCH)]


def classify(prompt: str | None, task, inputs: list[str]) -> str:
    if prompt is None:
        return "no_proposal"
    program = next(filter(None, map(parse_instruction, _sentences(prompt)[::2])), None)
    if program is None:
        return "no_rule"
    if program.spec == task.program.spec:
        return "exact"
    if all(program(x) == task.program(x) for x in inputs):
        return "equivalent"
    return "wrong"


def measure(task_name: str, calls: int, noises: list[float], seed: int, log=print, model=None, tok=None) -> dict:
    task = load_task(f"rulebook/{task_name}", seed=seed)
    start = time.time()
    batches = minibatches(task, calls, seed, model, tok)
    inputs = [p.text for p in task.problems("val", EVAL_POOL_SIZE) + task.problems("test", EVAL_POOL_SIZE)]
    out = {"program": task.program.spec, "seed_prompt": task.seed_prompt, "calls": calls,
           "minibatch_correct": sum(ex["Feedback"].startswith("Correct") for b in batches for ex in b),
           "rows": []}
    for noise in noises:
        reflector = RulebookReflector(noise=noise, seed=seed)
        counts: Counter = Counter()
        mistakes: Counter = Counter()
        for batch in batches:
            outcome = classify(reflector.propose(task.seed_prompt, batch), task, inputs)
            counts[outcome] += 1
            mistakes[reflector.last_mistake or "none"] += 1
        recovered = counts["exact"] + counts["equivalent"]
        out["rows"].append({"noise": noise, "strength": round(1 - noise, 4), "recovered": recovered / calls,
                            "exact": counts["exact"] / calls, "equivalent": counts["equivalent"] / calls,
                            "counts": dict(counts), "mistakes": dict(mistakes)})
        log(f"{task_name} noise {noise}: recovered {recovered}/{calls} ({dict(counts)})")
    out["seconds"] = round(time.time() - start, 1)
    return out


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--tasks", default="cipher")
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--noises", default="0,0.25,0.5,0.75,0.9")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    noises = [float(x) for x in args.noises.split(",")]
    result = {"minibatch_size": MINIBATCH, "source": "base model, seed prompt, temperature 1",
              "tasks": {t: measure(t, args.calls, noises, args.seed) for t in args.tasks.split(",")},
              "provenance": provenance("python -m fastslow.bench.reflector_recovery " + " ".join(argv))}
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
