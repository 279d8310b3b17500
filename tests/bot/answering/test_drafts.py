"""How an answer is written (bot/answering/drafts.py): [n] before the closing mark, clause windows
that keep a long sentence's evidence, repeated sentences said once, and a compound question's drafts
merged with their markers renumbered (no model, no store)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.corpus_stats import CorpusStats
from bot.answering.drafts import (
    LONG_SENTENCE,
    REFUSAL,
    RELATED_LABEL,
    Draft,
    cite,
    clause_window,
    item_lead,
    merge_drafts,
    source_index,
    write,
)
from bot.answering.question import analyse

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "sentence,expected",
    [
        ("开展各类理论宣讲活动215场。", "开展各类理论宣讲活动215场[1]。"),
        ("开展各类理论宣讲活动215场，", "开展各类理论宣讲活动215场[1]。"),
        ("本次冬训安排如下：", "本次冬训安排如下[1]。"),
        ("这是为什么？", "这是为什么[1]？"),
        ("| 12月16日 | 开班式 |", "| 12月16日 | 开班式 |[1]。"),
    ],
)
def test_cite_puts_marker_before_closing_mark(sentence, expected):
    assert cite(sentence, 1) == expected


def test_cite_marks_a_cut_start():
    assert cite("开展各类理论宣讲活动215场。", 2, cut_start=True) == "……开展各类理论宣讲活动215场[2]。"


def test_cite_keeps_a_closing_quote_and_drops_trailing_commas():
    assert cite("他说：“要讲好第一课。”", 1) == "他说：“要讲好第一课。”[1]。"
    assert cite("开展宣讲活动、", 3) == "开展宣讲活动[3]。"


LONG = (
    "过去一年，全区上下坚持以学习宣传贯彻党的二十大精神为主线，持续深化理论武装，"
    "全年开展各类理论宣讲活动215场，吸引2.6万人次在线观看，形成了一批叫得响的宣讲品牌。"
)
STATS = CorpusStats.from_texts([LONG, "冬训工作要坚持问题导向。"])


def test_clause_window_keeps_the_evidence_of_a_long_sentence():
    assert len(LONG) > LONG_SENTENCE
    window, cut_start, cut_end = clause_window(analyse("开展了多少场理论宣讲活动？", STATS), LONG)
    assert "215场" in window and window in LONG and len(window) < len(LONG)
    assert cut_start and cut_end


def test_clause_window_leaves_short_sentences_and_table_rows_whole():
    q = analyse("开展了多少场理论宣讲活动？", STATS)
    assert clause_window(q, "全年开展宣讲活动215场。") == ("全年开展宣讲活动215场。", False, False)
    row = "| 12月17日 | " + "党纪学习教育专题辅导 | " * 5
    assert clause_window(q, row) == (row, False, False)


def test_item_lead_is_the_first_clauses_of_a_long_item():
    assert item_lead("一是讲理论。") == "一是讲理论。"
    assert item_lead(LONG) == "过去一年，全区上下坚持以学习宣传贯彻党的二十大精神为主线，"


def test_write_cites_each_part_and_says_a_repeated_sentence_once():
    parts = [(0, "开展宣讲活动215场。", False), (1, "开展宣讲活动215场", False), (1, "吸引2.6万人次在线观看。", True)]
    assert write(parts) == "开展宣讲活动215场[1]。……吸引2.6万人次在线观看[2]。"


def doc(cid: str) -> Document:
    return Document(page_content=f"passage {cid}", metadata={"id": cid})


def test_source_index_appends_a_passage_once():
    sources = [doc("a")]
    assert source_index(sources, doc("b")) == 1 and source_index(sources, doc("a")) == 0
    assert source_index(sources, doc("b")) == 1 and [d.metadata["id"] for d in sources] == ["a", "b"]


def test_merge_renumbers_markers_over_the_union_of_sources():
    first = Draft("甲[1]。乙[2]。", [doc("a"), doc("b")])
    second = Draft("丙[1]。乙[2]。", [doc("c"), doc("b")])
    merged = merge_drafts([first, second])
    assert [d.metadata["id"] for d in merged.sources] == ["a", "b", "c"]
    assert merged.text == "甲[1]。乙[2]。丙[3]。"  # the second part's 乙 was said already
    assert not merged.refused


def test_merge_says_which_part_is_refused_without_its_related_passage():
    answered = Draft("甲[1]。", [doc("a")])
    refused = Draft(REFUSAL + RELATED_LABEL + "乙[1]。", [doc("b")], refused=True)
    merged = merge_drafts([refused, answered])
    assert merged.text == REFUSAL + "甲[1]。" and not merged.refused
    assert [d.metadata["id"] for d in merged.sources] == ["a"]
    both = merge_drafts([refused, Draft(REFUSAL, [], refused=True)])
    assert both is refused
