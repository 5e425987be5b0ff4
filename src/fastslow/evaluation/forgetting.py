"""Forgetting: accuracy on the held-out instruction-following suite (random programs stated explicitly).

Training on one hidden rule can erode the general skill of following stated rules; this suite is disjoint from
every named task's data and is scored greedily, so the number only moves when the weights do.
"""

from __future__ import annotations

from fastslow.evaluation.accuracy import evaluate
from fastslow.model.base import load_model
from fastslow.rulebook import InstructionSuite
from fastslow.sampling import HFSampler, SamplingParams


def instruction_following_accuracy(model_path, n_problems: int = 150, max_new_tokens: int = 64) -> float:
    model, tok = load_model(model_path)
    suite = InstructionSuite()
    result = evaluate(HFSampler(model, tok), suite, suite.problems("test", n_problems), "",
                      SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens))
    return result.mean
