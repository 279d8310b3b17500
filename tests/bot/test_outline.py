"""宣讲提纲 (Assistant.outline) over the seed: 3–6 points from distinct passages, each with 1–3 cited,
verbatim sub-points; the markdown answer and the structured outline agree. build_outline itself is
also tested on hand-made passages (unit); tests are marked one by one."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document

from bot.answering.corpus_stats import CorpusStats
from bot.answering.question import analyse
from bot.outline import MAX_POINTS, MAX_SUBPOINTS, MIN_POINTS, build_outline
from bot.pipeline import Assistant

MARKER = re.compile(r"\[(\d+)\]")
TOPICS = ["冬训宣讲队伍建设", "冬训工作的组织领导和责任落实", "冬训线上线下学习阵地建设"]


@pytest.fixture(scope="module")
def outlines(seed_kb):
    assistant = Assistant(seed_kb.settings, kb=seed_kb)
    return {t: assistant.outline(t) for t in TOPICS}


@pytest.mark.integration
@pytest.mark.parametrize("topic", TOPICS, ids=["team", "leadership", "platforms"])
def test_outline_shape(outlines, topic):
    r = outlines[topic]
    assert r["refused"] is False and r["question"] == topic
    points = r["outline"]["points"]
    assert topic in r["outline"]["title"]
    assert MIN_POINTS <= len(points) <= MAX_POINTS == 6 and MIN_POINTS == 3
    cits = r["citations"]
    assert len({(c["source"], c["start"], c["end"]) for c in cits}) >= 3  # at least three distinct passages
    assert [c["n"] for c in cits] == list(range(1, len(cits) + 1))
    for p in points:
        assert p["title"].strip()
        assert 1 <= len(p["subpoints"]) <= MAX_SUBPOINTS == 3
        for sub in p["subpoints"]:
            ns = [int(n) for n in MARKER.findall(sub)]
            assert ns and all(1 <= n <= len(cits) for n in ns), sub
            assert not re.search(r"[。！？；，：]\[\d+\]", sub), sub
            quote = MARKER.sub("", sub).rstrip("。！？").removeprefix("……")
            assert any(quote in cits[n - 1]["text"] for n in ns), f"not verbatim: {sub}"
    assert r["unsupported"] == []
    # the markdown answer is the structured outline, marker for marker
    for p in points:
        assert p["title"] in r["answer"]
        for sub in p["subpoints"]:
            assert sub in r["answer"]
    assert {"retrieve", "answer", "verify", "total"} <= set(r["timings_ms"])


@pytest.mark.integration
def test_outline_on_team_building_uses_the_team_section(outlines):
    r = outlines["冬训宣讲队伍建设"]
    assert any("三是用好讲的队伍" in c["section"] for c in r["citations"])


@pytest.mark.integration
def test_point_titles_drop_their_numbering(outlines):
    """ "三是用好讲的队伍…" becomes "用好讲的队伍…", not "是用好讲的队伍…"."""
    for r in outlines.values():
        for p in r["outline"]["points"]:
            assert not re.match(r"^(是|[一二三四五六七八九十]+[、是要]|（[一二三四五六七八九十]+）|#)", p["title"]), p[
                "title"
            ]


@pytest.mark.integration
def test_off_corpus_topic_is_refused(seed_kb):
    r = Assistant(seed_kb.settings, kb=seed_kb).outline("今天的天气和股票行情")
    assert r["refused"] is True, r["answer"]
    assert r["citations"] == []


PASSAGES = [
    ("三、要压得实 > 一要压实责任", "一要压实责任。党组织书记要牵头开展冬训，带头讲好第一课。"),
    ("三、要压得实 > 二要加大宣传", "二要加大宣传。充分利用各类媒体，营造浓厚氛围。"),
    ("三、要压得实 > 三要强化督导", "三要强化督导。区委将组织督导组，对冬训开展情况进行检查。"),
    ("三、要压得实 > 三要强化督导", "督导结果纳入年度考核。"),
]


def hand_made(topic: str):
    docs = [
        Document(page_content=text, metadata={"id": f"p{i}", "source": "讲话.txt", "section": section})
        for i, (section, text) in enumerate(PASSAGES)
    ]
    query = analyse(topic, CorpusStats.from_texts(text for _, text in PASSAGES))
    return build_outline(topic, query, [(d, 1.0 - i / 10) for i, d in enumerate(docs)])


@pytest.mark.unit
def test_build_outline_one_point_per_section_titled_without_numbering():
    outline = hand_made("冬训责任落实")
    assert outline.title == "“冬训责任落实”宣讲提纲"
    assert [p.title for p in outline.points] == [
        "压实责任",
        "加大宣传",
        "强化督导",
    ]  # the 4th passage repeats a section
    assert [d.metadata["id"] for d in outline.sources] == ["p0", "p1", "p2"]
    for n, point in enumerate(outline.points, 1):
        assert point.subpoints and all(sub.endswith(f"[{n}]。") for sub in point.subpoints)
        assert not any(
            sub.startswith(("一要", "二要", "三要")) for sub in point.subpoints
        )  # the heading is not restated
    md = outline.markdown()
    assert md.startswith("# “冬训责任落实”宣讲提纲\n") and "## 二、加大宣传\n- " in md
