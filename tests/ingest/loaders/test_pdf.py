"""PDF: pages and page numbers, lines the layout wrapped joined again, Word-export titles cleaned."""

from __future__ import annotations

import pytest

from core.grammar import numbering_kind
from ingest.chunker import chunk_document
from ingest.loaders import load
from ingest.loaders.pdf import BLOCK_START, clean_title, load_pdf, unwrap_lines
from tests.ingest.loaders.files import PDF_PAGES, make_pdf

pytestmark = pytest.mark.unit

WRAPPED = "各级党组织要高度重视冬训工作，认真组织党员参加学习，由村党组织指定专人负责签\n到。"


def test_pdf_pages_and_page_numbers_in_chunks(tmp_path):
    doc = load(make_pdf(tmp_path / "安排.pdf"))
    assert doc.title == "冬训安排"
    assert [p[2] for p in doc.pages] == [1, 2]
    for (start, end, _number), lines in zip(doc.pages, PDF_PAGES):
        assert doc.text[start:end].split("\n") == lines
    assert doc.pages[1][0] == doc.pages[0][1] + 1  # pages joined with one line break
    chunks = chunk_document(doc, chunk_size=20, overlap=0)
    pages = {c.page_content: c.metadata["page"] for c in chunks}
    assert pages["全体党员参加集中学习三天。"] == 1
    assert pages["第二阶段开展专题研讨。"] == 2
    assert pages["每名党员撰写学习心得一篇。"] == 2


def test_pdf_bytes(tmp_path):
    parsed = load_pdf(make_pdf(tmp_path / "安排.pdf").read_bytes(), "安排.pdf")
    assert parsed.title == "冬训安排" and parsed.headings == {}
    assert [page for _, _, page in parsed.pages] == [1, 2]


def test_unwrap_joins_a_full_width_line_with_its_rest():
    assert unwrap_lines(WRAPPED) == WRAPPED.replace("\n", "")


@pytest.mark.parametrize(
    "second",
    ["一、总体要求", "（二）学习内容", "3. 开展讨论", "第五条 附则", "三是加强宣传", "# 标题", "| 表格 |", "• 要点"],
)
def test_unwrap_keeps_a_line_that_starts_a_block(second):
    text = "各级党组织要高度重视冬训工作，认真组织党员参加学习，由村党组织指定专人负责签\n" + second
    assert unwrap_lines(text).split("\n")[1] == second


def test_unwrap_keeps_short_lines_and_sentence_ends():
    assert unwrap_lines("冬训安排\n全体党员参加") == "冬训安排\n全体党员参加"
    ended = "各级党组织要高度重视冬训工作，认真组织党员参加学习，由村党组织指定专人负责。\n到场签到"
    assert unwrap_lines(ended) == ended


@pytest.mark.parametrize(
    "title, clean",
    [("Microsoft Word - 冬训方案.docx", "冬训方案"), ("  通知.PDF ", "通知"), ("冬训.wps", "冬训"), ("安排", "安排")],
)
def test_clean_title(title, clean):
    assert clean_title(title) == clean


@pytest.mark.parametrize(
    "line, block_start, numbered",
    [
        ("123. 总则", True, False),  # the grammar takes at most two digits (2024. is a year)
        ("12、", True, False),  # the grammar wants text after the marker
        ("一要 ", True, False),
        ("（一1）", True, False),
        ("两、", False, True),  # the grammar's numerals include 两 and 〇
        ("第〇条", False, True),
        ("二十、", True, True),
        ("（12）", True, True),
    ],
)
def test_block_start_is_not_core_grammar_numbering(line, block_start, numbered):
    """Why BLOCK_START is not built from core.grammar.NUMBERING: the two disagree on these lines, and the
    joins decide the text a PDF yields (so switching would change what is ingested)."""
    assert bool(BLOCK_START.match(line)) is block_start
    assert bool(numbering_kind(line)) is numbered
