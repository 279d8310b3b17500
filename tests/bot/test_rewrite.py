"""Follow-up questions rewritten into standalone ones by rules (no LLM, no store): which questions lean
on the conversation, the subject they carry, an ordinal resolved against a list answer; two-turn asks
through the whole path are in test_pipeline.py and test_rewrite_lists.py, the fifty standalone
questions in test_rewrite_standalone.py."""

from __future__ import annotations

import pytest

from bot.rewrite import (
    DETERMINER,
    FOLLOWUP_WORDS_FILE,
    ITEM_ASK,
    LAST,
    PRONOUN,
    answer_items,
    comparison_parts,
    each_parts,
    find_pronoun,
    followup_words,
    item_name,
    item_question,
    needs_context,
    ordinal_position,
    question_parts,
    rewrite,
    subject_of,
    swap_sibling,
)

pytestmark = pytest.mark.unit


def split_question(question: str) -> list[str]:
    """The parts of a compound question as they are first asked."""
    return [asked for asked, _ in question_parts(question)]


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
    # a verb after the asking phrase is no part of the subject
    assert subject_of("宣讲活动分几个阶段进行？") == "宣讲活动"
    assert subject_of("决赛在哪里举行？") == "决赛"


def test_swap_sibling_needs_a_shared_ending():
    assert swap_sibling("青年组呢？", "第三届宣讲大赛机关组有几个一等奖？") == "第三届宣讲大赛青年组有几个一等奖？"
    assert swap_sibling("青年组呢？", "冬训什么时候开始？") == ""
    assert swap_sibling("青年组有几个？", "第三届宣讲大赛机关组有几个一等奖？") == ""  # not an elliptical 呢


def test_a_later_part_keeps_the_form_it_was_written_in():
    parts = question_parts("年轻宣讲员由谁来带？一位老师最多带几个徒弟？")
    assert parts[0] == ("年轻宣讲员由谁来带？", "年轻宣讲员由谁来带？")
    asked, written = parts[1]
    assert written == "一位老师最多带几个徒弟？" and asked != written and "宣讲员" in asked
    assert [a for a, _ in parts] == split_question("年轻宣讲员由谁来带？一位老师最多带几个徒弟？")


def test_split_question_answers_each_part_on_its_own():
    parts = split_question("年轻宣讲员由谁来带？一位老师最多带几个徒弟？")
    assert len(parts) == 2 and parts[0] == "年轻宣讲员由谁来带？"
    assert split_question("冬训什么时候开始？") == ["冬训什么时候开始？"]
    # a clause without a question word stays with the part it belongs to
    assert split_question("第二个阶段呢？具体时间是什么时候？") == ["第二个阶段呢？具体时间是什么时候？"]


@pytest.mark.parametrize(
    "question, parts",
    [
        (
            "2025年度的场次目标，比2024年度实际宣讲的场次多多少？",
            ["2025年度的场次目标是多少？", "2024年度实际宣讲的场次是多少？"],
        ),
        # one side naming only a time is the other side at that time
        ("今年冬训的督导组比去年多了几个？", ["今年冬训的督导组有几个？", "去年冬训的督导组有几个？"]),
        ("示范班比去年多几期？", ["示范班有几期？", "去年示范班有几期？"]),
        (
            "和过去一年的宣讲场次相比，2024年的理论宣讲多了多少场？",
            ["2024年的理论宣讲是多少场？", "过去一年的宣讲场次是多少场？"],
        ),
        # a rise in percentage points compares two rates
        ("参训率比2023年度提高了多少个百分点？", ["参训率是多少？", "2023年度参训率是多少？"]),
    ],
)
def test_a_difference_is_asked_as_the_two_facts_it_compares(question, parts):
    assert comparison_parts(question) == parts
    assert split_question(question) == parts


@pytest.mark.parametrize(
    "question, parts",
    [
        ("冬训测试和警示教育片分别是哪天？", ["冬训测试是哪天？", "警示教育片是哪天？"]),
        (
            "机关组、基层组和青年组分别设几个一等奖？",
            ["机关组设几个一等奖？", "基层组设几个一等奖？", "青年组设几个一等奖？"],
        ),
        # a later item carries what the first says before its 的
        ("领导小组的组长和副组长分别是谁？", ["领导小组的组长是谁？", "领导小组的副组长是谁？"]),
    ],
)
def test_a_question_asking_the_same_of_each_item_is_asked_of_each(question, parts):
    assert each_parts(question) == parts
    assert split_question(question) == parts


