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
