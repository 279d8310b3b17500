"""Reciprocal-rank fusion of ranked lists: the one place dense and BM25 rankings become one.

It sits below the bot so that both `python -m ingest search` and the bot's hybrid retriever use it.
"""

from __future__ import annotations

from langchain_core.documents import Document

Scored = tuple[Document, float]


def reciprocal_rank_fusion(ranked: list[list[Scored]], weights: list[float], k: int = 60) -> list[Scored]:
    """Fuse ranked lists by weighted reciprocal rank; documents are matched by their chunk id."""
    scores: dict[str, float] = {}
    docs: dict[str, Document] = {}
    for hits, weight in zip(ranked, weights):
        for rank, (doc, _) in enumerate(hits):
            cid = doc.metadata["id"]
            docs.setdefault(cid, doc)
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank + 1)
    order = sorted(scores, key=lambda c: scores[c], reverse=True)
    return [(docs[c], scores[c]) for c in order]
