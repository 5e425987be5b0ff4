"""HoVer-style multi-hop claim verification retrieval: write ONE follow-up BM25 query (paper §4.3).

A claim such as "the director of X was born in the home city of club Y" needs several encyclopedia articles, linked
by a *bridge* entity the claim describes but does not name. A first keyword search on the claim finds some of them;
the policy sees the claim plus a short summary of that first search and must write one follow-up query that
fetches the rest. This is the FST paper's HoVer task; its corpus (Wikipedia abstracts) and claims (HoVer) are not
available offline, so the family reads both from local JSONL files:

* claims: ``{"claim": str, "supporting_titles": [str, ...]}`` (+ optional ``"id"``, ``"label"``, kept in the
  metadata). Every supporting title must be a corpus title; the data is rejected otherwise, naming file:line.
* corpus: ``{"title": str, "text": str}``, titles distinct.

Retrieval is real BM25 (``fastslow.tasks.retrieval``, on the ``bm25s`` library) over "title. text". The index is
built once per task, lazily, on the first call that needs it (constructing a task to list or validate a config
should not pay for indexing a large corpus). The first hop (BM25 on the claim, top ``first_hop_k``) is run when
the problems are built and its summary is part of the problem text, so the policy and the verifier see the same
first search.

Extraction rule (documented because the policy has to learn it): the query is the content of the **last complete**
fenced code block (a pair of triple backticks) of the completion, after any ``</think>``. A language tag on the
opening fence line (```` ```text ````) is dropped, lines are joined by spaces. No complete block, or an empty one,
scores 0 with feedback saying so.

Reward: the retrieved set is the first-hop titles plus the follow-up query's top ``second_hop_k``. ``"strict"``
(default, GEPA / LangProBe's HoVer metric): 1 when every supporting title is retrieved, else 0. ``"recall"``: the
fraction retrieved. ``correct`` is always the strict outcome, so accuracy stays "fraction fully retrieved" when the
reward is shaped. Feedback repeats the query and names the supporting articles found and missing, as GEPA's HoVer
feedback does.

``hard=True`` keeps only claims whose first hop misses a supporting article (our reading of "HoVer-hard"; the paper
does not define it): on the others any query scores 1. It filters within the full data set's splits, so ``val`` and
``test`` sizes count all claims and a hard split can come out smaller.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import replace

from fastslow.errors import FastSlowError
from fastslow.tasks.answers import after_thinking, shorten
from fastslow.tasks.base import Problem, Score
from fastslow.tasks.jsonl import DatasetError, read_jsonl
from fastslow.tasks.pool import PoolTask
from fastslow.tasks.retrieval import BM25Index

SEED_PROMPT = (
    "You are a research assistant who checks multi-hop claims against an encyclopedia. You are given a claim and "
    "a summary of the articles that a first keyword search on the claim returned. Checking the claim needs several "
    "articles, and some of them have not been found yet: usually the ones about a person, place or work that the "
    "claim only describes without naming. Work out which articles are still missing and write a single follow-up "
    "search query that will retrieve them. Reply with the query alone inside a fenced code block, for example:\n"
    "```\nyour search query\n```"
)
REWARDS = ("strict", "recall")
_LANG_TAG = re.compile(r"^[\w+#.-]*$")


class HoverArgsError(FastSlowError, ValueError):
    """A hover ``task.args`` value is out of range (the message names the argument)."""


def extract_query(completion: str) -> tuple[str | None, str]:
    """(query, "") from the last complete fenced block of ``completion`` (module docstring), or (None, why not)."""
    text = after_thinking(str(completion))
    parts = text.split("```")
    blocks = parts[1 : len(parts) - 1 : 2]  # odd parts lie between an opening and a closing fence
    if not blocks:
        if len(parts) > 1:
            return None, "a fenced block was opened but never closed (the answer may have been cut off)"
        return None, "no fenced query found (write the query inside a ``` fenced code block)"
    body = blocks[-1]
    first_line, newline, rest = body.partition("\n")
    if newline and _LANG_TAG.match(first_line.strip()):
        body = rest
    query = " ".join(body.split())
    if not query:
        return None, "the last fenced block is empty"
    return query, ""


def _titles(titles: Sequence[str]) -> str:
    return ", ".join(titles) if titles else "none"


class HoverTask(PoolTask):
    """Multi-hop retrieval: claims from ``claims_path``, articles from ``corpus_path`` (module docstring).

    ``val`` / ``test`` are counts (int) or fractions (float) of the distinct claims; None = 10%, at most 100.
    ``snippet_words`` bounds each first-hop article's snippet in the problem text.
    """

    def __init__(self, claims_path: str, corpus_path: str, *, seed: int = 0, seed_prompt: str | None = None,
                 first_hop_k: int = 7, second_hop_k: int = 7, reward: str = "strict", hard: bool = False,
                 val: int | float | None = None, test: int | float | None = None, snippet_words: int = 30,
                 name: str = "hover"):
        if reward not in REWARDS:
            raise HoverArgsError(f"task {name}: reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        for key, value in (("first_hop_k", first_hop_k), ("second_hop_k", second_hop_k),
                           ("snippet_words", snippet_words)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HoverArgsError(f"task {name}: {key} must be a positive integer, got {value!r}")
        self.name, self.seed = name, seed
        self.seed_prompt = SEED_PROMPT if seed_prompt is None else seed_prompt
        self.first_hop_k, self.second_hop_k, self.reward, self.hard = first_hop_k, second_hop_k, reward, hard
        self.snippet_words, self._val, self._test = snippet_words, val, test
        self.description = (f"multi-hop retrieval over {corpus_path}: one follow-up BM25 query in a fenced block "
                            f"({reward} reward, k={first_hop_k}+{second_hop_k})")
        self.titles, self.texts = _read_corpus(corpus_path)
        self._position = {title: i for i, title in enumerate(self.titles)}
        self.claims = _read_claims(claims_path, set(self.titles), corpus_path)
        self._index: BM25Index | None = None
        self._pool_cache: dict[str, list[Problem]] | None = None
        self._lock = threading.Lock()

    # -- lazy state: the BM25 index and the problems built from it --------------------------------------------
    @property
    def index(self) -> BM25Index:
        with self._lock:
            if self._index is None:
                self._index = BM25Index(self.titles, self.texts)
            return self._index

    @property
    def _pool(self) -> dict[str, list[Problem]]:
        """Problems per split, built on first use. ``hard`` filters *within* the splits of the full pool, so a claim
        has the same split in the hover and hover-hard variants of one data set (no train/test leak between them)."""
        if self._pool_cache is None:
            problems = [self._problem(row) for row in self.claims]
            pool = self._split(problems, [p.metadata["claim"] for p in problems], self.seed, self._val, self._test)
            if self.hard:
                pool = {split: [replace(p, id=f"{self.name}/{split}/{i}") for i, p in enumerate(
                    p for p in items if set(p.metadata["supporting_titles"]) - set(p.metadata["first_hop_titles"]))]
                    for split, items in pool.items()}
                if not any(pool.values()):
                    raise HoverArgsError(f"task {self.name}: hard=True leaves no claims (the first search already "
                                         f"retrieves every supporting article at first_hop_k={self.first_hop_k})")
            with self._lock:
                self._pool_cache = self._pool_cache or pool
        return self._pool_cache

    def _problem(self, row: dict) -> Problem:
        first = self.index.search(row["claim"], self.first_hop_k)
        text = f"Claim: {row['claim']}\n\n"
        if first:
            text += "A first keyword search on the claim returned these articles:\n" + "\n".join(
                f"{i}. {title}: {self._snippet(title)}" for i, title in enumerate(first, 1))
        else:
            text += "A first keyword search on the claim returned no articles."
        text += ("\n\nWrite one follow-up search query that retrieves the other articles needed to verify the claim, "
                 "inside a fenced code block.")
        return Problem(id="", text=text, metadata={
            "claim": row["claim"], "supporting_titles": tuple(row["supporting_titles"]),
            "first_hop_titles": tuple(first), "label": row.get("label"), "row_id": row.get("id"),
            "source": row["source"]})

    def _snippet(self, title: str) -> str:
        words = self.texts[self._position[title]].split()
        return " ".join(words[: self.snippet_words]) + (" ..." if len(words) > self.snippet_words else "")

    # -- the verifier -------------------------------------------------------------------------------------------
    def score(self, problem: Problem, completion: str) -> Score:
        gold = list(problem.metadata["supporting_titles"])
        first = set(problem.metadata["first_hop_titles"])
        query, why = extract_query(completion)
        if query is None:
            return Score(0.0, f"Incorrect: {why}. The first search had found "
                              f"{sum(t in first for t in gold)} of {len(gold)} supporting articles "
                              f"(found: {_titles([t for t in gold if t in first])}); the query should retrieve the "
                              f"missing ones: {_titles([t for t in gold if t not in first])}.", False)
        second = self.index.search(query, self.second_hop_k)
        retrieved = first | set(second)
        found = [t for t in gold if t in retrieved]
        missing = [t for t in gold if t not in retrieved]
        reward = (1.0 if not missing else 0.0) if self.reward == "strict" else len(found) / len(gold)
        verdict = (f"Retrieved all {len(gold)} supporting articles" if not missing
                   else f"Retrieved {len(found)} of {len(gold)} supporting articles")
        returned = _titles(second) if second else "nothing (no query word occurs in the corpus)"
        feedback = (f"Query: {shorten(query)!r}. {verdict}. Found: {_titles(found)}. Missing: {_titles(missing)}. "
                    f"The follow-up search returned: {returned}.")
        return Score(reward, feedback, not missing)

    def gold_completion(self, problem: Problem) -> str:
        """A query that retrieves every missing supporting article: their exact titles, or failing that (a title
        made of common words can lose to other articles) the titles plus the articles' own text. One BM25 query
        cannot be guaranteed to reach every gold set (more missing titles than ``second_hop_k``, near-duplicate
        articles), so ``validate()`` doubles as a check that the data is solvable at this ``second_hop_k``."""
        first = set(problem.metadata["first_hop_titles"])
        missing = [t for t in problem.metadata["supporting_titles"] if t not in first]
        if not missing:
            return "```\n" + problem.metadata["claim"] + "\n```"
        candidates = [" ".join(missing),
                      " ".join(missing + [self.texts[self._position[t]] for t in missing])]
        for query in candidates:
            if set(missing) <= set(self.index.search(query, self.second_hop_k)):
                return f"```\n{query}\n```"
        return f"```\n{candidates[0]}\n```"


def _read_corpus(path: str) -> tuple[list[str], list[str]]:
    titles, texts, seen = [], [], {}
    for row in read_jsonl(path, required=["title", "text"], what="hover corpus"):
        where = f"{path}:{row['_line']}"
        title = str(row["title"]).strip()
        if not title:
            raise DatasetError(f"{where}: empty 'title'")
        if title in seen:
            raise DatasetError(f"{where}: duplicate title {title!r} (first at line {seen[title]})")
        seen[title] = row["_line"]
        titles.append(title)
        texts.append(str(row["text"]).strip())
    return titles, texts


def _read_claims(path: str, corpus_titles: set[str], corpus_path: str) -> list[dict]:
    claims = []
    for row in read_jsonl(path, required=["claim", "supporting_titles"], what="hover claims"):
        where = f"{path}:{row['_line']}"
        claim, titles = str(row["claim"]).strip(), row["supporting_titles"]
        if not claim:
            raise DatasetError(f"{where}: empty 'claim'")
        if (not isinstance(titles, list) or not titles
                or not all(isinstance(t, str) and t.strip() for t in titles)):
            raise DatasetError(f"{where}: 'supporting_titles' must be a non-empty list of titles, got {titles!r}")
        titles = list(dict.fromkeys(t.strip() for t in titles))
        for title in titles:
            if title not in corpus_titles:
                raise DatasetError(f"{where}: supporting title {title!r} is not in the corpus {corpus_path}")
        claims.append({**row, "claim": claim, "supporting_titles": titles, "source": where})
    return claims
