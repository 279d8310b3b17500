"""Plain text and Markdown: titles from the first line or the first # heading, Markdown heading levels."""

from __future__ import annotations

import pytest

from ingest.loaders import load
from ingest.loaders.document import TextBuilder, table_rows, title_from_text
from ingest.loaders.text import load_markdown, load_text

pytestmark = pytest.mark.unit


def test_long_first_line_is_not_title(tmp_path):
    path = tmp_path / "讲稿.txt"
    path.write_text(
        "今天我们召开会议，主要任务是学习贯彻党的二十大精神，部署今年冬训工作，下面讲三点意见\n正文。", encoding="utf-8"
    )
    assert load(path).title == "讲稿"


def test_markdown_title_and_headings(tmp_path):
    md = "# 冬训学习计划\n\n## 学习内容\n\n学习党章。\n\n### 学习方式\n\n集中学习。\n"
    path = tmp_path / "plan.md"
    path.write_text(md, encoding="utf-8")
    doc = load(path)
    assert doc.title == "冬训学习计划"
    found = {
        doc.text[o : doc.text.index("\n", o) if "\n" in doc.text[o:] else None]: lvl for o, lvl in doc.headings.items()
    }
    assert found == {"# 冬训学习计划": 1, "## 学习内容": 2, "### 学习方式": 3}


def test_text_bytes_keep_their_hashes_as_text():
    parsed = load_text("# 不是标题\r\n正文。  \r\n\r\n\r\n\r\n结尾。".encode(), "a.txt")
    assert parsed.text == "# 不是标题\n正文。\n\n结尾。"
    assert (parsed.headings, parsed.title, parsed.pages) == ({}, "", [])


def test_markdown_bytes_headings_and_first_level_one_title():
    parsed = load_markdown("## 小节\n正文\n# 总标题 #\n#不是标题\n###### 六级".encode(), "a.md")
    assert parsed.title == "总标题"
    lines = parsed.text.split("\n")
    offsets = {sum(len(x) + 1 for x in lines[:i]): line for i, line in enumerate(lines)}
    assert {offsets[o]: level for o, level in parsed.headings.items()} == {
        "## 小节": 2,
        "# 总标题 #": 1,
        "###### 六级": 6,
    }


@pytest.mark.parametrize(
    "text, title",
    [
        ("\n\n  通知标题  \n正文。", "通知标题"),
        ("同志们：\n正文。", ""),
        ("这是第一句。第二句。", ""),
        ("# 标题\n正文", "标题"),
        ("一" * 41 + "\n正文", ""),
        ("", ""),
    ],
)
def test_title_from_text(text, title):
    assert title_from_text(text) == title


def test_text_builder_keeps_offsets_of_headings():
    b = TextBuilder()
    assert b.add("  标题\n  一  ", level=9) == (0, 4)  # a heading is one line; levels stop at 6
    assert b.add("   ") is None
    assert b.add("正文。") == (5, 8)
    assert b.text == "标题 一\n正文。" and b.headings == {0: 6}


def test_table_rows_escape_pipes_and_skip_empty_rows():
    assert table_rows([["日期", "内容|备注"], ["", " "], ["12月1日", "开班\n动员"]]) == [
        "| 日期 | 内容｜备注 |",
        "|---|---|",
        "| 12月1日 | 开班 动员 |",
    ]
