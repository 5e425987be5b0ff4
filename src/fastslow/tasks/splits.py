"""Deterministic, disjoint train / val / test splits of a fixed pool of problems.

Finite datasets (JSONL files, bundled data) are split by a seeded shuffle of the *distinct* problem texts, so the
same text can never land in two splits, and the split of a problem does not depend on how many problems are asked
for. Procedural families generate each split from its own seeded stream instead and exclude held-out texts from
train.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from fastslow.tasks.base import SPLITS, check_split


def split_indices(keys: Sequence[str], seed: int, val: int | float, test: int | float) -> dict[str, list[int]]:
    """Indices of ``keys`` per split. ``val``/``test`` are counts (int) or fractions (float) of the distinct keys;
    duplicates of a key follow its first occurrence (so they stay in one split) and are otherwise dropped."""
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    distinct = list(first.values())
    random.Random(f"splits|{seed}").shuffle(distinct)
    n = len(distinct)
    n_val = int(round(val * n)) if isinstance(val, float) else int(val)
    n_test = int(round(test * n)) if isinstance(test, float) else int(test)
    if n_val + n_test >= n:
        raise ValueError(f"a pool of {n} distinct problems cannot hold {n_val} val and {n_test} test problems "
                         "and still leave train problems")
    return {"val": distinct[:n_val], "test": distinct[n_val : n_val + n_test], "train": distinct[n_val + n_test :]}


def take(pool: dict[str, list], split: str, n: int, what: str) -> list:
    """The first ``n`` items of ``pool[split]``, or an error naming the split and its size."""
    check_split(split)
    items = pool[split]
    if n > len(items):
        raise ValueError(f"{what}: asked for {n} {split} problems, the {split} split holds {len(items)}")
    return list(items[:n])


__all__ = ["SPLITS", "split_indices", "take"]
