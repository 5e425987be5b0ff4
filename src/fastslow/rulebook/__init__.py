"""The Rulebook world: string-transformation tasks described by instructions."""

from fastslow.rulebook.answer import extract_answer, format_answer
from fastslow.rulebook.primitives import PRIMITIVES
from fastslow.rulebook.program import Program, Step, random_program
from fastslow.rulebook.tasks import (DEFAULT_SEED_PROMPT, GENERIC_PROMPTS, NAMED_TASKS, InstructionSuite,
                                     RulebookTask, TaskStream, get_task)

__all__ = ["DEFAULT_SEED_PROMPT", "GENERIC_PROMPTS", "NAMED_TASKS", "PRIMITIVES", "InstructionSuite", "Program",
           "RulebookTask", "Step", "TaskStream", "extract_answer", "format_answer", "get_task", "random_program"]
