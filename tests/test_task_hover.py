"""The hover family: BM25 multi-hop retrieval over the hand-written fixture in tests/fixtures/hover."""

import json
from pathlib import Path

import pytest

from fastslow.tasks import SPLITS, Problem, load_task
from fastslow.tasks.hover import SEED_PROMPT, HoverTask, extract_query
from fastslow.tasks.jsonl import DatasetError
from fastslow.tasks.retrieval import BM25Index

FIXTURE = Path(__file__).parent / "fixtures" / "hover"
CLAIMS, CORPUS = FIXTURE / "claims.jsonl", FIXTURE / "corpus.jsonl"
K = {"first_hop_k": 3, "second_hop_k": 3}


def make(**kw) -> HoverTask:
    return HoverTask(str(CLAIMS), str(CORPUS), **{**K, **kw})


@pytest.fixture(scope="module")
def task() -> HoverTask:
    return make()


def all_problems(task) -> list[Problem]:
    return [p for split in SPLITS for p in task.problems(split, task.size(split))]


def partly_found(task) -> Problem:
    """A problem whose first hop found some but not all supporting titles."""
    for p in all_problems(task):
        first = set(p.metadata["first_hop_titles"])
        if 0 < sum(t in first for t in p.metadata["supporting_titles"]) < len(p.metadata["supporting_titles"]):
            return p
    raise AssertionError("the fixture has no partly-found claim")


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_validate_passes_and_gold_queries_really_retrieve(task):
    task.validate()
    for p in all_problems(task):
        first = set(p.metadata["first_hop_titles"])
        missing = [t for t in p.metadata["supporting_titles"] if t not in first]
        assert missing, f"fixture claim {p.metadata['row_id']} is fully found by the first hop"
        query, _ = extract_query(task.gold_completion(p))
        assert set(missing) <= set(task.index.search(query, task.second_hop_k))


def test_problem_text_shows_the_claim_and_the_first_hop(task):
    p = task.problems("train", 1)[0]
    assert p.id.startswith("hover/")
    assert p.text.startswith(f"Claim: {p.metadata['claim']}")
    assert list(p.metadata["first_hop_titles"]) == task.index.search(p.metadata["claim"], 3)
    for i, title in enumerate(p.metadata["first_hop_titles"], 1):
        assert f"\n{i}. {title}: " in p.text
    assert "fenced code block" in p.text
    messages = task.render(p, task.seed_prompt)
    assert [m["role"] for m in messages] == ["system", "user"] and messages[0]["content"] == SEED_PROMPT


def test_bad_query_scores_zero_and_feedback_names_found_missing_and_query(task):
    p = partly_found(task)
    gold, first = p.metadata["supporting_titles"], set(p.metadata["first_hop_titles"])
    found, missing = [t for t in gold if t in first], [t for t in gold if t not in first]
    score = task.score(p, "I will search for this.\n```\nweather forecast today\n```")
    assert score.reward == 0.0 and score.correct is False
    assert "Query: 'weather forecast today'" in score.feedback
    assert f"Retrieved {len(found)} of {len(gold)} supporting articles" in score.feedback
    assert f"Found: {', '.join(found)}." in score.feedback
    assert f"Missing: {', '.join(missing)}." in score.feedback
    gold_score = task.score(p, task.gold_completion(p))
    assert gold_score.reward == 1.0 and gold_score.correct is True and "Missing: none" in gold_score.feedback


def test_missing_unclosed_or_empty_block_scores_zero_and_says_why(task):
    p = partly_found(task)
    missing = [t for t in p.metadata["supporting_titles"] if t not in p.metadata["first_hop_titles"]]
    bare = " ".join(missing)  # the right query, but not fenced
    for completion, why in [(bare, "no fenced query found"), ("```\n" + bare, "never closed"),
                            ("```\n\n```", "empty"), ("``````", "empty"), ("", "no fenced query found"),
                            (None, "no fenced query found"),
                            ("<think>```\n" + bare + "\n```</think> done", "no fenced query found")]:
        score = task.score(p, completion)
        assert score.reward == 0.0 and score.correct is False, completion
        assert why in score.feedback and missing[0] in score.feedback, score.feedback


def test_extraction_takes_the_last_complete_block():
    assert extract_query("```\nfirst\n```\nthen\n```text\nsecond  query\nline two\n```") == (
        "second query line two", "")
    assert extract_query("```one line```") == ("one line", "")
    assert extract_query("```\nkept\n``` and an unclosed ```\ntail") == ("kept", "")
    assert extract_query("<think>```\ndraft\n```</think>\n```\nfinal\n```") == ("final", "")


def test_last_block_decides_the_score(task):
    p = partly_found(task)
    gold = task.gold_completion(p)
    assert task.score(p, "```\nweather\n```\n" + gold).reward == 1.0
    assert task.score(p, gold + "\n```\nweather\n```").reward == 0.0


