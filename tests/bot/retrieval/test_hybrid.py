"""HybridRetriever: a langchain BaseRetriever over the knowledge base (dense + BM25, fused by
reciprocal rank, evidence-reranked, widened to the next chunk when a hit announces a list).
Fusion itself is tested in test_fusion.py, the re-rank and the expansion on their own in
test_rerank.py and test_neighbours.py."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from bot.retrieval.hybrid import HybridRetriever
from bot.retrieval.rerank import load_cross_encoder
from ingest.fusion import reciprocal_rank_fusion

pytestmark = pytest.mark.integration

COUNT_Q = "去年开展了多少场理论宣讲活动？"
COUNT_FACT = "215场"


# ---------------------------------------------------------------------- over the seed
@pytest.fixture(scope="module")
def retriever(seed_kb):
    return HybridRetriever.from_settings(seed_kb, seed_kb.settings)


def test_is_a_langchain_retriever(retriever, seed_kb):
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(COUNT_Q)
    assert docs and all(isinstance(d, Document) for d in docs)
    assert len(docs) <= seed_kb.settings.retrieval.retrieval_k + 2  # ranked passages plus at most two neighbours
    assert COUNT_FACT in docs[0].page_content
    assert all(isinstance(d.metadata["score"], float) for d in docs)
    for d in docs:
        assert {"source", "section", "chunk_index", "id", "start", "end"} <= set(d.metadata)


def test_corpus_statistics_come_from_the_knowledge_base_as_counted_over_its_chunks(seed_kb, monkeypatch):
    from bot.answering.corpus_stats import CorpusStats

    counted = CorpusStats.from_texts(d.page_content for d in seed_kb.chunks())

    def no_counting(texts):
        raise AssertionError("every chunk was tokenized again")

    monkeypatch.setattr(CorpusStats, "from_texts", no_counting)
    stats = HybridRetriever.from_settings(seed_kb, seed_kb.settings).stats()
    assert (stats.n_docs, stats.df) == (counted.n_docs, counted.df)


def test_load_reranker_off_by_default(seed_kb):
    assert load_cross_encoder(seed_kb.settings.retrieval.reranker_model_path) is None


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_modes(seed_kb, mode):
    r = HybridRetriever.from_settings(seed_kb, seed_kb.settings.replace(retriever=mode))
    hits = r.search(COUNT_Q)
    k = seed_kb.settings.retrieval.retrieval_k
    assert k <= len(hits) <= k + 2
    assert all(isinstance(d, Document) and isinstance(s, float) for d, s in hits)
    assert any(COUNT_FACT in d.page_content for d, _ in hits[:k])
    ids = [d.metadata["id"] for d, _ in hits]
    assert len(ids) == len(set(ids))
    dense = [d.metadata.get("dense") for d, _ in hits[:k]]
    if mode == "bm25":
        assert all(x is None for x in dense)  # no cosine without dense search
    else:
        assert all(isinstance(x, float) for x in dense)


def test_modes_agree_on_a_verbatim_question(seed_kb):
    q = "党组织书记要牵头开展冬训，带头讲好第一课"
    tops = {
        m: HybridRetriever.from_settings(seed_kb, seed_kb.settings.replace(retriever=m)).search(q)[0][0].metadata["id"]
        for m in ("hybrid", "dense", "bm25")
    }
    assert len(set(tops.values())) == 1, tops


def test_reranked_head_is_ordered(retriever, seed_kb):
    hits = retriever.search("冬训工作如何加大宣传、营造浓厚氛围？")
    head = [s for _, s in hits[: seed_kb.settings.retrieval.retrieval_k]]
    assert head == sorted(head, reverse=True)
    assert "二要加大宣传" in hits[0][0].metadata["section"]


# ---------------------------------------------------------------------- neighbour expansion
SCHEDULE = (
    "青龙社区冬训工作安排\n"
    "今年冬训由社区党委统一组织，全体党员参加。冬训从十二月开始，持续到来年二月。本次冬训安排三项学习活动如下：\n"
    "学习党章党规，由社区书记领学。观看警示教育片，时间在每周五下午。参观红色教育基地，由组织委员带队。\n"
    "冬训结束后，各支部报送学习总结。总结材料由支部书记签字确认。报送截止时间为一月底。\n"
)
SMALL_CHUNKS = 70  # characters: the announcement "…如下：" ends the first chunk, its list starts the second


def test_neighbour_after_a_hit_that_announces_a_list(make_kb):
    kb = make_kb(chunk_size=SMALL_CHUNKS, chunk_overlap=0, retrieval_k=1)
    (kb.settings.store.knowledge_dir / "社区冬训安排.txt").write_text(SCHEDULE, encoding="utf-8")
    report = kb.ingest([kb.settings.store.knowledge_dir], progress=False)
    assert not report.errors
    chunks = sorted(kb.chunks(), key=lambda d: d.metadata["chunk_index"])
    assert chunks[0].page_content.endswith("如下：") and chunks[1].page_content.startswith("学习党章党规")

    r = HybridRetriever.from_settings(kb, kb.settings)
    # The best sentence (冬训…持续到来年二月) sits mid-chunk; only the closing "：" calls for the next chunk.
    hits = r.search("冬训持续到什么时候？")
    assert [d.metadata["chunk_index"] for d, _ in hits] == [0, 1]
    assert hits[1][1] <= hits[0][1]  # the neighbour never outranks the hit it continues

    # A hit whose best sentence sits mid-chunk, not announcing anything, is not widened.
    hits = r.search("警示教育片什么时间观看？")
    assert [d.metadata["chunk_index"] for d, _ in hits] == [1]


def test_retrieve_shows_every_stage_of_the_same_search(seed_kb):
    r = HybridRetriever.from_settings(seed_kb, seed_kb.settings)
    stages = r.retrieve(COUNT_Q)
    s = seed_kb.settings.retrieval
    assert 0 < len(stages.dense) <= s.dense_k and 0 < len(stages.bm25) <= s.bm25_k
    assert [d.metadata["id"] for d, _ in stages.fused] == [
        d.metadata["id"]
        for d, _ in reciprocal_rank_fusion([stages.dense, stages.bm25], [s.dense_weight, s.bm25_weight], s.rrf_k)
    ]
    fused_ids = {d.metadata["id"] for d, _ in stages.fused}
    assert {d.metadata["id"] for d, _ in stages.ranked[: s.retrieval_k]} <= fused_ids
    assert [d.metadata["id"] for d, _ in stages.ranked] == [d.metadata["id"] for d, _ in r.search(COUNT_Q)]


def test_from_settings_passes_every_retrieval_setting(seed_kb):
    settings = seed_kb.settings.replace(
        retriever="bm25", retrieval_k=3, rrf_k=7, rerank_sentence_weight=0.5, cross_encoder_share=0.25
    )
    r = HybridRetriever.from_settings(seed_kb, settings)
    assert (r.mode, r.k, r.rrf_k) == ("bm25", 3, 7)
    assert r.reranker.sentence_weight == 0.5 and r.reranker.cross_encoder_share == 0.25
    assert r.reranker.cross_encoder is None
    assert len(r.search(COUNT_Q)) <= 3 + 2
