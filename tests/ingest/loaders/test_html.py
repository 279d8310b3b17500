"""HTML: visible text block by block, headings with levels, tables as pipe rows; scripts and navigation dropped."""

from __future__ import annotations

import pytest

from ingest.chunker import chunk_document
from ingest.loaders import load
from ingest.loaders.html import load_html

pytestmark = pytest.mark.unit


def test_html_structure(tmp_path):
    html = """<!DOCTYPE html><html><head><title>冬训课程表</title><style>p{color:red}</style></head>
    <body><nav>首页 | 导航栏</nav><script>var x = "脚本内容";</script>
    <h1>冬训课程安排</h1><p>全体党员参加集中学习。</p>
    <h2>第一阶段</h2><div>学习党章党规。<span>重点学习准则。</span></div>
    <ul><li>12月1日 开班动员</li><li>12月2日 专题党课</li></ul>
    <table><tr><th>日期</th><th>内容</th></tr><tr><td>12月1日</td><td>开班</td></tr></table>
    <!-- 注释不要出现 --></body></html>"""
    path = tmp_path / "course.html"
    path.write_text(html, encoding="utf-8")
    doc = load(path)
    assert doc.title == "冬训课程表"
    lines = doc.text.split("\n")
    assert lines == [
        "冬训课程安排",
        "全体党员参加集中学习。",
        "第一阶段",
        "学习党章党规。重点学习准则。",
        "12月1日 开班动员",
        "12月2日 专题党课",
        "| 日期 | 内容 |",
        "|---|---|",
        "| 12月1日 | 开班 |",
    ]
    assert {doc.text[o : o + 6]: lvl for o, lvl in doc.headings.items()} == {"冬训课程安排": 1, "第一阶段\n学": 2}
    sections = {c.metadata["section"] for c in chunk_document(doc)}
    assert "冬训课程安排 > 第一阶段" in sections


def test_html_bytes_title_from_h1_and_line_breaks():
    page = "<body><h1>  夜校\n安排 </h1>第一行<br>第二行<b>加粗</b><p>段落</p><template>模板</template></body>"
    parsed = load_html(page.encode("gbk"), "夜校.htm")
    assert parsed.title == "夜校 安排"
    assert parsed.text.split("\n") == ["夜校 安排", "第一行", "第二行加粗", "段落"]
    assert parsed.headings == {0: 1} and parsed.pages == []


def test_html_escaped_markup_stays_text():
    parsed = load_html("<p>&lt;script&gt;alert(1)&lt;/script&gt;正文</p>".encode(), "x.html")
    assert parsed.text == "<script>alert(1)</script>正文"
