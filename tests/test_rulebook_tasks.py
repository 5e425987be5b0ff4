"""Rulebook tasks: determinism, split hygiene, the instruction-following suite and task streams."""

import pytest

from fastslow.errors import FastSlowError, UnknownTaskError
from fastslow.rulebook.program import Program
from fastslow.rulebook.tasks import (DEFAULT_SEED_PROMPT, NAMED_TASKS, InstructionSuite, RulebookTask, TaskStream,
                                     get_task)
from fastslow.tasks.base import Problem, Task, render_messages


def _inputs(problems):
    return [p.metadata["input"] for p in problems]


def test_get_task_builds_the_named_program():
    task = get_task("cipher")
    assert isinstance(task, RulebookTask)
    assert task.name == "cipher"
    assert task.program == Program.parse("reverse|shift:2|swap_pairs")
    assert task.seed_prompt == DEFAULT_SEED_PROMPT
    assert isinstance(task, Task)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_same_seed_gives_identical_problems(split):
    a = get_task("tidy", seed=3).problems(split, 40)
    b = get_task("tidy", seed=3).problems(split, 40)
    assert len(a) == 40
    assert a == b


def test_different_seed_gives_different_problems():
    a = _inputs(get_task("tidy", seed=0).problems("train", 40))
    b = _inputs(get_task("tidy", seed=1).problems("train", 40))
    assert a != b
    va = _inputs(get_task("tidy", seed=0).problems("val", 40))
    vb = _inputs(get_task("tidy", seed=1).problems("val", 40))
    assert va != vb


def test_problems_are_prefix_stable():
    task = get_task("clip")
    assert task.problems("train", 10) == task.problems("train", 30)[:10]
    assert task.problems("val", 10) == task.problems("val", 30)[:10]


@pytest.mark.parametrize("name", ["mirror", "clip", "cipher"])
def test_train_never_overlaps_val_or_test_and_val_test_disjoint(name):
    task = get_task(name)
    train = set(_inputs(task.problems("train", 300)))
    val = set(_inputs(task.problems("val", 512)))
    test = set(_inputs(task.problems("test", 512)))
    assert len(val) == 512 and len(test) == 512  # no repeated inputs inside a split
    assert len(train) == 300
    assert not train & val
    assert not train & test
    assert not val & test


@pytest.mark.parametrize("name", sorted(NAMED_TASKS))
def test_target_equals_program_of_input(name):
    task = get_task(name)
    for split in ("train", "val"):
        for p in task.problems(split, 30):
            assert p.text == p.metadata["input"]
            assert p.metadata["target"] == task.program(p.metadata["input"])
            assert list(p.metadata["trace"]) == task.program.trace(p.metadata["input"])
            assert all(0 < len(s) <= 20 for s in p.metadata["trace"])
            assert p.id.startswith(f"{name}/{split}/")


def test_problem_ids_are_unique_and_numbered():
    ps = get_task("mirror").problems("val", 5)
    assert [p.id for p in ps] == [f"mirror/val/{i}" for i in range(5)]


def test_too_many_eval_problems():
    with pytest.raises(ValueError, match="at most 512"):
        get_task("mirror").problems("val", 513)


@pytest.mark.parametrize("split", ["dev", "validation", "Train"])
def test_unknown_split_raises(split):
    with pytest.raises(ValueError, match="unknown split"):
        get_task("mirror").problems(split, 3)


def test_unknown_task_name():
    with pytest.raises(UnknownTaskError) as exc:
        get_task("palindrome")
    msg = str(exc.value)
    assert "'palindrome'" in msg
    for known in NAMED_TASKS:
        assert known in msg
    assert not msg.startswith('"')  # not KeyError's repr-quoted form
    assert isinstance(exc.value, FastSlowError)
    assert isinstance(exc.value, KeyError)


def test_rulebook_task_render_and_score():
    task = get_task("mirror", seed_prompt="Follow the rule.")
    p = task.problems("val", 1)[0]
    assert task.render(p, task.seed_prompt) == [
        {"role": "system", "content": "Follow the rule."},
        {"role": "user", "content": p.text},
    ]
    assert task.score(p, p.metadata["target"]).reward == 1.0
    assert task.score(p, p.metadata["target"] + "q").reward == 0.0
    assert 0.0 < get_task("mirror", partial_credit=True).score(p, p.metadata["target"] + "q").reward < 1.0


# --- the instruction-following suite ------------------------------------------------------------------------------

def test_instruction_suite_problems_carry_their_instruction_as_system():
    suite = InstructionSuite()
    problems = suite.problems("val", 30)
    assert len(problems) >= 25
    depths = set()
    for p in problems:
        prog = Program.parse(p.metadata["program"])
        assert p.system == prog.instruction
        assert p.metadata["target"] == prog(p.text)
        assert p.metadata["depth"] == prog.depth
        depths.add(prog.depth)
    assert depths == {1, 2, 3}


def test_instruction_suite_is_deterministic_and_split_dependent():
    suite = InstructionSuite()
    assert suite.problems("val", 12) == InstructionSuite().problems("val", 12)
    assert _inputs(suite.problems("val", 12)) != _inputs(suite.problems("test", 12))


def test_instruction_suite_render_merges_seed_prompt_before_problem_system():
    suite = InstructionSuite()
    p = suite.problems("test", 3)[0]
    msgs = suite.render(p, "Follow the rule.")
    assert msgs == render_messages(p, "Follow the rule.")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == "Follow the rule.\n\n" + p.system
    assert msgs[1]["content"] == p.text


def test_instruction_suite_render_with_empty_seed_prompt():
    suite = InstructionSuite()
    p = suite.problems("test", 1)[0]
    assert suite.seed_prompt == ""
    msgs = suite.render(p, suite.seed_prompt)
    assert msgs == [{"role": "system", "content": p.system}, {"role": "user", "content": p.text}]


def test_instruction_suite_score():
    suite = InstructionSuite()
    p = suite.problems("val", 1)[0]
    assert suite.score(p, " > ".join(p.metadata["trace"])).reward == 1.0
    assert suite.score(p, "").reward == 0.0


def test_render_messages_without_any_system_text():
    p = Problem(id="x", text="abc")
    assert render_messages(p, "  ") == [{"role": "user", "content": "abc"}]


def test_render_messages_only_problem_system():
    p = Problem(id="x", text="abc", system=" Reverse the string. ")
    assert render_messages(p, "") == [{"role": "system", "content": "Reverse the string."},
                                      {"role": "user", "content": "abc"}]


# --- task streams -------------------------------------------------------------------------------------------------

def test_task_stream_switches_stages():
    stream = TaskStream(steps_per_stage=100)
    assert [t.name for t in stream.tasks] == ["tidy", "clip", "stutter"]
    assert stream.task_at(0).name == "tidy"
    assert stream.task_at(99).name == "tidy"
    assert stream.task_at(100).name == "clip"
    assert stream.task_at(199).name == "clip"
    assert stream.task_at(200).name == "stutter"
    assert stream.task_at(10_000).name == "stutter"  # stays on the last stage


def test_task_stream_custom_tasks_and_seed():
    stream = TaskStream(task_names=("mirror", "caesar"), steps_per_stage=5, seed=4)
    assert stream.task_at(4).name == "mirror"
    assert stream.task_at(5).name == "caesar"
    assert all(t.seed == 4 for t in stream.tasks)


def test_task_stream_unknown_task():
    with pytest.raises(UnknownTaskError, match="nope"):
        TaskStream(task_names=("tidy", "nope"))
