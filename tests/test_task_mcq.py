"""MCQTask: JSONL rows and their validation, option rendering, letter extraction, feedback, splits."""

import json
from pathlib import Path

import pytest

from fastslow.tasks import SPLITS, load_task
from fastslow.tasks.jsonl import DatasetError
from fastslow.tasks.mcq import MCQTask, read_letter

FIXTURE = Path(__file__).parent / "fixtures" / "tasks" / "mcq.jsonl"


def _task(**kw):
    return MCQTask(str(FIXTURE), val=3, test=3, **kw)


def _all(task):
    return [p for s in SPLITS for p in task.problems(s, task.size(s))]


def _problem(task, row_id):
    return next(p for p in _all(task) if p.metadata["row_id"] == row_id)


def test_validate_and_load_through_registry():
    task = load_task("mcq", {"path": str(FIXTURE), "val": 3, "test": 3}, seed=2)
    assert isinstance(task, MCQTask) and task.name == "mcq" and "<answer>" in task.seed_prompt
    task.validate()
    assert MCQTask(str(FIXTURE), seed_prompt="Pick one.").seed_prompt == "Pick one."


def test_problem_text_lists_options_and_keeps_row_system():
    task = _task()
    p = _problem(task, "phys-2")
    assert p.text.endswith("What is the SI unit of force?\n\nA. Joule\nB. Watt\nC. Newton\nD. Pascal")
    assert p.metadata["answer"] == "C"
    assert "B. Mass" in _problem(task, "phys-3").text  # mapping options keep their letters
    assert _problem(task, "phys-8").metadata["answer"] == "C"  # lower-case answer letter normalised
    assert _problem(task, "phys-6").system == "Answer as a physics teacher would."
    assert "correct" not in p.text.lower() and "answer" not in p.text.lower()  # nothing leaks the gold letter


def test_letter_forms():
    for form in ("B", " b ", "(B)", "[B]", "B.", "B)", "B:"):
        assert read_letter(form) == "B", form
    for form in ("B. Watt", "B or C", "\\text{B}", "", "BB", "2"):
        assert read_letter(form) is None, form


def test_scoring_and_feedback():
    task = _task()
    p = _problem(task, "phys-2")
    right = task.score(p, "Force is measured in newtons.\n<answer>(C)</answer>")
    assert right == (1.0, right.feedback, True)
    wrong = task.score(p, "<answer>C</answer> hmm, no: <answer>A</answer>")
    assert wrong.reward == 0.0 and wrong.correct is False
    assert "expected C (Newton)" in wrong.feedback and "extracted A (Joule)" in wrong.feedback
    no_tag = task.score(p, "The answer is C.")
    assert no_tag.reward == 0.0 and "no <answer>" in no_tag.feedback and "expected C (Newton)" in no_tag.feedback
    junk = task.score(p, "<answer>Newton</answer>")
    assert junk.reward == 0.0 and "not a single option letter" in junk.feedback and "'Newton'" in junk.feedback
    out_of_range = task.score(_problem(task, "phys-10"), "<answer>D</answer>")  # three options only
    assert out_of_range.reward == 0.0 and "not one of the options (A, B, C)" in out_of_range.feedback
    assert task.score(p, "<think><answer>C</answer></think> I pick <answer>B</answer>").reward == 0.0
    assert task.score(p, None).reward == 0.0


def test_splits_disjoint_deterministic_prefix_stable():
    task = _task(seed=4)
    texts = {s: {p.text for p in task.problems(s, task.size(s))} for s in SPLITS}
    assert sum(map(len, texts.values())) == 12 and len(set().union(*texts.values())) == 12
    ids = [p.id for p in _all(task)]
    assert len(set(ids)) == 12 and all(i.startswith("mcq/") for i in ids)
    assert task.problems("train", 3) == task.problems("train", 6)[:3]
    assert _task(seed=4).problems("val", 3) == task.problems("val", 3)
    assert _task(seed=9).problems("train", 6) != task.problems("train", 6)
    with pytest.raises(ValueError, match="4 val problems.*holds 3"):
        task.problems("val", 4)
    pinned = [_task(seed=s, split_seed=0).problems("val", 3) for s in (1, 2)]
    assert pinned[0] == pinned[1] == _task(seed=0).problems("val", 3)


def _write(tmp_path, rows):
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


GOOD = {"question": "1+1?", "options": ["1", "2"], "answer": "B"}


def test_answer_not_among_options_names_file_and_line(tmp_path):
    path = _write(tmp_path, [GOOD, GOOD | {"question": "2+2?"}, GOOD | {"question": "3+3?", "answer": "C"}])
    with pytest.raises(DatasetError, match=r"q\.jsonl:3: answer 'C' is not one of the option letters A, B"):
        MCQTask(path)


def test_missing_field_names_file_and_line(tmp_path):
    path = _write(tmp_path, [GOOD, {"question": "2+2?", "answer": "A"}])
    with pytest.raises(DatasetError, match=r"q\.jsonl:2: missing field 'options'"):
        MCQTask(path)


def test_bad_options_name_file_and_line(tmp_path):
    with pytest.raises(DatasetError, match=r"q\.jsonl:1: option keys must be single letters"):
        MCQTask(_write(tmp_path, [GOOD | {"options": {"first": "1", "second": "2"}, "answer": "A"}]))
    with pytest.raises(DatasetError, match=r"q\.jsonl:1: 'options' must be a list"):
        MCQTask(_write(tmp_path, [GOOD | {"options": "A or B"}]))
    with pytest.raises(DatasetError, match=r"q\.jsonl:1: .*at least 2 options"):
        MCQTask(_write(tmp_path, [GOOD | {"options": ["only"], "answer": "A"}]))
