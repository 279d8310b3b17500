"""Neighbour expansion on hand-made chunks (no store): the chunk after a hit that announces a list,
or before a hit whose evidence opens its chunk, joins the contexts just below it; nothing else does."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.corpus_stats import CorpusStats
from bot.answering.question import analyse
from bot.retrieval.neighbours import NEIGHBOUR_DISCOUNT, announces_more, expand_neighbours

pytestmark = pytest.mark.unit

SOURCE = "社区冬训安排.txt"
TEXTS = [
    "今年冬训由社区党委统一组织。冬训从十二月开始，持续到来年二月。本次冬训安排三项学习活动如下：",
    "学习党章党规，由社区书记领学。观看警示教育片，时间在每周五下午。集中学习在社区会议室进行。",
    "参观红色教育基地，由组织委员带队。",
    "冬训结束后，各支部报送学习总结。",
]
SECTIONS = ["安排", "安排", "安排", "总结"]
STATS = CorpusStats.from_texts(TEXTS)


def chunk(i: int) -> Document:
    return Document(
        page_content=TEXTS[i],
        metadata={"id": f"c{i}", "source": SOURCE, "chunk_index": i, "section": SECTIONS[i]},
    )


def lookup(source: str, i: int):
    return chunk(i) if source == SOURCE and 0 <= i < len(TEXTS) else None


def expand(question: str, hits: list[int]) -> list[tuple[str, float]]:
    ranked = [(chunk(i), 1.0 - i / 10) for i in hits]
    return [(d.metadata["id"], s) for d, s in expand_neighbours(analyse(question, STATS), ranked, lookup)]


def test_a_hit_that_announces_a_list_brings_the_next_chunk():
    assert expand("冬训持续到什么时候？", [0]) == [("c0", 1.0), ("c1", pytest.approx(NEIGHBOUR_DISCOUNT))]


def test_a_hit_whose_evidence_opens_the_chunk_brings_the_one_before():
    out = expand("参观红色教育基地由谁带队？", [2])
    assert [cid for cid, _ in out] == ["c2", "c1"]
    assert out[1][1] == pytest.approx(0.8 * NEIGHBOUR_DISCOUNT)


def test_evidence_in_the_middle_brings_nothing():
    assert [cid for cid, _ in expand("警示教育片什么时间观看？", [1])] == ["c1"]


def test_only_the_top_hit_is_widened_and_nothing_twice():
    assert [cid for cid, _ in expand("冬训持续到什么时候？", [0, 1])] == ["c0", "c1"]
    assert [cid for cid, _ in expand("党章党规由谁领学？", [1, 0])] == ["c1", "c0"]


def test_a_neighbour_in_another_section_is_not_a_continuation():
    assert [cid for cid, _ in expand("各支部报送什么？", [3])] == ["c3"]


def test_nothing_ranked_nothing_added():
    assert expand_neighbours(analyse("冬训", STATS), [], lookup) == []


@pytest.mark.parametrize("text,more", [("安排如下：", True), ("安排如下:", True), ("安排如下。", False)])
def test_a_closing_colon_announces_more(text, more):
    assert announces_more(text) is more
