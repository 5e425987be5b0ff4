"""The string primitives of the Rulebook DSL.

Each primitive is a pure function of a lowercase string plus a few parameters, with one canonical English
phrasing. Programs (see ``program.py``) chain them. Keeping the set small, total and deterministic is what lets
us verify answers exactly and lets a reflector (or a person) recover a hidden program from input/output pairs.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

ALPHABET = string.ascii_lowercase
VOWELS = frozenset("aeiou")


def _shift_char(c: str, k: int) -> str:
    return ALPHABET[(ALPHABET.index(c) + k) % 26] if c in ALPHABET else c


def reverse(s: str) -> str:
    return s[::-1]


def sort(s: str) -> str:
    return "".join(sorted(s))


def shift(s: str, k: int) -> str:
    return "".join(_shift_char(c, k) for c in s)


def rotate(s: str, k: int) -> str:
    if not s:
        return s
    k %= len(s)
    return s[k:] + s[:k]


def swap_pairs(s: str) -> str:
    chars = list(s)
    for i in range(0, len(chars) - 1, 2):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def drop_vowels(s: str) -> str:
    return "".join(c for c in s if c not in VOWELS)


def double(s: str) -> str:
    return "".join(c + c for c in s)


def keep_first(s: str, n: int) -> str:
    return s[:n]


def keep_last(s: str, n: int) -> str:
    return s[-n:] if n > 0 else ""


def replace(s: str, x: str, y: str) -> str:
    return s.replace(x, y)


def dedupe(s: str) -> str:
    seen: set[str] = set()
    out = []
    for c in s:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return "".join(out)


def _phrase_shift(k: int) -> str:
    return f"shift each letter {'forward' if k > 0 else 'back'} by {abs(k)}"


@dataclass(frozen=True)
class Primitive:
    """A named operation, its parameter domain and its canonical instruction phrasing."""

    name: str
    fn: Callable[..., str]
    param_domains: tuple[tuple, ...]  # one tuple of allowed values per parameter
    phrase: Callable[..., str]

    @property
    def arity(self) -> int:
        return len(self.param_domains)


_LETTERS = tuple(ALPHABET)

PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in [
        Primitive("reverse", reverse, (), lambda: "reverse the string"),
        Primitive("sort", sort, (), lambda: "sort the letters alphabetically"),
        Primitive("shift", shift, ((1, 2, 3, -1, -2, -3),), _phrase_shift),
        Primitive("rotate", rotate, ((1, 2, 3),), lambda k: f"rotate the string left by {k}"),
        Primitive("swap_pairs", swap_pairs, (), lambda: "swap each adjacent pair of letters"),
        Primitive("drop_vowels", drop_vowels, (), lambda: "delete every vowel"),
        Primitive("double", double, (), lambda: "write each letter twice"),
        Primitive("keep_first", keep_first, ((2, 3, 4, 5),), lambda n: f"keep only the first {n} letters"),
        Primitive("keep_last", keep_last, ((2, 3, 4, 5),), lambda n: f"keep only the last {n} letters"),
        Primitive("replace", replace, (_LETTERS, _LETTERS), lambda x, y: f"replace every {x} with {y}"),
        Primitive("dedupe", dedupe, (), lambda: "remove repeated letters"),
    ]
}