def test_recall_reward_is_a_fraction_and_correct_stays_strict():
    recall = make(reward="recall")
    p = partly_found(recall)
    gold, first = p.metadata["supporting_titles"], set(p.metadata["first_hop_titles"])
    score = recall.score(p, "```\nweather forecast today\n```")
    assert score.reward == pytest.approx(sum(t in first for t in gold) / len(gold))
    assert 0 < score.reward < 1 and score.correct is False and not score.success
    gold_score = recall.score(p, recall.gold_completion(p))
    assert gold_score.reward == 1.0 and gold_score.correct is True
    assert make().score(p, "```\nweather forecast today\n```").reward == 0.0  # strict on the same answer


def test_problems_are_deterministic_and_prefix_stable():
    a, b = make(seed=3), make(seed=3)
    for split in SPLITS:
        n = a.size(split)
        assert a.problems(split, n) == b.problems(split, n)
        assert a.problems(split, n - 1) == a.problems(split, n)[: n - 1]
    orders = {tuple(p.metadata["row_id"] for p in make(seed=s).problems("train", 14)) for s in range(4)}
    assert len(orders) > 1  # the seed really shuffles


def test_splits_are_disjoint_and_cover_the_claims(task):
    claims = {split: [p.metadata["claim"] for p in task.problems(split, task.size(split))] for split in SPLITS}
    assert (task.size("train"), task.size("val"), task.size("test")) == (14, 2, 2)
    assert not set(claims["train"]) & set(claims["val"]) and not set(claims["train"]) & set(claims["test"])
    assert not set(claims["val"]) & set(claims["test"])
    assert sum(map(len, claims.values())) == 18 == len(set().union(*map(set, claims.values())))
    ids = [p.id for p in all_problems(task)]
    assert len(set(ids)) == len(ids) and all(i.startswith("hover/") for i in ids)
    with pytest.raises(ValueError, match="asked for 3 val problems, the val split holds 2"):
        task.problems("val", 3)


def test_hard_keeps_only_claims_the_first_hop_misses():
    wide = make(first_hop_k=8, val=1, test=1)
    hard = make(first_hop_k=8, val=1, test=1, hard=True)
    n_all, n_hard = (sum(t.size(s) for s in SPLITS) for t in (wide, hard))
    assert n_hard < n_all == 18
    for split in SPLITS:
        kept = hard.problems(split, hard.size(split))
        assert [p.id for p in kept] == [f"hover/{split}/{i}" for i in range(len(kept))]
        for p in kept:
            assert set(p.metadata["supporting_titles"]) - set(p.metadata["first_hop_titles"])
        full = {p.metadata["claim"] for p in wide.problems(split, wide.size(split))}
        assert {p.metadata["claim"] for p in kept} <= full  # same split as in the full variant


def test_load_task_by_id_with_seed_and_seed_prompt():
    args = {"claims_path": str(CLAIMS), "corpus_path": str(CORPUS), **K}
    task = load_task("hover", args, seed=5)
    assert isinstance(task, HoverTask) and task.name == "hover" and task.seed == 5
    assert task.seed_prompt == SEED_PROMPT and "BM25" in task.description
    assert load_task("hover", {**args, "seed_prompt": "Search well."}).seed_prompt == "Search well."
    assert load_task("hover", args, seed_prompt="Other.").seed_prompt == "Other."


def test_claim_row_without_supporting_titles_names_file_and_line(tmp_path):
    rows = [json.loads(line) for line in CLAIMS.read_text().splitlines()[:3]]
    del rows[1]["supporting_titles"]
    bad = write_jsonl(tmp_path / "claims.jsonl", rows)
    with pytest.raises(DatasetError, match=r"claims\.jsonl:2: missing field 'supporting_titles'"):
        HoverTask(str(bad), str(CORPUS))


def test_supporting_title_absent_from_corpus_is_named(tmp_path):
    rows = [json.loads(line) for line in CLAIMS.read_text().splitlines()[:3]]
    rows[2]["supporting_titles"].append("Atlantis")
    bad = write_jsonl(tmp_path / "claims.jsonl", rows)
    with pytest.raises(DatasetError, match=r"claims\.jsonl:3: supporting title 'Atlantis' is not in the corpus"):
        HoverTask(str(bad), str(CORPUS))


def test_duplicate_corpus_title_and_bad_options_are_rejected(tmp_path):
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    bad = write_jsonl(tmp_path / "corpus.jsonl", rows + [{"title": "Aldmoor", "text": "again"}])
    with pytest.raises(DatasetError, match=rf"corpus\.jsonl:{len(rows) + 1}: duplicate title 'Aldmoor'"):
        HoverTask(str(CLAIMS), str(bad))
    with pytest.raises(ValueError, match="reward must be one of strict, recall"):
        make(reward="f1")
    with pytest.raises(ValueError, match="second_hop_k must be a positive integer"):
        make(second_hop_k=0)


def test_bm25_ranking_is_deterministic_and_skips_non_matches():
    index = BM25Index(["B", "A", "C", "D"], ["red fox", "red fox", "blue whale", "green frog"])
    assert index.search("red fox", 5) == ["B", "A"]  # a tie keeps corpus order; zero scores are not retrieved
    assert index.search("whale whale red", 1) == ["C"]
    assert index.search("the and of", 3) == [] and index.search("", 3) == [] and index.search("zebra", 3) == []
