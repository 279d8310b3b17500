"""Word (.docx): heading styles as levels, tables in body order, the title from properties or the Title style."""

from __future__ import annotations

import pytest

from ingest.chunker import chunk_document
from ingest.loaders import load
from ingest.loaders.docx import load_docx
from tests.ingest.loaders.files import make_docx

pytestmark = pytest.mark.unit


def test_docx_headings_tables_and_sections(tmp_path):
    doc = load(make_docx(tmp_path / "方案.docx"))
    assert doc.title == "2024年冬训学习方案"
    levels = {doc.text[o : doc.text.index("\n", o)]: lvl for o, lvl in doc.headings.items()}
    assert levels == {"一、学习内容": 1, "（一）专题学习": 2, "二、组织保障": 1}
    assert "| 时间 | 内容 |\n|---|---|\n| 12月5日 | 开班动员 |\n| 12月6日 | 专题党课 |" in doc.text
    # Body order: the table sits between the 8-hour sentence and the second heading.
    assert doc.text.index("8学时") < doc.text.index("| 时间") < doc.text.index("二、组织保障")
    by_text = {c.page_content: c.metadata["section"] for c in chunk_document(doc, chunk_size=60)}

    def sec_of(needle: str) -> str:
        return next(s for t, s in by_text.items() if needle in t)

    assert sec_of("制定本方案") == ""
    assert sec_of("8学时") == "一、学习内容 > （一）专题学习"
    assert sec_of("12月6日") == "一、学习内容 > （一）专题学习"
    assert sec_of("第一责任人") == "二、组织保障"


def test_docx_title_style_when_no_core_title(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("冬训工作方案", level=0)  # level 0 is the "Title" style, not a section heading
    d.add_paragraph("正文内容。")
    path = tmp_path / "x.docx"
    d.save(path)
    doc = load(path)
    assert doc.title == "冬训工作方案"
    assert doc.headings == {}
    assert doc.text == "冬训工作方案\n正文内容。"


def test_docx_bytes(tmp_path):
    parsed = load_docx(make_docx(tmp_path / "方案.docx").read_bytes(), "方案.docx")
    assert parsed.title == "2024年冬训学习方案" and parsed.pages == []
    assert parsed.text.startswith("为做好今年冬训工作，制定本方案。\n一、学习内容\n")
