"""The lecturer's check (eval/outline_check.py): each counter catches a planted bad outline and passes a
good one. (The check run on real outlines: test_outline_check_dev.py.)"""

from __future__ import annotations

import pytest

from eval.outline_check import DEV_TOPICS, HELDOUT_TOPICS, check_outline, load_topics

pytestmark = pytest.mark.unit

SPEECH = (
    "一要压实责任，严格组织领导。各级党组织要强化“一把手”责任制，党组织书记要牵头开展冬训，带头讲好第一课。"
    "持续擦亮“理论飞燕”进万家品牌，打造一批主题鲜明、形式新颖，且接地气、冒热气、聚人气的理论宣讲样板课程。"
)
NOTICE = (
    "二、时间安排\n冬训时间为2024年12月上旬至2025年2月底。其中，集中学习时间原则上不少于3天。\n现就有关事项通知如下。"
)
CITATIONS = [{"n": 1, "text": SPEECH}, {"n": 2, "text": NOTICE}]
GOOD = (
    "# “冬训责任落实”宣讲提纲\n\n## 开场\n- 党组织书记要牵头开展冬训，带头讲好第一课[1]。\n\n"
    "## 一、压实责任，严格组织领导\n- 各级党组织要强化“一把手”责任制[1]。\n"
    "- 冬训时间为2024年12月上旬至2025年2月底[2]。\n\n## 结语\n- 持续擦亮“理论飞燕”进万家品牌[1]。\n"
)


def planted(line: str) -> str:
    return GOOD + line + "\n"


def test_a_good_outline_counts_nothing():
    assert check_outline(GOOD, CITATIONS).counts() == {"boilerplate": 0, "fragment": 0, "unverified": 0, "off_topic": 0}


@pytest.mark.parametrize("line", ["## 二、时间安排", "## 四、方法步骤", "- 现就有关事项通知如下[2]。"])
def test_boilerplate_counter_catches_a_procedural_heading_or_a_formula(line):
    assert check_outline(planted(line), CITATIONS).boilerplate == [line]


@pytest.mark.parametrize(
    "line",
    [
        "- ……且接地气、冒热气、聚人气的理论宣讲样板课程[1]。",  # an ellipsis: cut from a sentence
        "- 且接地气、冒热气、聚人气的理论宣讲样板课程[1]。",  # leans on the clause before it
        "- 头讲好第一课[1]。",  # cut inside a clause
        "- 党组织书记要牵头开展冬训，带头讲[1]。",  # ends inside a clause
    ],
)
def test_fragment_counter_catches_a_bullet_that_is_not_whole_clauses(line):
    assert check_outline(planted(line), CITATIONS).fragment == [line]


def test_a_clause_after_a_connective_clause_is_whole():
    line = "- 集中学习时间原则上不少于3天[2]。"  # after "其中，": a clause of its own
    assert check_outline(planted(line), CITATIONS).fragment == []


@pytest.mark.parametrize(
    "line",
    [
        "- 各级党组织要强化“一把手”责任制。",  # no citation
        "- 各级党组织要强化“一把手”责任制[3]。",  # a citation to no source
        "- 冬训时间为2024年12月上旬至2025年2月底[1]。",  # cites a passage that does not say it
        "- 冬训时间为2023年12月上旬至2025年2月底[2]。",  # a changed number
    ],
)
def test_unverified_counter_catches_uncited_and_unsupported_lines(line):
    assert check_outline(planted(line), CITATIONS).unverified == [line]


def test_topic_files_load_and_mark_uncovered_topics():
    for path in (DEV_TOPICS, HELDOUT_TOPICS):
        topics = load_topics(path)
        assert topics and any(t.covered is False for t in topics) and any(t.covered for t in topics)


def test_eval_command_line_knows_the_outline_check(capsys):
    from eval.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["outline", "--help"])
    assert e.value.code == 0 and "--heldout" in capsys.readouterr().out
