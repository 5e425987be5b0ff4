"""Any reasoning-gym dataset as a task: ``reasoning_gym/<dataset>``, its config passed through from ``task.args``.

Problems. reasoning-gym datasets are procedural: item ``i`` of a dataset built with ``seed=s`` is a pure function
of ``(s, i)`` (and the config). Each split gets its *own* dataset, seeded from a hash of (task seed, dataset,
split) rather than ``seed + 1``-style offsets, because reasoning-gym seeds item ``i`` with ``seed + i``: nearby
seeds would give overlapping streams. Then:

* val = the distinct questions among the ``val_size`` items of the val dataset;
* test = the distinct questions among the ``test_size`` items of the test dataset, minus val questions;
* train = the ``train_size`` items of the train dataset minus every val/test question, repeated in order
  (epochs) when more are asked for. Repeats are fine for RL, and the trainer asks for thousands of problems.

So splits never share a question text, ``problems(split, n)`` is a prefix of ``problems(split, m)``, and val/test
raise ``ValueError`` (naming the split and its size) when asked for more than they hold. Narrow configs (say,
one-digit sums) hold few distinct questions: then val/test are small and train may be empty, which is an error
that says so.

Answers. The answer is the content of the last ``<answer>...</answer>`` pair after any ``</think>`` (the shared rule
of ``fastslow.tasks.answers``: reasoning-gym's own ``extract_answer`` rule, lowercase tags only; tested equal). With
no such pair there is no answer: reward 0, and feedback saying the tags are missing (or never closed, or only inside
the thinking, or not lowercase). With ``answer_format="last_number"`` the answer is instead the last number in the
completion (for numeric datasets such as ``chain_sum`` on small models that never learned a tag format; the seed
prompt then asks for the number alone). The extracted text is scored by the dataset's own ``score_answer`` (strict
about format, sometimes partial credit); ``correct`` is ``score == 1.0``, the reward is the score.

Metadata. ``problem.metadata["entry"]`` is the reasoning-gym entry itself (question, answer, metadata); every
entry we generated (5 per dataset, default configs, reasoning-gym 0.1.25) serialises to JSON. Two caveats found
by scoring those gold answers (all other datasets score their gold answer 1.0, also after a JSON round trip):

* ``boxnet``, ``graph_color``, ``propositional_logic``, ``rubiks_cube`` and ``rush_hour`` have no single gold
  answer (``answer`` is None or a placeholder; the scorer simulates or checks the answer), so their gold
  completion does not score 1.0 and ``validate()`` fails on them; the tasks themselves work.
* ``arc_agi`` and ``rearc`` compare against tuples in the entry's metadata: a *JSON round-tripped* entry (tuples
  become lists) scores even the gold answer 0.05. Problems built in this process keep the tuples.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Mapping
from functools import cached_property

from fastslow.errors import FastSlowError, UnknownTaskError
from fastslow.tasks.answers import after_thinking, answer_tag_missing_reason, last_answer_tag, last_number, shorten
from fastslow.tasks.base import SPLITS, Problem, Score, TaskBase, check_split

SEED_PROMPT = (
    "You are a careful problem solver. Work through the problem step by step, keeping your reasoning short, and "
    "check the result before you commit to it. Follow the answer format the problem asks for exactly. End with "
    "the final answer alone inside answer tags, like <answer>your answer</answer>: no words, units or "
    "explanation inside the tags."
)
SEED_PROMPT_NUMBER = (
    "You are a careful problem solver. Work out the answer, then end your reply with the final number alone."
)
ANSWER_FORMATS = ("tags", "last_number")
RESERVED = ("seed", "size")  # reasoning-gym config fields the task sets itself


class ReasoningGymConfigError(FastSlowError, ValueError):
    """A reasoning-gym config key or value that the dataset rejects (the message names dataset and key)."""


def derived_seed(seed: int, dataset: str, split: str) -> int:
    """A 31-bit seed per (task seed, dataset, split), far apart for different inputs (see the module docstring)."""
    digest = hashlib.sha256(f"reasoning_gym|{dataset}|{split}|{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def known_datasets() -> list[str]:
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def _config_class(dataset: str):
    from reasoning_gym.factory import DATASETS

    if dataset not in DATASETS:
        names = known_datasets()
        close = difflib.get_close_matches(dataset, names, n=5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise UnknownTaskError(f"unknown reasoning-gym dataset {dataset!r}; {hint}{len(names)} are known, e.g. "
                               f"{', '.join(names[:8])}, ... (task id reasoning_gym/<dataset>)")
    return DATASETS[dataset][1]


def _create(dataset: str, config: Mapping, seed: int, size: int):
    """``rg.create_dataset`` with the config checked first, so a bad key or value names the dataset and key."""
    import reasoning_gym as rg

    fields = {f.name for f in dataclasses.fields(_config_class(dataset))}
    for key in config:
        if key in RESERVED:
            raise ReasoningGymConfigError(
                f"reasoning-gym dataset {dataset!r}: config key {key!r} is set by the task (seed: the run seed; "
                "size: train_size / val_size / test_size); remove it from task.args")
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=3)
            raise ReasoningGymConfigError(
                f"reasoning-gym dataset {dataset!r} has no config key {key!r}"
                + (f" (did you mean {', '.join(close)}?)" if close else "")
                + f"; its keys: {', '.join(sorted(fields - set(RESERVED)))}")
    try:
        return rg.create_dataset(dataset, seed=seed, size=size, **config)
    except (AssertionError, ValueError, TypeError) as err:  # the dataset's own validate() uses asserts
        raise ReasoningGymConfigError(f"reasoning-gym dataset {dataset!r} rejected config {dict(config)!r}: "
                                      f"{type(err).__name__}: {err}") from None


def answer_missing_reason(completion: str) -> str:
    """Why ``last_answer_tag`` found nothing after the thinking, in words for feedback."""
    return answer_tag_missing_reason(completion)


class ReasoningGymTask(TaskBase):
    """reasoning-gym's ``dataset`` with ``config`` (its config dataclass's keys, e.g. ``min_terms=2`` for
    ``chain_sum``). ``train_size`` items per train epoch, ``val_size`` / ``test_size`` items drawn for the
    held-out splits (duplicates dropped). ``name`` defaults to the dataset name."""

    def __init__(self, dataset: str, seed: int = 0, seed_prompt: str | None = None, *, train_size: int = 10_000,
                 val_size: int = 512, test_size: int = 512, name: str | None = None, answer_format: str = "tags",
                 **config):
        _config_class(dataset)  # unknown dataset: a clear error before anything else
        if answer_format not in ANSWER_FORMATS:
            raise ReasoningGymConfigError(f"task {dataset}: answer_format must be one of {ANSWER_FORMATS}, got "
                                          f"{answer_format!r}")
        self.dataset, self.seed, self.config, self.answer_format = dataset, seed, dict(config), answer_format
        self.name = name or dataset
        default = SEED_PROMPT if answer_format == "tags" else SEED_PROMPT_NUMBER
        self.seed_prompt = default if seed_prompt is None else seed_prompt
        self.description = f"reasoning-gym {dataset}" + (f" {self.config}" if self.config else "")
        sizes = {"train": train_size, "val": val_size, "test": test_size}
        for split, size in sizes.items():
            if not isinstance(size, int) or size < 1:
                raise ReasoningGymConfigError(f"task {self.name}: {split}_size must be a positive integer, "
                                              f"got {size!r}")
        self._datasets = {s: _create(dataset, self.config, derived_seed(seed, dataset, s), sizes[s]) for s in SPLITS}
        self._train: list[Problem] = []  # one epoch of train problems, built lazily
        self._train_scanned = 0  # train dataset items looked at so far
        self._train_end = self._datasets["train"].size  # where an epoch ends

    def _entry(self, split: str, index: int) -> dict | None:
        try:
            return self._datasets[split][index]
        except IndexError:  # some datasets (word_ladder) end early when they run out of puzzles
            return None

    def _problem(self, split: str, i: int, entry: dict) -> Problem:
        return Problem(id=f"{self.name}/{split}/{i}", text=entry["question"], metadata={"entry": entry, "split": split})

    def _held_out_pool(self, split: str, exclude: frozenset[str]) -> list[Problem]:
        pool, seen = [], set(exclude)
        for index in range(self._datasets[split].size):
            entry = self._entry(split, index)
            if entry is None:
                break
            if entry["question"] not in seen:
                seen.add(entry["question"])
                pool.append(self._problem(split, len(pool), entry))
        return pool

    @cached_property
    def _val(self) -> list[Problem]:
        return self._held_out_pool("val", frozenset())

    @cached_property
    def _test(self) -> list[Problem]:
        return self._held_out_pool("test", frozenset(p.text for p in self._val))

    @cached_property
    def _held_out_texts(self) -> frozenset[str]:
        return frozenset(p.text for p in self._val + self._test)

    def _grow_train(self, n: int) -> None:
        """Scan the train dataset until ``n`` problems (or the whole epoch) are in ``self._train``."""
        held_out = self._held_out_texts
        while len(self._train) < n and self._train_scanned < self._train_end:
            entry = self._entry("train", self._train_scanned)
            if entry is None:
                self._train_end = self._train_scanned  # the dataset ran out early: the epoch ends here
                break
            self._train_scanned += 1
            if entry["question"] not in held_out:
                self._train.append(self._problem("train", len(self._train), entry))

    def problems(self, split: str, n: int) -> list[Problem]:
        check_split(split)
        if split != "train":
            pool = self._val if split == "val" else self._test
            if n > len(pool):
                raise ValueError(f"task {self.name}: asked for {n} {split} problems, the {split} split holds "
                                 f"{len(pool)} distinct problems (raise {split}_size or widen the config)")
            return pool[:n]
        self._grow_train(n)
        epoch = self._train
        if n > 0 and not epoch:
            raise FastSlowError(f"task {self.name}: every one of the {self._train_scanned} train items is a val "
                                "or test question; the config allows too few distinct questions (widen it, or "
                                "lower val_size/test_size)")
        # past one epoch: repeat it, with fresh ids so ids stay unique
        return [p if i < len(epoch) else dataclasses.replace(p, id=f"{self.name}/train/{i}")
                for i, p in ((i, epoch[i % len(epoch)]) for i in range(n))]

    def _scorer(self, problem: Problem):
        return self._datasets.get(problem.metadata.get("split"), self._datasets["train"])

    def score(self, problem: Problem, completion: str) -> Score:
        entry = problem.metadata["entry"]
        expected = _show(entry.get("answer"))
        if self.answer_format == "last_number":
            got = last_number(after_thinking(str(completion)))
            if got is None:
                return Score(0.0, f"No answer found: the reply contains no number. Expected answer: {expected}.",
                             False)
        else:
            got = last_answer_tag(after_thinking(str(completion)))
        if got is None:
            return Score(0.0, f"No answer found: {answer_missing_reason(str(completion))}. Expected answer: "
                              f"{expected}.", False)
        if not got:
            return Score(0.0, f"No answer found: the <answer></answer> tags are empty. Expected answer: "
                              f"{expected}.", False)
        try:
            value = float(self._scorer(problem).score_answer(answer=got, entry=entry))
        except Exception as err:  # noqa: BLE001 - a malformed answer can trip a dataset's parser
            return Score(0.0, f"Wrong: the extracted answer {_show(got)} could not be read by reasoning-gym's "
                              f"{self.dataset} scorer ({type(err).__name__}: {shorten(err, 120)}). Expected "
                              f"answer: {expected}.", False)
        reward = min(1.0, max(0.0, value))
        if reward >= 1.0:
            return Score(1.0, f"Correct: the answer {_show(got)} is right.", True)
        gold = entry.get("answer")
        hint = ""
        if isinstance(gold, str) and gold.strip() and gold.strip() in got and got != gold.strip():
            hint = " The expected answer appears inside the extracted one: put only the final answer in the tags."
        if reward > 0:
            return Score(reward, f"Partially correct, not an exact match (score {reward:.3g} of 1 from reasoning-gym's "
                                 f"{self.dataset} scorer): extracted {_show(got)}, expected {expected}.{hint}", False)
        return Score(0.0, f"Wrong: extracted {_show(got)}, expected {expected}.{hint}", False)

    def gold_completion(self, problem: Problem) -> str:
        answer = problem.metadata["entry"].get("answer")
        if answer is None:
            raise NotImplementedError(f"task {self.name}: reasoning-gym's {self.dataset} has no gold answer "
                                      "(its scorer checks answers itself)")
        return f"{answer}" if self.answer_format == "last_number" else f"<answer>{answer}</answer>"


def _show(value) -> str:
    """A value for feedback: quoted (so whitespace and empty strings show), cut short."""
    return shorten(json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value), 300)
