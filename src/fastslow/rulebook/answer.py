"""How a Rulebook answer is written: the intermediate strings, joined by ``>``.

Writing each step's result ("thinking" in the open) is what lets a tiny model compose 2-3 primitives, and it
gives the feedback something concrete to point at. Only the last segment is graded.
"""

SEPARATOR = ">"


def format_answer(trace: list[str]) -> str:
    return SEPARATOR.join(trace)


def extract_answer(completion: str) -> str:
    """The final answer: the text after the last separator, stripped of whitespace."""
    return completion.rsplit(SEPARATOR, 1)[-1].strip()
