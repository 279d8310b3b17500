"""Neighbour expansion: the chunk after (or before) the top hit joins the contexts when the hit's
evidence sits at its edge, so a list announced at the end of one chunk arrives with its items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from langchain_core.documents import Document

from bot.answering.evidence import best_sentence, passage_context
from bot.answering.question import Query
from core.grammar import split_sentences
from ingest.fusion import Scored

# (source, chunk index) -> that chunk, or None
ChunkLookup = Callable[[str, int], Optional[Document]]

NEIGHBOUR_DISCOUNT = 0.99  # a neighbour ranks just below the hit it continues
WIDENED = 1  # top hits that are widened (the rest are alternatives, not continuations)


def expand_neighbours(query: Query, ranked: list[Scored], chunk: ChunkLookup) -> list[Scored]:
    """ranked, then the neighbouring chunk of a top hit whose best sentence sits at its edge."""
    if not ranked:
        return ranked
    seen = {d.metadata["id"] for d, _ in ranked}
    out: list[Scored] = list(ranked)
    # Neighbours go after the ranked list so the ranks of retrieved passages stay as they are.
    for doc, score in ranked[:WIDENED]:
        _, _, _, idx = best_sentence(query, doc.page_content, passage_context(doc))
        n_sent = len(split_sentences(doc.page_content))
        for step, at_edge in ((-1, idx == 0), (1, idx >= n_sent - 1 or announces_more(doc.page_content))):
            if not at_edge:
                continue
            nb = chunk(doc.metadata["source"], int(doc.metadata["chunk_index"]) + step)
            if (
                nb is not None
                and nb.metadata["id"] not in seen
                and nb.metadata.get("section") == doc.metadata.get("section")
            ):
                seen.add(nb.metadata["id"])
                out.append((nb, score * NEIGHBOUR_DISCOUNT))
    return out


def announces_more(text: str) -> bool:
    """A chunk that ends on a colon promises a list that continues in the next chunk."""
    return text.rstrip().endswith(("：", ":"))
