"""Math word problems with a final answer in ``\\boxed{}``, graded by math-verify (paper §4.2, Polaris).

Problems come from a local JSONL file (``path=``) or, for online users, a Hugging Face ``datasets`` name
(``hf_dataset=``). The pool is split once, by a seeded shuffle of the distinct problem texts, into disjoint
train / val / test splits (``fastslow.tasks.splits``), so a problem's split never depends on how many are asked for.

Grading: the last ``\\boxed{...}`` of the completion (``fastslow.tasks.answers``) is compared with the gold answer by
math-verify, which knows that ``0.5``, ``1/2`` and ``\\frac{1}{2}`` are the same number; hand-written string rules
would reject correct answers and teach the prompt optimiser the wrong lesson. The reward is 1 or 0.

math-verify bounds its own parsing and comparison time with ``signal.alarm``, which only works in the main thread;
elsewhere the timeouts are switched off (math-verify would raise otherwise). Anything math-verify raises is caught:
``score`` never raises.
"""

from __future__ import annotations

import functools
import logging
import threading

from fastslow.errors import FastSlowError
from fastslow.tasks.answers import after_thinking, boxed_missing_reason, last_boxed, shorten
from fastslow.tasks.base import Problem, Score
from fastslow.tasks.jsonl import DatasetError, read_jsonl
from fastslow.tasks.pool import PoolTask

log = logging.getLogger("fastslow.tasks.math")

SEED_PROMPT = (
    "You are a careful mathematician. Read the problem closely and make sure you know exactly what is asked. "
    "Solve it step by step, keeping the algebra tidy and checking each calculation. Write the final answer, and "
    "nothing else, inside \\boxed{} on the last line."
)
TIMEOUT_S = 5  # math-verify's own per-call limit (main thread only)
MAX_ANSWER_CHARS = 1000  # longer boxed answers are not handed to sympy (slow, and no final answer is that long)


class MathTask(PoolTask):
    """Boxed-answer math from JSONL (``path``) or a Hugging Face data set (``hf_dataset``); exactly one of them.

    ``question_field`` / ``answer_field`` name the row fields (the answer is the *final* answer, e.g. ``"42"`` or
    ``"\\frac{1}{2}"``, not a worked solution); ``system_field`` optionally names a field of per-row system text.
    ``val`` / ``test`` are counts (int) or fractions (float) of the distinct problems; None = 10%, at most 100.
    ``split_seed`` fixes the split independently of the run ``seed`` (so runs with different seeds share one
    validation set); None uses ``seed``.
    """

    def __init__(self, path: str | None = None, *, hf_dataset: str | None = None, hf_config: str | None = None,
                 hf_split: str = "train", question_field: str = "problem", answer_field: str = "answer",
                 system_field: str | None = None, val: int | float | None = None, test: int | float | None = None,
                 seed: int = 0, split_seed: int | None = None, seed_prompt: str | None = None,
                 name: str = "math"):
        if (path is None) == (hf_dataset is None):
            raise FastSlowError("task math: give exactly one of path= (a JSONL file) and hf_dataset= "
                                f"(a Hugging Face data set name), got path={path!r}, hf_dataset={hf_dataset!r}")
        self.name, self.seed = name, seed
        self.seed_prompt = SEED_PROMPT if seed_prompt is None else seed_prompt
        source = path if path is not None else f"Hugging Face data set {hf_dataset!r}"
        self.description = f"math problems from {source}, graded by math-verify on the last \\boxed{{}}"
        required = [question_field, answer_field]
        if path is not None:
            rows = read_jsonl(path, required=required, what="math")
        else:
            rows = _load_hf(hf_dataset, hf_config, hf_split, required)
        problems = [Problem(id="", text=str(row[question_field]).strip(),
                            system=str(row.get(system_field) or "") if system_field else "",
                            metadata={"answer": str(row[answer_field]).strip(),
                                      "source": f"{source}:{row.get('_line', i)}"})
                    for i, row in enumerate(rows)]
        self._pool = self._split(problems, [p.text for p in problems], seed if split_seed is None else split_seed,
                                 val, test)

    def score(self, problem: Problem, completion: str) -> Score:
        gold = problem.metadata["answer"]
        text = after_thinking(str(completion))
        got = last_boxed(text)
        if got is None:
            return Score(0.0, f"Incorrect: {boxed_missing_reason(text)}. Expected answer: {shorten(gold)}.", False)
        if not got:
            return Score(0.0, f"Incorrect: the \\boxed{{}} is empty. Expected answer: {shorten(gold)}.", False)
        if len(got) > MAX_ANSWER_CHARS:
            return Score(0.0, f"Incorrect: expected {shorten(gold)}, extracted {shorten(got)}, which is {len(got)} "
                              f"characters long; a final answer should be short.", False)
        ok, note = equivalent(gold, got)
        if ok:
            return Score(1.0, f"Correct: the answer {shorten(got)} matches the expected {shorten(gold)}.", True)
        return Score(0.0, f"Incorrect: expected {shorten(gold)}, extracted {shorten(got)} ({note}).", False)

    def gold_completion(self, problem: Problem) -> str:
        return f"\\boxed{{{problem.metadata['answer']}}}"


