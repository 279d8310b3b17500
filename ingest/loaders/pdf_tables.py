"""A PDF page's text with its ruled tables as pipe rows under their header (pdfplumber), in reading order.

Text outside the tables keeps its order and is not repeated by the tables' cells; a table that goes on over a
page break keeps its header. Rows come out like the docx loader's (ingest.loaders.document.table_rows), so the
chunker repeats the header on every chunk and the answer reads a row as labelled pairs."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.loaders.document import collapse_spaces, table_rows

# A table needs this many rows and columns: a single ruled box around a paragraph or under a banner is not one.
MIN_ROWS = 2
MIN_COLS = 2
# A merged cell's box may stop this many points short of the row it spans (ruling line widths, rounding).
MERGE_TOLERANCE = 1.0
CJK = "\u3000-\u9fff\uff00-\uffef"  # CJK punctuation, ideographs and full-width forms
# A line break inside a cell between two CJK characters is the cell's wrapping, not a space.
CJK_BREAK_RE = re.compile(rf"(?<=[{CJK}])\s*\n\s*(?=[{CJK}])")

Box = tuple[float, float, float, float]  # x0, top, x1, bottom (pdfplumber's page coordinates)


@dataclass
class OpenTable:
    """The last table of the pages read so far, so that its rows on the next page keep its header."""

    header: list[str] = field(default_factory=list)
    ends_page: bool = False  # nothing followed the table on its page: the next page's rows join it in the text


def page_text(page: Any, last: OpenTable, *, ruled_only: bool = True) -> str:
    """The page's text with each table as pipe rows where it stands (by its top edge); `last` is read and updated.

    ruled_only: look for tables only on pages that draw lines or rectangles (tables here are ruled ones, and
    the search costs more than the text itself)."""
    tables = find_tables(page) if not ruled_only or page.lines or page.rects else []
    if not tables:
        text = str(page.extract_text())
        if text.strip():  # a page of text between two tables: the second one starts afresh
            last.header, last.ends_page = [], False
        return text
    boxes = [table.bbox for table in tables]
    out: list[str] = []
    above = -math.inf
    for table in tables:
        band = text_in_band(page, above, table.bbox[1], boxes)
        if band.strip():
            out.append(band)
        out.extend(table_lines(cell_rows(table), last, first_on_page=not out))
        above = table.bbox[1]
    band = text_in_band(page, above, math.inf, boxes)
    if band.strip():
        out.append(band)
        last.ends_page = False
    return "\n".join(out)


def find_tables(page: Any) -> list[Any]:
    """The page's ruled tables of at least MIN_ROWS x MIN_COLS, top to bottom."""
    found = [t for t in page.find_tables() if len(t.rows) >= MIN_ROWS and max(len(r.cells) for r in t.rows) >= MIN_COLS]
    return sorted(found, key=lambda t: (t.bbox[1], t.bbox[0]))


def text_in_band(page: Any, top: float, bottom: float, boxes: Sequence[Box]) -> str:
    """The text of the characters whose top lies in [top, bottom) and that fall in none of the boxes."""

    def keep(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return True
        return top <= obj["top"] < bottom and not any(in_box(obj, box) for box in boxes)

    return str(page.filter(keep).extract_text())


def in_box(char: dict[str, Any], box: Box) -> bool:
    """The character's centre lies in the box (the test pdfplumber uses to put a character in a cell)."""
    x0, top, x1, bottom = box
    h_mid, v_mid = (char["x0"] + char["x1"]) / 2, (char["top"] + char["bottom"]) / 2
    return x0 <= h_mid < x1 and top <= v_mid < bottom


def cell_rows(table: Any) -> list[list[str | None]]:
    """A pdfplumber table's cell texts, a cell merged down from the row above filled with that cell's text."""
    return fill_merged(table.extract(), [row.cells for row in table.rows])


def fill_merged(texts: list[list[str | None]], boxes: list[list[Box | None]]) -> list[list[str | None]]:
    """Texts with each missing cell (None) that a cell above spans down over given that cell's text, so every row
    reads on its own; a cell spanned from the left stays None."""
    out = [list(row) for row in texts]
    for i, row in enumerate(out):
        for j, text in enumerate(row):
            if text is not None or i == 0:
                continue
            here = next((b for b in boxes[i] if b is not None), None)
            k = next((k for k in range(i - 1, -1, -1) if j < len(boxes[k]) and boxes[k][j] is not None), None)
            if k is None or here is None:
                continue
            spanner = boxes[k][j]
            if spanner is not None and spanner[3] >= here[3] - MERGE_TOLERANCE:
                row[j] = out[k][j]
    return out


def clean_cell(text: str | None) -> str:
    """A cell's text on one line: a wrap between CJK characters joined, any other break a space."""
    return collapse_spaces(CJK_BREAK_RE.sub("", text or ""))


def table_lines(rows: list[list[str | None]], last: OpenTable, *, first_on_page: bool) -> list[str]:
    """One table as text lines: caption rows (one cell across the table) as plain lines, then pipe rows under
    their header. The page's first table that has the last table's number of columns and not its header row
    continues it: it is given that header, or, when nothing came between them, its rows simply follow."""
    rows = list(rows)
    captions: list[str] = []
    while rows and len(rows[0]) > 1 and sum(cell is not None for cell in rows[0]) == 1:
        captions.append(clean_cell(next(cell for cell in rows.pop(0) if cell is not None)))
    cells = [[clean_cell(cell) for cell in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return captions
    continues = first_on_page and not captions and bool(last.header) and len(cells[0]) == len(last.header)
    if continues and cells[0] != last.header:
        cells.insert(0, last.header)
    joined = continues and last.ends_page
    last.header, last.ends_page = cells[0], True
    lines = table_rows(cells)
    return captions + (lines[2:] if joined else lines)
