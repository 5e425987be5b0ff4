"""Grading a Rulebook answer: exact match (or partial credit) plus feedback text a reflector can learn from."""

from __future__ import annotations

from fastslow.rulebook.answer import extract_answer
from fastslow.tasks.base import Score


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def partial_credit(expected: str, got: str) -> float:
    """1 - normalised edit distance: dense enough for a prompt optimiser to climb, 1.0 only on an exact match."""
    longest = max(len(expected), len(got), 1)
    return max(0.0, 1.0 - edit_distance(expected, got) / longest)


def first_difference(expected: str, got: str) -> int | None:
    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            return i
    return None if len(expected) == len(got) else min(len(expected), len(got))


def feedback_text(source: str, expected: str, got: str) -> str:
    """Plain-text feedback. It names the input, the expected and produced answers and the first divergence;
    it never names the hidden rule."""
    head = f"Input '{source}' -> expected '{expected}'"
    if got == expected:
        return f"Correct. {head}; the answer '{got}' matches."
    if not got:
        return f"Incorrect. {head}, but no answer was produced."
    i = first_difference(expected, got)
    where = (
        f"First difference at position {i}: expected '{expected[i]}', got '{got[i]}'."
        if i is not None and i < min(len(expected), len(got))
        else f"The answer is {'too short' if len(got) < len(expected) else 'too long'}."
    )
    return f"Incorrect. {head}, got '{got}'. {where} Expected length {len(expected)}, got length {len(got)}."


def grade(source: str, expected: str, completion: str, partial: bool = False) -> Score:
    got = extract_answer(completion)
    reward = 1.0 if got == expected else (partial_credit(expected, got) if partial else 0.0)
    return Score(reward, feedback_text(source, expected, got), got == expected)
