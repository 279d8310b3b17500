"""Outline export (bot/export.py): the 资料来源 list names each still-cited source by file and section."""

from __future__ import annotations

import pytest

from bot.export import cited_numbers, outline_markdown, source_lines

pytestmark = pytest.mark.unit

CITATIONS = [
    {"n": 1, "source": "knowledge/冬训动员部署会讲话.txt", "section": "三、要压得实 > 一要压实责任"},
    {"n": 2, "source": "eval/corpus/课程安排.md", "section": "", "page": 3},
]


def test_cited_numbers_in_order_of_first_use():
    assert cited_numbers("乙[2]。甲[1]。乙又[2]。") == [2, 1]
    assert cited_numbers("") == []


def test_source_lines_name_file_and_section_of_what_is_still_cited():
    assert source_lines("甲[1]。", CITATIONS) == ["[1] 冬训动员部署会讲话.txt > 三、要压得实 > 一要压实责任"]
    assert source_lines("没有引用。", CITATIONS)[1] == "[2] 课程安排.md（第3页）"  # no marker left: all are listed


def test_markdown_gets_one_sources_section():
    md = outline_markdown("# 提纲\n\n## 一、要点\n- 甲[1]。", CITATIONS)
    assert md.endswith("## 资料来源\n\n- [1] 冬训动员部署会讲话.txt > 三、要压得实 > 一要压实责任\n")
    assert outline_markdown(md, CITATIONS) == md  # a text that has its sources already keeps them


# ---------------------------------------------------------------- the Word file in official form (GB/T 9704)
OUTLINE = (
    "# “冬训责任落实”宣讲提纲\n\n## 开场\n- 党员冬训是一项政治任务[1]。\n\n"
    "## 一、压实责任\n- 党组织书记要带头讲好第一课[1]。\n- 课程安排见附表[2]。\n\n"
    "## 资料来源\n\n- 手写的来源，导出时由引用重建\n"
)
DOCX_CITATIONS = [
    {
        "n": 1,
        "source": "knowledge/冬训动员部署会讲话.txt",
        "title": "冬训动员部署会讲话",
        "section": "三、要压得实 > 一要压实责任",
    },
    {"n": 2, "source": "eval/corpus/课程安排.md", "title": "", "section": "", "page": 3},
    {"n": 3, "source": "eval/corpus/没有引用.txt", "title": "未被引用的材料", "section": ""},
]
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture
def docx_file(tmp_path):
    from docx import Document

    from bot.export import outline_docx

    return Document(str(outline_docx(OUTLINE, DOCX_CITATIONS, tmp_path / "out" / "提纲.docx")))


def east_asian(run) -> str:
    return run.element.rPr.rFonts.get(f"{W}eastAsia")


def test_docx_is_a4_with_the_official_margins(docx_file):
    from bot.export import MARGINS_MM

    assert MARGINS_MM == {"top": 37, "bottom": 35, "left": 28, "right": 26}
    for s in docx_file.sections:
        assert round(s.page_width.mm) == 210 and round(s.page_height.mm) == 297
        assert [round(x.mm) for x in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)] == [37, 35, 28, 26]


def test_docx_title_headings_and_body_have_their_official_fonts(docx_file):
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING

    paragraphs = [p for p in docx_file.paragraphs if p.text.strip()]
    title = paragraphs[0]
    assert title.text == "“冬训责任落实”宣讲提纲" and title.style.name == "Title"
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER and title.style.element.pPr.find(f"{W}pBdr") is None
    assert {(r.font.name, east_asian(r), r.font.size.pt) for r in title.runs} == {("方正小标宋简体",) * 2 + (22,)}
    headings = [p for p in paragraphs if p.style.name.startswith("Heading")]
    assert [p.text for p in headings] == ["开场", "一、压实责任", "资料来源"]
    for p in headings:
        assert {(r.font.name, east_asian(r), r.font.size.pt) for r in p.runs} == {("黑体", "黑体", 16)}
    body = [p for p in paragraphs[1:] if p not in headings]
    assert [p.text for p in body][:3] == [
        "党员冬训是一项政治任务[1]。",
        "党组织书记要带头讲好第一课[1]。",
        "课程安排见附表[2]。",
    ]
    for p in body:
        assert {(r.font.name, east_asian(r), r.font.size.pt) for r in p.runs} == {("仿宋_GB2312", "仿宋_GB2312", 16)}
        fmt = p.paragraph_format
        assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY and fmt.line_spacing.pt == 28


def test_docx_footer_numbers_pages_with_a_page_field(docx_file):
    footer = docx_file.sections[0].footer.paragraphs[0]
    xml = footer._p.xml
    assert '<w:fldChar w:fldCharType="begin"/>' in xml and '<w:fldChar w:fldCharType="end"/>' in xml
    assert [t.text.strip() for t in footer._p.iter(f"{W}instrText")] == ["PAGE"]
    assert footer.text == "— 1 —"


def test_docx_sources_match_the_citations_by_title_and_section(docx_file):
    texts = [p.text for p in docx_file.paragraphs if p.text.strip()]
    sources = texts[texts.index("资料来源") + 1 :]
    # only what is still cited ([1], [2]), numbered as cited; the hand-written list is replaced
    assert sources == ["[1] 冬训动员部署会讲话 > 三、要压得实 > 一要压实责任", "[2] 课程安排.md（第3页）"]


def test_docx_core_properties_name_the_assistant(docx_file):
    from datetime import UTC, datetime, timedelta

    props = docx_file.core_properties
    assert props.author == props.last_modified_by == "冬训问答助手"
    assert props.title == "“冬训责任落实”宣讲提纲" and "python-docx" not in (props.comments or "")
    assert props.created is not None
    assert abs(props.created.replace(tzinfo=None) - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)


def test_markdown_export_still_lists_sources_by_title():
    md = outline_markdown(OUTLINE.split("## 资料来源")[0], DOCX_CITATIONS)
    assert md.endswith(
        "## 资料来源\n\n- [1] 冬训动员部署会讲话 > 三、要压得实 > 一要压实责任\n- [2] 课程安排.md（第3页）\n"
    )
