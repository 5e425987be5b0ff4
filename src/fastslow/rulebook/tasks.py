"""Rulebook tasks: hidden programs behind a generic seed prompt, the held-out instruction-following suite, and
task streams for continual learning."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from fastslow.errors import UnknownTaskError
from fastslow.rulebook.answer import format_answer
from fastslow.rulebook.generator import sample_example
from fastslow.rulebook.program import Program, random_program
from fastslow.rulebook.verifier import grade
from fastslow.tasks.base import Messages, Problem, Score, TaskBase, render_messages

# Task-agnostic seed prompts. They say nothing about the rule, so any task-specific knowledge has to come from
# the weights (RL) or be written into the prompt (GEPA).
GENERIC_PROMPTS: tuple[str, ...] = (
    "Transform the input.",
    "Apply the rule to the input.",
    "Follow the rule.",
    "Rewrite the string.",
    "Produce the output for this input.",
)
DEFAULT_SEED_PROMPT = GENERIC_PROMPTS[0]

EVAL_POOL_SIZE = 512  # val and test problems per task; train problems never reuse their inputs
SPLITS = ("train", "val", "test")


@dataclass
class RulebookTask(TaskBase):
    """A named task: a hidden program, shown to the model only through ``seed_prompt``."""

    name: str
    program: Program
    seed_prompt: str = DEFAULT_SEED_PROMPT
    seed: int = 0
    partial_credit: bool = False
    description: str = ""

    def _examples(self, split: str, n: int, exclude: frozenset[str] = frozenset()) -> list[Problem]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        rng = random.Random(f"{self.name}|{self.program.spec}|{split}|{self.seed}")
        seen = set(exclude)
        problems = []
        while len(problems) < n:
            source, trace = sample_example(self.program, rng, frozenset(seen))
            seen.add(source)
            problems.append(Problem(
                id=f"{self.name}/{split}/{len(problems)}", text=source,
                metadata={"input": source, "target": trace[-1], "trace": tuple(trace)},
            ))
        return problems

    @cached_property
    def _held_out_inputs(self) -> frozenset[str]:
        val = self._examples("val", EVAL_POOL_SIZE)
        test = self._examples("test", EVAL_POOL_SIZE, frozenset(p.text for p in val))
        return frozenset(p.text for p in val + test)

    def problems(self, split: str, n: int) -> list[Problem]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if split == "train":
            return self._examples("train", n, self._held_out_inputs)
        if n > EVAL_POOL_SIZE:
            raise ValueError(f"at most {EVAL_POOL_SIZE} {split} problems per task, asked for {n}")
        pool = self._examples("val", EVAL_POOL_SIZE)
        if split == "test":
            pool = self._examples("test", EVAL_POOL_SIZE, frozenset(p.text for p in pool))
        return pool[:n]

    def render(self, problem: Problem, system_prompt: str) -> Messages:
        return render_messages(problem, system_prompt)

    def score(self, problem: Problem, completion: str) -> Score:
        return grade(problem.metadata["input"], problem.metadata["target"], completion, self.partial_credit)

    def gold_completion(self, problem: Problem) -> str:
        return format_answer(list(problem.metadata["trace"]))


@dataclass
class InstructionSuite(TaskBase):
    """Held-out instruction following: random programs *with* their explicit instruction as the problem's own
    system text. Measures what the base model can do when told the rule, and how much of it training forgets."""

    name: str = "instruction-following"
    seed_prompt: str = ""
    seed: int = 12345
    depths: tuple[int, ...] = (1, 2, 3)

    def problems(self, split: str, n: int) -> list[Problem]:
        rng = random.Random(f"{self.name}|{split}|{self.seed}")
        problems = []
        for i in range(n):
            depth = self.depths[i % len(self.depths)]
            program = random_program(rng, depth)
            try:
                source, trace = sample_example(program, rng, max_tries=50)
            except ValueError:
                continue
            problems.append(Problem(
                id=f"{self.name}/{split}/{i}", text=source, system=program.instruction,
                metadata={"input": source, "target": trace[-1], "trace": tuple(trace), "depth": depth,
                          "program": program.spec},
            ))
        return problems

    def render(self, problem: Problem, system_prompt: str) -> Messages:
        return render_messages(problem, system_prompt)

    def score(self, problem: Problem, completion: str) -> Score:
        return grade(problem.metadata["input"], problem.metadata["target"], completion)

    def gold_completion(self, problem: Problem) -> str:
        return format_answer(list(problem.metadata["trace"]))


# name -> (program spec, what it is for). Depth and the base model's prior decide how much reward RL alone finds;
# measured base-model figures are in docs/BENCHMARKS.md (``fst eval-base``).
NAMED_TASKS: dict[str, tuple[str, str]] = {
    "mirror": ("reverse", "depth 1, common under the base model's prior: RL alone finds signal"),
    "caesar": ("shift:1", "depth 1 but rare under the prior: zero-reward regime for RL alone"),
    "tidy": ("sort|dedupe", "depth 2: RL alone finds signal"),
    "clip": ("rotate:2|keep_first:3", "depth 2, rarer: RL alone finds a little signal"),
    "stutter": ("double|keep_last:4", "depth 2, rare, and hard even when the rule is stated"),
    "cipher": ("reverse|shift:2|swap_pairs", "depth 3: zero-reward regime for RL alone (like star-graph)"),
    "tail": ("dedupe|keep_last:3", "depth 2: RL alone learns it (with partial credit) and the stated rule gets the "
             "base model only about two thirds of the way: the 'RL learns' headline (rulebook.setting)"),
}


def get_task(name: str, seed: int = 0, seed_prompt: str = DEFAULT_SEED_PROMPT, partial_credit: bool = False,
             program: str | None = None) -> RulebookTask:
    """A named task, or (``program`` given, ``task.args: {program: ...}``) any Rulebook program under a name of
    your choosing: how a search over programs runs candidates through the same trainer as the named tasks."""
    if program is not None:
        return RulebookTask(name, Program.parse(program), seed_prompt, seed, partial_credit, f"program {program}")
    if name not in NAMED_TASKS:
        raise UnknownTaskError(f"unknown task {name!r}; known Rulebook tasks: {', '.join(NAMED_TASKS)}")
    spec, description = NAMED_TASKS[name]
    return RulebookTask(name, Program.parse(spec), seed_prompt, seed, partial_credit, description)


@dataclass
class TaskStream:
    """A continual-learning schedule: tasks in sequence, ``steps_per_stage`` RL steps each, one seed prompt."""

    task_names: Sequence[str] = ("tidy", "clip", "stutter")
    steps_per_stage: int = 100
    seed: int = 0
    tasks: list[RulebookTask] = field(init=False)

    def __post_init__(self) -> None:
        self.tasks = [get_task(n, self.seed) for n in self.task_names]

    def task_at(self, step: int) -> RulebookTask:
        return self.tasks[min(step // self.steps_per_stage, len(self.tasks) - 1)]
