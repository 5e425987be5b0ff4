"""``fst eval-base``: what a model can do under each task's seed prompt, and (Rulebook) when told the rule."""

from __future__ import annotations

from collections import defaultdict

from fastslow.evaluation.accuracy import evaluate
from fastslow.rulebook import NAMED_TASKS, InstructionSuite, RulebookTask
from fastslow.sampling import HFSampler, SamplingParams
from fastslow.tasks import load_task

MAX_NEW_TOKENS = 64


def eval_base(model, tokenizer, n_explicit: int = 300, n_task: int = 64, seed: int = 0,
              tasks: list[str] | None = None, task_args: dict | None = None, max_new_tokens: int = MAX_NEW_TOKENS,
              samples: int = 16) -> dict:
    """Per task (any id the resolver accepts; default: every Rulebook task): seed-prompt accuracy (temperature 1)
    and pass@``samples`` on held-out problems, and for Rulebook tasks the greedy accuracy when told the hidden
    rule. ``n_explicit`` > 0 adds the Rulebook instruction-following suite by depth (greedy)."""
    sampler = HFSampler(model, tokenizer)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens)
    report = {"explicit_accuracy_by_depth": {}, "explicit_problems_per_depth": {}, "tasks": {},
              "settings": {"n_explicit": n_explicit, "n_task": n_task, "seed": seed, "max_new_tokens": max_new_tokens,
                           "explicit_decoding": "greedy",
                           "seed_prompt_decoding": f"temperature 1, top-p 1, {samples} samples"}}
    if n_explicit:
        suite = InstructionSuite()
        problems = suite.problems("test", n_explicit)
        result = evaluate(sampler, suite, problems, "", greedy)
        by_depth: dict[str, list[float]] = defaultdict(list)
        for p, row in zip(problems, result.correct):
            by_depth[str(p.metadata["depth"])].append(float(row[0]))
        report["explicit_accuracy_by_depth"] = {d: sum(v) / len(v) for d, v in sorted(by_depth.items())}
        report["explicit_problems_per_depth"] = {d: len(v) for d, v in sorted(by_depth.items())}
    for task_id in tasks or [f"rulebook/{name}" for name in NAMED_TASKS]:
        task = load_task(task_id, (task_args or {}).get(task_id, {}), seed=seed)
        val = task.problems("val", n_task)
        sampled = evaluate(sampler, task, val, task.seed_prompt,
                           SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens, seed=seed), k=samples)
        entry = {"seed_prompt": task.seed_prompt, "seed_prompt_accuracy": sampled.mean,
                 "seed_prompt_reward": sampled.mean_reward, f"seed_prompt_pass_at_{samples}": sampled.pass_at(samples)}
        if isinstance(task, RulebookTask):
            told = evaluate(sampler, task, val, task.program.instruction, greedy)
            entry = {"program": task.program.spec, "depth": task.program.depth, **entry,
                     "explicit_accuracy": told.mean}
        report["tasks"][task.name] = entry
    return report
