"""Lists in the materials: the items of an enumeration ("一是…二是…", "分为以下6类："), sibling
headings that name the noun a list question asks for ("分为哪几个阶段"), and the section an ordinal
follow-up points at ("第二个阶段呢？"). Lists often span passages, so these read the other chunks of
the document through `siblings` (a passage -> every chunk of its document).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Optional

from langchain_core.documents import Document

from bot.answering.candidates import Candidate
from bot.answering.drafts import Part, item_lead, source_index
from bot.answering.evidence import is_heading, term_coverage
from bot.answering.numbering import CN_AMOUNT, ENUM_ANNOUNCE, ENUM_ITEM, strip_numbering
from bot.answering.question import GENERAL, LAST, LIST, NUMBER, ORDINAL, Query, list_phrase, ordinal
from core.grammar import SECTION_SEP, compact, numbering_kind, section_parts, section_path, split_sentences
from ingest.fusion import Scored

Siblings = Callable[[Document], list[Document]]

MAX_LIST_ITEMS = 8
HEADING_LIST_DOCS = 2  # top passages whose documents are searched for list headings
MIN_ITEMS = 2  # fewer items are not a list
# A line that opens with a short label and a colon ("县委宣传部：牵头组织实施…", "联系人：…"): a section of such
# lines with no numbering (职责分工, an html <ul>) lists its items by their labels.
LABELLED_MIN_ITEMS = 3  # two labelled lines are as often two fields (联系人, 附件) as a list
LABELLED_LINE = re.compile(r"^[^，,。；;：:\s]{2,12}[：:](?!\s*$)")


LISTING_KINDS = (LIST, NUMBER, GENERAL)  # the question kinds a list of items can answer


def enumeration(
    query: Query, best: Candidate, sources: list[Document], siblings: Optional[Siblings] = None
) -> list[Part]:
    """Sibling items when the best sentence is, or announces, one item of a list: for a question asking for a
    list, a count (讲了几点意见？: the count and what it counts) or something open. One asking when, where, who,
    what name or how much money is not answered by the points a sentence announces (这次讲话是什么时候讲的？ got
    the speech's three points, since its best sentence was 下面，我讲三点意见。)."""
    if query.kind not in LISTING_KINDS:
        return []
    # For a list question a section heading ("六、评分标准") announces what its section holds,
    # like "分为以下6类：" does; a document's own title announces nothing.
    doc = sources[best.passage]
    section = doc.metadata.get("section", "")
    # A heading chosen as the answer to an open question ("要怎样压得实、落得细？" -> "三、要“压得实、落得细”…")
    # states nothing itself: its items do.
    heading_announces = query.kind in (LIST, GENERAL) and is_heading(best.text) and bool(section)
    announces = bool(ENUM_ANNOUNCE.search(best.text)) or heading_announces
    is_item = bool(ENUM_ITEM.match(best.text)) and not is_heading(best.text)
    if query.kind == LIST and not (announces or is_item) and _labelled_line(doc.page_content, best):
        # "有哪些责任单位？" answered by one line of "县委宣传部：…" / "县委党校：…": the section's labelled lines
        return labelled_lines(section, doc, sources, siblings)
    if not (announces or (is_item and query.kind == LIST)):
        return []
    # 1) items inside the same passage, after the announcement or around the item
    text = doc.page_content
    items = _enumerated(
        [(best.passage, text[s:e]) for s, e in split_sentences(text) if not announces or s >= best.end], exclude=""
    )
    if len(items) >= MIN_ITEMS or siblings is None:
        return items if len(items) >= MIN_ITEMS else []
    # 2) the list goes on in passages of its own: under the announcing section, or beside the item
    parts = section_parts(section)
    own_item = is_item and parts and compact(parts[-1]) and compact(best.text).startswith(compact(parts[-1]))
    parent = section_path(parts[:-1]) if own_item else section
    items = items_under(parent, doc, sources, siblings)
    return items if len(items) >= MIN_ITEMS else []


def heading_items(query: Query, contexts: list[Scored], sources: list[Document], siblings: Siblings) -> list[Part]:
    """For "分为哪几个阶段": sibling section headings that name the asked-for noun, in document order; for "学习哪些内容"
    the items under the one heading that does (二、学习内容).

    A heading that is no more than the list's label (二、学习内容, 五、激励措施: short, ending with what is asked) is
    looked for in every retrieved document first: a speech's heading that only mentions the noun (让冬训内容“接地
    气、见实效”) ranked above a notice's 二、学习内容 and answered 学习哪些内容 with the speech's points (eval/dev2 and
    eval/blind, one item each). Failing a label, the headings naming the noun in the top passages' documents."""
    if query.kind != LIST or not query.noun:
        return []
    phrase = list_phrase(query.text) or query.noun
    searched: set[str] = set()
    for doc, _ in contexts:
        if doc.metadata.get("source", "") in searched:
            continue
        searched.add(doc.metadata.get("source", ""))
        labels = {
            parent: kept
            for parent, group in _headings_for(query, phrase, siblings(doc)).items()
            if (kept := {h: d for h, d in group.items() if _is_label(h, phrase)})
        }
        if items := _heading_list(query, labels, sources, siblings):
            return items
        if len(label := [d for group in labels.values() for d in group.values()]) == 1:
            # The label's section says it in a sentence, not a list (二、学习内容 / 重点学习…、…以及…): that sentence.
            return _statement(label[0], sources)
    for doc, _ in contexts[:HEADING_LIST_DOCS]:
        chunks = siblings(doc)
        if items := _heading_list(query, _headings_for(query, phrase, chunks), sources, siblings):
            return items
        # 讲了哪几点意见 of a speech whose points are headings that do not say 意见: the sections its 下面，我讲几点意见。
        # announces (as an ordinal follow-up reads them, _ordinal_lists).
        if len(announced := _announced_sections(query.noun, chunks, counted=True)) >= MIN_ITEMS:
            return [(source_index(sources, d), _heading_line(d), False) for d in announced[:MAX_LIST_ITEMS]]
    return []


def _headings_for(query: Query, phrase: str, chunks: list[Document]) -> dict[tuple, dict[str, Document]]:
    """The headings of a document's chunks that name what a list question asks for (its title lists nothing)."""
    groups = _headings_naming(query.noun, chunks, skip_title=True)
    # 有哪些激励措施 under 四、保障措施 and 五、激励措施: the heading naming the whole phrase holds the list.
    if phrase != query.noun and (named := _headings_naming(phrase, chunks, skip_title=True)):
        return named
    return groups


LABEL_MAX = 8  # characters of a heading, numbering left out, that can be a list's label (学习内容, 动员部署阶段)


def _is_label(heading: str, phrase: str) -> bool:
    """Whether a heading is only the label of the list asked for: short, and ending with its phrase (二、学习内容)."""
    text = compact(strip_numbering(heading.strip()))
    return len(text) <= LABEL_MAX and text.endswith(compact(phrase))


LABEL_STATEMENT_SENTENCES = 2  # sentences shown from a list label's section that holds no list


def _statement(first: Document, sources: list[Document]) -> list[Part]:
    """The opening sentences of the section whose first chunk this is, its heading left out."""
    heading = compact(_last_heading(first.metadata.get("section", "")))
    text = first.page_content
    said = [text[s:e] for s, e in split_sentences(text) if compact(text[s:e]) != heading]
    idx = source_index(sources, first)
    return [(idx, sentence, False) for sentence in said[:LABEL_STATEMENT_SENTENCES]]


def _heading_list(
    query: Query, groups: dict[tuple, dict[str, Document]], sources: list[Document], siblings: Siblings
) -> list[Part]:
    """The list these headings give: when several siblings name the noun, the headings themselves; when one does,
    the items under it."""
    best = max(groups.values(), key=len, default={})
    # A single heading naming the noun would otherwise compete with a list of headings that each do.
    if len(best) >= MIN_ITEMS and not any(
        len(g) == 1 and term_coverage(query, next(iter(g))) > max(term_coverage(query, t) for t in best)
        for g in groups.values()
    ):
        ordered = sorted(best.values(), key=_position)
        return [(source_index(sources, d), _heading_line(d), False) for d in ordered[:MAX_LIST_ITEMS]]
    # One heading names the noun ("（二）学习内容", "第五条 …分为以下6类"): its items are the list;
    # the heading closest to the question goes first ("学习内容" before "主要内容" for 学哪些内容).
    for group in sorted(groups.values(), key=lambda g: -max(term_coverage(query, t) for t in g)):
        first = next(iter(group.values()))
        items = items_under(first.metadata.get("section", ""), first, sources, siblings)
        if len(items) >= MIN_ITEMS:
            return items
    return []


def _ordinal_lists(noun: str, contexts: list[Scored], siblings: Siblings):
    """(score, the document's chunks, the first chunk of each item) for each retrieved document, best first, whose
    headings (or the sections below an announcement like 讲三点意见) list `noun`s."""
    searched: set[str] = set()
    for doc, score in contexts:
        source = doc.metadata.get("source", "")
        if source in searched:
            continue
        searched.add(source)
        chunks = siblings(doc)
        groups = _headings_naming(noun, chunks, skip_title=False)
        items = max(groups.values(), key=len, default={})
        ordered = sorted(items.values(), key=_position)
        if len(ordered) < MIN_ITEMS:
            # "第二点" after "讲三点意见。": the items are the sections below the announcement.
            ordered = _announced_sections(noun, chunks)
        if len(ordered) >= MIN_ITEMS:
            yield score, chunks, ordered


def ordinal_section(query: Query, contexts: list[Scored], siblings: Siblings) -> list[Scored]:
    """The passages of the section a 第N个X / 最后一个X question points at, or []: in the best-ranked retrieved
    document that has such a list (a bare "第二点意见讲了什么？" names no document, and says little a search can
    rank by, so the speech announcing 三点意见 may rank below others)."""
    n, noun = ordinal(query.text)
    if not n:
        return []
    for score, chunks, ordered in _ordinal_lists(noun, contexts, siblings):
        if n > len(ordered):
            continue
        section = (ordered[-1] if n == LAST else ordered[n - 1]).metadata["section"]
        members = [d for d in chunks if d.metadata.get("section", "") == section]
        return [(d, score) for d in sorted(members, key=_position)]
    return []


def ordinal_beyond(query: Query, contexts: list[Scored], siblings: Siblings) -> bool:
    """Whether a 第N个X question points past the end of every list of X found ("第五点意见" of a speech that
    gives three): there is no such item to answer with."""
    n, noun = ordinal(query.text)
    if not n or n == LAST:
        return False
    lengths = [len(ordered) for _, _, ordered in _ordinal_lists(noun, contexts, siblings)]
    return bool(lengths) and n > max(lengths)


def _members(section: str, doc: Document, siblings: Siblings) -> list[Document]:
    """The chunks of doc's document in a section (path `section`) and its direct sub-sections, in order."""
    depth = len(section_parts(section))
    members = []
    for d in siblings(doc):
        path = d.metadata.get("section", "")
        parts = section_parts(path)
        if path == section or (len(parts) == depth + 1 and section_path(parts[:-1]) == section):
            members.append(d)
    return sorted(members, key=_position)


def _opens_line(text: str, s: int) -> bool:
    """Whether the sentence starting at offset s opens a line of text (a paragraph's first sentence)."""
    return s == 0 or text[s - 1] == "\n"


def _line_starts(text: str) -> list[tuple[int, int]]:
    """The sentences of text that open a line."""
    return [(s, e) for s, e in split_sentences(text) if _opens_line(text, s)]


def _labelled_line(text: str, best: Candidate) -> bool:
    """Whether the candidate opens a line of its passage with a short label and a colon."""
    return any(s == best.start for s, _ in _line_starts(text)) and bool(LABELLED_LINE.match(best.text))


def labelled_lines(section: str, doc: Document, sources: list[Document], siblings: Optional[Siblings]) -> list[Part]:
    """The labelled lines ("县委党校：负责…") of a section, in document order, once each: the section's own
    chunks when siblings are known, else the passage alone. They are a list only when they are most of the
    section's lines and at least LABELLED_MIN_ITEMS: a notice's closing section with 联系人：… and 附件：… beside
    prose lists nothing. A section without a heading lists nothing."""
    if not section:
        return []
    own_title = compact(_last_heading(section))
    lines: list[tuple[Document, str]] = []
    seen: set[str] = set()
    for d in _members(section, doc, siblings) if siblings else [doc]:
        text = d.page_content
        for s, e in _line_starts(text):
            key = compact(text[s:e])
            if key and key != own_title and key not in seen:
                seen.add(key)
                lines.append((d, text[s:e]))
    labelled = [(d, sentence) for d, sentence in lines if LABELLED_LINE.match(sentence)]
    if len(labelled) < LABELLED_MIN_ITEMS or 2 * len(labelled) <= len(lines):
        return []
    return [(source_index(sources, d), item_lead(sentence), False) for d, sentence in labelled[:MAX_LIST_ITEMS]]


# Words that ask for an item as a whole: "第三点意见是什么？", "第二点具体包括什么？".
ITEM_ASK_WORDS = frozenset("具体 包括 内容 主要 什么 哪些 讲了 说了 讲的 说的".split())


def asks_only_for_item(query: Query, section: list[Scored]) -> bool:
    """Whether an ordinal question asks for the item it points at and nothing else: every term of it is the ordinal
    phrase (第三点意见), a word asking for the whole item, or a word of the found section's document title (讲话).
    Then the section, found by the document's structure, is the answer; "第二个阶段具体时间是什么时候？" also asks
    for a time, and "第三点意见的经费是多少？" for an amount, which the refusal gate judges."""
    m = ORDINAL.search(query.text)
    if not m or not section:
        return False
    said, title = compact(m.group(0)), compact(section[0][0].metadata.get("title", ""))
    return all(compact(t) in said or t in ITEM_ASK_WORDS or compact(t) in title for t in query.weights)


def items_under(section: str, doc: Document, sources: list[Document], siblings: Siblings) -> list[Part]:
    """The enumerated items of a section (path `section`, "" for the preamble) of doc's document:
    its own enumerated sentences and those of its direct sub-sections, in document order."""
    members = _members(section, doc, siblings)
    own_title = _last_heading(section)
    pairs = []
    leads: list[Part] = []  # without numbering, each paragraph's first sentence is an item (html <li>, 讲理论。…)
    for d in members:
        idx = source_index(sources, d)
        text = d.page_content
        for s, e in split_sentences(text):
            sentence = text[s:e].lstrip("# ")
            pairs.append((idx, sentence))
            if _opens_line(text, s) and compact(sentence) != compact(own_title) and not sentence.startswith("|"):
                leads.append((idx, item_lead(sentence), False))
    items = _enumerated(pairs, exclude=own_title)
    if len(items) < MIN_ITEMS and section and MIN_ITEMS <= len(leads) <= MAX_LIST_ITEMS:
        return leads
    return items


def _enumerated(pairs: list[tuple[int, str]], exclude: str = "") -> list[Part]:
    """The items of the first numbering met among (source index, sentence) pairs, in order, once each."""
    kind = ""
    items: list[Part] = []
    seen = {compact(exclude)} if exclude else set()
    for idx, sentence in pairs:
        k = numbering_kind(sentence)
        if not k or compact(sentence) in seen or (exclude and compact(sentence).startswith(compact(exclude))):
            continue
        kind = kind or k
        if k == kind:  # a sub-item (1. under （一）) is detail, not a sibling
            seen.add(compact(sentence))
            items.append((idx, item_lead(sentence), False))
    return items[:MAX_LIST_ITEMS]


def _headings_naming(noun: str, chunks: list[Document], skip_title: bool) -> dict[tuple, dict[str, Document]]:
    """Section headings that contain `noun`, grouped by their parent path: {parent: {heading: its first chunk}}."""
    groups: dict[tuple, dict[str, Document]] = {}
    for d in chunks:
        parts = section_parts(d.metadata.get("section", ""))
        title = parts[-1] if parts else ""
        if noun in title and not (skip_title and title == d.metadata.get("title")):
            groups.setdefault(tuple(parts[:-1]), {}).setdefault(title, d)
    return groups


def _announced_sections(noun: str, chunks: list[Document], counted: bool = False) -> list[Document]:
    """First passages of the sections a sentence like "再讲三点意见。" announces (one level below it); counted: only a
    sentence that ends by counting the noun itself (三点意见, 几点意见), not one that names it and ends in a colon
    (各单位：)."""
    # 讲三点意见。, 再讲几点意见：: a count (几 too) of the noun closing the sentence
    count = re.compile(rf"[{CN_AMOUNT}\d几]+(?:个方面|个|点|项|条|类|种|方面)?{re.escape(noun)}[^。；]{{0,6}}[:：。]?$")
    for d in chunks:
        for s, e in split_sentences(d.page_content):
            sentence = d.page_content[s:e]
            if noun in sentence and (count.search(sentence) if counted else ENUM_ANNOUNCE.search(sentence)):
                section = d.metadata.get("section", "")
                depth = len(section_parts(section)) + 1
                firsts: dict[str, Document] = {}
                for c in sorted(chunks, key=_position):
                    path = c.metadata.get("section", "")
                    if len(section_parts(path)) == depth and (not section or path.startswith(section + SECTION_SEP)):
                        firsts.setdefault(path, c)
                return list(firsts.values())
    return []


def _position(doc: Document) -> int:
    """A chunk's place in its document."""
    return int(doc.metadata.get("chunk_index", 0))


def _heading_line(doc: Document) -> str:
    """The innermost heading of a chunk's section as its text writes it (一、 要“站得高…”, where the section path
    has 一、要“站得高…”), or as the path has it when the text does not hold it."""
    heading = _last_heading(doc.metadata.get("section", ""))
    return next((line.strip() for line in doc.page_content.splitlines() if compact(line) == compact(heading)), heading)


def _last_heading(section: str) -> str:
    """The innermost heading of a section path ("" for the preamble)."""
    parts = section_parts(section)
    return parts[-1] if parts else ""
