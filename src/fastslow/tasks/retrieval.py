"""A small BM25 retriever over a title-keyed corpus, built on the ``bm25s`` library.

The HoVer task needs one thing from retrieval: "which article titles does this query return, in order". This
module answers exactly that, and pins down every choice that would otherwise make a reward depend on the
machine it was computed on:

* **Scoring** is bm25s's own (Lucene variant, k1=1.5, b=0.75): no hand-written BM25. Each article is indexed
  as ``"<title>. <text>"``, so a query that names an article's exact title hits it through its title words even
  when its body says little.
* **Tokenizer**: bm25s's ``tokenize`` with its defaults (lower-casing, tokens of two or more word characters)
  and its English stopword list, and **no stemmer**. A stemmer (PyStemmer) is an optional extra package; using
  it only when installed would make the same query score differently on two machines. Without one, "river"
  does not match "rivers" - the policy learns to write the words the articles use, which is what the paper's
  evolved prompt asks for anyway (exact canonical titles).
* **Ranking** is done here from ``BM25.get_scores`` with a fixed tie-break (higher score first, then corpus
  order), and an article whose score is 0 (it shares no query word) is never "retrieved". bm25s's own top-k
  leaves the order of tied scores to numpy and would pad a short result list with zero-score articles.
  Repeated query words count repeatedly (bm25s sums over the query tokens).

The index is built once and is read-only afterwards; building it is deterministic (same corpus, same index).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STOPWORDS = "en"


def tokenize_query(query: str) -> list[str]:
    """The tokens of ``query`` exactly as the index tokenized the corpus (see the module docstring)."""
    import bm25s

    return bm25s.tokenize([query], stopwords=STOPWORDS, return_ids=False, show_progress=False)[0]


class BM25Index:
    """BM25 over ``titles[i] + ". " + texts[i]``; ``search`` returns titles, best first."""

    def __init__(self, titles: Sequence[str], texts: Sequence[str]):
        import bm25s  # imported here so that importing fastslow.tasks never needs the optional dependency

        if len(titles) != len(texts) or not titles:
            raise ValueError("BM25Index needs one text per title and at least one article")
        self.titles = list(titles)
        documents = [f"{title}. {text}" for title, text in zip(titles, texts)]
        self._model = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        self._model.index(bm25s.tokenize(documents, stopwords=STOPWORDS, show_progress=False), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every article for ``query`` (all zeros when no query word is in the corpus)."""
        ids = self._model.get_tokens_ids(tokenize_query(query))
        if not ids:  # bm25s fails on an empty query; a query of only stopwords / unknown words matches nothing
            return np.zeros(len(self.titles), dtype=np.float32)
        return np.asarray(self._model.get_scores(ids), dtype=np.float32)

    def search(self, query: str, k: int) -> list[str]:
        """Titles of the (at most) ``k`` best articles with a positive score; ties keep corpus order."""
        scores = self.scores(query)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:  # keep everything tied with the k-th best, then order exactly: O(corpus), not a sort
            kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[scores[candidates] >= kth]
        order = candidates[np.lexsort((candidates, -scores[candidates]))]  # score desc, then corpus order
        return [self.titles[i] for i in order[:k]]
