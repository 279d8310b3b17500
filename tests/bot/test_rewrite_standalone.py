"""A complete question asked after an unrelated turn comes through the rule rewrite unchanged: the
fifty questions of tests/bot/data/standalone_questions.txt (pronoun-like characters such as 应该, 其实,
尤其, 其他, 那么多; colloquial phrasing; English; pasted text), after several kinds of earlier turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rewrite import needs_context, rewrite

pytestmark = pytest.mark.unit

QUESTIONS_FILE = Path(__file__).parent / "data" / "standalone_questions.txt"
QUESTIONS = [
    line.strip()
    for line in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
# Earlier turns on other topics: a refused question, an answered fact, a list answer, an answered follow-up.
UNRELATED = {
    "refused": [{"question": "冬训期间误工补贴每天发多少钱？", "answer": "资料中没有找到关于“误工补贴”的内容。"}],
    "fact": [{"question": "去年开展了多少场理论宣讲活动？", "answer": "开展各类理论宣讲活动215场[1]。"}],
    "list": [
        {
            "question": "冬训工作要怎样压得实、落得细？",
            "answer": "一要压实责任，严格组织领导[1]。二要加大宣传，营造浓厚氛围[2]。三要系统谋划，注重工作实效[3]。",
        }
    ],
    "chain": [
        {"question": "第三届宣讲大赛一等奖有几个名额？", "answer": "每个组别1名[1]。"},
        {"question": "二等奖呢？", "answer": "每个组别2名[1]。"},
    ],
}


def test_there_are_fifty_questions():
    assert len(QUESTIONS) == 50 and len(set(QUESTIONS)) == 50


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_standalone_question_needs_no_context(question):
    assert not needs_context(question)


@pytest.mark.parametrize("earlier", sorted(UNRELATED))
@pytest.mark.parametrize("question", QUESTIONS)
def test_a_standalone_question_comes_through_unchanged(question, earlier):
    assert rewrite(question, UNRELATED[earlier]) == question
