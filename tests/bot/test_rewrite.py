"""Follow-up questions rewritten into standalone ones by rules (no LLM, no store); two-turn asks
through the whole path are in test_pipeline.py."""

from __future__ import annotations

import pytest

from bot.rewrite import needs_context, rewrite, split_question, subject_of, swap_sibling

pytestmark = pytest.mark.unit


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


def test_subject_of_drops_the_asking_phrase():
    assert subject_of("冬训实施方案分为哪几个阶段？") == "冬训实施方案"
    assert subject_of("2024年全年开展了多少场理论宣讲？") == "2024年全年开展了理论宣讲"


def test_swap_sibling_needs_a_shared_ending():
    assert swap_sibling("青年组呢？", "第三届宣讲大赛机关组有几个一等奖？") == "第三届宣讲大赛青年组有几个一等奖？"
    assert swap_sibling("青年组呢？", "冬训什么时候开始？") == ""
    assert swap_sibling("青年组有几个？", "第三届宣讲大赛机关组有几个一等奖？") == ""  # not an elliptical 呢


def test_split_question_answers_each_part_on_its_own():
    parts = split_question("年轻宣讲员由谁来带？一位老师最多带几个徒弟？")
    assert len(parts) == 2 and parts[0] == "年轻宣讲员由谁来带？"
    assert split_question("冬训什么时候开始？") == ["冬训什么时候开始？"]
    # a clause without a question word stays with the part it belongs to
    assert split_question("第二个阶段呢？具体时间是什么时候？") == ["第二个阶段呢？具体时间是什么时候？"]
