"""Ingest measurements: characters per second split into model time and the rest, a no-op re-ingest,
the knowledge base's size on disk and the process's peak memory."""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from langchain_core.embeddings import Embeddings

from core.settings import Settings
from eval.bench.vectors import TimedEmbeddings

KIB = 1024


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB / 1e6


def written_mb() -> Optional[float]:
    """Bytes this process has caused to be written to disk so far (Linux /proc/self/io), in MB; None elsewhere."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        return None
    return None


def disk_mb(folder: Path) -> float:
    """Bytes of all files under folder, in MB."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def ingest(
    settings: Settings, paths: Sequence[Path], model: Embeddings, *, cache: Optional[Path] = None
) -> dict[str, Any]:
    """Ingest paths into a fresh knowledge base with `model` (behind the embedding cache file `cache`, if any),
    then ingest them again unchanged; timings, sizes and counts."""
    from ingest.embedders import CachedEmbeddings
    from ingest.index import KnowledgeBase

    timed = TimedEmbeddings(model)
    embeddings: Embeddings = CachedEmbeddings(timed, cache) if cache is not None else timed
    t0 = time.perf_counter()
    kb = KnowledgeBase(settings, embeddings=embeddings)
    opened = time.perf_counter() - t0
    written = written_mb()
    report = kb.ingest([Path(p) for p in paths], progress=False)
    if report.errors:
        raise RuntimeError(f"ingest failed: {report.errors[:3]}")
    rss = peak_rss_mb()
    after = written_mb()
    t1 = time.perf_counter()
    again = kb.ingest([Path(p) for p in paths], progress=False)
    noop = time.perf_counter() - t1
    documents = kb.documents()
    chunks = sum(d["chunks"] for d in documents)
    other = report.seconds - timed.seconds
    return {
        "documents": len(documents),
        "chunks": chunks,
        "chars": report.chars,
        "open_s": opened,
        "ingest_s": report.seconds,
        "model_s": timed.seconds,
        "other_s": other,
        "chars_per_s": report.chars / report.seconds if report.seconds else None,
        "model_chars_per_s": timed.chars / timed.seconds if timed.seconds else None,
        "other_chars_per_s": report.chars / other if other > 0 else None,
        "model_share": timed.seconds / report.seconds if report.seconds else None,
        "embedded_texts": timed.texts,
        "embedded_chars": timed.chars,
        "noop_documents": again.files,
        "noop_s": noop,
        "noop_added": again.added,
        "peak_rss_mb": rss,
        "disk_mb": disk_mb(Path(settings.store.kb_dir)),
        # Bytes written while ingesting, against the size the knowledge base ends up with (write amplification).
        "written_mb": after - written if after is not None and written is not None else None,
    }


def noop_reingest(settings: Settings, paths: Sequence[Path], model: Embeddings) -> dict[str, Any]:
    """Build a knowledge base over paths (timed: the writes of many small documents), then time re-ingesting
    them unchanged."""
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(settings, embeddings=model)
    first = kb.ingest([Path(p) for p in paths], progress=False)
    if first.errors:
        raise RuntimeError(f"ingest failed: {first.errors[:3]}")
    t0 = time.perf_counter()
    again = kb.ingest([Path(p) for p in paths], progress=False)
    seconds = time.perf_counter() - t0
    return {
        "documents": again.files,
        "skipped": again.skipped,
        "added": again.added,
        "chunks": sum(d["chunks"] for d in kb.documents()),
        "seconds": seconds,
        "ms_per_document": seconds * 1000 / max(again.files, 1),
        "first_s": first.seconds,
        "first_ms_per_document": first.seconds * 1000 / max(first.files, 1),
    }
