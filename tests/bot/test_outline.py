"""宣讲提纲 (Assistant.outline) over the seed: up to 6 points, each with 1–3 cited, verbatim sub-points,
a cited opening and closing; the markdown answer and the structured outline agree. build_outline itself
is also tested on hand-made passages (unit): boilerplate headings, whole clauses, the materials' order,
an uncovered topic; tests are marked one by one."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document

from bot.answering.corpus_stats import CorpusStats
from bot.answering.question import analyse
from bot.outline import MAX_POINTS, MAX_SUBPOINTS, build_outline, topic_covered
from bot.pipeline import Assistant
from bot.verify import verify

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
    assert 1 <= len(points) <= MAX_POINTS == 6
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
            quote = MARKER.sub("", sub).rstrip("。！？")
            assert not quote.startswith("……"), f"a fragment: {sub}"
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


@pytest.mark.integration
@pytest.mark.parametrize("topic, covered", [("冬训宣讲队伍建设", True), ("今天的天气和股票行情", False)])
def test_topic_covered_is_the_answers_refusal_gate(seed_kb, topic, covered):
    from bot.pipeline import OUTLINE_K

    assistant = Assistant(seed_kb.settings, kb=seed_kb)
    query = analyse(topic, assistant.retriever.stats())
    contexts = assistant.retriever.search(topic, query, k=OUTLINE_K, rerank_candidates=OUTLINE_K)
    assert topic_covered(assistant.extractive, query, contexts) is covered
    assert assistant.outline(topic)["refused"] is not covered


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
    # 加大宣传 and the 4th passage do not touch the topic: no point, no bullet of theirs
    assert [p.title for p in outline.points] == ["压实责任", "强化督导"]
    assert [d.metadata["id"] for d in outline.sources] == ["p0", "p2"]
    for n, point in enumerate(outline.points, 1):
        assert point.subpoints and all(sub.endswith(f"[{n}]。") for sub in point.subpoints)
        assert not any(sub.startswith(("一要", "二要", "三要")) for sub in point.subpoints)  # no restated heading
    md = outline.markdown()
    assert md.startswith("# “冬训责任落实”宣讲提纲\n") and "## 二、强化督导\n- " in md


# A notice as the chunker cuts it: (section path, offset in the document, text). Its headings include
# boilerplate (时间安排, 工作要求), its preamble is a formula, and one sentence is long enough to be trimmed.
NOTICE = [
    ("", 0, "为切实做好冬训宣讲队伍建设工作，现就有关事项通知如下。"),
    (
        "一、时间安排",
        30,
        "冬训宣讲时间为12月至次年2月。宣讲队伍力量薄弱的街道，可结合春节前后党员返乡的时机补充宣讲员。",
    ),
    (
        "二、工作要求 > （一）加强宣讲队伍建设",
        90,
        "加强宣讲队伍建设，是做好冬训宣讲工作的重要举措。"
        "各街道要组建宣讲小分队，每支小分队不少于5名宣讲员，且定期开展集中培训、试讲点评和经验交流活动，"
        "不断提升宣讲队伍的理论水平和宣讲能力。",
    ),
    (
        "二、工作要求 > （二）加强宣讲员培训",
        240,
        "区委党校每年组织2次宣讲队伍集中培训。各单位要把宣讲队伍建设作为冬训重点，确保每支宣讲小分队人员到位。",
    ),
    ("三、其他事项", 330, "高考志愿填报由教育部门另行通知。"),
]
NOTICE_TOPIC = "冬训宣讲队伍建设"


def notice_outline(topic: str, ranking: tuple[int, ...] = (3, 2, 1, 0, 4)):
    docs = [
        Document(page_content=text, metadata={"id": f"n{i}", "source": "通知.txt", "section": sec, "start": at})
        for i, (sec, at, text) in enumerate(NOTICE)
    ]
    query = analyse(topic, CorpusStats.from_texts(text for _, _, text in NOTICE))
    return build_outline(topic, query, [(docs[i], 1.0 - r / 10) for r, i in enumerate(ranking)])


def bullets(outline) -> list[str]:
    return [outline.opening, *[s for p in outline.points for s in p.subpoints], outline.closing]


@pytest.mark.unit
def test_boilerplate_headings_and_formulas_are_never_points():
    outline = notice_outline(NOTICE_TOPIC)
    titles = [p.title for p in outline.points]
    assert "加强宣讲队伍建设" in titles
    assert not {"时间安排", "工作要求"} & set(titles)  # the passage under 时间安排 is titled by its lead clause
    assert not any("通知如下" in line for line in [*titles, *bullets(outline)])


@pytest.mark.unit
def test_bullets_are_whole_clauses_quoted_from_their_passage():
    outline = notice_outline(NOTICE_TOPIC)
    texts = [d.page_content for d in outline.sources]
    for line in bullets(outline):
        quote = MARKER.sub("", line).rstrip("。")
        assert not quote.startswith(("……", "且")), line
        n = int(MARKER.search(line).group(1))
        at = texts[n - 1].index(quote)
        assert at == 0 or texts[n - 1][at - 1] in "。，；", line  # it starts where a clause starts
        assert texts[n - 1][at + len(quote)] in "。，；", line  # and ends where one ends
    long = next(s for s in bullets(outline) if "小分队不少于5名" in s)
    assert len(MARKER.sub("", long)) < len(NOTICE[2][2].split("。")[1])  # the long sentence was trimmed


@pytest.mark.unit
def test_opening_and_closing_are_cited_sentences_of_the_materials():
    outline = notice_outline(NOTICE_TOPIC)
    assert outline.opening == "加强宣讲队伍建设，是做好冬训宣讲工作的重要举措[1]。"
    assert "确保每支宣讲小分队人员到位" in outline.closing and outline.closing.endswith("]。")
    md = outline.markdown()
    assert md.index("## 开场") < md.index("## 一、") < md.index("## 结语")
    checked = verify(md, outline.sources)
    assert checked.unsupported == [] and checked.removed_markers == []


@pytest.mark.unit
@pytest.mark.parametrize("ranking", [(3, 2, 1, 0, 4), (1, 2, 3, 0, 4), (2, 3, 1, 4, 0)])
def test_points_follow_the_materials_order_whatever_the_ranking(ranking):
    outline = notice_outline(NOTICE_TOPIC, ranking)
    first = [outline.sources[int(MARKER.search(p.subpoints[0]).group(1)) - 1] for p in outline.points]
    offsets = [d.metadata["start"] for d in first]
    assert len(offsets) == 3 and offsets == sorted(offsets)


@pytest.mark.unit
def test_a_topic_the_passages_do_not_touch_gets_no_points():
    outline = notice_outline("城市地铁线路规划")
    assert outline.points == [] and outline.sources == [] and not outline.opening and not outline.closing
    assert "[" not in outline.markdown()