@pytest.mark.parametrize("question", ["冬训分别在哪里举行？", "二等奖和三等奖呢？", "甲和乙分别是谁？"])
def test_no_items_no_parts(question):
    assert each_parts(question) == []  # one item, no 分别, or items too short to be named


@pytest.mark.parametrize(
    "question",
    [
        "青年组的比例是多少？",
        "第三届宣讲大赛比赛分几个组？",
        "冬训示范班由3期增加到几期？",
        "他比我高多少？",
        "冬训什么时候开始？",
    ],
)
def test_no_difference_asked_no_comparison(question):
    assert comparison_parts(question) == []
    assert split_question(question) == [question]


# --------------------------------------------------------------------------- what leans on the conversation
@pytest.mark.parametrize(
    "question",
    [
        "除了他们，讲话还提到要发挥哪些宣讲骨干的作用？",  # a pronoun
        "其中冬训期间有多少场？",
        "该活动由谁负责？",  # a determiner before its noun
        "其组长是谁？",  # jieba tags 组长 a verb
        "此项工作什么时候完成？",  # jieba joins 此项 to its noun
        "这个阶段有多长？",
        "第二个阶段是什么时候？",  # an ordinal into a list
        "那第二个呢？",
        "最后一个呢？",
        "第三点具体包括哪些？",
        "二等奖和三等奖呢？",  # a bare 呢 without a question word
        "那一天以内的呢？",
        "谁负责？",  # short and no content noun
        "怎么报名？",
        "那吸引了多少人次？",  # 人次 names no topic
        "那什么时候开始？",
    ],
)
def test_needs_context(question):
    assert needs_context(question)


@pytest.mark.parametrize(
    "question",
    [
        "入党申请书应该怎么写？",  # 应该 is a verb, not 该 + a noun
        "流动党员该如何参加冬训？",  # 该 before 如何 points at nothing
        "外出务工党员其实也要参加冬训吗？",
        "宣讲活动尤其要注意哪些问题？",
        "除了集中学习，冬训还有其他什么形式？",
        "冬训那么多内容，重点学哪几项？",
        "覆盖率是多少？",  # a content noun of its own
        "第一期培训班有多少学员？",  # 第一期 names a thing, it does not point into a list
        "驻村第一书记要参加冬训吗？",
        "冬训领导小组成立了，其组长是谁？",  # the pronoun's noun is in the question itself
        "为了学习方便，能不能在家里学？",  # long enough to stand without a noun
        "冬训期间开展志愿服务有什么要求呢？",  # 呢 with a question word
        "When does the winter training end?",
        "请把下面这段话概括一下：这些成绩的取得，有赖于大家长期以来的支持和付出，凝结着在座每一位同志的智慧和汗水。",
    ],
)
def test_does_not_need_context(question):
    assert not needs_context(question)
    assert rewrite(question, turns(FLY_COUNT, PLAN_STAGES)) == question


def test_followup_words_examples():
    """Each entry of bot/data/followup_words.tsv is found as the pronoun of its own example."""
    table = followup_words()
    assert set(table.values()) == {PRONOUN, DETERMINER}
    for line in FOLLOWUP_WORDS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, role, example, source = line.split("\t")
        found = find_pronoun(example)
        assert found is not None and source, line
        assert example[found.start : found.end].startswith(word) and found.role == role, (line, found)
        assert needs_context(example), line


def test_a_determiner_takes_the_subject_with_de():
    q = rewrite("该活动由谁负责？", turns("第三届宣讲大赛什么时候报名？"))
    assert q.startswith("第三届宣讲大赛") and "的活动由谁负责" in q and "该" not in q


@pytest.mark.parametrize(
    "question,position",
    [("那第二个呢？", 2), ("第三点具体包括哪些？", 3), ("最后一个阶段叫什么？", LAST), ("第十个方面是什么？", 10)],
)
def test_ordinal_position(question, position):
    assert ordinal_position(question)[0] == position


@pytest.mark.parametrize("question", ["第二期呢？", "第三届宣讲大赛有几个组别？", "冬训第一课谁来讲？"])
def test_no_ordinal_position(question):
    assert ordinal_position(question) == (0, 0)


