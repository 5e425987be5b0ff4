"""The reflector contract.

A reflector sees exactly what an LLM reflector would see: the current prompt and, per example, three strings
("Inputs", "Generated Outputs", "Feedback"). It never receives a task object or a hidden program; ``check_examples``
enforces that at the boundary. ``propose`` returns the new prompt, or ``None`` when it has nothing usable (a failed
call, a timeout, an unparsable answer): the GEPA round then skips that proposal and training goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from fastslow.errors import FastSlowError

EXAMPLE_KEYS = ("Inputs", "Generated Outputs", "Feedback")

# Why a proposal came to nothing, as a reflector records it in ``ReflectorStats.outcomes`` (the GEPA round adds the
# outcomes only it can see: repeat of the parent, accepted / rejected on the minibatch).
CALL_FAILED = "call_failed"  # the API call (or a custom reflector's propose) failed, after any retries
UNUSABLE = "unusable"  # an answer came, but no closed fence, an empty one, or not a string
TOO_LONG = "too_long"  # over the prompt length cap
RESIDUE = "residue"  # chat-template or thinking tokens left in the proposal


class ReflectorError(FastSlowError):
    """The reflector cannot work at all (missing package, bad model name, bad credentials, unreachable server), or
    kept failing for ``population.max_failed_rounds`` rounds: the run stops instead of degrading to RL with K
    copies of the seed prompt."""


@dataclass
class ReflectorStats:
    calls: int = 0
    proposals: int = 0  # calls that returned a usable prompt
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    warnings: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # failed calls by kind (CALL_FAILED, UNUSABLE, ...)

    def fail(self, kind: str, message: str) -> None:
        """Count one failed call of kind ``kind`` and keep its message (the round's log names the reasons)."""
        self.failures += 1
        if not hasattr(self, "outcomes"):  # stats unpickled from a checkpoint written before this field existed
            self.outcomes = {}
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1
        self.warnings.append(message)


@runtime_checkable
class Reflector(Protocol):
    name: str
    stats: ReflectorStats

    def propose(self, current_prompt: str, examples: Sequence[Mapping[str, str]]) -> str | None: ...


def check_examples(current_prompt: str, examples: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Validate the string-only contract and return plain dict copies."""
    if not isinstance(current_prompt, str):
        raise TypeError(f"current_prompt must be a str, got {type(current_prompt).__name__}")
    out = []
    for i, ex in enumerate(examples):
        if not isinstance(ex, Mapping):
            raise TypeError(f"example {i} must be a mapping of strings, got {type(ex).__name__}")
        missing = [k for k in EXAMPLE_KEYS if k not in ex]
        if missing:
            raise TypeError(f"example {i} lacks {missing}; expected keys {EXAMPLE_KEYS}")
        for k, v in ex.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"example {i} field {k!r} must be a str, got {type(v).__name__}: reflectors see "
                                "only text")
        out.append(dict(ex))
    return out