def _load_hf(name: str, config: str | None, split: str, required: list[str]) -> list[dict]:
    """Rows of a Hugging Face data set; any failure (not installed, offline, unknown name) is a clear user error."""
    where = f"Hugging Face data set {name!r}" + (f" (config {config!r})" if config else "") + f", split {split!r}"
    try:
        import datasets

        data = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # noqa: BLE001 - offline, missing package, unknown name: all the user's to fix
        raise FastSlowError(f"task math: could not load the {where}: {type(err).__name__}: {shorten(err, 300)}. "
                            "Check the name and your connection (or HF_HUB_OFFLINE), or use path= with a local "
                            "JSONL file") from None
    rows = []
    for i, row in enumerate(data):
        missing = [k for k in required if row.get(k) is None]
        if missing:
            raise DatasetError(f"{where}, row {i}: missing field {', '.join(map(repr, missing))} "
                               f"(columns: {', '.join(data.column_names)})")
        rows.append(dict(row))
    if not rows:
        raise DatasetError(f"the {where} holds no rows")
    return rows


def _timeout() -> int | None:
    return TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple:
    """The gold answer parsed once (it is scored against many completions). A bare ``42`` or ``\\frac{1}{2}`` is
    wrapped in ``\\boxed{}`` so math-verify reads it as LaTeX; an answer already boxed or in ``$...$`` is kept."""
    from math_verify import parse

    text = gold if ("\\boxed" in gold or "$" in gold) else f"\\boxed{{{gold}}}"
    return tuple(parse(text, parsing_timeout=_timeout()))


def equivalent(gold: str, got: str) -> tuple[bool, str]:
    """(whether ``got`` equals ``gold`` mathematically, and why not). Falls back to an exact string match when
    math-verify cannot parse the gold answer (a text answer such as a name), or fails."""
    try:
        from math_verify import parse, verify

        gold_parsed = _parse_gold(gold)
        if not gold_parsed:
            return got == gold, "not the same text (the expected answer is not a math expression)"
        got_parsed = parse(f"\\boxed{{{got}}}", parsing_timeout=_timeout())
        if not got_parsed:
            return False, "math-verify could not parse the extracted answer as a math expression"
        if verify(list(gold_parsed), got_parsed, timeout_seconds=_timeout()):
            return True, ""
        return False, "not mathematically equivalent"
    except Exception as err:  # noqa: BLE001 - math-verify or sympy may raise anything, incl. its own timeout
        log.debug("math-verify failed on gold %r, answer %r: %s", gold, got, err)
        return got == gold, f"math-verify failed ({type(err).__name__}), so only an exact text match counts"
