"""List numbering as the answerer reads it (bot/answering/numbering.py) and the numerals it is built
from (core.grammar.cn_to_int / int_to_cn)."""

from __future__ import annotations

import pytest

from bot.answering.numbering import (
    ARTICLE_LABEL,
    CN_POSITION,
    ENUM_ANNOUNCE,
    ENUM_ITEM,
    LIST_MARKS,
    strip_numbering,
)
from core.grammar import cn_to_int, int_to_cn

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "sentence,item",
    [
        ("一是抓牢学的主体。", True),
        ("二要加大宣传。", True),
        ("三、保障措施", True),
        ("（四）集中宣讲阶段", True),
        ("(5) 报名方式", True),
        ("6. 提交材料", True),
        ("第七，严肃纪律。", True),
        ("2024.12 开班", False),  # a date, not an item
        ("冬训工作要坚持问题导向。", False),
    ],
)
def test_enumeration_items(sentence, item):
    assert bool(ENUM_ITEM.match(sentence)) is item


@pytest.mark.parametrize(
    "sentence,announces",
    [
        ("再讲三点意见。", True),
        ("具体分为以下6类：", True),
        ("安排如下：", True),
        ("冬训分为三个阶段", True),
        ("冬训工作要坚持问题导向。", False),
    ],
)
def test_list_announcements(sentence, announces):
    assert bool(ENUM_ANNOUNCE.search(sentence)) is announces


def test_item_marks_and_article_labels():
    assert len(LIST_MARKS.findall("一是讲理论，二是讲政策；三是讲身边事、身边人。")) == 5
    assert ARTICLE_LABEL.sub("", "第七条 宣讲员选聘采取个人自荐的方式") == " 宣讲员选聘采取个人自荐的方式"
    assert ARTICLE_LABEL.sub("", "第二章 保障") == " 保障"


@pytest.mark.parametrize(
    "heading,stripped",
    [
        ("三是用好讲的队伍", "用好讲的队伍"),
        ("## 二、组织领导", "组织领导"),
        ("（一）动员部署阶段", "动员部署阶段"),
        ("第三条 宣讲员职责", "宣讲员职责"),
        ("1．依托宣讲团", "依托宣讲团"),
        ("冬训工作要求", "冬训工作要求"),
    ],
)
def test_strip_numbering(heading, stripped):
    assert strip_numbering(heading) == stripped


@pytest.mark.parametrize(
    "numeral,value",
    [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("两", 2), ("一百零五", 105), ("12", 12)],
)
def test_cn_to_int(numeral, value):
    assert cn_to_int(numeral) == value


@pytest.mark.parametrize("text", ["", "一二", "第三", "x"])
def test_cn_to_int_rejects_what_is_not_a_numeral(text):
    assert cn_to_int(text) == 0


def test_int_to_cn_round_trips_and_names_list_positions():
    assert [int_to_cn(n) for n in (1, 6, 10, 11, 20, 99)] == ["一", "六", "十", "十一", "二十", "九十九"]
    assert all(cn_to_int(int_to_cn(n)) == n for n in range(100))
    assert CN_POSITION == "一二三四五六七八九十"
    with pytest.raises(ValueError):
        int_to_cn(100)
