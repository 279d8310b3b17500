"""Split a LoadedDocument into sentence-aligned chunks that carry their section path.

CONTRACT:

    def chunk_document(doc: LoadedDocument, chunk_size: int = 300, overlap: int = 1) -> list[langchain_core.documents.Document]
        metadata: source, file_name, title, section (" > "-joined path, "" before the first heading),
                  page (int, 0 when unknown), start, end (offsets into doc.text), chunk_index (0..n-1)

Sections: a heading is recognised at the start of a line (markup headings from doc.headings,
markdown ``#``, 第X章/节/条, 一、, （一）, 1. / 1、, （1）, and the speech lead-ins 一要…/三是…, but not an
inline enumeration 一是…；二是… whose first sentence runs on to the next item).
The hierarchy is adaptive: a heading of a kind already on the stack pops back to it and replaces it,
a new kind is pushed beneath. Heading titles drop the whitespace right after a 、 or ） marker
(the seed has "一、\\xa0要…" -> "一、要…").
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document

from core.grammar import CN_NUMERALS, SECTION_SEP, numbering_kind, split_sentences
from ingest.loaders import LoadedDocument

_MD_RE = re.compile(r"^(#{1,6})\s+(.*)$")

# Recorded with every document beside chunk_size and chunk_overlap: raise it when a change here makes the same
# text give different chunks, so the next ingest re-chunks documents whose files did not change.
CHUNKER_VERSION = 2  # 2: an inline enumeration (一是…；二是…) is no heading
# A heading title longer than this is cut (an article's first sentence can be very long).
MAX_TITLE_CHARS = 60
# Where an over-long sentence may be split, best first.
SOFT_BREAKS = ("，", "、", ",", "：", ":")

_MARKER_SPACE_RE = re.compile(r"^(\S*?[、）)])\s+")
# A lead-in whose first sentence goes on to the next item ("一是…不够；二是…；三是…。") is an inline
# enumeration, a paragraph of the section it sits in, not a heading over what follows.
_INLINE_NEXT_ITEM_RE = re.compile(rf"[；;，,]\s*[{CN_NUMERALS}]+[要是]")
_TABLE_SEP_RE = re.compile(r"^\|?[\s:|-]*-{3,}[\s:|-]*\|?$")


@dataclass
class _Unit:
    start: int
    end: int
    row: bool = False  # a table row
    table: int = -1  # index of the table the row belongs to
    header: bool = False  # the header row (with its separator line) of a table


@dataclass
class _Table:
    header: str  # header row text, plus the separator line when present
    body_from: int  # offset where rows after the header (and separator) begin


def heading_at(line: str, markup_level: int | None = None) -> tuple[tuple[str, int], str] | None:
    """((kind, level), title) when the line is a section heading, else None."""
    stripped = line.strip()
    if not stripped:
        return None
    m = _MD_RE.match(stripped)
    if markup_level or m:
        level = markup_level or (len(m.group(1)) if m else 0)
        title = m.group(2).rstrip("#").strip() if m else stripped
        return ("h", level), _title(title)
    if stripped.startswith("|"):
        return None
    kind = numbering_kind(stripped)
    if kind == "lead" and _INLINE_NEXT_ITEM_RE.search(stripped.split("。", 1)[0]):
        return None
    return ((kind, 0), _title(stripped)) if kind else None


def _title(line: str) -> str:
    title = line.split("。", 1)[0].strip()
    title = _MARKER_SPACE_RE.sub(r"\1", title)
    return title[:MAX_TITLE_CHARS]


_FIRST_ITEM_RE = re.compile(r"^[（(]?[一1][、.．）)要是]")


def _push(stack: list[tuple[tuple[str, int], str]], kind: tuple[str, int], title: str) -> None:
    name, level = kind
    for i, (k, t) in enumerate(stack):
        if k[0] == name and (name != "h" or k[1] >= level):
            # A list that starts again at 一 under a later item ("二要…" then "一是…") is nested in it,
            # not a sibling of it; a continuing count ("二要…" then "三是…") is a sibling.
            if name != "h" and _FIRST_ITEM_RE.match(title) and not _FIRST_ITEM_RE.match(t) and i == len(stack) - 1:
                break
            del stack[i:]
            break
    stack.append((kind, title))


def sections_of(doc: LoadedDocument) -> list[tuple[int, int, str]]:
    """(start, end, section path) ranges covering doc.text; the first may have path ""."""
    text = doc.text
    stack: list[tuple[tuple[str, int], str]] = []
    out: list[tuple[int, int, str]] = []
    cur_start, cur_path = 0, ""
    offset = 0
    for line in text.split("\n"):
        lead = len(line) - len(line.lstrip())
        first = offset + lead
        level = doc.headings.get(first) or doc.headings.get(offset)
        found = heading_at(line, level)
        if found:
            kind, title = found
            if first > cur_start:
                out.append((cur_start, first, cur_path))
            _push(stack, kind, title)
            cur_start, cur_path = first, SECTION_SEP.join(t for _, t in stack)
        offset += len(line) + 1
    if len(text) > cur_start or not out:
        out.append((cur_start, len(text), cur_path))
    return out


def _units(text: str, start: int, end: int, chunk_size: int, tables: list[_Table]) -> list[_Unit]:
    """Sentences and table rows of text[start:end], over-long sentences split into pieces."""
    units: list[_Unit] = []
    # Walk lines so that runs of "|" lines become row units and the rest sentences.
    lines: list[tuple[int, int, bool]] = []
    s = start
    for line in text[start:end].split("\n"):
        lines.append((s, s + len(line), line.lstrip().startswith("|")))
        s += len(line) + 1
    i = 0
    while i < len(lines):
        s, e, is_row = lines[i]
        if not is_row:
            j = i
            while j < len(lines) and not lines[j][2]:
                j += 1
            block_end = lines[j - 1][1]
            for a, b in split_sentences(text, s, block_end):
                units.extend(_split_long(text, a, b, chunk_size))
            i = j
            continue
        j = i
        while j < len(lines) and lines[j][2]:
            j += 1
        rows = [(a, b) for a, b, _ in lines[i:j] if text[a:b].strip()]
        header_rows = (
            rows[:2] if len(rows) > 1 and _TABLE_SEP_RE.match(text[rows[1][0] : rows[1][1]].strip()) else rows[:1]
        )
        table_id = len(tables)
        tables.append(
            _Table(
                header="\n".join(text[a:b].strip() for a, b in header_rows),
                body_from=header_rows[-1][1],
            )
        )
        # Header and separator stay together as one unit so a separator never starts a chunk.
        units.append(
            _Unit(_skip_space(text, *header_rows[0]), header_rows[-1][1], row=True, table=table_id, header=True)
        )
        for a, b in rows[len(header_rows) :]:
            units.append(_Unit(_skip_space(text, a, b), b, row=True, table=table_id))
        i = j
    return units


def _skip_space(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def _split_long(text: str, start: int, end: int, chunk_size: int) -> list[_Unit]:
    """One unit per sentence; a sentence longer than chunk_size is cut at ，/、 (else between non-digits)."""
    if end - start <= chunk_size:
        return [_Unit(start, end)]
    pieces: list[_Unit] = []
    s = start
    while end - s > chunk_size:
        limit = s + chunk_size
        cut = -1
        for mark in SOFT_BREAKS:
            k = text.rfind(mark, s + 1, limit)
            if k != -1:
                cut = k + 1
                break
        if cut == -1:
            cut = limit
            # Never cut inside a run of digits (or a decimal number).
            while cut > s + 1 and _in_number(text, cut):
                cut -= 1
            if cut <= s + 1:
                # The number is longer than a chunk: keep it whole rather than cut it.
                cut = limit
                while cut < end and _in_number(text, cut):
                    cut += 1
        pieces.append(_Unit(s, cut))
        s = cut
        while s < end and text[s].isspace():
            s += 1
    if s < end:
        pieces.append(_Unit(s, end))
    return pieces


def _in_number(text: str, cut: int) -> bool:
    left, right = text[cut - 1], text[cut] if cut < len(text) else ""
    numeric = "0123456789.．%"
    return left.isdigit() and (right.isdigit() or right in numeric) or (left in ".．" and right.isdigit())


def chunk_document(doc: LoadedDocument, chunk_size: int = 300, overlap: int = 1) -> list[Document]:
    """Sentence-aligned chunks of doc, never spanning two sections, with `overlap` sentences repeated."""
    text = doc.text
    file_name = getattr(doc, "file_name", "") or Path(doc.source).name
    page_starts = [p[0] for p in doc.pages]
    chunks: list[Document] = []

    def emit(units: list[_Unit], section: str, tables: list[_Table]) -> None:
        start, end = units[0].start, units[-1].end
        body = text[start:end]
        first = units[0]
        if first.row and first.start >= tables[first.table].body_from:
            # A table continued from the previous chunk: repeat its header so the rows stay readable.
            body = tables[first.table].header + "\n" + body
        page = 0
        if doc.pages:
            k = bisect.bisect_right(page_starts, start) - 1
            page = doc.pages[max(k, 0)][2]
        chunks.append(
            Document(
                page_content=body,
                metadata={
                    "source": doc.source,
                    "file_name": file_name,
                    "title": doc.title,
                    "section": section,
                    "page": int(page),
                    "start": start,
                    "end": end,
                    "chunk_index": len(chunks),
                },
            )
        )

    def size(units: list[_Unit], tables: list[_Table]) -> int:
        n = units[-1].end - units[0].start
        first = units[0]
        if first.row and first.start >= tables[first.table].body_from:
            n += len(tables[first.table].header) + 1
        return n

    for sec_start, sec_end, section in sections_of(doc):
        tables: list[_Table] = []
        units = _units(text, sec_start, sec_end, chunk_size, tables)
        current: list[_Unit] = []
        fresh = 0  # units in `current` that are not overlap
        for unit in units:
            if current and size(current + [unit], tables) > chunk_size and fresh:
                if current[-1].header and fresh > 1:
                    # A table header never ends a chunk: it moves on with its first rows.
                    head = current.pop()
                    emit(current, section, tables)
                    current, fresh = [head, unit], 2
                    continue
                emit(current, section, tables)
                carry = [u for u in current[-overlap:] if not u.row] if overlap > 0 else []
                # Only carry sentences that directly precede the new unit and still leave room.
                carry = carry if carry and carry == current[-len(carry) :] else []
                while carry and size(carry + [unit], tables) > chunk_size:
                    carry = carry[1:]
                current, fresh = list(carry), 0
            current.append(unit)
            fresh += 1
        if current and fresh:
            emit(current, section, tables)
    return chunks
