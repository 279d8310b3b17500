"""PDF: pages and page numbers, lines the layout wrapped joined again, the title from the first heading or the
cleaned metadata, and files pdfminer cannot decode read by pypdf. Tables are in test_pdf_tables.py."""

from __future__ import annotations

import pytest

from core.grammar import numbering_kind
from ingest.chunker import chunk_document
from ingest.loaders import load
from ingest.loaders.pdf import BLOCK_START, FULL_WIDTH, clean_title, heading_title, load_pdf, unwrap_lines
from tests.ingest.loaders.files import PDF_PAGES, make_pdf
from tests.ingest.loaders.pdf_files import TIMETABLE_TITLE, make_timetable_pdf

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


def test_unwrap_never_joins_a_table_row_or_measures_the_column_by_it():
    row = "| 2 | 乡村振兴政策解读 | 区农业农村局负责同志 | 2 |"
    assert unwrap_lines(f"{row}\n以上课程均在党校报告厅举行") == f"{row}\n以上课程均在党校报告厅举行"
    # Rows run wider than the text column; measured by them, the wrapped line would look short.
    wide = "| 12月17日 | 下午14:30—17:00 | 党纪学习教育专题辅导 | 区纪委监委 钱某某 | 党校报告厅 |"
    assert len(wide) * FULL_WIDTH > len(WRAPPED.split("\n")[0])
    assert unwrap_lines(f"{wide}\n{WRAPPED}") == f"{wide}\n" + WRAPPED.replace("\n", "")


BODY = 11.0
TITLE = 18.0


@pytest.mark.parametrize(
    "lines, title",
    [
        ([("2024年冬训课程安排", TITLE), ("为做好冬训工作，现将安排通知如下。", BODY)], "2024年冬训课程安排"),
        ([("附件1", BODY), ("冬训课程安排", TITLE), ("正文", BODY)], "冬训课程安排"),  # the largest, not the first
        (
            [("关于开展2024年度党员冬训", TITLE), ("工作的通知", TITLE), ("各支部：", BODY)],
            "关于开展2024年度党员冬训工作的通知",
        ),
        (
            [("中共云岭县委组织部文件", 36.0), ("云组通〔2025〕41号", BODY), ("关于做好冬训的通知", 22.0)],
            "关于做好冬训的通知",
        ),
        ([("通 知", TITLE), ("各支部：", BODY)], "通知"),  # set letter-spaced
        ([("党员冬训工作安排", BODY), ("全体党员参加集中学习三天。", BODY)], ""),  # one size throughout: no heading
        ([("冬训安排", 12.0), ("正文", BODY)], ""),  # not larger enough than the body
        ([("冬训" * 30, TITLE), ("正文", BODY)], ""),  # a paragraph set large
        ([("正文", BODY)] * 6 + [("冬训课程安排", TITLE)], ""),  # beyond the first lines
    ],
)
def test_heading_title_is_the_first_lines_in_the_largest_font(lines, title):
    assert heading_title(lines, body_size=BODY) == title


@pytest.mark.parametrize(
    "title, clean",
    [
        ("Microsoft Word - 冬训方案.docx", "冬训方案"),
        ("  通知.PDF ", "通知"),
        ("冬训.wps", "冬训"),
        ("安排", "安排"),
        ("(anonymous)", ""),
        ("Untitled", ""),
    ],
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


@pytest.mark.parametrize("metadata", [None, "Microsoft Word - 课程安排.docx"])
def test_the_first_heading_titles_a_pdf_before_its_metadata(tmp_path, metadata):
    # Without a title reportlab writes "(anonymous)", which used to be shown as the source's title.
    assert load(make_timetable_pdf(tmp_path / "课程.pdf", title=metadata)).title == TIMETABLE_TITLE


def test_a_pdf_encrypted_only_against_printing_with_a_font_pdfminer_cannot_map_reads_through_pypdf(tmp_path):
    from reportlab.lib.pdfencrypt import StandardEncryption

    locked = StandardEncryption("", ownerPassword="owner", canPrint=0)
    doc = load(make_pdf(tmp_path / "安排.pdf", encrypt=locked))
    assert [doc.text[s:e].split("\n") for s, e, _ in doc.pages] == PDF_PAGES
    assert "(cid:" not in doc.text and doc.title == "冬训安排"


def test_a_page_pdfminer_cannot_read_is_read_by_pypdf(tmp_path, monkeypatch):
    from ingest.loaders import pdf

    real = pdf.page_text

    def failing(page, last):
        if page.page_number == 2:
            raise ValueError("damaged content stream")
        return real(page, last)

    monkeypatch.setattr(pdf, "page_text", failing)
    doc = load(make_pdf(tmp_path / "安排.pdf"))
    assert [doc.text[s:e].split("\n") for s, e, _ in doc.pages] == PDF_PAGES


def test_a_file_pdfminer_cannot_open_is_read_by_pypdf(tmp_path, monkeypatch):
    import pdfplumber

    def failing(*args, **kwargs):
        raise pdfplumber.utils.exceptions.PdfminerException(ValueError("no xref"))

    monkeypatch.setattr(pdfplumber, "open", failing)
    doc = load(make_pdf(tmp_path / "安排.pdf"))
    assert [doc.text[s:e].split("\n") for s, e, _ in doc.pages] == PDF_PAGES and doc.title == "冬训安排"
