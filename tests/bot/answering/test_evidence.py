"""How well a sentence answers a question (bot/answering/evidence.py), on a small hand-made corpus:
the kind of thing asked, term coverage, the sentence score and its penalties (no model, no store)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.corpus_stats import CorpusStats
from bot.answering.evidence import (
    CONTEXT_CREDIT,
    HEADING_PENALTY,
    TYPE_BONUS,
    TYPE_PENALTY,
    best_sentence,
    is_heading,
    missing_numbers,
    missing_terms,
    other_year,
    passage_context,
    satisfies,
    sentence_score,
    term_coverage,
)
from bot.answering.question import LIST, MONEY, NAME, NUMBER, WHEN, analyse

pytestmark = pytest.mark.unit


STATS = CorpusStats.from_texts(
    [
        "2024年度冬训时间为2024年12月上旬至2025年2月底。",
        "外出务工的流动党员可以通过线上课堂学习。",
        "参训学员60人，分两期举办。",
    ]
)


def test_answer_must_hold_the_kind_asked():
    assert not satisfies(MONEY, "经费由区委宣传部统筹安排")
    assert satisfies(MONEY, "每场补助200元")
    assert satisfies(NUMBER, "参训学员60人", unit="名")  # 名 and 人 count the same things
    assert not satisfies(NUMBER, "缺课累计超过4学时的，不发放结业证书。", unit="名")
    assert not satisfies(NAME, "同志们，今年冬训从11月20日启动")
    assert satisfies(NAME, "联系人：组织科 王某某")
    assert not satisfies(NUMBER, "第七条 宣讲员选聘采取个人自荐的方式")  # 第七条 is a label


def test_amounts_and_counts_as_encyclopaedic_text_writes_them():
    # forms that CMRC calib's answers take (see ANSWER_CUES and UNIT_GROUPS)
    assert satisfies(MONEY, "每名奖金为 NT$25,000。")
    assert satisfies(MONEY, "门票300美元，学生半价。")
    assert satisfies(MONEY, "年薪约2万英镑")
    assert not satisfies(MONEY, "展厅设置3块展板")  # 块 counts boards; only 块钱 is money
    assert satisfies(NUMBER, "现时在香港共有28间分店", unit="家")
    assert satisfies(NUMBER, "2007年亚足联冠军联赛 是第 26 届亚洲冠军联赛", unit="届")
    assert satisfies(NUMBER, "说勉语的人约有150万，自称“勉”", unit="人")  # the counter left out
    assert not satisfies(NUMBER, "项目总投资150万元", unit="人")  # money counts no people


def test_years_the_corpus_knows_bind_and_others_do_not():
    asked = analyse("2024年度冬训时间是什么时候？", STATS)
    assert other_year(asked, "2025年度冬训，示范班由3期增加到4期。")
    assert not other_year(asked, "2024年度冬训时间为12月上旬至2025年2月底。")
    own = analyse("我是1988年出生的，能报青年组吗？", STATS)
    assert not other_year(own, "青年组须在35周岁以下（1990年1月1日以后出生）。")


def test_list_sentences():
    assert satisfies(LIST, "一是抓牢学的主体，二是建好用的载体。")
    assert satisfies(LIST, "具体分为以下三类：")
    assert satisfies(LIST, "| 12月16日 | 开班式 |")  # a table row is one item of a list
    assert satisfies(LIST, "深化青年论坛、“老书记讲堂”品牌项目。", noun="品牌")
    assert not satisfies(LIST, "冬训工作要坚持问题导向。")


def test_when_as_encyclopaedic_text_dates_things():
    # forms of the rule judge's false refusals on CMRC's train part (see ANSWER_CUES)
    assert satisfies(WHEN, "香港于60年代已经引入动画")
    assert satisfies(WHEN, "建兴元年（223年），拜屯骑校尉")
    assert satisfies(WHEN, "多在夜间出没")
    assert not satisfies(WHEN, "冬训工作要坚持问题导向")
    long = analyse("宣讲员换了电话，要在多久以内报告？", STATS).grain
    assert satisfies(WHEN, "应在10个工作日内报告", grain=long)
    assert satisfies(WHEN, "最长可以停留12个月。", grain=long)
    assert not satisfies(WHEN, "由所在街道负责登记", grain=long)


def test_when_at_the_grain_asked():
    day = analyse("动员会是哪一天？", STATS).grain
    assert satisfies(WHEN, "时间为2024年12月上旬")
    assert not satisfies(WHEN, "时间为2024年12月上旬", grain=day)
    assert satisfies(WHEN, "定于12月1日召开", grain=day)


def test_term_coverage_credits_title_and_section_partly():
    q = analyse("流动党员怎么参加学习？", STATS)
    full = term_coverage(q, "外出务工的流动党员可以通过线上课堂学习。")
    assert 0 < full <= 1
    body_only = term_coverage(q, "可以通过线上课堂参加。")
    with_heading = term_coverage(q, "可以通过线上课堂参加。", context="流动党员学习安排")
    assert body_only < with_heading < body_only + (1 - body_only) * CONTEXT_CREDIT + 1e-9
    assert term_coverage(q, "") == 0


def test_sentence_score_rewards_the_kind_asked_and_penalises_headings():
    q = analyse("参训学员有多少人？", STATS)
    answer, no_count = "参训学员60人，分两期举办。", "参训学员分两期举办。"
    assert sentence_score(q, answer) > sentence_score(q, no_count)
    # the type cue is worth TYPE_BONUS + TYPE_PENALTY between two sentences with the same words
    gap = sentence_score(q, "参训学员60人。") - sentence_score(q, "参训学员人。")
    assert gap == pytest.approx(TYPE_BONUS + TYPE_PENALTY, abs=1e-9)
    general = analyse("参训学员", STATS)
    assert sentence_score(general, "参训学员") == pytest.approx(
        sentence_score(general, "参训学员。") - HEADING_PENALTY, abs=1e-9
    )


def test_sentence_score_penalises_a_missing_or_other_year():
    q = analyse("2024年度冬训什么时候开始？", STATS)
    right = sentence_score(q, "冬训时间为2024年12月上旬至2025年2月底。")
    wrong = sentence_score(q, "2025年度冬训时间为12月上旬至2026年2月底。")
    assert right > wrong


def test_headings_state_nothing():
    assert is_heading("## 三、保障措施")
    assert is_heading("（一）动员部署阶段")
    assert not is_heading("冬训工作要坚持问题导向。")
    assert not is_heading("| 12月16日 | 开班式 |")
    assert not is_heading("具体安排如下：")


def test_best_sentence_and_missing_pieces():
    q = analyse("2024年度参训学员有多少人？", STATS)
    text = "冬训分两期举办。参训学员60人。"
    score, s, e, i = best_sentence(q, text)
    assert text[s:e] == "参训学员60人。" and i == 1 and score == pytest.approx(sentence_score(q, text[s:e], "", text))
    assert missing_numbers(q, text) == ["2024"] and missing_numbers(q, "2024年度" + text) == []
    assert missing_numbers(q, "2020年度" + text + "共120241人次。") == ["2024"]  # inside another number
    assert "学员" not in missing_terms(q, text) and missing_terms(q, "") == list(q.weights)


def test_passage_context_is_title_and_section():
    doc = Document(page_content="x", metadata={"title": "冬训通知", "section": "一、安排 > （一）时间"})
    assert passage_context(doc) == "冬训通知 一、安排 > （一）时间"
    assert passage_context(Document(page_content="x")) == " "
