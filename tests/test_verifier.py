"""Rulebook grading: rewards, answer extraction and feedback text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastslow.rulebook.answer import extract_answer, format_answer
from fastslow.rulebook.primitives import ALPHABET
from fastslow.rulebook.tasks import get_task
from fastslow.rulebook.verifier import edit_distance, feedback_text, first_difference, grade, partial_credit

FAST = settings(max_examples=50, deadline=None)
words = st.text(alphabet=ALPHABET, max_size=12)


def test_exact_match_reward_one():
    score = grade("hello", "olleh", "olleh")
    assert score.reward == 1.0
    assert score.feedback.startswith("Correct.")
    assert grade("hello", "olleh", "olleh", partial=True).reward == 1.0


def test_exact_match_through_trace():
    assert grade("abc", "cdb", "cba>edc>cdb").reward == 1.0
    assert grade("abc", "cdb", "cba > edc >  cdb \n").reward == 1.0


def test_wrong_answer_is_zero_without_partial_credit():
    assert grade("hello", "olleh", "ollex").reward == 0.0
    assert grade("hello", "olleh", "").reward == 0.0


def test_wrong_answer_partial_credit_strictly_between():
    r = grade("hello", "olleh", "ollex", partial=True).reward
    assert 0.0 < r < 1.0
    assert r == pytest.approx(0.8)


@FAST
@given(expected=words.filter(bool), got=words)
def test_partial_credit_is_one_only_on_exact_match(expected, got):
    r = grade("src", expected, got, partial=True).reward
    assert 0.0 <= r <= 1.0
    if got == expected:
        assert r == 1.0
    else:
        assert r < 1.0
        assert grade("src", expected, got).reward == 0.0


@FAST
@given(expected=words.filter(lambda s: len(s) >= 2), data=st.data())
def test_one_edit_gets_strictly_positive_partial_credit(expected, data):
    i = data.draw(st.integers(min_value=0, max_value=len(expected) - 1))
    c = data.draw(st.sampled_from([ch for ch in ALPHABET if ch != expected[i]]))
    got = expected[:i] + c + expected[i + 1:]
    r = grade("src", expected, got, partial=True).reward
    assert 0.0 < r < 1.0


def test_edit_distance_and_partial_credit_values():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "abc") == 0
    assert partial_credit("abcd", "abcd") == 1.0
    assert partial_credit("abcd", "") == 0.0
    assert partial_credit("abcd", "abce") == pytest.approx(0.75)


@pytest.mark.parametrize("completion,expected", [
    ("abc>def>ghi", "ghi"),
    ("abc > def >  ghi  ", "ghi"),
    ("  xyz\n", "xyz"),
    ("abc>", ""),
    ("", ""),
    ("a>b>c>", ""),
    ("no separator here", "no separator here"),
])
def test_extract_answer(completion, expected):
    assert extract_answer(completion) == expected


@FAST
@given(st.lists(words.filter(bool), min_size=1, max_size=4))
def test_extract_answer_inverts_format_answer(trace):
    assert extract_answer(format_answer(trace)) == trace[-1]


def test_first_difference():
    assert first_difference("abc", "abc") is None
    assert first_difference("abc", "abd") == 2
    assert first_difference("abc", "ab") == 2
    assert first_difference("ab", "abc") == 2
    assert first_difference("xbc", "abc") == 0


def test_wrong_answer_feedback_names_input_expected_got_and_position():
    fb = grade("hello", "olleh", "olxeh").feedback
    assert fb.startswith("Incorrect.")
    assert "'hello'" in fb
    assert "'olleh'" in fb
    assert "'olxeh'" in fb
    assert "position 2" in fb
    assert "expected 'l', got 'x'" in fb


def test_wrong_answer_feedback_for_length_mismatch():
    short = grade("hello", "olleh", "oll").feedback
    assert "too short" in short and "'oll'" in short and "Expected length 5, got length 3" in short
    long = grade("hello", "olleh", "ollehh").feedback
    assert "too long" in long and "'ollehh'" in long


def test_feedback_uses_extracted_answer():
    fb = grade("hello", "olleh", "olleh>ollex").feedback
    assert "'ollex'" in fb
    assert "position 4" in fb


@pytest.mark.parametrize("completion", ["", "   ", "abc>", "abc > "])
def test_empty_answer_feedback(completion):
    fb = grade("hello", "olleh", completion).feedback
    assert "no answer was produced" in fb
    assert "'hello'" in fb and "'olleh'" in fb


def test_feedback_text_correct():
    assert feedback_text("abc", "cba", "cba") == "Correct. Input 'abc' -> expected 'cba'; the answer 'cba' matches."


@pytest.mark.parametrize("partial", [False, True])
def test_feedback_never_leaks_the_hidden_rule(partial):
    task = get_task("cipher", partial_credit=partial)
    spec, instruction = task.program.spec, task.program.instruction
    forbidden = ["reverse", "shift", "swap", "Reverse", spec, instruction]
    for p in task.problems("val", 40):
        target = p.metadata["target"]
        for completion in ["", target, target[::-1] + "q", p.text, ">".join(p.metadata["trace"][:-1])]:
            fb = task.score(p, completion).feedback
            for word in forbidden:
                assert word not in fb, (word, fb)
