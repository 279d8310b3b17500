"""PDF tables: cells to pipe rows under their header, merged and wrapped cells, a table over a page break,
the text around a table read once and in order, and tables looked for only on ruled pages."""

from __future__ import annotations

import pytest

from ingest.chunker import chunk_document
from ingest.loaders import load
from ingest.loaders.pdf_tables import OpenTable, clean_cell, fill_merged, table_lines
from tests.ingest.loaders.pdf_files import (
    TIMETABLE,
    TIMETABLE_END,
    TIMETABLE_INTRO,
    long_rows,
    make_long_table_pdf,
    make_timetable_pdf,
)

pytestmark = pytest.mark.unit

HEADER = ["序号", "课程", "授课人", "学时"]
ROWS = [["2", "乡村振兴政策解读", "区农业农村局负责同志", "2"], ["3", "基层治理案例分析", "镇党委书记", "2"]]
HEADER_LINE = "| 序号 | 课程 | 授课人 | 学时 |"
SEPARATOR = "|---|---|---|---|"
ROW_LINES = ["| 2 | 乡村振兴政策解读 | 区农业农村局负责同志 | 2 |", "| 3 | 基层治理案例分析 | 镇党委书记 | 2 |"]


def pipe(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# ---------------------------------------------------------------------- rows (pure)
def test_a_table_is_its_header_a_separator_and_its_rows():
    last = OpenTable()
    assert table_lines([HEADER, *ROWS], last, first_on_page=False) == [HEADER_LINE, SEPARATOR, *ROW_LINES]
    assert last.header == HEADER and last.ends_page


def test_rows_that_go_on_from_the_last_page_are_given_its_header():
    last = OpenTable(header=HEADER, ends_page=False)  # a page number came between the two parts
    assert table_lines([list(r) for r in ROWS], last, first_on_page=True) == [HEADER_LINE, SEPARATOR, *ROW_LINES]


def test_rows_right_after_the_last_pages_rows_follow_them_without_a_second_header():
    # Nothing came between: in the text the two parts are one table, whose header the chunker repeats.
    last = OpenTable(header=HEADER, ends_page=True)
    assert table_lines([list(r) for r in ROWS], last, first_on_page=True) == ROW_LINES
    repeated = OpenTable(header=HEADER, ends_page=True)  # the producer repeated the header on the new page
    assert table_lines([HEADER, *ROWS], repeated, first_on_page=True) == ROW_LINES


@pytest.mark.parametrize(
    "rows, first_on_page",
    [
        ([row[:3] for row in ROWS], True),  # another number of columns: another table
        ([list(r) for r in ROWS], False),  # text stands before it on its page
    ],
)
def test_a_table_that_does_not_go_on_keeps_its_own_first_row_as_header(rows, first_on_page):
    last = OpenTable(header=HEADER, ends_page=True)
    lines = table_lines(rows, last, first_on_page=first_on_page)
    assert lines[0] == pipe(rows[0]) and HEADER_LINE not in lines
    assert last.header == rows[0]


def test_a_caption_row_across_the_table_is_a_line_of_text_before_it():
    rows: list[list[str | None]] = [["冬训课程安排表", None, None, None], list(HEADER), *[list(r) for r in ROWS]]
    assert table_lines(rows, OpenTable(), first_on_page=True) == ["冬训课程安排表", HEADER_LINE, SEPARATOR, *ROW_LINES]


def test_a_cell_merged_down_is_repeated_on_each_row_and_one_merged_across_stays_empty():
    texts: list[list[str | None]] = [
        ["日期", "课程"],
        ["12月5日", "开班动员"],
        [None, "专题党课"],
        ["备注：自带笔记本", None],
    ]
    boxes: list[list[tuple[float, float, float, float] | None]] = [
        [(0, 0, 50, 10), (50, 0, 100, 10)],
        [(0, 10, 50, 30), (50, 10, 100, 20)],  # 12月5日 spans rows 1 and 2
        [None, (50, 20, 100, 30)],
        [(0, 30, 100, 40), None],  # the note spans both columns
    ]
    assert fill_merged(texts, boxes) == [
        ["日期", "课程"],
        ["12月5日", "开班动员"],
        ["12月5日", "专题党课"],
        ["备注：自带笔记本", None],
    ]


@pytest.mark.parametrize(
    "cell, clean",
    [
        ("区农业农村局负\n责同志", "区农业农村局负责同志"),
        ("Party\nschool", "Party school"),
        ("钱某某\n13800000000", "钱某某 13800000000"),
        (None, ""),
    ],
)
def test_a_cells_wrapped_lines_join_without_a_space_between_chinese_characters(cell, clean):
    assert clean_cell(cell) == clean


# ---------------------------------------------------------------------- PDFs
def test_timetable_rows_under_their_header_and_the_text_around_them_once_in_order(tmp_path):
    doc = load(make_timetable_pdf(tmp_path / "课程安排.pdf"))
    lines = doc.text.split("\n")
    table = [pipe(row) for row in TIMETABLE]
    assert lines[1:] == [TIMETABLE_INTRO, table[0], SEPARATOR, *table[1:], TIMETABLE_END]
    for course in ("乡村振兴政策解读", "区纪委监委 钱某某"):
        assert doc.text.count(course) == 1  # the cells are not read a second time as running text


def test_the_chunk_of_a_row_holds_the_row_under_its_header(tmp_path):
    doc = load(make_timetable_pdf(tmp_path / "课程安排.pdf"))
    chunks = chunk_document(doc, chunk_size=80, overlap=0)
    row = pipe(TIMETABLE[2])
    [chunk] = [c for c in chunks if row in c.page_content]
    assert chunk.page_content.startswith(pipe(TIMETABLE[0])) and chunk.metadata["page"] == 1


@pytest.mark.parametrize("footer, repeat_header", [(False, False), (True, False), (False, True), (True, True)])
def test_a_table_over_a_page_break_keeps_its_header(tmp_path, footer, repeat_header):
    rows = long_rows(60)
    doc = load(make_long_table_pdf(tmp_path / "课程表.pdf", 60, footer=footer, repeat_header=repeat_header))
    assert [p[2] for p in doc.pages] == [1, 2]
    second = doc.text[doc.pages[1][0] : doc.pages[1][1]]
    # Every row once; page 2 opens with the header when a page number stands between the two parts, and with
    # the next row when the parts are one table in the text.
    for row in rows[1:]:
        assert doc.text.count(pipe(row)) == 1
    assert second.startswith(pipe(rows[0])) is footer
    assert doc.text.count(pipe(rows[0])) == (2 if footer else 1)
    for chunk in chunk_document(doc, chunk_size=120, overlap=0):
        if chunk.metadata["page"] == 2 and chunk.page_content.startswith("|"):
            assert chunk.page_content.startswith(pipe(rows[0]) + "\n" + SEPARATOR), chunk.page_content


def test_tables_are_looked_for_only_on_pages_that_draw_lines(tmp_path, monkeypatch):
    from ingest.loaders import pdf_tables
    from tests.ingest.loaders.files import make_pdf

    calls: list[int] = []
    real = pdf_tables.find_tables
    monkeypatch.setattr(pdf_tables, "find_tables", lambda page: calls.append(page.page_number) or real(page))
    load(make_pdf(tmp_path / "安排.pdf"))  # two pages of text
    assert calls == []
    load(make_timetable_pdf(tmp_path / "课程安排.pdf"))
    assert calls == [1]
