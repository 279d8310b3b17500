"""Citation verification for every answer, from either answerer.

A [n] that points to no provided source is removed. Every sentence is checked against
the sources it cites: enough of its character bigrams must occur in them, and every
number in it must occur in them as a whole number (a changed number is the commonest fabrication; 5元 is
not in 50元).
A table row written as labelled pairs (课程：…；授课人：…；学时：2[1]。) is one claim.
Citations are renumbered 1..m in order of first use.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from langchain_core.documents import Document

from core.grammar import char_ngrams, compact, holds_number, split_sentences

MARKER = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]|【(\d+)】")  # as models write them
CITE = re.compile(r"\[(\d+)\]")  # one citation as this project writes it: [n]
NUMBER = re.compile(r"\d+(?:\.\d+)*")  # 2024.11.15 is one number: the sources must hold all of it
# The ASCII comma of 1,000 (a writer's choice, not a number); a full-width one separates a list (10，100，200).
DIGIT_GROUP = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Sentences that are the answer's own frame, not claims about the materials: a heading, a refusal (for one part of
# a compound question, after its lead: drafts.part_lead), a rejected instruction.
FRAME = re.compile(r"^(#|(问“[^”]*”：)?资料中没有|这个问题试图)")
# The label before a related passage is frame; the passage after it is a claim and is checked.
RELATED = re.compile(r"^相关内容（[^）]*）[:：]")
# One labelled pair of a table row before its last ("授课人：区农业农村局负责同志；"): the row's [n] stands
# at its end, so the pair is checked together with the rest of the row.
LABELLED_PAIR = re.compile(r"^[^：:；;。！？!?\[\]【】]{1,12}[：:][^；;。！？!?\[\]【】]+[；;]$")


@dataclass
class Verified:
    text: str
    citations: list[dict]
    unsupported: list[str] = field(default_factory=list)
    removed_markers: list[int] = field(default_factory=list)


def support(sentence: str, sources: list[str]) -> float:
    """Share of the sentence's character bigrams found in the sources (1.0 for an exact quote)."""
    grams = char_ngrams(sentence)
    if not grams:
        return 1.0
    pool = set().union(*(char_ngrams(s) for s in sources)) if sources else set()
    return len(grams & pool) / len(grams)


def claims(text: str) -> Iterator[tuple[str, str]]:
    """(sentence with its markers, claim without them) for each sentence of text that states something
    about the materials; frame sentences (headings, refusals, labels ending in a colon) are skipped."""
    pending = ""  # labelled pairs waiting for the rest of their row
    for s, e in split_sentences(text):
        piece = text[s:e]
        if RELATED.match(piece.strip()):
            # the label is frame; a related table row after it starts with its first labelled pair
            piece = RELATED.sub("", piece.strip())
        sentence = pending + piece
        if LABELLED_PAIR.match(piece) and not MARKER.search(sentence):
            pending = sentence
            continue
        pending = ""
        body = MARKER.sub("", sentence).strip()
        if compact(body) and not FRAME.match(body) and not body.endswith(("：", ":")):
            yield sentence, body
    if pending:
        yield pending, pending


def plain_numbers(text: str) -> str:
    """NFKC text with the commas between digit groups dropped (1,000 -> 1000)."""
    return unicodedata.normalize("NFKC", DIGIT_GROUP.sub("", text))


def numbers_supported(sentence: str, sources: list[str]) -> bool:
    """Every number in the sentence is named by the cited sources as a whole number (core.grammar.holds_number):
    a sentence saying 5元 over a source saying 50元 is not supported."""
    joined = plain_numbers("\n".join(sources))
    return all(holds_number(n, joined) for n in NUMBER.findall(plain_numbers(sentence)))


def citation(n: int, doc: Document) -> dict:
    m = doc.metadata
    return {
        "n": n,
        "source": m.get("source", ""),
        "title": m.get("title", ""),
        "section": m.get("section", ""),
        "text": doc.page_content,
        "start": int(m.get("start", 0)),
        "end": int(m.get("end", 0)),
        "page": int(m["page"]) if m.get("page") else None,
    }


def verify(text: str, sources: list[Document], threshold: float = 0.6) -> Verified:
    """Drop invalid markers, renumber the valid ones, and list sentences the cited sources do not support."""
    renumber: dict[int, int] = {}
    removed: list[int] = []

    def repl(m: re.Match) -> str:
        raw = m.group(1) or m.group(2)
        out = []
        for part in re.split(r"\s*[,，、]\s*", raw):
            n = int(part)
            if 1 <= n <= len(sources):
                renumber.setdefault(n, len(renumber) + 1)
                out.append(f"[{renumber[n]}]")
            else:
                removed.append(n)
        return "".join(out)

    clean = MARKER.sub(repl, text)
    clean = re.sub(r"[ \t]+([。！？，；])", r"\1", clean)
    by_new = {new: old for old, new in renumber.items()}

    unsupported: list[str] = []
    for sentence, body in claims(clean):
        cited = [by_new[int(x)] for x in CITE.findall(sentence)]
        texts = [sources[n - 1].page_content for n in cited]
        if not cited or support(body, texts) < threshold or not numbers_supported(body, texts):
            unsupported.append(body)
    citations = [citation(new, sources[old - 1]) for old, new in sorted(renumber.items(), key=lambda x: x[1])]
    return Verified(clean, citations, unsupported, removed)
