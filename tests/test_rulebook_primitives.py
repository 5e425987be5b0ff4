"""The 11 Rulebook DSL primitives: hand-checked examples plus algebraic properties."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastslow.rulebook.primitives import (ALPHABET, PRIMITIVES, dedupe, double, drop_vowels, keep_first, keep_last,
                                          replace, reverse, rotate, shift, sort, swap_pairs)

FAST = settings(max_examples=50, deadline=None)
words = st.text(alphabet=ALPHABET, max_size=20)


def test_registry_has_the_eleven_primitives_with_their_arity():
    assert {name: p.arity for name, p in PRIMITIVES.items()} == {
        "reverse": 0, "sort": 0, "shift": 1, "rotate": 1, "swap_pairs": 0, "drop_vowels": 0, "double": 0,
        "keep_first": 1, "keep_last": 1, "replace": 2, "dedupe": 0,
    }
    assert PRIMITIVES["shift"].param_domains == ((1, 2, 3, -1, -2, -3),)
    assert PRIMITIVES["replace"].param_domains[0] == tuple(ALPHABET)


@pytest.mark.parametrize("name,args,expected", [
    ("reverse", (), "reverse the string"),
    ("sort", (), "sort the letters alphabetically"),
    ("shift", (2,), "shift each letter forward by 2"),
    ("shift", (-3,), "shift each letter back by 3"),
    ("rotate", (1,), "rotate the string left by 1"),
    ("swap_pairs", (), "swap each adjacent pair of letters"),
    ("drop_vowels", (), "delete every vowel"),
    ("double", (), "write each letter twice"),
    ("keep_first", (4,), "keep only the first 4 letters"),
    ("keep_last", (2,), "keep only the last 2 letters"),
    ("replace", ("a", "z"), "replace every a with z"),
    ("dedupe", (), "remove repeated letters"),
])
def test_phrases(name, args, expected):
    assert PRIMITIVES[name].phrase(*args) == expected


# --- hand-checked examples ---------------------------------------------------------------------------------------

def test_reverse():
    assert reverse("abc") == "cba"
    assert reverse("hello") == "olleh"
    assert reverse("") == ""


def test_sort():
    assert sort("banana") == "aaabnn"
    assert sort("zyx") == "xyz"


def test_shift_forward_and_wrap():
    assert shift("abc", 1) == "bcd"
    assert shift("xyz", 3) == "abc"
    assert shift("z", 1) == "a"


def test_shift_negative_wraps_a_to_z():
    assert shift("abc", -1) == "zab"
    assert shift("hello", -3) == "ebiil"


def test_shift_leaves_non_letters_alone():
    assert shift("a-b c", 2) == "c-d e"


def test_rotate_left():
    assert rotate("abcde", 1) == "bcdea"
    assert rotate("abcde", 2) == "cdeab"


def test_rotate_with_k_at_least_len():
    assert rotate("abc", 3) == "abc"
    assert rotate("abc", 4) == "bca"
    assert rotate("ab", 3) == "ba"
    assert rotate("", 2) == ""


def test_swap_pairs_even_and_odd():
    assert swap_pairs("abcd") == "badc"
    assert swap_pairs("abcde") == "badce"  # the last letter of an odd-length string stays put
    assert swap_pairs("a") == "a"
    assert swap_pairs("") == ""


def test_drop_vowels():
    assert drop_vowels("education") == "dctn"
    assert drop_vowels("aeiou") == ""
    assert drop_vowels("rhythm") == "rhythm"  # y is not a vowel


def test_double():
    assert double("abc") == "aabbcc"
    assert double("") == ""


def test_keep_first():
    assert keep_first("hello", 3) == "hel"
    assert keep_first("hi", 5) == "hi"


def test_keep_last():
    assert keep_last("hello", 2) == "lo"
    assert keep_last("hello", 4) == "ello"
    assert keep_last("hi", 5) == "hi"
    assert keep_last("abc", 0) == ""  # not s[-0:] == s


def test_replace():
    assert replace("banana", "a", "o") == "bonono"
    assert replace("abc", "z", "y") == "abc"


def test_dedupe_keeps_first_occurrence():
    assert dedupe("banana") == "ban"
    assert dedupe("mississippi") == "misp"
    assert dedupe("abcabc") == "abc"
    assert dedupe("cbacba") == "cba"


def test_primitive_fn_matches_module_function():
    assert PRIMITIVES["shift"].fn("xyz", 3) == "abc"
    assert PRIMITIVES["replace"].fn("aab", "a", "b") == "bbb"


# --- properties ---------------------------------------------------------------------------------------------------

@FAST
@given(words)
def test_reverse_is_an_involution(s):
    assert reverse(reverse(s)) == s


@FAST
@given(words)
def test_sort_is_idempotent_and_sorted(s):
    once = sort(s)
    assert sort(once) == once
    assert list(once) == sorted(s)


@FAST
@given(words, st.sampled_from([1, 2, 3]))
def test_shift_then_unshift_is_identity(s, k):
    assert shift(shift(s, k), -k) == s
    assert shift(shift(s, -k), k) == s
    assert shift(s, 26) == s


@FAST
@given(words, st.integers(min_value=0, max_value=50))
def test_rotate_preserves_multiset_and_length(s, k):
    out = rotate(s, k)
    assert Counter(out) == Counter(s)
    assert len(out) == len(s)
    if s:
        assert rotate(s, k) == rotate(s, k % len(s))


@FAST
@given(words)
def test_double_doubles_length(s):
    out = double(s)
    assert len(out) == 2 * len(s)
    assert out[::2] == s and out[1::2] == s


@FAST
@given(words)
def test_dedupe_output_has_no_repeats(s):
    out = dedupe(s)
    assert len(set(out)) == len(out)
    assert set(out) == set(s)
    assert dedupe(out) == out


@FAST
@given(words, st.integers(min_value=0, max_value=25))
def test_keep_first_is_a_prefix(s, n):
    out = keep_first(s, n)
    assert s.startswith(out)
    assert len(out) == min(n, len(s))


@FAST
@given(words, st.integers(min_value=0, max_value=25))
def test_keep_last_is_a_suffix(s, n):
    out = keep_last(s, n)
    assert s.endswith(out)
    assert len(out) == min(n, len(s))


@FAST
@given(words)
def test_swap_pairs_is_an_involution(s):
    assert swap_pairs(swap_pairs(s)) == s


@FAST
@given(words)
def test_drop_vowels_removes_only_vowels(s):
    out = drop_vowels(s)
    assert not set(out) & set("aeiou")
    assert out == "".join(c for c in s if c not in "aeiou")
