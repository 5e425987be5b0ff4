"""Rulebook programs: spec parsing and round trip, canonical instructions, traces and spec errors."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastslow.errors import FastSlowError, ProgramSpecError
from fastslow.rulebook.program import MAX_DEPTH, Program, Step, random_program

FAST = settings(max_examples=50, deadline=None)


def test_parse_builds_steps_with_typed_params():
    prog = Program.parse("reverse|shift:-2|replace:a:b")
    assert prog.steps == (Step("reverse"), Step("shift", (-2,)), Step("replace", ("a", "b")))
    assert prog.depth == 3
    assert prog.spec == "reverse|shift:-2|replace:a:b"


def test_parse_tolerates_whitespace_around_steps():
    assert Program.parse(" reverse | rotate:3 ").spec == "reverse|rotate:3"


@FAST
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), depth=st.integers(min_value=1, max_value=MAX_DEPTH))
def test_spec_round_trip_over_random_programs(seed, depth):
    prog = random_program(random.Random(seed), depth)
    assert prog.depth == depth
    parsed = Program.parse(prog.spec)
    assert parsed == prog
    assert parsed.spec == prog.spec
    assert parsed.instruction == prog.instruction


@FAST
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), depth=st.integers(min_value=1, max_value=MAX_DEPTH))
def test_random_program_has_no_immediate_repeat_and_no_identity_replace(seed, depth):
    prog = random_program(random.Random(seed), depth)
    names = [s.name for s in prog.steps]
    assert all(a != b for a, b in zip(names, names[1:]))
    for step in prog.steps:
        if step.name == "replace":
            assert step.params[0] != step.params[1]


def test_random_program_is_deterministic_for_a_seed():
    a = [random_program(random.Random(7), 3).spec for _ in range(3)]
    assert a == [random_program(random.Random(7), 3).spec] * 3


def test_instruction_depth_3_exact():
    prog = Program.parse("reverse|shift:2|swap_pairs")
    assert prog.instruction == ("Reverse the string, then shift each letter forward by 2, "
                                "then swap each adjacent pair of letters.")


def test_instruction_depth_1_and_negative_shift():
    assert Program.parse("shift:-1").instruction == "Shift each letter back by 1."
    assert Program.parse("keep_last:4|replace:x:y").instruction == (
        "Keep only the last 4 letters, then replace every x with y.")


def test_trace_and_call():
    prog = Program.parse("reverse|shift:2|swap_pairs")
    # reverse: "hello" -> "olleh"; shift 2 -> "qnngj"; swap pairs -> "nqgnj"
    assert prog.trace("hello") == ["olleh", "qnngj", "nqgnj"]
    assert prog("hello") == "nqgnj"


def test_trace_depth_2():
    prog = Program.parse("sort|dedupe")
    assert prog.trace("banana") == ["aaabnn", "abn"]
    assert prog("banana") == "abn"


def test_step_spec_and_call():
    step = Step.parse("rotate:2")
    assert step == Step("rotate", (2,))
    assert step.spec == "rotate:2"
    assert step("abcde") == "cdeab"
    assert step.instruction == "rotate the string left by 2"


# --- bad specs ----------------------------------------------------------------------------------------------------

def test_unknown_primitive():
    with pytest.raises(ProgramSpecError, match=r"unknown primitive 'flip'") as exc:
        Program.parse("reverse|flip")
    assert "reverse" in str(exc.value)  # lists known primitives


def test_unknown_primitive_in_empty_step():
    with pytest.raises(ProgramSpecError, match="unknown primitive"):
        Program.parse("reverse||sort")


@pytest.mark.parametrize("spec,count", [("shift", "got 0"), ("reverse:1", "got 1"), ("replace:a", "got 1"),
                                        ("keep_first:2:3", "got 2")])
def test_wrong_parameter_count(spec, count):
    with pytest.raises(ProgramSpecError, match="parameter") as exc:
        Program.parse(spec)
    msg = str(exc.value)
    assert count in msg
    assert repr(spec.split(":")[0]) in msg


@pytest.mark.parametrize("spec,bad", [("shift:5", "'5'"), ("shift:0", "'0'"), ("rotate:4", "'4'"),
                                      ("keep_first:x", "'x'"), ("replace:a:B", "'B'"), ("keep_last:1", "'1'")])
def test_parameter_out_of_domain(spec, bad):
    with pytest.raises(ProgramSpecError, match="not allowed") as exc:
        Program.parse(spec)
    msg = str(exc.value)
    assert bad in msg
    assert "allowed:" in msg


@pytest.mark.parametrize("spec", ["", "   ", None])
def test_empty_spec(spec):
    with pytest.raises(ProgramSpecError, match="empty program spec"):
        Program.parse(spec)


def test_depth_4_is_rejected():
    with pytest.raises(ProgramSpecError, match="1 to 3 steps, got 4"):
        Program.parse("reverse|sort|reverse|sort")


def test_depth_0_is_rejected():
    with pytest.raises(ProgramSpecError, match="got 0"):
        Program(())


def test_program_spec_error_is_a_user_error_and_a_value_error():
    with pytest.raises(FastSlowError):
        Program.parse("nope")
    with pytest.raises(ValueError):
        Program.parse("nope")
