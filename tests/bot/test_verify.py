"""Citation verification: invalid markers are removed, valid ones renumbered in order of first use,
other marker forms normalised, and sentences the cited sources do not back are listed."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.drafts import INJECTION_REFUSAL, REFUSAL, RELATED_LABEL
from bot.verify import CITE, MARKER, numbers_supported, support, verify

pytestmark = pytest.mark.unit

COUNT = "开展各类理论宣讲活动215场，吸引2.6万人次在线观看。"
LEADER = "党组织书记要牵头开展冬训，认真做好动员部署，带头讲好第一课。"


@pytest.fixture
def sources() -> list[Document]:
    return [
        Document(page_content=COUNT, metadata={"source": "讲话.txt", "section": "", "start": 120, "end": 146}),
        Document(
            page_content=LEADER,
            metadata={
                "source": "讲话.txt",
                "section": "三、要压得实 > 一要压实责任",
                "start": 2400,
                "end": 2431,
                "page": 3,
            },
        ),
    ]


def test_verbatim_sentence_is_supported(sources):
    v = verify("开展各类理论宣讲活动215场[1]。", sources)
    assert v.text == "开展各类理论宣讲活动215场[1]。"
    assert v.unsupported == [] and v.removed_markers == []
    assert [c["n"] for c in v.citations] == [1]
    c = v.citations[0]
    assert (c["source"], c["text"], c["start"], c["end"]) == ("讲话.txt", COUNT, 120, 146)
    assert c["page"] is None  # unknown page is None, not 0


def test_citation_carries_page_and_section(sources):
    c = verify("党组织书记要牵头开展冬训[2]。", sources).citations[0]
    assert c["n"] == 1 and c["page"] == 3 and c["section"].endswith("一要压实责任")


def test_invalid_marker_removed_and_reported(sources):
    v = verify("开展各类理论宣讲活动215场[1]。党组织书记要牵头开展冬训[7]。", sources)
    assert "[7]" not in v.text
    assert v.removed_markers == [7]
    assert [c["n"] for c in v.citations] == [1]
    # the sentence that lost its only marker now cites nothing, so nothing supports it
    assert any("党组织书记" in s for s in v.unsupported)


def test_marker_zero_is_invalid(sources):
    v = verify("开展各类理论宣讲活动215场[0]。", sources)
    assert v.removed_markers == [0] and v.citations == []


def test_changed_number_is_unsupported(sources):
    v = verify("开展各类理论宣讲活动315场[1]。", sources)
    assert v.unsupported and "315" in v.unsupported[0]


def test_a_number_inside_a_source_number_is_unsupported(sources):
    # a model writing 15场 over 215场: every bigram and the digits are in the source, but not the number
    v = verify("开展各类理论宣讲活动15场[1]。", sources)
    assert v.unsupported and "15场" in v.unsupported[0]


def test_sentence_cited_to_the_wrong_source_is_unsupported(sources):
    v = verify("党组织书记要牵头开展冬训，带头讲好第一课[1]。", sources)
    assert len(v.unsupported) == 1


def test_uncited_claim_is_unsupported(sources):
    assert verify("开展各类理论宣讲活动215场。", sources).unsupported == ["开展各类理论宣讲活动215场。"]


def test_renumbered_in_order_of_first_use(sources):
    v = verify("党组织书记要牵头开展冬训[2]。开展各类理论宣讲活动215场[1]。党组织书记要带头讲好第一课[2]。", sources)
    assert v.text == "党组织书记要牵头开展冬训[1]。开展各类理论宣讲活动215场[2]。党组织书记要带头讲好第一课[1]。"
    assert [(c["n"], c["text"]) for c in v.citations] == [(1, LEADER), (2, COUNT)]
    assert v.unsupported == []


def test_fullwidth_bracket_marker_normalised(sources):
    v = verify("开展各类理论宣讲活动215场【1】。", sources)
    assert v.text == "开展各类理论宣讲活动215场[1]。"
    assert [c["n"] for c in v.citations] == [1] and v.unsupported == []


@pytest.mark.parametrize("marker", ["[1,2]", "[1, 2]", "[1，2]", "[1、2]"])
def test_multi_marker_split(sources, marker):
    v = verify(f"开展各类理论宣讲活动215场，党组织书记要牵头开展冬训{marker}。", sources)
    assert v.text == "开展各类理论宣讲活动215场，党组织书记要牵头开展冬训[1][2]。"
    assert [c["n"] for c in v.citations] == [1, 2] and v.unsupported == []


def test_multi_marker_keeps_valid_part(sources):
    v = verify("开展各类理论宣讲活动215场[1,9]。", sources)
    assert v.text == "开展各类理论宣讲活动215场[1]。" and v.removed_markers == [9]


def test_refusal_frames_are_not_claims(sources):
    """Refusal sentences are the assistant's own frame; only a related passage after the label is checked."""
    assert verify(REFUSAL, []).unsupported == []
    v = verify(REFUSAL + RELATED_LABEL + "开展各类理论宣讲活动215场[1]。", sources)
    assert v.unsupported == [] and [c["n"] for c in v.citations] == [1]
    v = verify(REFUSAL + RELATED_LABEL + "开展各类理论宣讲活动999场[1]。", sources)
    assert len(v.unsupported) == 1 and "999" in v.unsupported[0]


