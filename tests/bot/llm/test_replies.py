"""Cleaning the model's rewrite of a follow-up (bot/llm/replies.py)."""

from __future__ import annotations

import pytest

from bot.llm.replies import MAX_REWRITE_CHARS, clean_rewrite

pytestmark = pytest.mark.unit


def test_clean_rewrite_takes_one_line_without_labels():
    assert clean_rewrite("改写后的问题：“冬训分几个阶段？”\n说明：补全了主语") == "冬训分几个阶段？"
    assert clean_rewrite("\n\n  ") == ""


@pytest.mark.parametrize(
    "reply,question",
    [
        ("问题：冬训几号开始？", "冬训几号开始？"),
        ("「冬训几号开始？」", "冬训几号开始？"),
        ("Rewritten question: 冬训几号开始？", "冬训几号开始？"),
    ],
)
def test_labels_and_quotes_are_dropped(reply, question):
    assert clean_rewrite(reply) == question


def test_an_overlong_rewrite_is_unusable():
    assert clean_rewrite("冬" * (MAX_REWRITE_CHARS + 1)) == ""
    assert clean_rewrite("冬" * MAX_REWRITE_CHARS) == "冬" * MAX_REWRITE_CHARS
