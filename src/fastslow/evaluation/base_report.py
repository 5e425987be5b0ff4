"""``fst eval-base``: what the base model can do when told the rule, and what it finds under a seed prompt."""

from __future__ import annotations

from collections import defaultdict

from fastslow.evaluation.accuracy import evaluate
from fastslow.rulebook import NAMED_TASKS, InstructionSuite, get_task
from fastslow.sampler import HFSampler, SamplingParams

MAX_NEW_TOKENS = 64


def eval_base(model, tokenizer, n_explicit: int = 300, n_task: int = 64, seed: int = 0,
              tasks: list[str] | None = None) -> dict:
    """Explicit-instruction accuracy by depth (greedy) and, per named task, seed-prompt accuracy (temperature 1)
    and pass@16, each on held-out problems."""
    sampler = HFSampler(model, tokenizer)
    suite = InstructionSuite()
    problems = suite.problems("test", n_explicit)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=MAX_NEW_TOKENS)
    result = evaluate(sampler, suite, problems, "", greedy)
    by_depth: dict[str, list[float]] = defaultdict(list)
    for p, row in zip(problems, result.rewards):
        by_depth[str(p.metadata["depth"])].append(row[0])
    report = {
        "explicit_accuracy_by_depth": {d: sum(v) / len(v) for d, v in sorted(by_depth.items())},
        "explicit_problems_per_depth": {d: len(v) for d, v in sorted(by_depth.items())},
        "tasks": {},
        "settings": {"n_explicit": n_explicit, "n_task": n_task, "seed": seed, "max_new_tokens": MAX_NEW_TOKENS,
                     "explicit_decoding": "greedy", "seed_prompt_decoding": "temperature 1, top-p 1, 16 samples"},
    }
    for name in tasks or list(NAMED_TASKS):
        task = get_task(name, seed=seed)
        val = task.problems("val", n_task)
        sampled = evaluate(sampler, task, val, task.seed_prompt,
                           SamplingParams(temperature=1.0, max_new_tokens=MAX_NEW_TOKENS, seed=seed), k=16)
        told = evaluate(sampler, task, val, task.program.instruction, greedy)
        report["tasks"][name] = {
            "program": task.program.spec, "depth": task.program.depth, "seed_prompt": task.seed_prompt,
            "seed_prompt_accuracy": sampled.mean, "seed_prompt_pass_at_16": sampled.pass_at(16),
            "explicit_accuracy": told.mean,
        }
    return report
