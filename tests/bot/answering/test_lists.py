"""Lists that span passages (bot/answering/lists.py), on hand-made chunks of two documents: the items
an announcement promises, sibling headings that name the noun asked for, and the section an ordinal
points at (no model, no store)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.candidates import SENTENCE, Candidate
from bot.answering.corpus_stats import CorpusStats
from bot.answering.lists import (
    asks_only_for_item,
    enumeration,
    heading_items,
    items_under,
    labelled_lines,
    ordinal_beyond,
    ordinal_section,
)
from bot.answering.question import analyse

pytestmark = pytest.mark.unit

SPEECH = "动员讲话.txt"
PLAN = "实施方案.txt"
CHUNKS = {
    SPEECH: [
        ("", "同志们：今天召开冬训动员会，我讲三点意见。"),
        ("一、要站得高", "一、要站得高\n冬训要坚持正确方向。"),
        ("二、要抓得准", "二、要抓得准\n一是抓牢学的主体。二是建好用的载体。"),
        ("三、要压得实", "三、要压得实\n压实各级责任。"),
    ],
    PLAN: [
        ("四、方法步骤", "四、方法步骤"),
        ("四、方法步骤 > （一）动员部署阶段", "（一）动员部署阶段\n12月1日至10日，召开动员会。"),
        ("四、方法步骤 > （二）集中宣讲阶段", "（二）集中宣讲阶段\n12月11日至1月20日，开展宣讲。"),
        ("四、方法步骤 > （三）总结提升阶段", "（三）总结提升阶段\n1月21日至31日，总结经验。"),
        ("五、保障措施", "五、保障措施\n加强组织领导。\n落实经费保障。"),
        ("六、职责分工", "六、职责分工\n区委宣传部：牵头组织实施。\n区委党校：负责集体备课。"),
        ("六、职责分工", "区农业农村局：选派农技人员随队宣讲。\n各单位要密切配合。"),
    ],
}
DOCS = {
    source: [
        Document(
            page_content=text,
            metadata={"id": f"{source}#{i}", "source": source, "chunk_index": i, "section": section, "title": source},
        )
        for i, (section, text) in enumerate(chunks)
    ]
    for source, chunks in CHUNKS.items()
}
STATS = CorpusStats.from_texts(d.page_content for docs in DOCS.values() for d in docs)


def siblings(doc: Document) -> list[Document]:
    return DOCS[doc.metadata["source"]]


def texts(parts) -> list[str]:
    return [text for _, text, _ in parts]


def test_an_announcement_brings_the_items_of_the_sections_below_it():
    doc = DOCS[SPEECH][0]
    sentence = "我讲三点意见。"
    start = doc.page_content.index(sentence)
    best = Candidate(sentence, 0, start, start + len(sentence), SENTENCE, 0, 1, 1.0)
    sources = [doc]
    items = enumeration(analyse("讲了哪三点意见？", STATS), best, sources, siblings)
    assert texts(items) == ["一、要站得高", "二、要抓得准", "三、要压得实"]
    assert [sources[i].metadata["chunk_index"] for i, _, _ in items] == [1, 2, 3]  # each item cites its chunk
    assert enumeration(analyse("讲了哪三点意见？", STATS), best, [doc], None) == []  # no other chunks to look in
    # a count is answered with what it counts; a time, a place or a person is not answered by the points
    assert texts(enumeration(analyse("讲了几点意见？", STATS), best, [doc], siblings)) == texts(items)
    for question in ("这次讲话是什么时候讲的？", "讲话是在哪里讲的？", "讲话是谁讲的？"):
        assert enumeration(analyse(question, STATS), best, [doc], siblings) == [], question


def test_items_inside_one_passage_need_no_siblings():
    doc = Document(page_content="冬训要做到：\n一是抓牢学的主体。二是建好用的载体。", metadata={"section": ""})
    sentence = "二是建好用的载体。"
    start = doc.page_content.index(sentence)
    best = Candidate(sentence, 0, start, start + len(sentence), SENTENCE, 0, 1, 1.0)
    items = enumeration(analyse("要抓好哪些方面？", STATS), best, [doc])
    assert texts(items) == ["一是抓牢学的主体。", "二是建好用的载体。"]


def test_sibling_headings_that_name_the_noun_are_the_list():
    sources = [DOCS[PLAN][1]]
    items = heading_items(analyse("实施方案分为哪几个阶段？", STATS), [(DOCS[PLAN][1], 1.0)], sources, siblings)
    assert texts(items) == ["（一）动员部署阶段", "（二）集中宣讲阶段", "（三）总结提升阶段"]
    assert heading_items(analyse("冬训有哪些要求？", STATS), [(DOCS[PLAN][1], 1.0)], sources, siblings) == []


def chunks_of(source: str, sections: list[tuple[str, str]]) -> list[Document]:
    return [
        Document(
            page_content=text, metadata={"id": f"{source}#{i}", "source": source, "chunk_index": i, "section": sec}
        )
        for i, (sec, text) in enumerate(sections)
    ]


MEASURES = chunks_of(
    "m",
    [
        ("四、保障措施", "四、保障措施\n（一）加强组织领导。\n（二）落实经费保障。"),
        ("五、激励措施", "五、激励措施\n（一）评选优秀宣讲员。\n（二）表彰先进村。"),
    ],
)


@pytest.mark.parametrize(
    ("question", "items"),
    [
        ("方案定了哪些激励措施？", ["（一）评选优秀宣讲员。", "（二）表彰先进村。"]),  # the heading naming the phrase
        ("方案有哪些保障措施？", ["（一）加强组织领导。", "（二）落实经费保障。"]),
        ("方案有哪些措施？", ["四、保障措施", "五、激励措施"]),  # the headings that each name the noun
    ],
)
def test_a_list_question_naming_one_of_two_sibling_headings_gets_its_items(question, items):
    sources = list(MEASURES)
    found = heading_items(analyse(question, STATS), [(MEASURES[0], 1.0)], sources, lambda d: MEASURES)
    assert texts(found) == items


TALK = chunks_of(
    "讲话.txt",
    [("二要让冬训内容接地气", "二要让冬训内容接地气。一是把全会精神学透。二是把实用技术讲活。三是把实事办好。")],
)
NOTICE = chunks_of(
    "通知.txt",
    [
        ("一、时间安排", "一、时间安排\n冬训自12月1日开始。"),
        ("二、学习内容", "二、学习内容\n1．学习全会精神。\n2．学习纪律处分条例。\n3．学习实用技术。"),
    ],
)


def test_a_heading_that_is_the_lists_label_wins_over_a_higher_ranked_heading_that_mentions_the_noun():
    # The speech's passage ranks first; its heading mentions 内容, the notice's is the label 学习内容.
    contexts = [(TALK[0], 2.0), (NOTICE[0], 1.0)]
    sources = [d for d, _ in contexts]
    docs = {"讲话.txt": TALK, "通知.txt": NOTICE}
    found = heading_items(
        analyse("今年冬训学习哪些内容？", STATS), contexts, sources, lambda d: docs[d.metadata["source"]]
    )
    assert texts(found) == ["1．学习全会精神。", "2．学习纪律处分条例。", "3．学习实用技术。"]


def test_a_list_label_whose_section_says_it_in_a_sentence_gives_that_sentence():
    notice = chunks_of("通知.txt", [("二、学习内容", "二、学习内容\n重点学习全会精神、纪律处分条例以及实用技术。")])
    contexts = [(TALK[0], 2.0), (notice[0], 1.0)]
    docs = {"讲话.txt": TALK, "通知.txt": notice}
    found = heading_items(
        analyse("今年冬训学习哪些内容？", STATS),
        contexts,
        [d for d, _ in contexts],
        lambda d: docs[d.metadata["source"]],
    )
    assert texts(found) == ["重点学习全会精神、纪律处分条例以及实用技术。"]


def test_a_list_of_points_a_speech_announces_is_the_headings_of_its_sections():
    # The points' headings do not say 意见; the preamble's 我讲三点意见。 announces them.
    sources = [DOCS[SPEECH][0]]
    items = heading_items(analyse("动员会上讲了哪几点意见？", STATS), [(DOCS[SPEECH][0], 1.0)], sources, siblings)
    assert texts(items) == ["一、要站得高", "二、要抓得准", "三、要压得实"]
    # 几点 counts too.
    talk = chunks_of(
        "讲话.txt", [("", "下面，我再讲几点意见。"), ("一、要学深", "一、要学深"), ("二、要做实", "二、要做实")]
    )
    found = heading_items(analyse("讲了哪几点意见？", STATS), [(talk[0], 1.0)], [talk[0]], lambda d: talk)
    assert texts(found) == ["一、要学深", "二、要做实"]
    # A salutation that names the noun and ends in a colon (各有关单位：) counts nothing.
    notice = chunks_of(
        "通知.txt", [("", "各有关单位："), ("一、总体要求", "一、总体要求"), ("二、工作安排", "二、工作安排")]
    )
    found = heading_items(analyse("有哪些责任单位？", STATS), [(notice[0], 1.0)], [notice[0]], lambda d: notice)
    assert found == []


def test_paragraph_leads_are_items_when_nothing_is_numbered():
    doc = DOCS[PLAN][4]
    assert texts(items_under("五、保障措施", doc, [doc], siblings)) == ["加强组织领导。", "落实经费保障。"]


def candidate(doc: Document, sentence: str) -> Candidate:
    start = doc.page_content.index(sentence)
    return Candidate(sentence, 0, start, start + len(sentence), SENTENCE, 0, 1, 1.0)


def test_a_labelled_line_brings_the_labelled_lines_of_its_section():
    doc = DOCS[PLAN][5]
    best = candidate(doc, "区委党校：负责集体备课。")
    sources = [doc]
    items = enumeration(analyse("有哪些责任单位？", STATS), best, sources, siblings)
    # across the section's chunks, in order; the unlabelled closing line is no item
    assert texts(items) == [
        "区委宣传部：牵头组织实施。",
        "区委党校：负责集体备课。",
        "区农业农村局：选派农技人员随队宣讲。",
    ]
    assert [i for i, _, _ in items] == [0, 0, 1] and sources[1] is DOCS[PLAN][6]  # each item cites its chunk
    # without siblings, the passage's own lines: two labelled lines are too few to be a list
    assert enumeration(analyse("有哪些责任单位？", STATS), best, [doc], None) == []
    # only a list question is answered with the list
    assert enumeration(analyse("区委党校负责什么？", STATS), best, [doc], siblings) == []


def test_a_labelled_sentence_inside_a_line_or_alone_is_no_list():
    doc = Document(
        page_content="六、职责分工\n联系人：区委宣传部理论科。电话：0000-1234。", metadata={"section": "六、职责分工"}
    )
    inside = candidate(doc, "电话：0000-1234。")  # a label, but not at a line's start
    assert enumeration(analyse("有哪些联系方式？", STATS), inside, [doc], None) == []
    alone = candidate(doc, "联系人：区委宣传部理论科。")  # the only labelled line of its section
    assert enumeration(analyse("有哪些联系方式？", STATS), alone, [doc], None) == []
    assert labelled_lines("", doc, [doc], None) == []  # a passage before any heading lists nothing
    # a notice's closing section: fields beside prose, however many labels, are no list
    closing = Document(
        page_content="六、其他事项\n冬训期间不组织外出参观。\n经费从党员教育经费中列支。\n联系人：周某某。\n附件：安排表。\n"
        "电话：0000-1234。\n中共某某镇委员会",
        metadata={"section": "六、其他事项"},
    )
    assert enumeration(analyse("有哪些附件？", STATS), candidate(closing, "附件：安排表。"), [closing], None) == []


def test_an_ordinal_question_asking_for_the_item_alone_is_answered_by_its_section():
    found = ordinal_section(analyse("第二点意见是什么？", STATS), [(DOCS[SPEECH][0], 1.0)], siblings)
    assert [d.metadata["section"] for d, _ in found] == ["二、要抓得准"]
    assert asks_only_for_item(analyse("第二点意见是什么？", STATS), found)
    assert asks_only_for_item(analyse("动员讲话的第二点意见具体包括什么？", STATS), found)  # 动员讲话: its title
    assert not asks_only_for_item(analyse("第二点意见的经费是多少？", STATS), found)  # also asks for an amount
    assert not asks_only_for_item(analyse("第二点意见是什么？", STATS), [])


def test_an_ordinal_past_the_end_of_its_list_points_nowhere():
    first = [(DOCS[PLAN][2], 0.5)]
    assert ordinal_beyond(analyse("第五个阶段呢？", STATS), first, siblings)  # the plan has three
    assert not ordinal_beyond(analyse("第三个阶段呢？", STATS), first, siblings)
    assert not ordinal_beyond(analyse("最后一个阶段呢？", STATS), first, siblings)
    assert not ordinal_beyond(analyse("第五项措施呢？", STATS), first, siblings)  # no list of 措施 to be past
    # a later-ranked document is searched too: the speech's 三点意见
    assert ordinal_beyond(analyse("第五点意见是什么？", STATS), first + [(DOCS[SPEECH][0], 0.1)], siblings)
    found = ordinal_section(analyse("第二点意见是什么？", STATS), first + [(DOCS[SPEECH][0], 0.1)], siblings)
    assert [d.metadata["section"] for d, _ in found] == ["二、要抓得准"]


def test_an_ordinal_points_at_its_section():
    first = [(DOCS[PLAN][2], 0.5)]
    stage = ordinal_section(analyse("第二个阶段是什么时候？", STATS), first, siblings)
    assert [d.metadata["section"] for d, _ in stage] == ["四、方法步骤 > （二）集中宣讲阶段"]
    assert all(score == 0.5 for _, score in stage)
    last = ordinal_section(analyse("最后一个阶段呢？", STATS), first, siblings)
    assert [d.metadata["chunk_index"] for d, _ in last] == [3]
    point = ordinal_section(analyse("第二点具体包括什么？", STATS), [(DOCS[SPEECH][0], 1.0)], siblings)
    assert [d.metadata["section"] for d, _ in point] == ["二、要抓得准"]  # found through "讲三点意见"
    assert ordinal_section(analyse("第五个阶段呢？", STATS), first, siblings) == []  # there are three
    assert ordinal_section(analyse("第一期有多少人？", STATS), first, siblings) == []  # a name, not a pointer


def test_a_pair_whose_second_sentence_is_the_first_item_brings_the_list():
    from bot.answering.candidates import PAIR
    from bot.answering.extractive import ExtractiveAnswerer
    from bot.answering.model import AnswerModel

    text = "二、正视问题\n也要清醒认识到存在的不足。一是学习走过场；二是参学率偏低；三是学用结合不紧密。"
    doc = Document(page_content=text, metadata={"id": "s#0", "source": "s.txt", "section": "二、正视问题"})
    start = text.index("也要")
    end = text.index("二是")
    best = Candidate(text[start:end], 0, start, end, PAIR, 1, 4, 1.0)
    answerer = ExtractiveAnswerer(AnswerModel.load(), sibling_lookup=lambda d: [doc])
    items = answerer.list_items(analyse("冬训存在哪些不足？", STATS), best, [(doc, 1.0)], [doc])
    assert texts(items) == ["一是学习走过场；", "二是参学率偏低；", "三是学用结合不紧密。"]
