"""ReasoningGymTask: the Task contract on reasoning-gym datasets, config pass-through and clear errors."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("reasoning_gym")

from fastslow.errors import FastSlowError  # noqa: E402
from fastslow.tasks import SPLITS, Task, load_task  # noqa: E402
from fastslow.tasks.reasoning_gym import SEED_PROMPT, ReasoningGymConfigError, ReasoningGymTask  # noqa: E402

SMALL = {"train_size": 200, "val_size": 24, "test_size": 24}


def chain_sum(seed: int = 0, **kw) -> ReasoningGymTask:
    return ReasoningGymTask("chain_sum", seed=seed, **{**SMALL, **kw})


@pytest.fixture(scope="module")
def task() -> ReasoningGymTask:
    return chain_sum()


@pytest.mark.parametrize("dataset", ["chain_sum", "basic_arithmetic", "letter_counting", "spell_backward"])
def test_gold_answers_score_one(dataset):
    t = ReasoningGymTask(dataset, seed=1, train_size=50, val_size=8, test_size=8)
    t.validate(n=8)
    problem = t.problems("val", 1)[0]
    score = t.score(problem, t.gold_completion(problem))
    assert score.reward == 1.0 and score.correct is True and "Correct" in score.feedback


def test_contract_attributes(task):
    assert isinstance(task, Task)
    assert task.name == "chain_sum" and task.seed_prompt == SEED_PROMPT and "chain_sum" in task.description
    assert "<answer>" in SEED_PROMPT
    assert chain_sum(seed_prompt="Add.").seed_prompt == "Add."
    messages = task.render(task.problems("val", 1)[0], "SYS")
    assert messages[0] == {"role": "system", "content": "SYS"} and messages[1]["role"] == "user"


def test_wrong_answer_scores_zero_and_names_both_answers(task):
    problem = task.problems("val", 1)[0]
    gold = problem.metadata["entry"]["answer"]
    wrong = str(int(gold) + 1)
    score = task.score(problem, f"Adding up... <answer>{gold}</answer> no wait <answer>{wrong}</answer>")
    assert score.reward == 0.0 and score.correct is False
    assert f'"{gold}"' in score.feedback and f'"{wrong}"' in score.feedback and "Wrong" in score.feedback


def test_last_answer_after_thinking_counts(task):
    problem = task.problems("val", 1)[0]
    gold = problem.metadata["entry"]["answer"]
    assert task.score(problem, f"<think><answer>0</answer> hmm</think> <answer> {gold} </answer>").correct is True
    only_in_thinking = task.score(problem, f"<think><answer>{gold}</answer></think> done")
    assert only_in_thinking.reward == 0.0 and "inside the thinking" in only_in_thinking.feedback


@pytest.mark.parametrize("completion, reason", [
    ("The sum is 12.", "no <answer>...</answer> tags were found"),
    ("Let me see <answer>1", "never closed"),
    ("<answer>  </answer>", "empty"),
])
def test_missing_answer_feedback(task, completion, reason):
    problem = task.problems("val", 1)[0]
    score = task.score(problem, completion)
    assert score.reward == 0.0 and score.correct is False
    assert "No answer found" in score.feedback and reason in score.feedback
    assert problem.metadata["entry"]["answer"] in score.feedback


def test_partial_credit_is_reward_but_not_correct(task):
    problem = task.problems("val", 1)[0]
    gold = problem.metadata["entry"]["answer"]
    score = task.score(problem, f"<answer>the answer is {gold}</answer>")
    assert 0.0 < score.reward < 1.0 and score.correct is False and not score.success
    assert "Partially correct" in score.feedback and "only the final answer" in score.feedback


def test_score_never_raises_on_junk(task):
    problem = task.problems("val", 1)[0]
    for junk in ["", "<answer>\x00\x01</answer>", "<answer>" + "9" * 5000 + "</answer>", None]:
        score = task.score(problem, junk)
        assert score.reward == 0.0 and score.correct is False


def test_deterministic_per_seed():
    a, b, c = chain_sum(seed=5), chain_sum(seed=5), chain_sum(seed=6)
    for split in SPLITS:
        assert [p.text for p in a.problems(split, 10)] == [p.text for p in b.problems(split, 10)]
        assert [p.text for p in a.problems(split, 10)] != [p.text for p in c.problems(split, 10)]


def test_splits_disjoint_and_ids_unique(task):
    texts = {split: [p.text for p in task.problems(split, 20)] for split in SPLITS}
    assert not set(texts["train"]) & set(texts["val"]) and not set(texts["train"]) & set(texts["test"])
    assert not set(texts["val"]) & set(texts["test"])
    assert len(set(texts["val"])) == 20 and len(set(texts["test"])) == 20  # held-out problems are distinct
    ids = [p.id for split in SPLITS for p in task.problems(split, 20)]
    assert len(set(ids)) == len(ids) and all(i.startswith("chain_sum/") for i in ids)


def test_train_excludes_held_out_questions_on_a_narrow_config():
    # two one-digit terms: ~200 distinct questions, so val/test take a large share and train must skip them
    t = ReasoningGymTask("chain_sum", min_terms=2, max_terms=2, min_digits=1, max_digits=1,
                         train_size=300, val_size=60, test_size=60)
    held_out = {p.text for s in ("val", "test") for p in t.problems(s, len(t._val if s == "val" else t._test))}
    train = t.problems("train", 100)
    assert held_out and not {p.text for p in train} & held_out
    assert t._train_scanned > 100  # some train items were skipped because val/test hold them


def test_prefix_stable_and_train_repeats_epochs_with_unique_ids():
    a, b = chain_sum(seed=2, train_size=30), chain_sum(seed=2, train_size=30)
    for split in SPLITS:
        assert a.problems(split, 20) == b.problems(split, 5) + b.problems(split, 20)[5:]
    train = a.problems("train", 75)
    epoch = len(a._train)
    assert epoch <= 30 and len(train) == 75 and len({p.id for p in train}) == 75
    assert [p.text for p in train[epoch: 2 * epoch]] == [p.text for p in train[:epoch]]


def test_too_many_held_out_problems_is_a_value_error(task):
    with pytest.raises(ValueError, match=r"asked for 25 val problems, the val split holds 24"):
        task.problems("val", 25)
    with pytest.raises(ValueError, match="unknown split"):
        task.problems("dev", 1)


def test_unknown_dataset_lists_names():
    with pytest.raises(FastSlowError, match=r"unknown reasoning-gym dataset 'chain_summ'.*chain_sum.*basic_arithmetic"):
        ReasoningGymTask("chain_summ")


@pytest.mark.parametrize("config, pattern", [
    ({"min_term": 3}, r"'chain_sum' has no config key 'min_term' \(did you mean min_terms"),
    ({"size": 10}, r"'chain_sum': config key 'size' is set by the task"),
    ({"min_terms": 0}, r"'chain_sum' rejected config \{'min_terms': 0\}.*min_terms must be positive"),
])
def test_bad_config_names_dataset_and_key(config, pattern):
    with pytest.raises(ReasoningGymConfigError, match=pattern):
        ReasoningGymTask("chain_sum", **config)


def test_config_passes_through_to_the_dataset(task):
    five = chain_sum(min_terms=5, max_terms=5)
    terms = [len(re.findall(r"\d+", p.text)) for p in five.problems("train", 20)]
    assert terms == [5] * 20
    assert [len(re.findall(r"\d+", p.text)) for p in task.problems("train", 20)] != terms
    assert five.problems("val", 1)[0].metadata["entry"]["metadata"]["num_terms"] == 5


def test_metadata_entry_is_json_and_scores_after_a_round_trip(task):
    problem = task.problems("test", 1)[0]
    entry = json.loads(json.dumps(dict(problem.metadata)))["entry"]
    assert entry["question"] == problem.text
    stored = type(problem)(problem.id, problem.text, {"entry": entry, "split": "test"})
    assert task.score(stored, task.gold_completion(problem)).correct is True


def test_load_task_through_the_registry():
    t = load_task("reasoning_gym/chain_sum", {"min_terms": 2, "max_terms": 2, **SMALL}, seed=3)
    assert isinstance(t, ReasoningGymTask) and t.seed == 3 and t.config == {"min_terms": 2, "max_terms": 2}
    assert all(p.metadata["entry"]["metadata"]["num_terms"] == 2 for p in t.problems("train", 10))
    assert [p.text for p in t.problems("val", 5)] == [p.text for p in chain_sum(seed=3, min_terms=2,
                                                                                 max_terms=2).problems("val", 5)]
    with pytest.raises(FastSlowError, match="unknown reasoning-gym dataset"):
        load_task("reasoning_gym/no_such_dataset")


def test_last_number_answer_format_reads_the_final_number():
    task = load_task("reasoning_gym/chain_sum", {"answer_format": "last_number", "min_terms": 2, "max_terms": 2,
                                                 "min_digits": 1, "max_digits": 1, "val_size": 32, "test_size": 16})
    task.validate(8)
    problem = task.problems("val", 1)[0]
    gold = str(problem.metadata["entry"]["answer"])
    assert task.score(problem, f"First 1 + 1 = 2, so the answer is {gold}").reward == 1.0
    wrong = task.score(problem, f"The answer is {int(gold) + 1}.")
    assert wrong.reward == 0.0 and f'"{gold}"' in wrong.feedback and f'"{int(gold) + 1}"' in wrong.feedback
    assert "no number" in task.score(problem, "I do not know").feedback
    assert "number alone" in task.seed_prompt


def test_unknown_answer_format_is_an_error():
    with pytest.raises(FastSlowError, match="answer_format"):
        load_task("reasoning_gym/chain_sum", {"answer_format": "boxed"})
