"""MathTask: JSONL loading, disjoint seeded splits, boxed extraction and math-verify grading, feedback."""

import json
from pathlib import Path

import pytest

from fastslow.errors import FastSlowError
from fastslow.tasks import SPLITS, load_task
from fastslow.tasks.answers import after_thinking, last_answer_tag, last_boxed
from fastslow.tasks.jsonl import DatasetError
from fastslow.tasks.math import MathTask
from fastslow.tasks.pool import holdout_sizes

FIXTURE = Path(__file__).parent / "fixtures" / "tasks" / "math.jsonl"
SAMPLE = Path(__file__).parent.parent / "configs" / "data" / "math-sample.jsonl"


def _task(**kw):
    return MathTask(str(FIXTURE), val=3, test=3, **kw)


def _problem_with(task, answer):
    return next(p for s in SPLITS for p in task.problems(s, task.size(s)) if p.metadata["answer"] == answer)


def test_last_boxed_balanced_and_last():
    assert last_boxed("first \\boxed{1} then \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}"
    assert last_boxed("\\boxed {  7 }") == "7"
    assert last_boxed("\\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"
    assert last_boxed("no box here") is None
    assert last_boxed("\\boxed{1} and a cut-off \\boxed{\\frac{1}{2") is None
    assert after_thinking("<think>\\boxed{1}</think> \\boxed{2}") == " \\boxed{2}"
    assert last_answer_tag("<answer>A</answer> ... <ANSWER> b </ANSWER>") == "A"  # lowercase only, as reasoning-gym


def test_validate_and_load_through_registry():
    task = load_task("math", {"path": str(FIXTURE), "val": 3, "test": 3}, seed=3)
    assert isinstance(task, MathTask) and task.name == "math" and "\\boxed" in task.seed_prompt
    task.validate()
    assert load_task("math", {"path": str(FIXTURE)}, seed_prompt="Be brief.").seed_prompt == "Be brief."
    assert MathTask(str(FIXTURE), seed_prompt="Solve.").seed_prompt == "Solve."


def test_splits_disjoint_deterministic_prefix_stable_and_sized():
    task = _task(seed=5)
    sizes = {s: task.size(s) for s in SPLITS}
    assert sizes == {"train": 6, "val": 3, "test": 3}
    texts = {s: [p.text for p in task.problems(s, sizes[s])] for s in SPLITS}
    assert len(set().union(*texts.values())) == 12  # all 12 distinct rows, each in exactly one split
    ids = [p.id for s in SPLITS for p in task.problems(s, sizes[s])]
    assert len(set(ids)) == len(ids) and all(i.startswith("math/") for i in ids)
    assert task.problems("train", 2) == task.problems("train", 6)[:2]
    assert _task(seed=5).problems("train", 6) == task.problems("train", 6)
    assert _task(seed=6).problems("train", 6) != task.problems("train", 6)
    with pytest.raises(ValueError, match="7 train problems.*holds 6"):
        task.problems("train", 7)
    with pytest.raises(ValueError, match="unknown split"):
        task.problems("dev", 1)


def test_default_holdout_sizes():
    assert holdout_sizes(300, None, None) == (30, 30)
    assert holdout_sizes(5000, None, None) == (100, 100)
    assert holdout_sizes(12, None, 0.25) == (1, 0.25)
    assert {s: MathTask(str(FIXTURE)).size(s) for s in SPLITS} == {"train": 10, "val": 1, "test": 1}


def test_correct_equivalent_forms_accepted():
    task = _task()
    half = _problem_with(task, "\\frac{1}{2}")
    for form in ("0.5", "1/2", "\\frac12", "\\dfrac{1}{2}"):
        score = task.score(half, f"Half of one. \\boxed{{{form}}}")
        assert score == (1.0, score.feedback, True), (form, score)
    assert task.score(_problem_with(task, "42"), "<think>\\boxed{41}</think> so \\boxed{42.0}").reward == 1.0
    poly = _problem_with(task, "x^2 + 2x + 1")
    assert poly.system == ""  # system_field is opt-in
    poly = _problem_with(_task(system_field="system"), "x^2 + 2x + 1")
    assert poly.system == "Write polynomials in descending powers."
    assert task.score(poly, "\\boxed{1 + 2x + x^2}").reward == 1.0


def test_wrong_answer_feedback_names_expected_and_extracted():
    task = _task()
    half = _problem_with(task, "\\frac{1}{2}")
    score = task.score(half, "I think \\boxed{1} no wait \\boxed{0.75}")
    assert score.reward == 0.0 and score.correct is False
    assert "expected \\frac{1}{2}" in score.feedback and "extracted 0.75" in score.feedback
    assert "not mathematically equivalent" in score.feedback


def test_missing_and_malformed_answers_never_raise():
    task = _task()
    p = _problem_with(task, "5")
    none = task.score(p, "The answer is 5.")
    assert none.reward == 0.0 and "no \\boxed{} answer was found" in none.feedback
    assert "Expected answer: 5" in none.feedback
    cut = task.score(p, "\\boxed{5")
    assert cut.reward == 0.0 and "never closed" in cut.feedback
    empty = task.score(p, "\\boxed{ }")
    assert empty.reward == 0.0 and "empty" in empty.feedback
    junk = task.score(p, "\\boxed{\\frac{{}}}}}^^_}")
    assert junk.reward == 0.0 and "expected 5" in junk.feedback
    long = task.score(p, "\\boxed{" + "(" * 3000 + "}")
    assert long.reward == 0.0 and "3000 characters long" in long.feedback
    assert task.score(p, "").reward == 0.0
    assert task.score(p, None).reward == 0.0


def test_custom_fields_and_missing_field_error(tmp_path):
    good = tmp_path / "q.jsonl"
    good.write_text("".join(json.dumps({"q": f"What is {i}+1?", "a": str(i + 1), "sys": "Be exact."}) + "\n"
                            for i in range(10)))
    task = MathTask(str(good), question_field="q", answer_field="a", system_field="sys", val=2, test=2)
    assert task.problems("val", 1)[0].system == "Be exact."
    task.validate()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n" + json.dumps({"problem": "2+2?"}) + "\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: missing field 'answer'"):
        MathTask(str(bad))


def test_source_arguments_checked():
    with pytest.raises(FastSlowError, match="exactly one of path"):
        MathTask()
    with pytest.raises(FastSlowError, match="exactly one of path"):
        MathTask(str(FIXTURE), hf_dataset="x/y")


def test_hf_dataset_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(FastSlowError, match="could not load the Hugging Face data set 'no-such-org/no-such-set'"):
        MathTask(hf_dataset="no-such-org/no-such-set")


def test_shipped_math_sample_is_valid():
    task = MathTask(str(SAMPLE))
    assert sum(task.size(s) for s in SPLITS) == 300
    task.validate(n=8)
    assert all(p.metadata["answer"] for p in task.problems("train", task.size("train")))
