"""Talking points (宣讲提纲) for lecturers: a title, a cited opening (why the topic matters), up to six
points, each with cited bullets, and a cited closing (what is required); every line is taken verbatim
from the materials.

Points take the materials' own section headings, or a passage's lead clause where the heading is an
administrative or procedural one (时间安排, 方法步骤) or a document's formula; bullets are whole clauses;
points and bullets follow the materials' order. The cues for all of this are data with provenance,
bot/data/outline_cues.tsv. A topic the materials do not cover gets no outline: `topic_covered` asks the
answers' refusal gate, and a passage that does not touch the topic never becomes a point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from langchain_core.documents import Document

from bot.answering.drafts import cite, clauses
from bot.answering.evidence import is_heading, passage_context, sentence_score, term_coverage
from bot.answering.extractive import ExtractiveAnswerer
from bot.answering.numbering import strip_numbering
from bot.answering.question import Query
from core.data_tables import table_rows
from core.grammar import compact, int_to_cn, numbering_kind, section_parts, split_sentences
from ingest.fusion import Scored
from ingest.instructions import is_instruction

MAX_POINTS = 6
MAX_SUBPOINTS = 3
MIN_POINT_COVERAGE = 0.15  # a passage (or an opening/closing sentence) must touch the topic this much
SUBPOINT_KEEP = 0.6  # bullets after a point's first must score this share of its best
TITLE_CHARS = 30
MIN_TITLE_CHARS = 8  # a comma earlier than this would leave a heading too short to say anything
HEADING_CHARS = 40  # a longer section "heading" is an item's own sentence (第十六条 …), not a heading
REPEAT_SLACK = 4  # characters a bullet may add to its heading and still only restate it
BULLET_CHARS = 60  # a longer sentence is trimmed to its best run of whole clauses
MIN_BULLET_CHARS = 12  # shortest run of clauses worth a bullet of its own
WINDOW_KEEP = 0.9  # a trimmed bullet keeps this share of the best run's score; the earliest such run wins
OPENING_LABEL = "开场"
CLOSING_LABEL = "结语"

CUES_FILE = Path(__file__).parent / "data" / "outline_cues.tsv"
CUE_KINDS = ("boilerplate", "preamble", "connective", "opening", "closing")
LEADING_YEAR = re.compile(r"^\d{4}年度?")  # "2025年工作打算" is the heading 工作打算 of a given year


@lru_cache(maxsize=1)
def outline_cues() -> dict[str, tuple[str, ...]]:
    """kind -> cues, from bot/data/outline_cues.tsv (see its header for the kinds and their provenance)."""
    table: dict[str, list[str]] = {kind: [] for kind in CUE_KINDS}
    for kind, cue in (row[:2] for row in table_rows(CUES_FILE)):
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


def topic_covered(answerer: ExtractiveAnswerer, query: Query, contexts: list[Scored]) -> bool:
    """Whether the materials cover the topic: the refusal gate of the answers, asked the topic as a question."""
    return bool(contexts) and not answerer.decide(query, contexts).refuse


@dataclass
class Point:
    title: str
    subpoints: list[str] = field(default_factory=list)  # each with its [n]


@dataclass
class Outline:
    title: str
    points: list[Point]
    sources: list[Document]
    opening: str = ""  # a cited sentence on why the topic matters, or "" when the materials give none
    closing: str = ""  # a cited sentence on what is required, or ""

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.opening:
            lines += [f"## {OPENING_LABEL}", f"- {self.opening}", ""]
        for i, p in enumerate(self.points, 1):
            lines.append(f"## {int_to_cn(i)}、{p.title}")
            lines += [f"- {s}" for s in p.subpoints]
            lines.append("")
        if self.closing:
            lines += [f"## {CLOSING_LABEL}", f"- {self.closing}", ""]
        return "\n".join(lines).rstrip() + "\n"


@dataclass
class _Line:
    """A line of the outline before numbering: its passage, its place in the document, its text."""

    doc: Document
    at: int  # character offset in the document, for the materials' order
    text: str
    score: float = 0.0


def _offset(doc: Document) -> int:
    return int(doc.metadata.get("start", 0) or 0)


def _usable(sentence: str) -> bool:
    """A sentence that can stand as a bullet: it states something, is not a formula, a table row, an
    instruction to the assistant or a list's announcement, and does not lean on the sentence before it."""
    s = sentence.strip()
    return bool(
        compact(s)
        and not s.startswith("|")  # a timetable's rows are for a notice, not talking points
        and not is_heading(s)
        and not s.endswith(("：", ":"))
        and not is_preamble(s)
        and not is_instruction(s)
        and not leans_back(s)
    )


def _trim(query: Query, sentence: str) -> str:
    """The sentence, or when long its best run of whole clauses (never cut inside a clause, never starting
    with a clause that leans on the one before it)."""
    if len(sentence) <= BULLET_CHARS:
        return sentence
    parts = clauses(sentence)
    runs = []
    for i in range(len(parts)):
        if i and leans_back(parts[i]):
            continue
        for j in range(i + 1, len(parts) + 1):
            run = "".join(parts[i:j])
            if len(run) > BULLET_CHARS:
                break
            if len(run) >= MIN_BULLET_CHARS:
                runs.append((sentence_score(query, run), i, run))
    if not runs:
        return sentence
    best = max(score for score, _, _ in runs)
    keep = best - (1 - WINDOW_KEEP) * abs(best)  # scores may be negative (a heading's penalty)
    return min((i, len(run), run) for score, i, run in runs if score >= keep)[2]


