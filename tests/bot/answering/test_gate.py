"""The refusal gate on a small corpus built here: a planted near miss of the project's genre (an on-topic
passage that lacks the asked year, or the asked kind of thing) is refused, its answerable twin answered; the
rule cues the gate reads; and the decider setting (learned, rules, union, cascade)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.candidates import Candidate
from bot.answering.corpus_stats import CorpusStats
from bot.answering.evidence import sentence_score
from bot.answering.extractive import ExtractiveAnswerer
from bot.answering.features import question_of
from bot.answering.model import (
    CASCADE,
    LEARNED,
    RULE_VERDICT,
    RULES,
    UNION,
    AnswerModel,
    fits_grain,
    gives_phone,
    named_units,
    names_place,
    names_unit,
    same_currency,
    same_side,
    same_work_year,
)
from bot.answering.question import analyse
from bot.answering.rule_cues import RULE_FEATURES, names_answer, rule_cues
from core.settings import AnsweringSettings

pytestmark = pytest.mark.unit

SUBSIDY = "2024年度冬训期间，参训党员误工补贴标准为每人每天50元，由乡镇财政统一列支。"
PLACE = "冬训集中学习地点设在各村党群服务中心，每期不少于3天。"
OLD = "2022年度冬训工作总结已经印发，各村要对照整改。"
CORPUS = [SUBSIDY, PLACE, OLD, "冬训结束后各村要报送学习台账。", "宣讲员由乡镇党委统一选派。"]
STATS = CorpusStats.from_texts(CORPUS)
DEFAULT_GATE = AnsweringSettings.model_fields["gate"].default


def passages(*texts: str, dense: float = 0.9) -> list[tuple[Document, float]]:
    meta = {"title": "冬训通知", "section": "", "source": "通知.txt", "dense": dense}
    return [(Document(page_content=t, metadata={**meta, "id": f"p{i}"}), 1.0 / (i + 1)) for i, t in enumerate(texts)]


def answerer(decider: str = DEFAULT_GATE) -> ExtractiveAnswerer:
    model = AnswerModel.load()
    model = model.at(
        threshold=model.threshold,
        second_within=model.second_within,
        length_cost=model.length_cost,
        max_shown_chars=model.max_shown_chars,
        decider=decider,
    )
    return ExtractiveAnswerer(model, lambda: STATS)


@pytest.mark.parametrize(
    ("twin", "near_miss", "found"),
    [
        # a year the on-topic passage lacks
        ("2024年度冬训的误工补贴每天多少钱？", "2022年度冬训的误工补贴每天多少钱？", (SUBSIDY, PLACE, OLD)),
        # an amount where the on-topic passage gives days
        ("冬训集中学习每期多少天？", "冬训集中学习每期交多少钱？", (PLACE, OLD)),
        # a word the materials lack (租金) where another top passage states an amount (50元). The gate alone answered
        # it after every retrain on 2026-12-03's retrieval (p 0.123 at 0.0152; with the drop gain over these
        # passages 0.019 at 0.0126, drop_gain.py); the rule judge refuses it since the amount must be one of the
        # money the question names (question.money_grain).
        ("冬训误工补贴每天发多少钱？", "冬训集中学习地点的租金每天多少钱？", (PLACE, SUBSIDY, OLD)),
    ],
)
def test_the_gate_refuses_a_planted_near_miss_and_answers_its_twin(twin, near_miss, found):
    answered = answerer().answer(analyse(twin, STATS), passages(*found))
    assert not answered.refused and ("50元" in answered.text or "3天" in answered.text)
    refused = answerer().answer(analyse(near_miss, STATS), passages(*found))
    assert refused.refused, refused.text


def test_the_rule_cues_say_what_the_passages_lack():
    ctx = passages(SUBSIDY, PLACE)
    fits = dict(zip(RULE_FEATURES, rule_cues(analyse("2024年度冬训误工补贴每天多少钱？", STATS), *_split(ctx))))
    lacks = dict(zip(RULE_FEATURES, rule_cues(analyse("2022年度冬训误工补贴每天多少钱？", STATS), *_split(ctx))))
    assert fits["rule_ok"] == 1 and fits["rule_type_ok"] == 1 and fits["rule_missing_years"] == 0
    assert lacks["rule_ok"] == 0 and lacks["rule_missing_years"] == 1
    far = dict(
        zip(RULE_FEATURES, rule_cues(analyse("冬训误工补贴每天多少钱？", STATS), *_split(passages(PLACE, dense=0.8))))
    )
    assert far["rule_ok"] == 0 and far["rule_dense_low"] == 1


FIRST_CLASS = "镇党委书记王立新于12月5日为全镇党员讲授冬训第一课。"
SECOND_TERM = "第2期示范班定于1月上旬开班。"


@pytest.mark.parametrize(
    ("question", "ok"),
    [
        ("冬训第一课由谁来讲？", True),
        ("冬训第二课由谁来讲？", False),  # a sibling of the series the passage names
        ("第二期示范班什么时候开班？", True),  # written 第2期
        ("第三期示范班什么时候开班？", False),
    ],
)
def test_a_series_ordinal_must_be_named_by_the_answers_passage(question, ok):
    stats = CorpusStats.from_texts([FIRST_CLASS, SECOND_TERM, *CORPUS])
    cues = dict(zip(RULE_FEATURES, rule_cues(analyse(question, stats), *_split(passages(FIRST_CLASS, SECOND_TERM)))))
    assert cues["rule_ok"] == float(ok)
    assert cues["rule_missing_years"] == float(not ok)  # the gate reads the missing ordinal as it reads a year


def test_a_sentence_of_a_passage_lacking_the_asked_ordinal_scores_lower():
    stats = CorpusStats.from_texts([FIRST_CLASS, SECOND_TERM, *CORPUS])
    question = analyse("冬训第二课由谁来讲？", stats)
    sentence = "镇党委书记王立新于12月5日讲授。"
    named, other = f"冬训第二课安排如下。{sentence}", f"冬训第一课安排如下。{sentence}"
    assert sentence_score(question, sentence, passage=other) < sentence_score(question, sentence, passage=named)


@pytest.mark.parametrize(
    ("question", "sentence", "named"),
    [
        # a real name, which the placeholder cues (某某同志) never matched
        ("开班式上是谁作的动员讲话？", "开班式上，区委书记王建国作动员讲话。", True),
        ("硝酰氟首先被谁制成？", "它首先由莫瓦桑于1905年制得。", True),
        ("冬训集中学习在哪里举行？", "冬训集中学习在南京举行。", True),
        # the only name is the question's own: it does not answer who
        ("王建国在会上讲了什么？谁主持的会议？", "王建国在会上讲了三点意见。", False),
        # no proper noun at all
        ("开班式上是谁作的动员讲话？", "开班式上作了动员讲话，要求大家认真学习。", False),
        # a name question: a name or quoted title beside its subject (团长, 作品), not anywhere in the sentence
        ("宣讲团团长叫什么名字？", "宣讲团由区委宣传部组建，王建国同志任团长。", True),
        ("杨群的首部作品叫什么？", "他参与的首部作品乃《碧血黄花》。", True),
        (
            "作动员讲话的县委副书记叫什么名字？",
            "县委组织部、县委宣传部要组成4个督导组，采取“四不两直”方式抽查。",
            False,
        ),
        # a naming word states a name jieba does not know as one (CMRC train: 原名生保内, 俗名印仔鱼)
        ("这座桥原来叫什么？", "此桥旧称万安桥，始建于宋代。", True),
        ("这种茶俗称叫什么？", "当地俗名云雾青，产于高山茶园。", True),
    ],
)
def test_a_proper_noun_of_the_expected_tag_answers_who_where_and_name(question, sentence, named):
    assert names_answer(analyse(question, STATS), sentence) is named


def test_a_real_name_passes_the_rule_judges_type_check():
    found = passages("开班式上，王建国作动员讲话，要求大家认真学习。", OLD)
    cues = dict(zip(RULE_FEATURES, rule_cues(analyse("开班式上是谁作的动员讲话？", STATS), *_split(found))))
    assert cues["rule_type_ok"] == 1
    nameless = passages("开班式上作了动员讲话，要求大家认真学习。", OLD)
    cues = dict(zip(RULE_FEATURES, rule_cues(analyse("开班式上是谁作的动员讲话？", STATS), *_split(nameless))))
    assert cues["rule_type_ok"] == 0


def _split(ctx):
    return [d for d, _ in ctx], [s for _, s in ctx]


@pytest.mark.parametrize(
    ("decider", "p", "rule_ok", "refused"),
    [
        (LEARNED, 0.9, 0, False),
        (LEARNED, 0.0, 1, True),
        (RULES, 0.0, 1, False),
        (RULES, 0.9, 0, True),
        (UNION, 0.9, 1, False),
        (UNION, 0.9, 0, True),
        (UNION, 0.0, 1, True),
        (CASCADE, 0.3, 1, True),  # below the threshold the learned gate is sure the answer is absent
        (CASCADE, 0.8, 0, False),  # at or above answer_above it is sure it is there, over the rule judge
        (CASCADE, 0.6, 0, True),  # in between, the rule judge decides
        (CASCADE, 0.6, 1, False),
    ],
)
def test_the_decider_setting_chooses_what_refuses(decider, p, rule_ok, refused):
    model = AnswerModel.load()
    model = model.at(
        threshold=0.5, second_within=0, length_cost=0, max_shown_chars=100, decider=decider, answer_above=0.7
    )
    assert model.refuses(p, rule_ok) is refused


def test_an_unknown_decider_is_an_error():
    with pytest.raises(ValueError, match="unknown decider"):
        AnswerModel.load().at(
            threshold=0.5, second_within=0, length_cost=0, max_shown_chars=100, decider="vote"
        ).refuses(0.5, True)


MEETING = "今天召开冬训动员部署会，部署2025年度农村党员冬训工作。"
MEETING_DAY = "12月1日召开冬训动员部署会，部署2025年度农村党员冬训工作。"
DAYS = "冬训示范班于12月8日开班，为期5天。"


def judge_alone() -> AnswerModel:
    """The committed model deciding by the rule judge and the shown-answer checks alone, one candidate shown."""
    model = AnswerModel.load()
    return model.at(
        threshold=0.0, second_within=0.0, length_cost=0.0, max_shown_chars=model.max_shown_chars, decider=RULES
    )


def shown(answer: str) -> list[Candidate]:
    return [Candidate(answer, 0, 0, len(answer), "sentence", 0, 1, 1.0)]


@pytest.mark.parametrize(("first", "fits"), [(MEETING, False), (MEETING_DAY, True)])
def test_a_shown_answer_must_hold_the_grain_asked(first, fits):
    # The rule judge passes both (a top sentence holds a day: 12月8日); the answer shown must hold one itself.
    model = judge_alone()
    stats = CorpusStats.from_texts([MEETING, DAYS, *CORPUS])
    d = model.decide("冬训动员部署会是哪天召开的？", passages(first, DAYS), stats)
    assert d.gate[RULE_VERDICT] == 1.0
    assert "动员部署会" in d.shown[0].text
    assert d.shown_fits is fits and d.rule_ok is fits and d.refuse is not fits


def test_a_question_asking_no_grain_fits_any_answer():
    model = AnswerModel.load()
    d = model.decide("冬训动员部署会部署了什么工作？", passages(MEETING, DAYS), CorpusStats.from_texts([MEETING, DAYS]))
    assert d.shown_fits


LAST_YEAR = "去年全区共组织集中学习班486个，参训党员2.3万名。"
THIS_YEAR = "今年全区计划组织集中学习班500个。"


@pytest.mark.parametrize(
    ("question", "fits"),
    [("去年参训党员有多少名？", True), ("参训党员有多少名？", True), ("今年参训党员有多少名？", False)],
)
def test_a_shown_answer_must_speak_of_the_relative_year_asked(question, fits):
    model = judge_alone()
    stats = CorpusStats.from_texts([LAST_YEAR, THIS_YEAR, *CORPUS])
    d = model.decide(question, passages(LAST_YEAR, THIS_YEAR), stats)
    assert "参训党员" in d.shown[0].text and "今年" not in "".join(c.text for c in d.shown)
    assert d.shown_fits is fits and d.refuse is not fits


FUNDS = "冬训专项经费共80万元，由区财政统一拨付。"


@pytest.mark.parametrize(
    ("question", "fits"),
    [("冬训专项经费是多少万元？", True), ("冬训专项经费是多少？", True), ("冬训专项经费是多少万美元？", False)],
)
def test_a_shown_amount_must_be_in_the_currency_asked(question, fits):
    model = judge_alone()
    stats = CorpusStats.from_texts([FUNDS, *CORPUS])
    d = model.decide(question, passages(FUNDS, PLACE), stats)
    assert "80万元" in d.shown[0].text
    assert d.shown_fits is fits and d.refuse is not fits


def test_a_currency_is_read_by_any_of_its_names():
    answer = shown("奖金为25万美金。")
    assert same_currency("胜出者能获得多少美元？", answer) and not same_currency("胜出者能获得多少欧元？", answer)


HELD = "要站得高、悟得透，充分认识冬训工作的重要意义。"  # 站 is a place character, in a verb here
HELD_AT = "冬训集中学习在区委党校举行，每期不少于3天。"


CONTACT = "街道党建办牵头抓总，负责志愿者注册管理，联系人何静。"
CONTACT_PHONE = "街道党建办牵头抓总，联系人何静，联系电话0571-86021234。"


@pytest.mark.parametrize(
    ("question", "first", "fits"),
    [
        # Over the seed speech alone this was answered by a sentence naming no place (p 0.70).
        ("冬训在哪里举行？", HELD, False),
        ("冬训在哪里举行？", HELD_AT, True),
        # Answered by the line naming the contact person (eval/dev2, first run).
        ("街道党建办的联系电话是多少？", CONTACT, False),
        ("街道党建办的联系电话是多少？", CONTACT_PHONE, True),
    ],
)
def test_a_shown_answer_must_name_the_place_or_the_phone_number_asked(question, first, fits):
    model = judge_alone()
    stats = CorpusStats.from_texts([HELD, HELD_AT, CONTACT, CONTACT_PHONE, *CORPUS])
    d = model.decide(question, passages(first), stats)
    assert d.shown[0].text == first
    assert d.shown_fits is fits and d.refuse is not fits


@pytest.mark.parametrize(
    ("question", "answer", "fits"),
    [
        ("首届首脑会议在哪儿举行？", "1999年6月，首届首脑会议在巴西里约热内卢举行。", True),  # a place jieba knows
        ("办公室设在哪里？", "领导小组办公室设在区委组织部。", True),  # a place word of the rule judge's
        ("冬训在哪里举行？", "冬训工作是一项政治任务。", False),
        ("冬训在哪里举行？", "要站得高、悟得透。", False),  # a place character in a verb
        ("集中学习在哪里进行？", "集中学习通过线上方式进行。", True),
        ("冬训是一项什么工作？", "冬训工作是一项政治任务。", True),  # not a where-question
    ],
)
def test_a_place_is_a_place_word_or_a_proper_noun(question, answer, fits):
    assert names_place(question_of(question, STATS), shown(answer)) is fits


ONLINE = "党员通过小程序完成线上课程，线上学时不少于8学时。"
OFFLINE = "集中学习每次不少于半天。"


@pytest.mark.parametrize(("question", "fits"), [("线上学时不少于多少？", True), ("线下学习的学时不少于多少？", False)])
def test_a_shown_answer_must_not_speak_of_the_other_side(question, fits):
    model = judge_alone()
    stats = CorpusStats.from_texts([ONLINE, OFFLINE, *CORPUS])
    d = model.decide(question, passages(ONLINE, OFFLINE), stats)
    assert "线上学时" in d.shown[0].text
    assert d.shown_fits is fits and d.refuse is not fits


@pytest.mark.parametrize(
    ("question", "answer", "fits"),
    [
        ("萨默塞特郡北部临近什么地方？", "英国英格兰西南部的郡，北临布里斯托湾。", True),  # names the side asked too
        ("尤金袋鼠的体重大约是多少？", "尤金袋鼠很细小，约只有8公斤重。", True),  # no word across the comma
        ("城市党员的学时不少于多少？", "农村党员的学时不少于8学时。", True),  # not opposites
        ("南京大学有几位获得了科学奖章？", "北京师范大学附属小学等）田刚 于全", True),  # parts of a proper noun
        ("线下学习的学时不少于多少？", "线上学时不少于8学时。", False),
    ],
)
def test_the_other_side_counts_only_where_the_side_asked_is_never_named(question, answer, fits):
    q = question_of(question, STATS)
    assert same_side(q, shown(answer)) is fits


@pytest.mark.parametrize(
    ("answer", "fits"),
    [
        ("2026年度冬训将扩大专题辅导覆盖面，专题辅导由8场增加到12场。", False),  # a year is no length
        ("专题辅导时间为12月15日下午。", False),  # nor is a date
        ("专题辅导每次3小时。", True),
        ("（二）集中学习阶段（12月11日—2027年1月31日）。", True),  # a span
    ],
)
def test_a_shown_answer_to_how_long_must_hold_a_length(answer, fits):
    q = question_of("专题辅导持续多久？", STATS)
    assert fits_grain(q, shown(answer)) is fits


@pytest.mark.parametrize(
    ("question", "answer", "fits"),
    [
        ("咨询热线是多少？", "咨询热线：13812345678。", True),
        ("报名电话是什么？", "报名电话88601234。", True),
        ("报名电话是什么？", "报名截止时间为12月10日。", False),
        ("为什么电话本不受版权法保护？", "电话本只是事实的汇编。", True),  # asks no number
    ],
)
def test_a_phone_number_is_seven_digits_or_more(question, answer, fits):
    assert gives_phone(question, shown(answer)) is fits


WINTER = "冬训自2026年12月1日开始，至2027年2月28日结束，分为三个阶段。"


@pytest.mark.parametrize(
    ("question", "title", "fits"),
    [
        ("2027年度的冬训几月几号开始？", "关于做好2026年度党员冬训工作的通知", False),  # 2027 only as a date
        ("2026年度的冬训几月几号开始？", "关于做好2026年度党员冬训工作的通知", True),  # the title names it
        ("2027年度的冬训几月几号开始？", "2027年冬训工作安排", True),  # 2027年 as a year
        ("冬训几月几号开始？", "冬训通知", True),  # no work year asked
    ],
)
def test_a_work_year_is_not_named_by_a_date_within_it(question, title, fits):
    doc = Document(page_content=WINTER, metadata={"title": title, "section": ""})
    assert same_work_year(question, shown(WINTER), [doc]) is fits


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("去年柏树村有多少名党员参训？", ["柏树"]),
        ("东湖社区的志愿服务队有几支？", ["东湖"]),
        ("城关镇的参训率是多少？", ["城关"]),
        ("每个村今年要办几件实事？", []),  # every village
        ("我们村的书记是谁？", []),
        ("全镇有多少个村？", []),
        ("农村党员冬训在乡村哪里开展？", []),
        ("莫斯科公国在哪一年控制了此城镇？", []),  # 城镇 is a word, not a town named 城
    ],
)
def test_a_named_village_community_or_town_is_read_from_the_question(question, names):
    assert named_units(question) == names


TOTAL = "2025年度冬训期间，全镇13个村共组织参训党员1012名，参训率96.2%。"
OWN = "柏树村党总支组织党员集中学习6次，参训党员86名。"


@pytest.mark.parametrize(
    ("question", "answer", "title", "fits"),
    [
        ("去年柏树村有多少名党员参训？", TOTAL, "2025年度冬训工作总结", False),  # the town's total
        ("去年柏树村有多少名党员参训？", OWN, "2025年度冬训工作总结", True),
        ("柏树村2025年冬训总结是什么时候印发的？", TOTAL, "柏树村2025年度冬训工作总结", True),  # its title names it
        ("去年全镇有多少名党员参训？", TOTAL, "2025年度冬训工作总结", True),  # no unit named
    ],
)
def test_a_named_village_must_be_named_by_the_answers_passage(question, answer, title, fits):
    doc = Document(page_content=answer, metadata={"title": title, "section": ""})
    assert names_unit(question, shown(answer), [doc]) is fits
