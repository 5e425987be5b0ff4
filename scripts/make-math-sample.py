#!/usr/bin/env python
"""Write configs/data/math-sample.jsonl: 300 small math problems (fields ``problem``, ``answer``) for the example
configs, generated offline and deterministically from reasoning-gym.

Source: reasoning-gym 0.1.25 (https://github.com/open-thought/reasoning-gym), Apache-2.0 licence. Its generators
are procedural, so the rows are new instances, not copies of a benchmark:

* ``basic_arithmetic`` (Apache-2.0): mostly one- and two-digit sums, differences and products, because a tiny
  model will be trained on this file and needs problems it can actually solve;
* ``gsm_symbolic`` (Apache-2.0 code; its templates are modelled on GSM8K-style word problems, GSM8K being MIT):
  a few grade-school word problems with small numbers, as the harder tail.

Usage: python scripts/make-math-sample.py [--out configs/data/math-sample.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import reasoning_gym

# (dataset, config, how many rows to keep) - easy first; everything is deduplicated on the question text.
RECIPE = [
    ("basic_arithmetic", dict(min_terms=2, max_terms=2, min_digits=1, max_digits=1, operators=("+", "-"),
                              allow_parentheses=False, allow_negation=False), 110),
    ("basic_arithmetic", dict(min_terms=2, max_terms=2, min_digits=1, max_digits=1, operators=("*",),
                              allow_parentheses=False, allow_negation=False), 40),
    ("basic_arithmetic", dict(min_terms=2, max_terms=3, min_digits=1, max_digits=2, operators=("+", "-", "*"),
                              allow_parentheses=True, allow_negation=False), 100),
    ("gsm_symbolic", dict(difficulty=1.0), 50),
]
SEED = 2024
# basic_arithmetic writes negative operands ("Calculate -42 * 47.") even without negation; they are skipped to keep
# the sample easy. (Negative *answers*, as in 3 - 8, stay.)
NEGATIVE_OPERAND = re.compile(r"(^|[\s(])-\d")


def rows() -> list[dict]:
    out, seen = [], set()
    for k, (name, config, want) in enumerate(RECIPE):
        data = reasoning_gym.create_dataset(name, size=20 * want, seed=SEED + k, **config)
        kept = 0
        for item in data:
            question, answer = item["question"].strip(), str(item["answer"]).strip()
            if kept == want:
                break
            if question in seen or (name == "basic_arithmetic" and NEGATIVE_OPERAND.search(question)):
                continue
            seen.add(question)
            out.append({"problem": question, "answer": answer})
            kept += 1
        if kept < want:
            raise SystemExit(f"{name}: only {kept} distinct problems, wanted {want}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "configs/data/math-sample.jsonl"))
    out = Path(parser.parse_args().out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = rows()
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data), encoding="utf-8")
    print(f"wrote {len(data)} rows to {out}")


if __name__ == "__main__":
    main()
