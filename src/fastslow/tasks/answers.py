"""Finding the final answer in a completion, shared by the built-in task families.

The rules are deliberately simple and documented, because the policy (and the prompt optimiser) has to learn to
meet them, and the feedback has to explain exactly why an answer was not found:

* Reasoning inside a ``<think>...</think>`` block is not the answer: when a completion contains ``</think>``, only
  the text after the last one is searched (as the paper does for star-graph).
* ``\\boxed{...}``: the *last* ``\\boxed`` wins (models often box intermediate results first). Its braces are
  matched with nesting, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``, not ``\\frac{1``. A last ``\\boxed{``
  whose braces never close (a truncated completion) gives no answer rather than an earlier draft.
* ``<answer>...</answer>``: the content of the last complete pair of tags, exactly as reasoning-gym's
  ``utils.extract_answer`` reads it (issue 20): lowercase tags only (``<ANSWER>x</ANSWER>`` is no answer, as
  reasoning-gym scores it 0), the last pair wins, surrounding whitespace stripped. The feedback then says the tags
  must be lowercase.
* last number: the last integer or decimal in the text (``-3``, ``2.5``, ``1,234`` -> ``1234``), for numeric
  tasks trained on small models that never learned a tag format.
"""

from __future__ import annotations

import re

BOXED = "\\boxed"
_BOXED_OPEN = re.compile(r"\\boxed\s*\{")
_ANSWER_TAG = re.compile(r"<answer>\s?(.*?)\s?</answer>", re.DOTALL)  # reasoning_gym.utils.extract_answer's
_ANY_CASE_TAG = re.compile(r"<answer>.*?</answer>", re.IGNORECASE | re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def after_thinking(text: str) -> str:
    """The part of ``text`` after the last ``</think>`` (all of it when there is none)."""
    head, sep, tail = text.rpartition("</think>")
    return tail if sep else text


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (balanced braces, stripped), or None when there is none or the last one
    never closes."""
    opens = list(_BOXED_OPEN.finditer(text))
    if not opens:
        return None
    start = i = opens[-1].end()
    depth = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # an escaped character (\{, \}, \\) never opens or closes the box
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i].strip()
        i += 1
    return None


def boxed_missing_reason(text: str) -> str:
    """Why ``last_boxed`` found nothing, in words for feedback."""
    if _BOXED_OPEN.search(text):
        return "the last \\boxed{ is never closed (unbalanced braces, or the completion was cut off)"
    if BOXED in text:
        return "\\boxed was used without braces; write \\boxed{...}"
    return "no \\boxed{} answer was found"


def last_answer_tag(text: str) -> str | None:
    """Content of the last ``<answer>...</answer>`` pair (stripped), or None when there is none."""
    matches = _ANSWER_TAG.findall(text)
    return matches[-1].strip() if matches else None


def answer_tag_missing_reason(completion: str, fallback: str = "") -> str:
    """Why ``last_answer_tag`` found nothing after the thinking, in words for feedback (``fallback``: what else the
    task would have accepted, e.g. "and no ```json block")."""
    tail = after_thinking(completion)
    if "<answer>" not in tail and _ANY_CASE_TAG.search(tail):
        return "the answer tags must be lowercase, exactly <answer>...</answer>"
    if "<answer>" in tail.lower():
        return "an <answer> tag is opened but never closed (or the completion was cut off)"
    if last_answer_tag(completion) is not None:
        return "the only <answer>...</answer> is inside the thinking; the final answer must come after </think>"
    return "no <answer>...</answer> tags" + (f" {fallback}" if fallback else "") + " were found"


def last_number(text: str) -> str | None:
    """The last number in ``text`` (thousands separators dropped), or None when there is none."""
    matches = _NUMBER.findall(text)
    return matches[-1].replace(",", "") if matches else None


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters for feedback (a runaway answer should not flood the reflector)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