def test_injection_refusal_is_not_a_claim():
    # Every sentence of the fixed injection refusal is frame, including its second sentence.
    assert verify(INJECTION_REFUSAL, []).unsupported == []


def test_threshold_applies(sources):
    paraphrase = "全区宣讲活动开展了215场[1]。"  # same number, mostly other wording
    assert verify(paraphrase, sources, threshold=0.9).unsupported
    assert verify(paraphrase, sources, threshold=0.1).unsupported == []


def test_support_is_the_share_of_bigrams_found():
    assert support("理论宣讲活动215场", [COUNT]) == 1.0
    assert support("完全无关的一句话", [COUNT]) == 0.0
    assert 0 < support("开展宣讲比赛215场", [COUNT]) < 1
    assert support("。", []) == 1.0  # nothing to check
    assert support("开展宣讲", []) == 0.0


def test_every_number_must_be_in_the_sources():
    assert numbers_supported("开展215场，观看2.6万人次", [COUNT])
    assert not numbers_supported("开展216场", [COUNT])
    assert numbers_supported("没有数字", [])


def test_marker_forms():
    assert [m.group(1) or m.group(2) for m in MARKER.finditer("甲[1]乙[2, 3]丙【4】")] == ["1", "2, 3", "4"]
    assert CITE.findall("甲[1]乙[2, 3]丙【4】") == ["1"]


@pytest.mark.parametrize(
    ("sentence", "source", "supported"),
    [
        ("误工补贴每天5元", "误工补贴每天不低于50元", False),  # 5 is not a whole number of 50
        ("2016年改名", "2016年改名", True),
        ("16号线", "2016年开通的18号线", False),
        ("观看2.6万人次", "观看2.6万人次", True),
        ("观看2万人次", "观看2.6万人次", False),  # 2 is a part of 2.6
        ("共１２场", "共12场", True),  # full-width digits
        ("共1,000人", "共1000人", True),  # a digit-group comma is not a number
        ("共1000人", "共1,000人", True),
        ("分别为10人", "分别为10，100，200人", True),  # a full-width comma separates a list
        ("分别为10100人", "分别为10，100，200人", False),
        ("会议于2024.11.15召开", "会议于2024.11.15召开", True),  # a dotted date, quoted verbatim
        ("会议于2024.11.16召开", "会议于2024.11.15召开", False),
    ],
)
def test_numbers_are_whole_numbers_of_the_sources(sentence, source, supported):
    assert numbers_supported(sentence, [source]) is supported


def test_a_number_may_come_from_any_cited_source():
    assert numbers_supported("前者5场，后者50场", ["开展5场", "开展50场"])
    # sources are joined with a line break, so the end of one and the start of the next make no new number
    assert not numbers_supported("共15场", ["第1", "5场"])
