"""Answer candidates from ranked passages: each sentence, each pair of adjacent sentences, and clause
windows of long sentences, with their offsets into the passage and where the passage ranked."""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.documents import Document

from core.grammar import compact, split_sentences
from ingest.instructions import is_instruction

Scored = tuple[Document, float]

LONG_SENTENCE = 60
"""A sentence longer than this (characters) also yields clause windows."""
MAX_CLAUSES = 2
"""Most consecutive clauses in one clause window."""
MIN_WINDOW = 6
"""Shortest clause window kept (characters)."""
MAX_PAIR = 160
"""Longest two-sentence window kept (characters)."""
# Clause ends inside a sentence; not ASCII ":" (it sits inside times like 9:00).
CLAUSE_END = re.compile(r"(?<=[，、：；,;])")

SENTENCE = "sentence"
PAIR = "pair"
CLAUSE = "clause"


@dataclass(frozen=True)
class Candidate:
    """A stretch of one passage that may be shown as the answer."""

    text: str
    passage: int  # index of the passage in the ranked list (its rank)
    start: int  # offsets into the passage's page_content
    end: int
    kind: str  # sentence, pair or clause
    sentence: int  # index of its (first) sentence in the passage
    n_sentences: int  # sentences in the passage
    fused: float  # the passage's retrieval score
    title: str = ""
    section: str = ""


def separator_row(line: str) -> bool:
    """A markdown table's separator row (| --- | --- |)."""
    return bool(line.strip()) and set(line.strip()) <= set("|-: ")


def _header_row(text: str, s: int, e: int) -> bool:
    """Whether text[s:e] is a table's header row: a row the separator row follows. It names the columns and
    states nothing, so it is no answer (the rows it labels are, written as labelled pairs)."""
    if not text[s:e].lstrip().startswith("|"):
        return False
    rest = text[e:].lstrip("\n").split("\n", 1)[0]
    return separator_row(rest)


def _adjacent(text: str, end: int, start: int) -> bool:
    """Whether nothing but blank or separator lines lies between two sentences (a pair never spans a dropped
    header row: "二、学习安排" and the first row below the column names are no pair)."""
    return all(not line.strip() or separator_row(line) for line in text[end:start].split("\n"))


def passage_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage, table separator and header rows dropped, and so is document text that
    addresses the assistant (ingest.instructions): it is never an answer (issue 10 item 4)."""
    return [
        (s, e)
        for s, e in split_sentences(text)
        if not separator_row(text[s:e]) and not _header_row(text, s, e) and not is_instruction(text[s:e])
    ]


def clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the clauses of text[start:end] (split after ，、：；)."""
    spans, at = [], start
    for piece in CLAUSE_END.split(text[start:end]):
        if piece:
            spans.append((at, at + len(piece)))
            at += len(piece)
    return spans


def _windows(text: str, s: int, e: int, *, max_clauses: int, min_window: int) -> list[tuple[int, int]]:
    clauses = clause_spans(text, s, e)
    out = []
    for i in range(len(clauses)):
        for j in range(i + 1, min(len(clauses), i + max_clauses) + 1):
            ws, we = clauses[i][0], clauses[j - 1][1]
            if (ws, we) == (s, e):
                continue
            window = text[ws:we].rstrip("，、：；,;")
            if len(compact(window)) >= min_window:
                out.append((ws, ws + len(window)))
    return out


def build_candidates(
    contexts: list[Scored],
    *,
    top_k: int = 5,
    long_sentence: int = LONG_SENTENCE,
    max_clauses: int = MAX_CLAUSES,
    min_window: int = MIN_WINDOW,
    max_pair: int = MAX_PAIR,
) -> list[Candidate]:
    """Candidates of the first top_k passages, in passage order; a text already seen (chunk overlap) is skipped."""
    out: list[Candidate] = []
    seen: set[str] = set()

    def add(doc: Document, rank: int, fused: float, s: int, e: int, kind: str, idx: int, n: int) -> None:
        key = compact(doc.page_content[s:e])
        if not key or key in seen:
            return
        seen.add(key)
        meta = doc.metadata
        out.append(
            Candidate(
                doc.page_content[s:e],
                rank,
                s,
                e,
                kind,
                idx,
                n,
                float(fused),
                str(meta.get("title", "") or ""),
                str(meta.get("section", "") or ""),
            )
        )

    for rank, (doc, fused) in enumerate(contexts[:top_k]):
        text = doc.page_content
        spans = passage_sentences(text)
        n = len(spans)
        for i, (s, e) in enumerate(spans):
            add(doc, rank, fused, s, e, SENTENCE, i, n)
            row = text[s:e].startswith("|")
            if (
                i + 1 < n
                and spans[i + 1][1] - s <= max_pair
                and _adjacent(text, e, spans[i + 1][0])
                and not (row and text[spans[i + 1][0] : spans[i + 1][1]].startswith("|"))  # two rows: two facts
            ):
                add(doc, rank, fused, s, spans[i + 1][1], PAIR, i, n)
            if e - s > long_sentence and not row:  # a table row is one fact: never cut
                for ws, we in _windows(text, s, e, max_clauses=max_clauses, min_window=min_window):
                    add(doc, rank, fused, ws, we, CLAUSE, i, n)
    return out
