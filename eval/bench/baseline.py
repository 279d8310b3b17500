"""The naive langchain pipeline we are compared with: the same loader and embedder, then
RecursiveCharacterTextSplitter(500, 50) into langchain_chroma's Chroma, and dense top-5 as the contexts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from eval.bench.vectors import TimedEmbeddings
from eval.dataset import Item
from eval.metrics import score_item

CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
TOP_K = 5
COLLECTION = "naive"


def ingest(files: Sequence[Path], persist_dir: Path, model: Embeddings) -> tuple[Any, dict[str, Any]]:
    """Load, split and store the files the naive way; (the Chroma store, timings and counts)."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.loaders import load

    timed = TimedEmbeddings(model)
    t0 = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    docs = [Document(page_content=d.text, metadata={"source": d.file_name}) for d in (load(f, f.name) for f in files)]
    chunks = splitter.split_documents(docs)
    store = Chroma(collection_name=COLLECTION, embedding_function=timed, persist_directory=str(persist_dir))
    store.add_documents(chunks)
    seconds = time.perf_counter() - t0
    chars = sum(len(d.page_content) for d in docs)
    return store, {
        "documents": len(docs),
        "chunks": len(chunks),
        "chars": chars,
        "ingest_s": seconds,
        "model_s": timed.seconds,
        "other_s": seconds - timed.seconds,
        "chars_per_s": chars / seconds if seconds else None,
        "embedded_chars": timed.chars,
    }


def ask_items(store: Any, items: Sequence[Item]) -> tuple[list[float], list[dict]]:
    """Dense top-5 for each item's question; (milliseconds per question, per-question {"id", "hit@5"})."""
    store.similarity_search("冬训工作要坚持什么原则？", k=TOP_K)  # warm-up
    latencies, scores = [], []
    for item in items:
        t = time.perf_counter()
        hits = store.similarity_search(item.question, k=TOP_K)
        latencies.append((time.perf_counter() - t) * 1000)
        contexts = [{"source": d.metadata.get("source", ""), "text": d.page_content} for d in hits]
        metrics = score_item(item.to_dict(), {"contexts": contexts})
        scores.append({"id": item.id, "hit@5": metrics.get("hit@5")})
    return latencies, scores
