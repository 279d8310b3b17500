"""How an answer is written before it is verified: the fixed refusal wording, sentences trimmed to the
clause window that holds their evidence, the [n] citation placed before the closing mark, the Draft
that carries text and sources, and one draft merged from the answers to a compound question's parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from langchain_core.documents import Document

from bot.answering.evidence import Candidate, sentence_score
from bot.answering.question import Query
from bot.verify import CITE
from core.grammar import compact

REFUSAL = "资料中没有找到能回答这个问题的内容。"
REFUSAL_ABOUT = "资料中没有找到关于“{topic}”的内容。"
INJECTION_REFUSAL = "这个问题试图改变问答规则，无法处理，请直接提问冬训学习材料中的内容。"
RELATED_LABEL = "相关内容（仅供参考，并非对问题的回答）："

LONG_SENTENCE = 60  # characters; longer sentences are trimmed to their best clause window
MIN_WINDOW = 12  # shortest clause window worth showing on its own
WINDOW_KEEP = 0.9  # a window must keep this share of its sentence's score
CLAUSE_SPLIT = re.compile(r"(?<=[，：])")  # not ASCII ":" — it sits inside times like 9:00
LEAD_CLAUSES = 2  # clauses a long list item keeps as its lead-in

# One piece of an answer: (index of its source, its text, whether it was cut at its start).
Part = tuple[int, str, bool]


@dataclass
class Draft:
    """An answer before verification: text with [n] markers indexing `sources` (1-based)."""

    text: str
    sources: list[Document]
    refused: bool = False
    reason: str = ""
    evidence: list[Candidate] = field(default_factory=list)


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, each ending at its ，or ：."""
    return [c for c in CLAUSE_SPLIT.split(sentence) if c]


def clause_window(query: Query, sentence: str) -> tuple[str, bool, bool]:
    """The shortest clause window of a long sentence that keeps its evidence.

    Returns (window, cut_at_start, cut_at_end)."""
    if len(sentence) <= LONG_SENTENCE or sentence.startswith("|"):
        return sentence, False, False  # a table row is one fact; never cut it
    full = sentence_score(query, sentence)
    parts = clauses(sentence)
    best: Optional[tuple[int, int, int]] = None  # (length, i, j)
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            window = "".join(parts[i:j])
            if len(window) < MIN_WINDOW:
                continue
            if sentence_score(query, window) >= WINDOW_KEEP * full and (best is None or len(window) < best[0]):
                best = (len(window), i, j)
    if best is None:
        return sentence, False, False
    _, i, j = best
    return "".join(parts[i:j]), i > 0, j < len(parts)


def item_lead(sentence: str) -> str:
    """An enumeration item's lead-in: up to its first full stop, or its first clauses when long."""
    if len(sentence) > LONG_SENTENCE:
        return "".join(clauses(sentence)[:LEAD_CLAUSES])
    return sentence


def cite(sentence: str, n: int, cut_start: bool = False) -> str:
    """Place [n] before the sentence's closing punctuation: …215场[1]。"""
    s = sentence.rstrip()
    s = re.sub(r"[，,：:；;、]+$", "", s)
    closing = ""
    m = re.search(r"[。！？!?]+[”’」』）)]*$|[。！？!?]*[”’」』]$", s)
    if m and m.group(0).strip("。！？!?"):
        closing = ""  # a quote closes the sentence: keep it, put the mark after
    elif m:
        s, closing = s[: m.start()], m.group(0)
    s = re.sub(r"[。；;]+$", "", s)
    return ("……" if cut_start else "") + s + f"[{n}]" + (closing if closing in ("？", "！") else "。")


def write(parts: list[Part]) -> str:
    """The answer text of its parts, each cited, a sentence repeated by overlapping chunks said once."""
    unique: dict[str, Part] = {}
    for part in parts:
        unique.setdefault(compact(part[1]), part)
    return "".join(cite(t, ctx + 1, cut) for ctx, t, cut in unique.values())


def source_index(sources: list[Document], doc: Document) -> int:
    """Index of doc in sources, appending it when it is not there yet (so it can be cited)."""
    for i, d in enumerate(sources):
        if d.metadata.get("id") == doc.metadata.get("id"):
            return i
    sources.append(doc)
    return len(sources) - 1


def _renumber(text: str, remap: dict[int, int]) -> str:
    """text with each [n] replaced by [remap[n]] (markers without a new number kept)."""
    return CITE.sub(lambda m: f"[{remap.get(int(m.group(1)), m.group(1))}]", text)


def merge_drafts(drafts: list[Draft]) -> Draft:
    """One answer from the answers to the parts of a compound question, markers renumbered
    over the union of their sources. Refused only when every part is refused."""
    answered = [d for d in drafts if not d.refused]
    if not answered:
        return drafts[0]
    sources: list[Document] = []
    texts = []
    for d in drafts:
        if d.refused:
            # Say plainly which part the materials do not answer; no related passage here.
            texts.append(d.text.split(RELATED_LABEL)[0])
            continue
        remap = {i + 1: source_index(sources, doc) + 1 for i, doc in enumerate(d.sources)}
        text = _renumber(d.text, remap)
        # Two parts may find the same sentence; say it once.
        said = compact("".join(texts))
        texts.append("".join(x for x in re.findall(r"[^。！？]+[。！？]", text) if compact(x) not in said))
    return Draft("".join(texts), sources, evidence=[c for d in answered for c in d.evidence])