# --------------------------------------------------------------------------- an ordinal after a list answer
HEADINGS = (
    "一、 要“站得高、悟得透”，充分认识冬训工作的重要意义、深刻内涵[1]。"
    "二、要“抓得准、做得新”，着力推动冬训工作上接天线、下接地气[2]。"
    "三、要“压得实、落得细”，有效确保冬训工作扎实推进、提质增效[3]。"
)
STAGES = "（一）动员部署阶段（2024年12月1日—12月10日）[1]。（二）集中宣讲阶段（2024年12月11日—2025年1月20日）[2]。"


@pytest.mark.parametrize(
    "answer,items",
    [
        (
            "一要压实责任，严格组织领导[1]。二要加大宣传，营造浓厚氛围[2]。",
            ["压实责任，严格组织领导", "加大宣传，营造浓厚氛围"],
        ),
        (STAGES, ["动员部署阶段（2024年12月1日—12月10日）", "集中宣讲阶段（2024年12月11日—2025年1月20日）"]),
        (
            "三点：站得高、悟得透；抓得准、做得新；压得实、落得细",
            ["站得高、悟得透", "抓得准、做得新", "压得实、落得细"],
        ),
        ("四个阶段：筹备阶段、进村宣讲阶段、返乡专场阶段。", ["筹备阶段", "进村宣讲阶段", "返乡专场阶段"]),
        ("1. 报名[1]。2. 初赛[1]。3. 决赛[2]。", ["报名", "初赛", "决赛"]),
        ("……开展各类理论宣讲活动215场[1]。吸引2.6万人次在线观看[1]。", []),  # sentences, not items
        ("区委宣传部、区委组织部负责[1]。", []),  # a 、 without a lead-in is no list
        ("资料中没有找到关于“奖金”的内容。相关内容（仅供参考，并非对问题的回答）：一是…[1]。二是…[1]。", []),
        ("", []),
    ],
)
def test_answer_items(answer, items):
    assert answer_items(answer) == items


def test_item_name_is_short_and_plain():
    assert item_name("要“抓得准、做得新”，着力推动冬训工作上接天线、下接地气") == "要抓得准、做得新"
    assert item_name("集中宣讲阶段（2024年12月11日—2025年1月20日）") == "集中宣讲阶段"
    assert item_name("加大宣传，营造浓厚氛围") == "加大宣传，营造浓厚氛围"


def test_that_second_one_becomes_a_question_about_the_second_item():
    q = rewrite("那第二个呢？", [{"question": "冬训动员部署会讲话提了几点意见？", "answer": HEADINGS}])
    assert "抓得准、做得新" in q and q.endswith(ITEM_ASK + "？")
    assert "站得高" not in q and "第二个" not in q and "冬训动员部署会讲话" in q


def test_an_ordinal_keeps_its_own_asking_part():
    q = rewrite("第二个阶段是什么时候？", [{"question": PLAN_STAGES, "answer": STAGES}])
    assert q == "“理论飞燕”冬训宣讲活动实施方案的“集中宣讲阶段”是什么时候？"
    q = rewrite("第二个阶段呢？具体时间是什么时候？", [{"question": PLAN_STAGES, "answer": STAGES}])
    assert "集中宣讲阶段" in q and q.endswith("具体时间是什么时候？")
    assert rewrite("最后一个呢？", [{"question": PLAN_STAGES, "answer": STAGES}]).count("集中宣讲阶段") == 1


def test_ordinals_in_a_row_point_into_the_same_list():
    history = [
        {"question": "冬训动员部署会讲话提了几点意见？", "answer": HEADINGS},
        {"question": "那第二个呢？", "answer": "新形势下加强和改进冬训工作，必须坚持守正基础上的创新[1]。"},
    ]
    q = rewrite("第三个呢？", history)
    assert "压得实、落得细" in q and "抓得准" not in q


def test_an_ordinal_beyond_the_list_or_without_one_carries_the_subject():
    assert item_question("第五个呢？", PLAN_STAGES, STAGES) == ""
    assert item_question("第二个呢？", PLAN_STAGES, "动员部署阶段，2024年12月1日—12月10日") == ""
    q = rewrite("第二个阶段是什么时候？", turns(PLAN_STAGES))  # "（上一轮回答）" is no list
    assert "实施方案" in q and "第二个阶段" in q