def _lines(query: Query, doc: Document) -> list[_Line]:
    """The passage's usable sentences, numbering dropped and long ones trimmed, scored against the topic."""
    text, context = doc.page_content, passage_context(doc)
    out = []
    for s, e in split_sentences(text):
        sentence = text[s:e]
        bare = strip_numbering(sentence)
        if not _usable(bare) or (bare != sentence and len(compact(bare)) < MIN_BULLET_CHARS):
            continue  # a short numbered sentence (二是加强队伍建设。) is an item's heading: it states nothing
        start = s + len(sentence) - len(bare)
        out.append(_Line(doc, _offset(doc) + start, _trim(query, bare), sentence_score(query, bare, context, text)))
    return out


def _clip(title: str) -> str:
    """A heading cut to whole clauses: its first sentence, then commas while it is too long."""
    title = re.split(r"[。；！？;!?]", title)[0].rstrip("：:，,、")
    while len(title) > TITLE_CHARS:
        cut = max(title.rfind("，", 0, TITLE_CHARS), title.rfind("：", 0, TITLE_CHARS))
        if cut < MIN_TITLE_CHARS:
            break
        title = title[:cut]
    return title


def _point_title(doc: Document, lead: str) -> str:
    """The passage's nearest real section heading (not boilerplate, not an item's sentence, not the
    document's title), else the lead clauses of its best sentence; without numbering."""
    doc_title = compact(doc.metadata.get("title", ""))
    for part in reversed(section_parts(doc.metadata.get("section", ""))):
        bare = strip_numbering(part).strip()
        if (
            numbering_kind(part) == "article"
            or len(bare) > HEADING_CHARS
            or is_boilerplate(part)
            or compact(bare) == doc_title
            or not compact(bare)
        ):
            continue
        return _clip(bare)
    head = ""
    for clause in clauses(lead):
        head += clause
        if len(compact(head)) >= MIN_TITLE_CHARS:
            break
    return _clip(head)


def _repeats(line: str, title: str) -> bool:
    """A bullet that only restates its point's heading."""
    body, head = compact(line), compact(title)
    return bool(head) and body.startswith(head) and len(body) <= len(head) + REPEAT_SLACK


def _framing(query: Query, docs: list[Document], kind: str, taken: set[str]) -> _Line | None:
    """The best on-topic sentence holding an opening (or closing) cue, not already taken."""
    cues = outline_cues()[kind]
    best = None
    for doc in docs:
        context = passage_context(doc)
        for line in _lines(query, doc):
            if compact(line.text) in taken or not any(c in line.text for c in cues):
                continue
            if term_coverage(query, line.text, context) < MIN_POINT_COVERAGE:
                continue
            if best is None or line.score > best.score:
                best = line
    return best


def build_outline(topic: str, query: Query, contexts: list[Scored]) -> Outline:
    """An extractive outline from ranked passages: opening, points in the materials' order, closing.
    No passage on the topic, no points: the outline is empty (and the pipeline refuses it)."""
    title = f"“{topic}”宣讲提纲"
    docs = [d for d, _ in contexts if term_coverage(query, d.page_content, passage_context(d)) >= MIN_POINT_COVERAGE]
    taken: set[str] = set()
    opening = _framing(query, docs, "opening", taken)
    if opening:
        taken.add(compact(opening.text))
    closing = _framing(query, docs, "closing", taken)
    if closing:
        taken.add(compact(closing.text))

    groups: dict[tuple[str, str], list[_Line]] = {}  # (source, heading) -> bullets, in order of relevance
    first_rank: dict[str, int] = {}  # source -> rank of its best passage: documents follow their relevance
    for rank, doc in enumerate(docs):
        lines = [x for x in _lines(query, doc) if compact(x.text) not in taken]
        if not lines:
            continue
        best = max(lines, key=lambda x: x.score)
        key = (doc.metadata.get("source", ""), _point_title(doc, best.text))
        if key not in groups and len(groups) >= MAX_POINTS:
            continue
        keep = best.score - (1 - SUBPOINT_KEEP) * abs(best.score)  # scores may be negative (a heading's penalty)
        kept = [x for x in lines if x.score >= keep and not _repeats(x.text, key[1])]
        group = groups.setdefault(key, [])
        for x in sorted(kept, key=lambda x: -x.score):
            if len(group) < MAX_SUBPOINTS and compact(x.text) not in taken:
                group.append(x)
                taken.add(compact(x.text))
        first_rank.setdefault(key[0], rank)
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        return Outline(title, [], [])

    # The materials' order: documents by relevance, then points and bullets as the document has them.
    ordered = sorted(groups.items(), key=lambda kv: (first_rank[kv[0][0]], min(x.at for x in kv[1])))
    used: list[Document] = []  # cited passages, numbered 1.. in order of first use

    def cited(line: _Line) -> str:
        if not any(d is line.doc for d in used):
            used.append(line.doc)
        return cite(line.text, next(n for n, d in enumerate(used, 1) if d is line.doc))

    opening_text = cited(opening) if opening else ""
    points = [Point(k[1], [cited(x) for x in sorted(v, key=lambda x: x.at)]) for k, v in ordered]
    closing_text = cited(closing) if closing else ""
    return Outline(title, points, used, opening_text, closing_text)
