"""Talking points (宣讲提纲) for lecturers: a title, three to six points drawn from distinct
passages, each with one to three cited sub-points taken verbatim from the materials."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from langchain_core.documents import Document

from bot.answering.drafts import cite, clause_window
from bot.answering.evidence import is_heading, sentence_score, term_coverage
from bot.answering.numbering import strip_numbering
from bot.answering.question import Query
from core.grammar import compact, int_to_cn, section_parts, split_sentences
from ingest.fusion import Scored

MIN_POINTS = 3
MAX_POINTS = 6
MAX_SUBPOINTS = 3
MIN_POINT_COVERAGE = 0.15  # a passage must touch the topic this much to become a point
SUBPOINT_KEEP = 0.6  # sub-points after the first must score this share of the first
TITLE_CHARS = 30
MIN_TITLE_CHARS = 8  # a comma earlier than this would leave a heading too short to say anything
REPEAT_SLACK = 4  # characters a sub-point may add to its heading and still only restate it

CUES_FILE = Path(__file__).parent / "data" / "outline_cues.tsv"
CUE_KINDS = ("boilerplate", "preamble", "connective", "opening", "closing")
LEADING_YEAR = re.compile(r"^\d{4}年度?")  # "2025年工作打算" is the heading 工作打算 of a given year


@lru_cache(maxsize=1)
def outline_cues() -> dict[str, tuple[str, ...]]:
    """kind -> cues, from bot/data/outline_cues.tsv (see its header for the kinds and their provenance)."""
    table: dict[str, list[str]] = {kind: [] for kind in CUE_KINDS}
    for line in CUES_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, cue = line.split("\t")[:2]
            table[kind.strip()].append(cue.strip())
    return {kind: tuple(cues) for kind, cues in table.items()}


def heading_key(heading: str) -> str:
    """A heading as the boilerplate list names it: no markdown, numbering, leading year or punctuation."""
    return compact(LEADING_YEAR.sub("", strip_numbering(heading.strip()).strip()))


def is_preamble(text: str) -> bool:
    """A document's own formula (现就…通知如下, 制定本方案, 我就讲这些): neither a point nor a bullet."""
    return any(cue in text for cue in outline_cues()["preamble"])


def is_boilerplate(heading: str) -> bool:
    """An administrative or procedural heading (时间安排, 方法步骤) or a formula: never a point heading."""
    return heading_key(heading) in {compact(c) for c in outline_cues()["boilerplate"]} or is_preamble(heading)


def leans_back(clause: str) -> bool:
    """A clause opening with a word that leans on the clause before it (且…, 其中…)."""
    return strip_numbering(clause.strip()).startswith(outline_cues()["connective"])


@dataclass
class Point:
    title: str
    subpoints: list[str] = field(default_factory=list)  # each with its [n]


@dataclass
class Outline:
    title: str
    points: list[Point]
    sources: list[Document]

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for i, p in enumerate(self.points, 1):
            lines.append(f"## {int_to_cn(i)}、{p.title}")
            lines += [f"- {s}" for s in p.subpoints]
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _point_title(doc: Document, lead: str) -> str:
    """The passage's own section heading, else its lead clause, without its numbering."""
    headings = section_parts(doc.metadata.get("section", ""))
    title = headings[-1] if headings else ""
    # A heading is one clause of a line: cut at the first sentence end, then at a comma within the limit.
    title = re.split(r"[。；！？;!?]", strip_numbering(title or lead))[0].rstrip("：:，,")
    if len(title) > TITLE_CHARS:
        cut = max(title.rfind("，", 0, TITLE_CHARS), title.rfind("、", 0, TITLE_CHARS))
        title = title[:cut] if cut >= MIN_TITLE_CHARS else title[:TITLE_CHARS] + "……"
    return title


def _repeats(sentence: str, title: str) -> bool:
    """A sub-point that only restates its point's heading."""
    body, head = compact(strip_numbering(sentence)), compact(title.rstrip("…"))
    return is_heading(sentence) or (bool(head) and body.startswith(head) and len(body) <= len(head) + REPEAT_SLACK)


def build_outline(topic: str, query: Query, contexts: list[Scored]) -> Outline:
    """An extractive outline from ranked passages; one point per distinct section."""
    sources = [d for d, _ in contexts]
    used: list[Document] = []  # cited passages, numbered 1.. in order of first use
    points: list[Point] = []
    seen_sections: set[tuple[str, str]] = set()
    for doc in sources:
        if len(points) >= MAX_POINTS:
            break
        key = (doc.metadata.get("source", ""), doc.metadata.get("section", ""))
        if key in seen_sections or (
            len(points) >= MIN_POINTS and term_coverage(query, doc.page_content) < MIN_POINT_COVERAGE
        ):
            continue
        text = doc.page_content
        scored = sorted(((sentence_score(query, text[s:e]), s, e) for s, e in split_sentences(text)), reverse=True)
        title = _point_title(doc, text[scored[0][1] : scored[0][2]]) if scored else ""
        scored = [
            x for x in scored if not text[x[1] : x[2]].startswith("|---") and not _repeats(text[x[1] : x[2]], title)
        ]
        if not scored:
            continue
        top = scored[0][0]
        chosen = [x for x in scored[:MAX_SUBPOINTS] if x[0] >= SUBPOINT_KEEP * top or x is scored[0]]
        chosen.sort(key=lambda x: x[1])  # document order reads better than score order
        used.append(doc)
        subs = []
        for _, s, e in chosen:
            window, cut, _ = clause_window(query, text[s:e])
            subs.append(cite(window, len(used), cut))
        seen_sections.add(key)
        points.append(Point(title, subs))
    return Outline(f"“{topic}”宣讲提纲", points, used)
