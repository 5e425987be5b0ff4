"""Issue 20: reasoning-gym answer extraction follows reasoning-gym exactly. On every tag variant our score equals
what reasoning-gym gives the same completion (its ``extract_answer``, then the dataset's ``score_answer``)."""

import pytest

pytest.importorskip("reasoning_gym")

from reasoning_gym.utils import extract_answer  # noqa: E402

from fastslow.tasks.answers import answer_tag_missing_reason, last_answer_tag  # noqa: E402
from fastslow.tasks.reasoning_gym import ReasoningGymTask  # noqa: E402

VARIANTS = [
    "<answer>{a}</answer>",
    "<ANSWER>{a}</ANSWER>",  # uppercase: reasoning-gym finds no answer
    "<Answer>{a}</Answer>",
    "<answer>{a}</ANSWER>",
    "<answer> {a} </answer>",
    "<answer>\n{a}\n</answer>",
    "<answer>  {a}  </answer>",
    "<answer>wrong</answer> then <answer>{a}</answer>",
    "<answer>{a}</answer> then <answer>wrong</answer>",
    "<answer>{a}",
    "{a}",
    "<answer></answer>",
    "<answer>{a}</answer><ANSWER>wrong</ANSWER>",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_extraction_matches_reasoning_gym(variant):
    text = variant.format(a="42")
    assert last_answer_tag(text) == extract_answer(text)


@pytest.fixture(scope="module")
def task():
    return ReasoningGymTask("chain_sum", seed=0, train_size=50, val_size=8, test_size=8)


@pytest.mark.parametrize("variant", VARIANTS)
def test_score_matches_reasoning_gym_score_answer(task, variant):
    problem = task.problems("val", 1)[0]
    entry = problem.metadata["entry"]
    completion = variant.format(a=entry["answer"])
    theirs = task._scorer(problem).score_answer(answer=extract_answer(completion), entry=entry)
    assert task.score(problem, completion).reward == pytest.approx(float(theirs))


def test_uppercase_tags_get_a_clear_reason():
    assert "lowercase" in answer_tag_missing_reason("<ANSWER>42</ANSWER>")
