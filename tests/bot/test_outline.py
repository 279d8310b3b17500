"""宣讲提纲 (Assistant.outline) over the seed: 3–6 points from distinct passages, each with 1–3 cited,
verbatim sub-points; the markdown answer and the structured outline agree."""

from __future__ import annotations

import re

import pytest

from bot.outline import MAX_POINTS, MAX_SUBPOINTS, MIN_POINTS
from bot.pipeline import Assistant

MARKER = re.compile(r"\[(\d+)\]")
TOPICS = ["冬训宣讲队伍建设", "冬训工作的组织领导和责任落实", "冬训线上线下学习阵地建设"]


@pytest.fixture(scope="module")
def outlines(seed_kb):
    assistant = Assistant(seed_kb.settings, kb=seed_kb)
    return {t: assistant.outline(t) for t in TOPICS}


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


def test_outline_on_team_building_uses_the_team_section(outlines):
    r = outlines["冬训宣讲队伍建设"]
    assert any("三是用好讲的队伍" in c["section"] for c in r["citations"])


def test_point_titles_drop_their_numbering(outlines):
    """ "三是用好讲的队伍…" becomes "用好讲的队伍…", not "是用好讲的队伍…"."""
    for r in outlines.values():
        for p in r["outline"]["points"]:
            assert not re.match(r"^(是|[一二三四五六七八九十]+[、是要]|（[一二三四五六七八九十]+）|#)", p["title"]), p[
                "title"
            ]


def test_off_corpus_topic_is_refused(seed_kb):
    r = Assistant(seed_kb.settings, kb=seed_kb).outline("今天的天气和股票行情")
    assert r["refused"] is True, r["answer"]
    assert r["citations"] == []
