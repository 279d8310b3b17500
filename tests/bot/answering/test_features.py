"""Candidate and question features on hand-made passages (bot/answering/features.py)."""

from collections import Counter

import numpy as np
import pytest
from langchain_core.documents import Document

from bot.answering.candidates import build_candidates
from bot.answering.features import (
    CANDIDATE_FEATURES,
    GATE_FEATURES,
    answer_types,
    candidate_features,
    expected_tags,
    gate_features,
    phrases_of,
    question_of,
    subject_of,
    tagged,
)

pytestmark = pytest.mark.unit


class Stats:
    n_docs = 100
    df = Counter({"补贴": 3, "冬训": 40, "学员": 10, "宣讲": 20, "8": 2, "80": 1})


PASSAGE = (
    "冬训期间参训学员按规定享受误工补贴。误工补贴标准为每人每天80元，由街道统一发放。宣讲活动由区委宣传部负责组织。"
)


def _features(question, text=PASSAGE, cosines=None):
    doc = Document(page_content=text, metadata={"title": "冬训通知", "section": "", "dense": 0.9})
    cands = build_candidates([(doc, 1.0)])
    q = question_of(question, Stats())
    X = candidate_features(q, cands, [doc], Stats(), sentence_cosines=cosines)
    return q, cands, X, doc


def col(name):
    return CANDIDATE_FEATURES.index(name)


@pytest.mark.parametrize("row", answer_types(), ids=lambda r: r.cues[0])
def test_every_answer_type_row_matches_its_example(row):
    assert expected_tags(row.example) == row.tags
    assert row.provenance


def test_open_question_expects_no_tag():
    assert expected_tags("冬训的意义是什么") == frozenset()


def test_numeral_before_year_is_a_time():
    assert ("2008", "t") in {(w, t) for _, w, t in tagged("2008年举办")}


def test_matrix_shape_and_finite():
    _, cands, X, _ = _features("误工补贴每天发多少钱？")
    assert X.shape == (len(cands), len(CANDIDATE_FEATURES))
    assert np.isfinite(X).all()


def test_number_sentence_matches_the_asked_type():
    _, cands, X, _ = _features("误工补贴每天发多少钱？")
    by_text = {c.text: X[i] for i, c in enumerate(cands)}
    holds = by_text["误工补贴标准为每人每天80元，由街道统一发放。"]
    lacks = by_text["冬训期间参训学员按规定享受误工补贴。"]
    assert holds[col("type_match")] == 1.0 and lacks[col("type_match")] == 0.0
    assert holds[col("proximity")] > 0.0
    assert holds[col("coverage")] >= lacks[col("coverage")]
    assert holds[col("bm25")] > 0.0


def test_numbers_named_in_the_question_must_appear():
    _, cands, X, _ = _features("每天80元的补贴由谁发放？")
    by_text = {c.text: X[i] for i, c in enumerate(cands)}
    assert by_text["误工补贴标准为每人每天80元，由街道统一发放。"][col("numbers")] == 1.0
    assert by_text["宣讲活动由区委宣传部负责组织。"][col("numbers")] == 0.0


def test_sentence_cosines_feed_the_cosine_feature():
    def cosines(texts):
        return [0.95 if "80元" in t else 0.8 for t in texts]

    _, cands, X, _ = _features("误工补贴每天发多少钱？", cosines=cosines)
    by_text = {c.text: X[i] for i, c in enumerate(cands)}
    assert by_text["误工补贴标准为每人每天80元，由街道统一发放。"][col("cosine")] == pytest.approx(0.95)
    assert by_text["宣讲活动由区委宣传部负责组织。"][col("cosine")] == pytest.approx(0.8)
    _, _, proxy, _ = _features("误工补贴每天发多少钱？")
    assert set(proxy[:, col("cosine")]) == {0.9}  # without sentence cosines the passage's stands in


def test_unknown_words_and_missing_terms_reach_the_gate():
    q, cands, X, doc = _features("误工津贴每天发多少钱？")
    assert "津贴" in q.unknown
    probs = np.linspace(0.9, 0.1, len(cands))
    g = gate_features(q, cands, X, probs, [doc], Stats())
    assert g.shape == (len(GATE_FEATURES),)
    assert g[GATE_FEATURES.index("missing_weight")] > 0
    assert g[GATE_FEATURES.index("unknown_share")] > 0
    known = question_of("误工补贴每天发多少钱？", Stats())
    g2 = gate_features(known, cands, X, probs, [doc], Stats())
    assert g2[GATE_FEATURES.index("missing_weight")] < g[GATE_FEATURES.index("missing_weight")]


