"""Follow-up questions rewritten into standalone ones (rules, no LLM), and a two-turn ask end to end."""

from __future__ import annotations

import pytest

from bot.pipeline import Assistant
from bot.rewrite import needs_context, rewrite


def turns(*questions: str) -> list[dict]:
    return [{"question": q, "answer": "（上一轮回答）"} for q in questions]


FLY_COUNT = "动员讲话中提到的“飞燕”宣讲志愿者有几类？"
PLAN_STAGES = "“理论飞燕”冬训宣讲活动实施方案分为哪几个阶段？"


def test_pronoun_takes_previous_subject():
    q = rewrite("除了他们，讲话还提到要发挥哪些宣讲骨干的作用？", turns(FLY_COUNT))
    assert "他们" not in q
    assert "飞燕" in q and "宣讲志愿者" in q  # who 他们 are
    assert "宣讲骨干" in q  # what is asked stays


def test_elliptical_ne_carries_subject():
    q = rewrite("二等奖和三等奖呢？", turns("第三届宣讲大赛一等奖有几个名额？"))
    assert "宣讲大赛" in q and "二等奖和三等奖" in q
    assert "一等奖" not in q.replace("二等奖和三等奖", "")  # the item asked before is replaced, not kept
    assert not q.rstrip("？?").endswith("呢")


def test_elliptical_ne_swaps_sibling_item():
    """ "青年组呢？" after a question about 机关组 asks the same about 青年组."""
    q = rewrite("青年组呢？", turns("第三届宣讲大赛机关组有几个一等奖？"))
    assert "宣讲大赛" in q and "青年组" in q
    assert "机关组" not in q


def test_ordinal_points_into_previous_list():
    q = rewrite("第二个阶段是什么时候？", turns(PLAN_STAGES))
    assert "实施方案" in q and "第二个阶段" in q and "什么时候" in q
    assert "哪几个" not in q  # the previous asking phrase is dropped


def test_chain_of_follow_ups_resolves_to_first_subject():
    q = rewrite("三等奖呢？", turns("第三届宣讲大赛一等奖有几个名额？", "二等奖呢？"))
    assert "宣讲大赛" in q and "三等奖" in q


@pytest.mark.parametrize("question", ["他们有几类？", "二等奖和三等奖呢？", "第二个阶段是什么时候？"])
def test_no_history_unchanged(question):
    assert rewrite(question, []) == question
    assert rewrite(f"  {question} ", []) == question


def test_standalone_question_with_history_unchanged():
    standalone = "2024年度冬训骨干示范培训班第一期有多少名参训学员？"
    assert not needs_context(standalone)
    assert rewrite(standalone, turns(FLY_COUNT, PLAN_STAGES)) == standalone


def test_history_without_questions_leaves_question():
    assert rewrite("他们有几类？", [{"question": "", "answer": "x"}, {"answer": "y"}]) == "他们有几类？"


def test_needs_context_cues():
    assert needs_context("那他们呢？")
    assert needs_context("其中冬训期间有多少场？")
    assert needs_context("第二个阶段是什么时候？")
    assert not needs_context("宣讲员管理办法由哪个部门负责解释？")


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def seed_assistant(seed_kb):
    return Assistant(seed_kb.settings, kb=seed_kb)


@pytest.fixture(scope="module")
def dev_assistant(dev_corpus_kb):
    return Assistant(dev_corpus_kb.settings, kb=dev_corpus_kb)


def test_two_turn_ask_cites_the_right_passage(seed_assistant):
    first = seed_assistant.ask(FLY_COUNT)
    assert not first["refused"]
    history = [{"question": FLY_COUNT, "answer": first["answer"]}]
    second = seed_assistant.ask("除了他们，讲话还提到要发挥哪些宣讲骨干的作用？", history)
    assert second["question"] == "除了他们，讲话还提到要发挥哪些宣讲骨干的作用？"
    assert second["rewritten_question"] != second["question"] and "他们" not in second["rewritten_question"]
    assert not second["refused"]
    assert "百姓名嘴" in second["answer"]
    assert "三是用好讲的队伍" in second["citations"][0]["section"]
    assert second["unsupported"] == []


def test_two_turn_ordinal_answers_the_second_stage(dev_assistant):
    history = [{"question": PLAN_STAGES, "answer": dev_assistant.ask(PLAN_STAGES)["answer"]}]
    r = dev_assistant.ask("第二个阶段是什么时候？", history)
    assert not r["refused"]
    assert "2024年12月11日" in r["answer"]  # the second stage runs 2024年12月11日—2025年1月20日
    # the answer leads with the second stage, not another one
    assert "集中宣讲阶段" in r["citations"][0]["section"], r["answer"]


def test_two_turn_ordinal_point_lists_its_sub_items(seed_assistant):
    first_q = "冬训动员部署会讲话提了几点意见？"
    history = [{"question": first_q, "answer": seed_assistant.ask(first_q)["answer"]}]
    r = seed_assistant.ask("第二点具体包括哪几个方面？", history)
    assert not r["refused"]
    # The second point (抓得准、做得新) has four parts: 抓牢学的主体 … 围绕新的中心.
    for part in ("抓牢学的主体", "建好用的载体", "用好讲的队伍", "围绕新的中心"):
        assert part in r["answer"], r["answer"]
    assert "站得高" not in r["answer"] and "压得实" not in r["answer"]
