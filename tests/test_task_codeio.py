"""CodeIOTask: output prediction over reasoning-gym's bundled programs, JSON answers, disjoint program splits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("reasoning_gym")

from fastslow.errors import FastSlowError  # noqa: E402
from fastslow.tasks import SPLITS, Problem, Task, load_task  # noqa: E402
from fastslow.tasks import code_runner, codeio  # noqa: E402
from fastslow.tasks.codeio import SEED_PROMPT, CodeIOTask, extract_json_text, json_difference  # noqa: E402

N = 3  # problems per split: each one runs a program in two child processes


@pytest.fixture(scope="module")
def task() -> CodeIOTask:
    return CodeIOTask(seed=0)


def fake(output) -> Problem:
    """A problem with a chosen reference output (scoring reads only the metadata)."""
    return Problem("codeio/test/x", "text", {"output": output, "answer": json.dumps(output)})


def test_contract_and_gold_answers(task):
    assert isinstance(task, Task) and task.name == "codeio" and task.seed_prompt == SEED_PROMPT
    assert "JSON" in SEED_PROMPT and "<answer>" in SEED_PROMPT and "exact match" in task.description
    task.validate(n=N)
    problem = task.problems("val", 1)[0]
    assert "def main_solution" in problem.text and json.dumps(problem.metadata["input"]) in problem.text
    assert "return value as a JSON value" in problem.text and problem.metadata["answer"] not in problem.text[-200:]
    assert json.loads(json.dumps(dict(problem.metadata)))["output"] == problem.metadata["output"]


@pytest.fixture
def exact() -> CodeIOTask:
    t = CodeIOTask.__new__(CodeIOTask)  # scoring needs no data: skip loading and splitting
    t.partial_credit = False
    return t


def test_wrong_answer_names_expected_and_extracted(exact, task):
    score = exact.score(fake({"a": 1, "b": [1, 2]}), '<answer>{"a": 1, "b": [1, 3]}</answer>')
    assert score.reward == 0.0 and score.correct is False
    fb = score.feedback
    assert '{"a": 1, "b": [1, 2]}' in fb and '{"a": 1, "b": [1, 3]}' in fb and '["b"][1]: expected 2, got 3' in fb
    problem = task.problems("train", 1)[0]
    score = task.score(problem, '<answer>"surely not the output"</answer>')
    assert score.reward == 0.0 and problem.metadata["answer"][:100] in score.feedback
    assert '"surely not the output"' in score.feedback


@pytest.mark.parametrize("gold, completion, pieces", [
    ([1, 2], "I think it returns 3.", ["No answer found", "no <answer>...</answer> tags", "[1, 2]"]),
    ([1, 2], "<answer>[1, 2", ["No answer found", "never closed"]),
    ([1, 2], "<answer>{'x': (1, 2)}</answer>", ["not valid JSON", "Python literal", "[1, 2]"]),
    ([1, 2], '<answer>{"x": 1}</answer>', ["expected list, got object", '{"x": 1}']),
    (True, "<answer>1</answer>", ["expected boolean, got number"]),
    ({"a": 1}, '<answer>{"b": 1}</answer>', ['missing keys "a"', 'unexpected keys "b"']),
    ([1, 2, 3], "<answer>[1, 2]</answer>", ["expected 3 elements, got 2"]),
])
def test_failure_feedback_says_why(exact, gold, completion, pieces):
    score = exact.score(fake(gold), completion)
    assert score.reward == 0.0 and score.correct is False
    for piece in pieces:
        assert piece in score.feedback, score.feedback


@pytest.mark.parametrize("completion", [
    '<answer>{"v": [1.5, null, "s"], "ok": true}</answer>',
    'Tracing...\n```json\n{"ok": true, "v": [1.5, null, "s"]}\n```',
    '<answer>\n```json\n{"v": [1.5, null, "s"], "ok": true}\n```\n</answer>',
    '<think><answer>0</answer></think>```\n{"v": [1.5, null, "s"], "ok": true}\n```',
    '<answer>[]</answer> on second thought <answer>{"v": [1.50, null, "s"], "ok": true}</answer>',
])
def test_extraction_rules(exact, completion):
    assert exact.score(fake({"v": [1.5, None, "s"], "ok": True}), completion).correct is True


def test_extract_and_compare_helpers():
    assert extract_json_text("```json\n[1]\n``` then <answer>2</answer>") == "2"  # tags beat fences
    assert extract_json_text("nothing here") is None
    assert json_difference(2, 2.0) is None and json_difference(True, 1) is not None
    assert json_difference({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) is None


def test_partial_credit_near_miss():
    t = CodeIOTask(seed=0, partial_credit=True, val=5, test=5)
    gold = {"total": 12.5, "count": 3, "label": "ok"}
    near = t.score(fake(gold), '<answer>{"total": 12.5, "count": 4, "label": "ok"}</answer>')
    assert 0.0 < near.reward < 1.0 and near.correct is False and "Partial credit" in near.feedback
    full = t.score(fake(gold), f"<answer>{json.dumps(gold)}</answer>")
    assert full.reward == 1.0 and full.correct is True
    assert t.score(fake(gold), "no answer").reward == 0.0
    exact_task = CodeIOTask(seed=0, val=5, test=5)
    assert exact_task.score(fake(gold), '<answer>{"total": 12.5, "count": 4, "label": "ok"}</answer>').reward == 0.0


def test_splits_are_disjoint_by_program(task):
    rows = {split: set(task._order[split]) for split in SPLITS}
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    code = {split: {codeio.load_rows()[i]["code_sample"] for i in rows[split]} for split in SPLITS}
    assert not code["train"] & code["val"] and not code["val"] & code["test"] and not code["train"] & code["test"]
    problems = {split: task.problems(split, N) for split in SPLITS}
    texts = [p.text for split in SPLITS for p in problems[split]]
    ids = [p.id for split in SPLITS for p in problems[split]]
    assert len(set(texts)) == len(texts) and len(set(ids)) == len(ids) and all(i.startswith("codeio/") for i in ids)
    assert all(p.metadata["row"] in rows[split] for split in SPLITS for p in problems[split])


def test_deterministic_per_seed_even_when_rerun(task):
    first = [p.text for p in task.problems("test", N)]
    code_runner._RESULTS.clear()  # run the programs again, in fresh child processes
    assert [p.text for p in CodeIOTask(seed=0).problems("test", N)] == first
    assert [p.metadata["output"] for p in CodeIOTask(seed=0).problems("test", N)] == [
        p.metadata["output"] for p in task.problems("test", N)]
    assert [p.text for p in CodeIOTask(seed=1).problems("test", N)] != first


def test_prefix_stable(task):
    fresh = CodeIOTask(seed=0)
    assert fresh.problems("val", 1) + fresh.problems("val", N)[1:] == task.problems("val", N)


def test_train_cycles_through_programs_with_fresh_inputs(task):
    order = task._order["train"]
    assert task._slot("train", 0) == (order[0], 0) and task._slot("train", len(order)) == (order[0], 1)
    assert task._slot("val", len(task._order["val"])) is None


def test_too_many_held_out_problems_is_a_value_error():
    t = CodeIOTask(seed=0, val=4, test=4)
    with pytest.raises(ValueError, match=r"asked for 5 val problems, the val split holds [0-4] \(4 programs"):
        t.problems("val", 5)
    with pytest.raises(FastSlowError, match="smaller val/test"):
        CodeIOTask(val=2000, test=2000)


def test_child_survives_crashing_and_hanging_programs(monkeypatch):
    monkeypatch.setattr(code_runner, "TIME_LIMIT_S", 0.5)
    gen = "def generate_inputs(rng):\n    return {'x': rng.randint(1, 9)}"
    ok = ["def main_solution(x):\n    return [x, x * 2]", gen, "s"]
    jobs = [ok, ["import os\ndef main_solution(x):\n    os._exit(3)", gen, "s"],
            ["def main_solution(x):\n    while True:\n        pass", gen, "s"],
            ["def main_solution(x):\n    return {1, 2}", gen, "s"],  # a set is not JSON
            ["def main_solution(x):\n    return [0] * 10 ** 10", gen, "s"],  # over the memory cap
            ["import os\ndef main_solution(x):\n    os.write(1, b'[1, 2]\\n')\n    print('noise')\n    return x", gen,
             "s"], ok]
    results = code_runner._run_child(jobs, "0")
    x = json.loads(results[0][0])["x"]
    assert results[0] == results[-1] and json.loads(results[0][1]) == [x, 2 * x]
    assert results[1:5] == [None, None, None, None] and json.loads(results[5][1]) == x


def test_loading_is_lazy():
    code = ("import sys, fastslow.tasks.codeio as c; "
            "assert c.load_rows.cache_info().currsize == 0 and 'reasoning_gym' not in sys.modules")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode == 0


def test_load_task_through_the_registry(task):
    t = load_task("codeio", seed=0)
    assert isinstance(t, CodeIOTask) and t.seed == 0
    assert [p.text for p in t.problems("val", N)] == [p.text for p in task.problems("val", N)]
    t = load_task("codeio", {"partial_credit": True, "val": 10, "test": 10}, seed=4)
    assert t.partial_credit and len(t._order["val"]) == 10 and t.seed == 4
