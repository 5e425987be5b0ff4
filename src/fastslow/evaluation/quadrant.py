"""The 2x2 decomposition (paper, later version): {base, trained} weights x {seed, evolved} prompt.

It separates what the slow weights learned from what the fast weights (the prompt) carry: "base+evolved" is the
prompt alone, "trained+seed" the weights alone, "trained+evolved" the deployed FST system.
"""

from __future__ import annotations

from fastslow.evaluation.accuracy import evaluate
from fastslow.model.base import load_model
from fastslow.rulebook import DEFAULT_SEED_PROMPT, get_task
from fastslow.sampler import HFSampler, SamplingParams


def quadrant_cells(trained_path, task_name: str, evolved_prompt: str, n_problems: int = 64, k: int = 4,
                   seed: int = 0, seed_prompt: str = DEFAULT_SEED_PROMPT, base_path="base") -> dict[str, float]:
    task = get_task(task_name, seed=seed)
    val = task.problems("val", n_problems)
    params = SamplingParams(temperature=0.6, top_p=0.95, max_new_tokens=64, seed=seed)
    cells = {}
    for weights, path in (("base", base_path), ("fst", trained_path)):
        model, tok = load_model(path)
        sampler = HFSampler(model, tok)
        for prompt_name, prompt in (("seed", seed_prompt), ("evolved", evolved_prompt)):
            cells[f"{weights}+{prompt_name}"] = evaluate(sampler, task, val, prompt, params, k=k).mean
    return cells
