"""The evidence re-rank on hand-made passages (no model, no store): each weight does what it says,
the dense cosine is scaled over the candidates, and the defaults are the settings' defaults."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.corpus_stats import CorpusStats
from bot.answering.question import analyse
from bot.retrieval.rerank import EvidenceReranker, load_cross_encoder
from core.settings import RetrievalSettings

pytestmark = pytest.mark.unit

NO_DATE = "冬训工作要坚持问题导向，把学习成效体现到推动发展上。"
DATE = "冬训动员会定于12月1日在区委党校召开。"
OTHER = "宣讲员聘期为2年，期满可以续聘。"
STATS = CorpusStats.from_texts([NO_DATE, DATE, OTHER])
QUESTION = "冬训动员会在哪一天召开？"
WEIGHTS = {  # EvidenceReranker field -> the setting that fills it
    "sentence_weight": "rerank_sentence_weight",
    "passage_weight": "rerank_passage_weight",
    "dense_weight": "rerank_dense_weight",
    "fusion_prior": "rerank_fusion_prior",
    "cross_encoder_share": "cross_encoder_share",
}


def passage(cid: str, text: str) -> Document:
    return Document(page_content=text, metadata={"id": cid, "title": "冬训通知", "section": ""})


def ids(ranked) -> list[str]:
    return [d.metadata["id"] for d, _ in ranked]


@pytest.fixture
def query():
    return analyse(QUESTION, STATS)


def test_defaults_are_the_calibrated_settings():
    reranker = EvidenceReranker()
    for field, setting in WEIGHTS.items():
        assert getattr(reranker, field) == RetrievalSettings.model_fields[setting].default, field


def test_the_sentence_that_answers_outranks_a_better_fused_rank(query):
    ranked = EvidenceReranker().rerank(query, [(passage("a", NO_DATE), 0.2), (passage("b", DATE), 0.19)])
    assert ids(ranked) == ["b", "a"]
    assert ranked[0][1] > ranked[1][1]


def test_fusion_prior_alone_keeps_the_fused_order_relative_to_the_best(query):
    only_prior = EvidenceReranker(sentence_weight=0, passage_weight=0, dense_weight=0, fusion_prior=1.0)
    ranked = only_prior.rerank(query, [(passage("a", NO_DATE), 0.2), (passage("b", DATE), 0.1)])
    assert ids(ranked) == ["a", "b"]
    assert [s for _, s in ranked] == pytest.approx([1.0, 0.5])


def test_dense_cosine_is_scaled_over_the_candidates_and_recorded(query):
    only_dense = EvidenceReranker(sentence_weight=0, passage_weight=0, dense_weight=1.0, fusion_prior=0)
    docs = [passage("a", NO_DATE), passage("b", DATE), passage("c", OTHER)]
    ranked = only_dense.rerank(query, [(d, 0.1) for d in docs], cosine={"a": 0.80, "b": 0.90})
    scores = dict(zip(ids(ranked), (s for _, s in ranked)))
    assert scores == pytest.approx({"b": 1.0, "a": 0.0, "c": 0.0})
    # c was not returned by dense search: it counts as the lowest cosine seen
    assert {d.metadata["id"]: d.metadata["dense"] for d in docs} == {"a": 0.80, "b": 0.90, "c": 0.80}


def test_without_dense_search_no_cosine_is_recorded(query):
    docs = [passage("a", NO_DATE), passage("b", DATE)]
    EvidenceReranker().rerank(query, [(d, 0.1) for d in docs])
    assert [d.metadata["dense"] for d in docs] == [None, None]


def test_weights_scale_their_part(query):
    candidates = [(passage("b", DATE), 0.1)]
    one = EvidenceReranker(passage_weight=0, dense_weight=0, fusion_prior=0).rerank(query, candidates)[0][1]
    two = EvidenceReranker(sentence_weight=2.0, passage_weight=0, dense_weight=0, fusion_prior=0).rerank(
        query, candidates
    )[0][1]
    assert two == pytest.approx(2 * one) and one > 0


def test_no_cross_encoder_without_a_model_path():
    assert load_cross_encoder(None) is None
