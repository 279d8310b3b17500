"""Answer candidates from ranked passages (bot/answering/candidates.py)."""

import pytest
from langchain_core.documents import Document

from bot.answering.candidates import CLAUSE, PAIR, SENTENCE, build_candidates, clause_spans

pytestmark = pytest.mark.unit

TEXT = (
    "冬训工作自2024年11月开始。全区共组织宣讲215场，覆盖党员12000余人次，其中农村党员占到六成以上，"
    "流动党员通过线上平台参加学习，各街道按照统一部署分批次开展集中培训。\n"
    "| 序号 | 课程 | 学时 |\n|---|---|---|\n| 1 | 乡村振兴政策解读 | 2 |"
)


def _doc(text=TEXT, **meta):
    return Document(page_content=text, metadata={"title": "冬训通知", "section": "一、总体安排", **meta})


def test_offsets_point_into_the_passage():
    cands = build_candidates([(_doc(), 1.0)])
    assert cands
    for c in cands:
        assert TEXT[c.start : c.end] == c.text
        assert c.title == "冬训通知" and c.section == "一、总体安排"


def test_sentences_pairs_and_clause_windows():
    cands = build_candidates([(_doc(), 1.0)])
    kinds = {c.kind for c in cands}
    assert kinds == {SENTENCE, PAIR, CLAUSE}
    assert any(c.kind == SENTENCE and c.text == "冬训工作自2024年11月开始。" for c in cands)
    clauses = [c for c in cands if c.kind == CLAUSE]
    assert all(len(c.text) <= 60 for c in clauses)
    assert any("215场" in c.text for c in clauses)


def test_table_rows_are_never_cut_and_separators_dropped():
    cands = build_candidates([(_doc(), 1.0)])
    assert not any(set(c.text) <= set("|-: ") for c in cands)
    rows = [c for c in cands if c.kind != PAIR and c.text.startswith("|")]
    assert {c.kind for c in rows} == {SENTENCE}


def test_a_header_row_is_no_candidate_and_no_pair_spans_it_or_two_rows():
    text = "二、学习安排\n| 日期 | 内容 | 形式 |\n| --- | --- | --- |\n| 12月6日 | 学习 | 集中 |\n| 1月10日 | 测试 | 闭卷 |"
    cands = build_candidates([(Document(page_content=text, metadata={}), 1.0)])
    assert [(c.kind, c.text) for c in cands] == [
        (SENTENCE, "二、学习安排"),
        (SENTENCE, "| 12月6日 | 学习 | 集中 |"),  # two rows are two facts: no pair of them
        (SENTENCE, "| 1月10日 | 测试 | 闭卷 |"),
    ]


def test_rank_and_score_and_duplicates_across_passages():
    other = _doc("全区共组织宣讲215场。另有线上课程。", id="b")
    cands = build_candidates([(_doc(), 2.0), (other, 1.0)])
    assert {c.passage for c in cands} == {0, 1}
    assert all(c.fused == (2.0 if c.passage == 0 else 1.0) for c in cands)
    texts = [c.text for c in cands]
    assert len(texts) == len(set(texts))


def test_top_k_limits_passages():
    cands = build_candidates([(_doc(), 2.0), (_doc("别的段落。第二句。"), 1.0)], top_k=1)
    assert {c.passage for c in cands} == {0}


def test_clause_spans_cover_the_sentence():
    s = "甲，乙，丙。"
    spans = clause_spans(s, 0, len(s))
    assert "".join(s[a:b] for a, b in spans) == s
    assert len(spans) == 3
