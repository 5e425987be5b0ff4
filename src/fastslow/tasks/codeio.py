"""CodeIO output prediction (paper §4.1): given a Python function and an input, predict the return value as JSON.

Data. reasoning-gym bundles 3,002 CodeIO programs (``reasoning_gym/data/codeio.jsonl.gz``). A row holds a task
description, an input/output spec, the reference code (``main_solution``) and an input generator
(``generate_inputs(rng)``); it holds no outputs, so an instance is made by running the generator and then the
code, as reasoning-gym's own ``codeio`` dataset does. We do not use that dataset class: it draws rows with
replacement (so no disjoint splits) and runs the code in-process once (so it cannot notice the ~7% of programs
whose output is not reproducible).

Splits. The programs are split once by a seeded shuffle of their code (``splits.split_indices``), so a program,
and so any program+input, lives in exactly one split. Val and test hold one instance per program; train cycles
through its programs with a fresh input each round, so it never runs out (the trainer asks for thousands).
Instance inputs are seeded by (task seed, program, round): the same seed gives the same problems.

Execution (``code_runner``). Programs run in two child processes (never in the trainer's process: the code may
import anything, change global state or hang), with different ``PYTHONHASHSEED`` values and a per-program time
limit. An instance is kept only when both runs agree, the input and output are strict JSON (no NaN, no sets, no
numpy scalars), and the output is at most ``max_output_chars`` long: an output that depends on set order or
unseeded randomness cannot be predicted, so it must not be graded. Rows are run lazily, a batch at a time, and
results are cached per process, as is the parsed data file.

Answers. After any ``</think>``, the answer is the content of the last ``<answer>...</answer>`` pair; with none,
the content of the last fenced code block (```json ... ``` or ``` ... ```); a fence inside the answer tags is
unwrapped. The text must parse as JSON. ``correct`` is JSON equality with the reference output: same JSON types
(``true`` is not ``1``), numbers equal by value (``2`` equals ``2.0``, as JSON has one number type), containers
element by element. The reward is 1/0 by that rule, or with ``partial_credit=True`` reasoning-gym's CodeIO
``score_answer`` on the extracted text (tree-edit similarity; it only gives credit to answers containing a JSON
object, ``{...}``), with 1.0 for an exact match.
"""

from __future__ import annotations

import ast
import functools
import gzip
import importlib.util
import json
import re
from pathlib import Path

from fastslow.errors import FastSlowError
from fastslow.tasks.answers import after_thinking, answer_tag_missing_reason, last_answer_tag, shorten
from fastslow.tasks.base import Problem, Score, TaskBase, check_split
from fastslow.tasks.code_runner import run_instances
from fastslow.tasks.splits import split_indices

SEED_PROMPT = (
    "You are an expert at predicting what a Python function returns. You are given the function's definition and "
    "the input it is called with. Trace the execution step by step, as the interpreter would: follow every branch "
    "and loop in order, keep track of mutable state (lists and dicts changed in place, aliasing), and compute "
    "numbers exactly, with full floating-point precision and any rounding the code applies. Do not estimate. "
    "Then give the exact return value as a JSON value (object, array, string, number, true, false or null) "
    "matching the function's return type, alone inside answer tags: <answer>JSON value</answer>."
)
MAX_INPUT_CHARS = 4000  # an input too long to show in a prompt is skipped
@functools.lru_cache(maxsize=1)
def load_rows() -> tuple[dict, ...]:
    """The bundled CodeIO programs, read once per process (and only when a CodeIO task is built). The file is
    found without importing reasoning_gym, whose import loads every one of its tasks (seconds)."""
    spec = importlib.util.find_spec("reasoning_gym")
    if spec is None or not spec.submodule_search_locations:
        raise FastSlowError('task codeio needs reasoning-gym: pip install "fastslow[tasks]"')
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "codeio.jsonl.gz"
    if not path.is_file():
        raise FastSlowError(f"task codeio: reasoning-gym's bundled data file {str(path)!r} is missing")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    keys = ("task_description", "input_output_spec", "code_sample", "input_generator")
    return tuple(row for row in rows if all(isinstance(row.get(k), str) for k in keys))