def test_gate_features_without_candidates():
    q = question_of("误工补贴每天发多少钱？", Stats())
    g = gate_features(q, [], np.zeros((0, len(CANDIDATE_FEATURES))), np.zeros(0), [], Stats())
    assert g.shape == (len(GATE_FEATURES),)


def test_phrases_are_runs_of_content_words():
    assert phrases_of(tagged("嘉兴南站有几条线？")) == [("嘉兴", "南站"), ("几条", "线")]
    assert phrases_of(tagged("误工补贴每天发多少钱？"))[0] == ("误工", "补贴", "每天", "发")
    assert phrases_of(tagged("是什么？")) == []


def _gate(question, text, stats=None):
    q, cands, X, doc = _features(question, text)
    g = gate_features(q, cands, X, np.linspace(0.9, 0.1, len(cands)), [doc], stats or Stats())
    return {name: g[GATE_FEATURES.index(name)] for name in GATE_FEATURES}


def test_the_gate_reads_a_number_inside_another_as_missing():
    assert _gate("每天80元的补贴由谁发放？", PASSAGE)["missing_numbers"] == 0.0
    assert _gate("每天8元的补贴由谁发放？", PASSAGE)["missing_numbers"] == 1.0  # 8 is in 80元 only as a digit


def test_a_number_the_corpus_never_names_is_the_askers_own():
    question = "我是1988年出生的，补贴由谁发放？"
    assert _gate(question, PASSAGE)["missing_numbers"] == 0.0

    class Knows1988(Stats):
        df = Counter({**Stats.df, "1988": 1})

    assert _gate(question, PASSAGE, Knows1988())["missing_numbers"] == 1.0  # named elsewhere: a near miss


def test_a_subject_held_only_word_by_word_is_a_missing_phrase():
    neighbour = "嘉善南站是沪昆客运专线的一个车站，属上海铁路局嘉兴车务段管辖。"
    g = _gate("嘉兴南站有几条线？", neighbour)
    assert g["lead_phrase_missing"] == 1.0
    assert g["phrase_broken"] == 1.0  # 嘉兴 and 南站 are both there, never together
    assert g["lead_phrase_share"] == pytest.approx(0.5)
    own = _gate("嘉兴南站有几条线？", "嘉兴南站是沪昆客运专线的一个车站，设有两条线。")
    assert own["lead_phrase_missing"] == 0.0 and own["phrase_broken"] == 0.0
    assert own["lead_phrase_share"] == 1.0
    assert own["phrases_missing"] < g["phrases_missing"]


def test_phrase_features_without_candidates_count_every_phrase_missing():
    q = question_of("嘉兴南站有几条线？", Stats())
    g = gate_features(q, [], np.zeros((0, len(CANDIDATE_FEATURES))), np.zeros(0), [], Stats())
    assert g[GATE_FEATURES.index("lead_phrase_missing")] == 1.0
    assert g[GATE_FEATURES.index("phrases_missing")] == 1.0


def test_the_subject_is_the_first_run_of_nouns():
    assert subject_of(tagged("剃刀嘴凤冠雉体长为多少？")).startswith("剃刀")
    assert subject_of(tagged("九龙巴士32B线来往于哪些地方？")) == "九龙巴士32b线"
    assert subject_of(tagged("什么时候开始？")) == ""  # 时候 is a stopword, not a subject


def test_a_passage_about_a_neighbour_lacks_the_subject():
    neighbour = "灰凤冠雉分布在委内瑞拉及哥伦比亚，是区内最大的鸟类之一，体长约90厘米。"
    g = _gate("剃刀嘴凤冠雉体长为多少？", neighbour)
    assert g["subject_missing"] == 1.0 and g["subject_missing_everywhere"] == 1.0
    own = _gate("剃刀嘴凤冠雉体长为多少？", "剃刀嘴凤冠雉是凤冠雉科的鸟类，体长约83至91厘米。")
    assert own["subject_missing"] == 0.0 and own["subject_missing_everywhere"] == 0.0
    q, cands, X, doc = _features("剃刀嘴凤冠雉体长为多少？", neighbour)
    other = Document(page_content="剃刀嘴凤冠雉见于南美洲。", metadata={"title": "", "section": ""})
    g2 = gate_features(q, cands, X, np.linspace(0.9, 0.1, len(cands)), [doc, other], Stats())
    assert g2[GATE_FEATURES.index("subject_missing")] == 1.0  # not in the answer's passage
    assert g2[GATE_FEATURES.index("subject_missing_everywhere")] == 0.0  # but in another passage found
    assert _gate("什么时候开始？", neighbour)["subject_missing"] == 0.0  # no subject: nothing is missing
