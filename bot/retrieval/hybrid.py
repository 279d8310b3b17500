"""Hybrid retrieval as a langchain BaseRetriever: dense + BM25 → reciprocal-rank fusion → evidence
re-rank (and a cross-encoder when configured) → neighbour expansion at a chunk edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from bot.answering.corpus_stats import CorpusStats
from bot.answering.question import Query, analyse
from bot.retrieval.neighbours import expand_neighbours
from bot.retrieval.rerank import EvidenceReranker
from core.settings import Settings
from ingest.fusion import Scored, reciprocal_rank_fusion


@dataclass
class Retrieval:
    """Every stage of one search, for `python -m bot search` and for tests."""

    dense: list[Scored] = field(default_factory=list)  # (chunk, cosine), best first; [] without dense search
    bm25: list[Scored] = field(default_factory=list)  # (chunk, BM25 score), best first; [] without BM25
    fused: list[Scored] = field(default_factory=list)  # (chunk, weighted reciprocal-rank score)
    ranked: list[Scored] = field(default_factory=list)  # the re-ranked top k, then neighbours: what is answered from


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over a KnowledgeBase, fused, evidence-reranked and edge-expanded."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: Any
    """The KnowledgeBase searched (dense_search, bm25_search, chunk, chunks, fingerprint)."""
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    """Which searches run: both, or one alone."""
    k: int = 5
    """Chunks returned (a neighbour of the top hit may follow them)."""
    dense_k: int = 50
    """Candidates from dense search before fusion."""
    bm25_k: int = 50
    """Candidates from BM25 before fusion."""
    dense_weight: float = 1.0
    """Weight of dense ranks in fusion."""
    bm25_weight: float = 1.0
    """Weight of BM25 ranks in fusion."""
    rrf_k: int = 5
    """Reciprocal-rank-fusion constant."""
    rerank_candidates: int = 50
    """Fused candidates the reranker re-orders."""
    reranker: EvidenceReranker = Field(default_factory=EvidenceReranker)
    """The evidence re-rank (with its weights and optional cross-encoder)."""
    _stats: Optional[CorpusStats] = None
    _stats_key: Any = None

    @classmethod
    def from_settings(cls, kb: Any, settings: Settings, cross_encoder: Any = None) -> HybridRetriever:
        """A retriever over kb with the retrieval settings (and a loaded cross-encoder, if any)."""
        r = settings.retrieval
        return cls(
            kb=kb,
            mode=r.retriever,
            k=r.retrieval_k,
            dense_k=r.dense_k,
            bm25_k=r.bm25_k,
            dense_weight=r.dense_weight,
            bm25_weight=r.bm25_weight,
            rrf_k=r.rrf_k,
            rerank_candidates=r.rerank_candidates,
            reranker=EvidenceReranker(
                sentence_weight=r.rerank_sentence_weight,
                passage_weight=r.rerank_passage_weight,
                dense_weight=r.rerank_dense_weight,
                fusion_prior=r.rerank_fusion_prior,
                cross_encoder=cross_encoder,
                cross_encoder_share=r.cross_encoder_share,
            ),
        )

    def stats(self) -> CorpusStats:
        """Token statistics of the knowledge base, recomputed when its content changes (taken from the knowledge
        base when it keeps them: counting them here tokenizes every chunk)."""
        key = self.kb.fingerprint()
        if self._stats is None or key != self._stats_key:
            kept = getattr(self.kb, "text_frequencies", lambda: None)()
            if kept is not None:
                self._stats = CorpusStats(*kept)
            else:
                self._stats = CorpusStats.from_texts(d.page_content for d in self.kb.chunks())
            self._stats_key = key
        return self._stats

    def search(
        self,
        question: str,
        query: Optional[Query] = None,
        k: Optional[int] = None,
        rerank_candidates: Optional[int] = None,
    ) -> list[Scored]:
        """Ranked (chunk, score) pairs for a question; scores are comparable within one call.

        `k` and `rerank_candidates` override the retriever's for this call (an outline wants more passages)."""
        return self.retrieve(question, query, k=k, rerank_candidates=rerank_candidates).ranked

    def retrieve(
        self,
        question: str,
        query: Optional[Query] = None,
        k: Optional[int] = None,
        rerank_candidates: Optional[int] = None,
    ) -> Retrieval:
        """Every stage of the search for a question: dense, BM25, fused, and the ranked result."""
        k = k or self.k
        window = rerank_candidates or self.rerank_candidates
        query = query or analyse(question, self.stats())
        out = Retrieval()
        lists, weights = [], []
        if self.mode in ("hybrid", "dense"):
            out.dense = self.kb.dense_search(question, self.dense_k)
            lists.append(out.dense)
            weights.append(self.dense_weight)
        if self.mode in ("hybrid", "bm25"):
            # BM25 also looks for the official wording of colloquial words (打工 -> 务工).
            extra = " ".join(v for forms in query.variants.values() for v in forms)
            out.bm25 = self.kb.bm25_search(f"{question} {extra}" if extra else question, self.bm25_k)
            lists.append(out.bm25)
            weights.append(self.bm25_weight)
        out.fused = reciprocal_rank_fusion(lists, weights, self.rrf_k)
        if not out.fused:
            return out
        cosine = {d.metadata["id"]: sc for d, sc in out.dense}
        head = self.reranker.rerank(query, out.fused[:window], cosine)
        ranked = head + out.fused[window:]
        out.ranked = expand_neighbours(query, ranked[:k], self.kb.chunk)
        return out

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        docs = []
        for doc, score in self.search(query):
            doc.metadata["score"] = score
            docs.append(doc)
        return docs