@functools.lru_cache(maxsize=1)
def _rg_scorer():
    import reasoning_gym as rg

    return rg.create_dataset("codeio", seed=0, size=1)


def problem_text(row: dict, inputs_json: str) -> str:
    return (f"Predict the return value of `main_solution` below.\n\nWhat it computes: "
            f"{row['task_description'].strip()}\n\n{row['input_output_spec'].strip()}\n\n```python\n"
            f"{row['code_sample'].strip()}\n```\n\nIt is called as `main_solution(**kwargs)` with these keyword "
            f"arguments (JSON):\n{inputs_json}\n\nWhat does it return? Give the return value as a JSON value.")


class CodeIOTask(TaskBase):
    """CodeIO output prediction. ``val`` / ``test``: programs held out (counts, or fractions of the 3,001
    distinct programs); ``partial_credit``: reward by reasoning-gym's similarity score instead of 1/0;
    ``max_output_chars``: skip instances whose JSON output is longer."""

    def __init__(self, seed: int = 0, seed_prompt: str | None = None, *, val: int | float = 250,
                 test: int | float = 250, partial_credit: bool = False, max_output_chars: int = 1000,
                 name: str = "codeio"):
        self.name, self.seed, self.partial_credit = name, seed, bool(partial_credit)
        self.max_output_chars = max_output_chars
        self.seed_prompt = SEED_PROMPT if seed_prompt is None else seed_prompt
        self.description = ("CodeIO output prediction over reasoning-gym's bundled programs (JSON answer, "
                            + ("partial credit)" if self.partial_credit else "exact match)"))
        self._rows = load_rows()
        try:
            self._order = split_indices([r["code_sample"] for r in self._rows], seed, val, test)
        except ValueError as err:
            raise FastSlowError(f"task {self.name}: {err}; set smaller val/test in task.args") from None
        self._pool: dict[str, list[Problem]] = {split: [] for split in self._order}
        self._cursor = dict.fromkeys(self._order, 0)  # instances (program, round) looked at so far

    def _slot(self, split: str, k: int) -> tuple[int, int] | None:
        """The k-th (row, round) of ``split``: train cycles through its programs, val/test use each once."""
        order = self._order[split]
        if split != "train" and k >= len(order):
            return None
        return order[k % len(order)], k // len(order)

    def _fill(self, split: str, n: int) -> None:
        """Run instances of ``split`` in order until ``n`` are usable or the split is used up."""
        pool, order = self._pool[split], self._order[split]
        while len(pool) < n:
            start = self._cursor[split]
            slots = [self._slot(split, k) for k in range(start, start + 8 + (n - len(pool)) * 9 // 8)]
            slots = [slot for slot in slots if slot is not None]
            if not slots:
                return
            pairs = [(row, f"codeio|{self.seed}|{row}|{rnd}") for row, rnd in slots]
            for (row, rnd), result in zip(slots, run_instances(self._rows, pairs)):
                self._cursor[split] += 1
                if result is None or len(result[0]) > MAX_INPUT_CHARS or len(result[1]) > self.max_output_chars:
                    continue
                inputs_json, output_json = result
                pool.append(Problem(
                    id=f"{self.name}/{split}/{len(pool)}", text=problem_text(self._rows[row], inputs_json),
                    metadata={"row": row, "round": rnd, "input": json.loads(inputs_json),
                              "output": json.loads(output_json), "answer": output_json}))
            if not pool and self._cursor[split] >= len(order):
                raise FastSlowError(f"task {self.name}: none of the {len(order)} {split} programs gives a usable "
                                    "instance")

    def problems(self, split: str, n: int) -> list[Problem]:
        check_split(split)
        self._fill(split, n)
        pool = self._pool[split]
        if n > len(pool):
            raise ValueError(f"task {self.name}: asked for {n} {split} problems, the {split} split holds "
                             f"{len(pool)} ({len(self._order[split])} programs, some not reproducible)")
        return pool[:n]

    def score(self, problem: Problem, completion: str) -> Score:
        gold = problem.metadata["output"]
        expected = shorten(json.dumps(gold), 300)
        text = extract_json_text(str(completion))
        if text is None:
            return Score(0.0, f"No answer found: {_missing_reason(str(completion))}. Expected {expected}.", False)
        try:
            got = json.loads(text)
        except (ValueError, RecursionError) as err:
            return Score(0.0, f"Wrong: the answer {shorten(text, 300)} is not valid JSON ({err}){_python_hint(text)}. "
                              f"Expected {expected}.", False)
        try:
            diff = json_difference(gold, got)
        except RecursionError:
            diff = "the answer is nested too deeply to compare"
        if diff is None:
            return Score(1.0, f"Correct: {shorten(text, 300)} is the return value.", True)
        reward = self._partial(text, problem) if self.partial_credit else 0.0
        credit = f" Partial credit {reward:.3g}." if reward > 0 else ""
        return Score(reward, f"Wrong: expected {expected}, got {shorten(json.dumps(got), 300)}: {diff}.{credit}",
                     False)

    @staticmethod
    def _partial(text: str, problem: Problem) -> float:
        try:
            value = _rg_scorer().score_answer(answer=text, entry={"answer": problem.metadata["answer"]})
        except Exception:  # noqa: BLE001 - a similarity score that fails is just no credit
            return 0.0
        return min(max(float(value), 0.0), 1.0 - 1e-9)  # not exact (checked first), so never full reward

    def gold_completion(self, problem: Problem) -> str:
        return f"<answer>{problem.metadata['answer']}</answer>"


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)```", re.DOTALL)


def extract_json_text(completion: str) -> str | None:
    """The answer text (see the module docstring): last <answer> pair, else last fenced block; None if neither."""
    text = after_thinking(completion)
    answer = last_answer_tag(text)
    if answer is None:
        fences = _FENCE.findall(text)
        return fences[-1][1].strip() if fences else None
    inner = _FENCE.fullmatch(answer)
    return inner.group(2).strip() if inner else answer


def _missing_reason(completion: str) -> str:
    return answer_tag_missing_reason(completion, "and no ```json block")


def _python_hint(text: str) -> str:
    """A note when the answer is a Python literal (single quotes, True/None, tuples) rather than JSON."""
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ""
    return "; it looks like a Python literal: write JSON (double quotes, true/false/null, [] for tuples)"


def _kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def json_difference(gold, got, path: str = "the return value") -> str | None:
    """None when ``got`` equals ``gold`` as JSON (see the module docstring), else where and how they first
    differ: "expected list, got object", "missing keys ...", "element [2]: expected 5, got 4"."""
    kind, got_kind = _kind(gold), _kind(got)
    if kind != got_kind:
        return f"{path}: expected {kind}, got {got_kind}"
    if kind == "object":
        missing, extra = sorted(set(gold) - set(got)), sorted(set(got) - set(gold))
        if missing or extra:
            parts = ([f"missing keys {_keys(missing)}"] if missing else []) + (
                [f"unexpected keys {_keys(extra)}"] if extra else [])
            return f"{path}: {', '.join(parts)}"
        wrong = [key for key in gold if json_difference(gold[key], got[key]) is not None]
        if wrong:
            first = json_difference(gold[wrong[0]], got[wrong[0]], f"{path}[{json.dumps(wrong[0])}]")
            more = f" ({len(wrong)} of {len(gold)} keys differ: {_keys(wrong)})" if len(wrong) > 1 else ""
            return first + more
        return None
    if kind == "list":
        if len(gold) != len(got):
            return f"{path}: expected {len(gold)} elements, got {len(got)}"
        wrong = [i for i, (a, b) in enumerate(zip(gold, got)) if json_difference(a, b) is not None]
        if wrong:
            first = json_difference(gold[wrong[0]], got[wrong[0]], f"{path}[{wrong[0]}]")
            return first + (f" ({len(wrong)} of {len(gold)} elements differ)" if len(wrong) > 1 else "")
        return None
    if gold != got:
        return f"{path}: expected {shorten(json.dumps(gold), 120)}, got {shorten(json.dumps(got), 120)}"
    return None


def _keys(keys: list[str]) -> str:
    return shorten(", ".join(json.dumps(k) for k in keys), 120)
