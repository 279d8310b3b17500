"""The streamed answer's citation markers are renumbered exactly as bot.verify renumbers the final answer,
however the stream is cut into pieces."""

from __future__ import annotations

import random

import pytest
from langchain_core.documents import Document

from bot.verify import verify
from bot.web.api.markers import MAX_HELD_CHARS, MarkerRenumber

pytestmark = pytest.mark.unit

SOURCES = [Document(page_content=f"资料{i}") for i in range(1, 10)]  # markers 1..9 point to a passage
SPLITS = 50  # random ways of cutting each text into pieces
TEXTS = [
    "承办单位：区委党校[4]。获奖选手由区委宣传部颁发荣誉证书[3]。",  # the draft's numbers, as the pipeline streams them
    "一要压实责任[2]。书记是第一责任人[1]。再说一次[2]。",
    "甲[3, 1]乙【2】丙[1，3、2]。",
    "句子 [2] 。另一句 ，带空格[1]。",  # spaces before punctuation go, as in the final answer
    "[注]不是标注，[ ]也不是；[5]才是。",
    "标注[0]不指向任何资料。",
    "[1]开头即标注",
]


def streamed(text: str, cuts: list[int]) -> str:
    renumber = MarkerRenumber()
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    return "".join(renumber.feed(p) for p in pieces) + renumber.flush()


@pytest.mark.parametrize("text", TEXTS)
def test_any_cut_of_the_stream_gives_the_verified_text(text):
    rng = random.Random(text)
    for _ in range(SPLITS):
        cuts = sorted(rng.sample(range(1, len(text)), k=rng.randint(0, len(text) - 1)))
        assert streamed(text, cuts) == verify(text, SOURCES).text


def test_first_cited_becomes_one():
    renumber = MarkerRenumber()
    assert renumber.feed("承办单位：区委党校[4") == "承办单位：区委党校"  # held: the marker may go on
    assert renumber.feed("]。荣誉证书[3]。") == "[1]。荣誉证书[2]。"
    assert renumber.feed("又见[4]") == "又见[1]"


def test_text_that_only_looks_like_an_open_marker_is_not_held_forever():
    renumber = MarkerRenumber()
    opened = "[" + "1" * (MAX_HELD_CHARS + 1)
    assert renumber.feed(opened) == opened  # too long to be a marker: sent as it is
    assert renumber.feed("[") == ""
    assert renumber.flush() == "["
