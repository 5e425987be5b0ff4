"""Multiple choice from JSONL, scored by the option letter inside ``<answer>...</answer>`` (paper §4.4, physics).

Rows: ``{"question": str, "options": [str, ...] or {"A": str, ...}, "answer": "B"}``, optionally ``"id"`` (kept in
the metadata) and ``"system"`` (system text merged after the fast-weight prompt). A list of options is lettered
A, B, C, ...; a mapping keeps its own single-letter keys in file order. The user turn is the question followed by
one ``"A. option"`` line per option; the answer format lives in the system prompt, where GEPA can evolve it.

Answer extraction, documented because the policy must learn it: the content of the last ``<answer>...</answer>``
(after any ``</think>``), stripped, must be a single option letter, optionally wrapped or followed by punctuation:
``B``, ``(B)``, ``[B]``, ``B.``, ``B)`` and ``B:`` are all read as B, and lower case is accepted. Anything else
(``B. 3 m/s``, ``B or C``, ``\\text{B}``) is not a valid letter: it scores 0 and the feedback says so, because a
lenient reader that guesses would reward answers the evaluator of a real benchmark would reject.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from fastslow.tasks.answers import after_thinking, last_answer_tag, shorten
from fastslow.tasks.base import Problem, Score
from fastslow.tasks.jsonl import DatasetError, read_jsonl
from fastslow.tasks.pool import PoolTask

SEED_PROMPT = (
    "You are an expert problem solver answering a multiple-choice question. Read the question and every option. "
    "Work out which principles or facts apply, reason step by step, and check the options against your result. "
    "Finish with the letter of the single best option inside answer tags, for example <answer>C</answer>."
)
_LETTER = re.compile(r"^[(\[]?\s*([A-Za-z])\s*[)\].:]?$")


def read_letter(text: str) -> str | None:
    """The option letter in ``text`` (see the module docstring for the accepted forms), upper case, or None."""
    match = _LETTER.match(text.strip())
    return match.group(1).upper() if match else None


def _options(row: dict, where: str) -> dict[str, str]:
    options = row["options"]
    if isinstance(options, Mapping):
        keys = [str(k).strip().upper() for k in options]
        bad = [k for k in keys if len(k) != 1 or k not in string.ascii_uppercase]
        if bad:
            raise DatasetError(f"{where}: option keys must be single letters A-Z, got {bad[0]!r}")
        if len(set(keys)) != len(keys):
            raise DatasetError(f"{where}: option letters repeat: {keys}")
        out = {k: str(v).strip() for k, v in zip(keys, options.values())}
    elif isinstance(options, list) and not isinstance(options, str):
        if len(options) > 26:
            raise DatasetError(f"{where}: at most 26 options, got {len(options)}")
        out = {string.ascii_uppercase[i]: str(v).strip() for i, v in enumerate(options)}
    else:
        raise DatasetError(f"{where}: 'options' must be a list of strings or a mapping from letters to strings, "
                           f"got {type(options).__name__}")
    if len(out) < 2:
        raise DatasetError(f"{where}: a multiple-choice question needs at least 2 options, got {len(out)}")
    return out


class MCQTask(PoolTask):
    """Multiple-choice questions from the JSONL file ``path``; reward 1 for the right option letter, else 0.

    ``val`` / ``test`` are counts (int) or fractions (float) of the distinct questions; None = 10%, at most 100.
    ``split_seed`` fixes the split independently of the run ``seed`` (so runs with different seeds share one
    validation set); None uses ``seed``.
    """

    def __init__(self, path: str, *, val: int | float | None = None, test: int | float | None = None, seed: int = 0,
                 split_seed: int | None = None, seed_prompt: str | None = None, name: str = "mcq"):
        self.name, self.seed = name, seed
        self.seed_prompt = SEED_PROMPT if seed_prompt is None else seed_prompt
        self.description = f"multiple choice from {path}: option letter in <answer></answer>"
        problems = []
        for row in read_jsonl(path, required=["question", "options", "answer"], what="mcq"):
            where = f"{path}:{row['_line']}"
            options = _options(row, where)
            answer = str(row["answer"]).strip().upper()
            if answer not in options:
                raise DatasetError(f"{where}: answer {row['answer']!r} is not one of the option letters "
                                   f"{', '.join(options)}")
            text = str(row["question"]).strip() + "\n\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
            problems.append(Problem(id="", text=text, system=str(row.get("system") or ""),
                                    metadata={"answer": answer, "options": options, "row_id": row.get("id"),
                                              "source": where}))
        self._pool = self._split(problems, [p.text for p in problems], seed if split_seed is None else split_seed,
                                 val, test)

    def score(self, problem: Problem, completion: str) -> Score:
        gold, options = problem.metadata["answer"], problem.metadata["options"]
        expected = f"expected {gold} ({shorten(options[gold], 120)})"
        tag = last_answer_tag(after_thinking(str(completion)))
        if tag is None:
            return Score(0.0, f"Incorrect: no <answer>...</answer> tag was found; {expected}.", False)
        got = read_letter(tag)
        if got is None:
            return Score(0.0, f"Incorrect: the answer tag holds {shorten(tag, 80)!r}, which is not a single option "
                              f"letter ({', '.join(options)}); {expected}.", False)
        if got not in options:
            return Score(0.0, f"Incorrect: extracted {got}, which is not one of the options "
                              f"({', '.join(options)}); {expected}.", False)
        if got == gold:
            return Score(1.0, f"Correct: extracted {got}, the expected option ({shorten(options[gold], 120)}).", True)
        return Score(0.0, f"Incorrect: {expected}, extracted {got} ({shorten(options[got], 120)}).", False)

    def gold_completion(self, problem: Problem) -> str:
        return f"<answer>{problem.metadata['answer']}</answer>"
