"""The 2x2 decomposition (paper, later version): {base, trained} weights x {seed, evolved} prompt.

It separates what the slow weights learned from what the fast weights (the prompt) carry: "base+evolved" is the
prompt alone, "trained+seed" the weights alone, "trained+evolved" the deployed FST system.
"""

from __future__ import annotations

from fastslow.evaluation.accuracy import evaluate
from fastslow.model.base import load_model
from fastslow.sampling import HFSampler, SamplingParams
from fastslow.tasks import load_task


def quadrant_cells(trained_path, task_name: str, evolved_prompt: str, n_problems: int = 64, k: int = 4,
                   seed: int = 0, seed_prompt: str | None = None, base_path="base",
                   task_args: dict | None = None) -> dict[str, float]:
    """``task_name``: any task id; ``seed_prompt`` defaults to the task's own."""
    task = load_task(task_name, task_args, seed=seed)
    seed_prompt = task.seed_prompt if seed_prompt is None else seed_prompt
    val = task.problems("val", n_problems)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_new_tokens=64, seed=seed)
    cells = {}
    for weights, path in (("base", base_path), ("fst", trained_path)):
        model, tok = load_model(path)
        sampler = HFSampler(model, tok)
        for prompt_name, prompt in (("seed", seed_prompt), ("evolved", evolved_prompt)):
            cells[f"{weights}+{prompt_name}"] = evaluate(sampler, task, val, prompt, params, k=k).mean
    return cells
