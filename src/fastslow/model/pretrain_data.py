"""The pretraining mixture of the shipped base model.

Two kinds of examples teach the two behaviours FST needs from a base model:

* **explicit**: the system prompt states the rule (sometimes after a generic sentence) and the answer follows it
  exactly. This is what makes the fast weights (the prompt) able to carry task knowledge.
* **generic**: the system prompt is task-agnostic and the answer applies a program drawn from a broad prior. Under
  a generic prompt the model therefore samples plausible programs, which gives RL something to explore, and a
  hidden program is found more often the simpler it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fastslow.rulebook.answer import format_answer
from fastslow.rulebook.generator import sample_example
from fastslow.rulebook.program import random_program
from fastslow.rulebook.tasks import GENERIC_PROMPTS
from fastslow.tasks.base import Messages


@dataclass(frozen=True)
class Mixture:
    explicit_fraction: float = 0.7
    explicit_depth_weights: tuple[float, float, float] = (0.3, 0.4, 0.3)
    generic_depth_weights: tuple[float, float, float] = (0.6, 0.3, 0.1)
    generic_prefix_fraction: float = 0.5  # explicit examples that start with a generic sentence


def sample_pretrain_example(rng: random.Random, mix: Mixture = Mixture()) -> tuple[Messages, str]:
    """One (chat messages, assistant answer) pair."""
    explicit = rng.random() < mix.explicit_fraction
    weights = mix.explicit_depth_weights if explicit else mix.generic_depth_weights
    depth = rng.choices((1, 2, 3), weights=weights)[0]
    while True:
        program = random_program(rng, depth)
        try:
            source, trace = sample_example(program, rng, max_tries=20)
            break
        except ValueError:
            continue
    if explicit:
        system = program.instruction
        if rng.random() < mix.generic_prefix_fraction:
            system = f"{rng.choice(GENERIC_PROMPTS)} {system}"
    else:
        system = rng.choice(GENERIC_PROMPTS)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": source}]
    return messages, format_answer(trace)
