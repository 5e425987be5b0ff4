"""A reflector that replays a recorded bank of a real LLM's answers (issue 21's junk-reflector benchmark).

Why: a small local LLM (the 0.5B Qwen2.5-Coder instruct model of practical-notes section 16) is the reflector a
new user is likely to try, and it mostly proposes junk: repeats of the parent, answers without a closed fence,
garbled copies, nonsense personas. Serving it costs minutes of CPU per round; replaying its recorded answers costs
nothing, so a robustness benchmark can run it many times, seeded and deterministic.

The bank (``fastslow.bench.junk_reflector record`` writes it) lists answers, each with the outcome the LLM reflector's
parsing gave it: ``proposal`` (a usable fenced prompt, served as recorded), ``repeat`` (the parent unchanged: served
as the *current* prompt, which the round treats as no proposal), or ``unusable`` (no closed fence, empty, residue,
over the cap: served as ``None``, a counted failure). Each call draws one answer with a ``random.Random`` seeded by
the run seed and advanced per call, so the same run replays the same answers in the same order.

Config: ``population.reflector: {kind: python, id: "fastslow.fastweights.reflectors.replay:ReplayReflector",
args: {bank: docs/results/junk-bank.json}}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from fastslow.fastweights.reflectors.base import ReflectorStats, check_examples

OUTCOMES = ("proposal", "repeat", "unusable")


class ReplayReflector:
    def __init__(self, bank: str | Path, seed: int = 0, max_prompt_chars: int = 1000):
        path = Path(bank)
        if not path.is_file():
            raise FileNotFoundError(f"population.reflector.args.bank: no answer bank at {path} (record one with "
                                    "`python -m fastslow.bench.junk_reflector record`)")
        answers = json.loads(path.read_text()).get("answers")
        if not answers:
            raise ValueError(f"population.reflector.args.bank: {path} holds no 'answers'")
        for n, a in enumerate(answers):
            if a.get("outcome") not in OUTCOMES:
                raise ValueError(f"{path}: answer {n} has outcome {a.get('outcome')!r}; expected one of {OUTCOMES}")
            if a["outcome"] == "proposal" and not isinstance(a.get("proposal"), str):
                raise ValueError(f"{path}: answer {n} is a proposal without its 'proposal' text")
        self.answers = answers
        self.rng = random.Random(seed)
        self.max_prompt_chars = max_prompt_chars
        self.stats = ReflectorStats()
        self.name = f"replay:{path.name}"

    def propose(self, current_prompt: str, examples: Sequence[Mapping[str, str]]) -> str | None:
        check_examples(current_prompt, examples)
        self.stats.calls += 1
        answer = self.answers[self.rng.randrange(len(self.answers))]
        if answer["outcome"] == "unusable":
            self.stats.failures += 1
            return None
        if answer["outcome"] == "repeat":
            return current_prompt
        self.stats.proposals += 1
        return answer["proposal"]
