"""Query latency per stage, timed from outside the answering path.

The Assistant's own timings give rewrite, retrieve, answer and verify. Retrieval is split further by
wrapping what the retriever calls: the embedder (query embedding), the knowledge base's dense and BM25
searches, and the fusion function. What remains of retrieval is question analysis, the evidence re-rank
and the neighbour expansion ("rerank" below).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import numpy as np

from eval.bench.corpus import skeleton
from eval.bench.vectors import StageClock
from eval.dataset import Item
from eval.metrics import percentile, score_item

# Stages in the order the answering path runs them; "total" is the whole ask.
STAGES = ("rewrite", "embed", "dense", "bm25", "fusion", "rerank", "answer", "verify", "total")
STAGE_LABELS = {
    "rewrite": "改写",
    "embed": "问题向量",
    "dense": "向量检索",
    "bm25": "BM25",
    "fusion": "融合",
    "rerank": "重排与扩展",
    "answer": "答案选择",
    "verify": "引用核对",
    "total": "合计",
}
# Assistant timings that the outside clocks split, and so are not reported as they are.
SPLIT_STAGES = ("retrieve",)
PERCENTILES = (50, 95)
HIT_KEY = "hit@5"
WARM_UP = "冬训工作要坚持什么原则？"


class TimedKnowledgeBase:
    """A KnowledgeBase whose dense and BM25 searches report their time to a clock; everything else passes through.

    Dense search time excludes the query embedding, which the embedder reports under its own stage."""

    def __init__(self, kb: Any, clock: StageClock, *, embed_stage: str = "embed"):
        self._kb = kb
        self._clock = clock
        self._embed_stage = embed_stage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kb, name)

    def dense_search(self, query: str, k: int) -> Any:
        before = self._clock.ms.get(self._embed_stage, 0.0)
        t = time.perf_counter()
        out = self._kb.dense_search(query, k)
        embed_ms = self._clock.ms.get(self._embed_stage, 0.0) - before
        self._clock.add("dense", time.perf_counter() - t - embed_ms / 1000)
        return out

    def bm25_search(self, query: str, k: int) -> Any:
        t = time.perf_counter()
        out = self._kb.bm25_search(query, k)
        self._clock.add("bm25", time.perf_counter() - t)
        return out


@contextmanager
def timed_function(module: Any, name: str, clock: StageClock, stage: str) -> Iterator[bool]:
    """Replace module.name by a wrapper reporting to clock under stage, for the duration; yields whether it could."""
    original = getattr(module, name, None)
    if original is None:
        yield False
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock.add(stage, time.perf_counter() - t)

    setattr(module, name, timed)
    try:
        yield True
    finally:
        setattr(module, name, original)


def stages_of(timings: dict[str, float], clocked: dict[str, float]) -> dict[str, float]:
    """One question's stages: the Assistant's timings with retrieval split by the outside clocks."""
    out = {k: float(v) for k, v in timings.items() if k not in SPLIT_STAGES}
    out.update(clocked)
    if "retrieve" in timings:
        inside = sum(clocked.get(s, 0.0) for s in ("embed", "dense", "bm25", "fusion"))
        out["rerank"] = max(0.0, float(timings["retrieve"]) - inside)
    return out


def summarise(rows: Sequence[dict[str, float]]) -> dict[str, dict[str, Optional[float]]]:
    """p50/p95/mean per stage over the rows (stages in STAGES order, then any others)."""
    names = [s for s in STAGES if any(s in r for r in rows)]
    names += sorted({k for r in rows for k in r} - set(names))
    out: dict[str, dict[str, Optional[float]]] = {}
    for name in names:
        values = [r[name] for r in rows if name in r]
        out[name] = {f"p{p}": percentile(values, p) for p in PERCENTILES}
        out[name]["mean"] = sum(values) / len(values) if values else None
    return out


def ask_items(assistant: Any, items: Sequence[Item], clock: StageClock) -> tuple[list[dict], list[dict]]:
    """Ask every item once; (per-question stages, per-question {"id", "hit@5", "cpu_ms"})."""
    import bot.retrieval.hybrid as hybrid

    rows, scores = [], []
    with timed_function(hybrid, "reciprocal_rank_fusion", clock, "fusion"):
        assistant.ask(WARM_UP)  # loads jieba, the model and the caches outside the timings
        clock.take()
        for item in items:
            cpu = time.process_time()
            result = assistant.ask(item.question, [asdict(t) for t in item.history])
            cpu_ms = (time.process_time() - cpu) * 1000
            rows.append(stages_of(result.get("timings_ms", {}), clock.take()))
            metrics = score_item(item.to_dict(), result, assistant.settings.answering.support_threshold)
            scores.append({"id": item.id, HIT_KEY: metrics.get(HIT_KEY), "cpu_ms": cpu_ms})
    return rows, scores


def hit_rate(scores: Sequence[dict], dev_ids: set[str]) -> tuple[Optional[float], int]:
    """Mean hit@5 over the development items that have evidence, and how many there are."""
    hits = [s[HIT_KEY] for s in scores if s["id"] in dev_ids and s[HIT_KEY] is not None]
    return (sum(hits) / len(hits) if hits else None), len(hits)


def bm25_rebuild_seconds(kb: Any) -> float:
    """Seconds to rebuild the BM25 index and chunk cache from Chroma into a scratch folder, as a new process with
    an empty kb_dir does (reading the tokens the ingesting process published)."""
    from ingest import bm25

    records = kb.manifest.records(force=True)
    with tempfile.TemporaryDirectory(prefix="bench-bm25-") as tmp:
        t = time.perf_counter()
        bm25.load_or_build(Path(tmp), records, kb.fetch, kb.tokens)
        return time.perf_counter() - t


def dense_recall(
    kb: Any, questions: Sequence[str], k: int, source_of: Callable[[str], str] = skeleton
) -> Optional[dict[str, float]]:
    """What the collection's HNSW search loses at this size, for each question against the exact top-k chunks
    (cosine against every vector Chroma holds), as means over the questions:

    - "chunks": the share of the exact top-k chunks the search returns;
    - "sources": the share of the exact top-k's source chunks (`source_of` a chunk's text: the same key for
      every copy of one chunk) of which the search returns some copy. Where a source has many near copies,
      the exact top-k is a near tie among them, and returning another copy of the same text loses nothing.
    None without chunks or questions."""
    ids: list[str] = []
    texts: list[str] = []
    parts: list[np.ndarray] = []
    for offset in range(0, kb.collection.count(), kb.batch):
        got = kb.collection.get(include=["embeddings", "documents"], limit=kb.batch, offset=offset)
        ids += got["ids"]
        texts += [t or "" for t in got["documents"]]
        parts.append(np.asarray(got["embeddings"], dtype=np.float32))
    if not ids or not questions:
        return None
    vectors = np.vstack(parts)
    names = np.asarray(ids)
    source = dict(zip(ids, (source_of(t) for t in texts)))
    k = min(k, len(ids))
    chunks, sources = [], []
    for question in questions:
        query = np.asarray(kb.embeddings.embed_query(question), dtype=np.float32)
        exact = set(names[np.argpartition(-(vectors @ query), k - 1)[:k]].tolist())
        found = set(kb.collection.query(query_embeddings=query[None, :], n_results=k, include=[])["ids"][0])
        chunks.append(len(exact & found) / k)
        wanted = {source[c] for c in exact}
        sources.append(len(wanted & {source[c] for c in found if c in source}) / len(wanted))
    return {"chunks": sum(chunks) / len(chunks), "sources": sum(sources) / len(sources)}
