"""The knowledge base: chunks + vectors in Chroma (the single source of truth) and a BM25 index derived from it.

Write protocol per file, safe against kill -9 at any point:
  1. upsert the new chunks (metadata ``doc_sha``),
  2. upsert the file's manifest record (sha256 + chunk ids) -- the commit point,
  3. delete that source's chunks not in the new id list.
Readers only use chunks whose id a manifest record lists, and every ingest starts by deleting
chunks no manifest record lists. So a document is whole or absent, never duplicated.

The manifest lives in Chroma too (collection ``<collection>_manifest``, one record per source),
so several processes sharing one Chroma server agree on what is committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

import bm25s
import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from core.grammar import tokenize
from core.settings import Settings
from ingest.chunker import chunk_document
from ingest.embedders import make_embeddings
from ingest.loaders import SUPPORTED, LoadedDocument, LoadError, load

log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG; its index-building chatter is not for users.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# A reader re-checks the manifest (and so BM25 staleness) at most this often, so a process
# sharing a Chroma server with an ingesting process picks up its changes within this delay.
REFRESH_SECONDS = 2.0
# Chunks embedded and upserted together; also the granularity of the progress bar.
EMBED_BATCH = 16
# With a shared Chroma server another process may be between steps 1 and 2 of the protocol;
# only chunks older than this are treated as debris of a crashed ingest.
ORPHAN_GRACE_SECONDS = 600.0
# The manifest collection needs some vector; one constant dimension is enough.
MANIFEST_VECTOR = [1.0]
MANIFEST_SUFFIX = "_manifest"
BM25_DIR = "bm25"
CHROMA_DIR = "chroma"
# Length of the chunk id (hex characters of its sha256).
CHUNK_ID_CHARS = 32
# Version of what BM25 indexes (2: title and section path before the chunk text).
BM25_FORMAT = 2
# Length of the fingerprint prefix naming a persisted BM25 folder.
BM25_NAME_CHARS = 16


def source_id(path: Path) -> str:
    """The stable id of a file: posix path relative to the working directory when inside it, else absolute."""
    p = Path(os.path.abspath(path))
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.as_posix()


def chunk_id(source: str, start: int, text: str) -> str:
    """Identity by content and place: the same text at the same offset of the same file keeps its id."""
    return hashlib.sha256(f"{source}\n{start}\n{text}".encode()).hexdigest()[:CHUNK_ID_CHARS]


def _source_path(source: str) -> Path:
    return Path(os.path.abspath(source))


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    skipped: int = 0
    removed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    chars: int = 0
    seconds: float = 0.0

    @property
    def chars_per_second(self) -> float:
        return self.chars / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One Chinese line for people."""
        line = (
            f"共 {self.files} 个文件：新增 {self.added} 个片段，{self.skipped} 个文件未变化已跳过，"
            f"删除 {self.removed} 个片段，{len(self.errors)} 个文件出错；"
            f"处理 {self.chars} 字，用时 {self.seconds:.1f} 秒"
        )
        if self.chars:
            line += f"（{self.chars_per_second:.0f} 字/秒）"
        return line + "。"


@dataclass
class _Bm25State:
    fingerprint: str
    docs: list[Document]
    index: Any  # bm25s.BM25, or None when the knowledge base is empty
    by_pos: dict[tuple[str, int], Document]
    by_source: dict[str, list[tuple[str, int]]]  # source -> its (source, chunk_index) keys in order


class KnowledgeBase:
    """Chunks in Chroma plus a BM25 index derived from them; see the module docstring for the protocol."""

    def __init__(self, settings: Settings, embeddings: Optional[Embeddings] = None):
        """embeddings: defaults to make_embeddings(settings) (the configured model behind the disk cache)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self.kb_dir = Path(settings.store.kb_dir)
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        self.embeddings = embeddings if embeddings is not None else make_embeddings(settings)
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        self.shared_server = bool(settings.store.chroma_host)
        if self.shared_server:
            self.client = chromadb.HttpClient(
                host=settings.store.chroma_host, port=settings.store.chroma_port, settings=chroma_settings
            )
        else:
            self.client = chromadb.PersistentClient(path=str(self.kb_dir / CHROMA_DIR), settings=chroma_settings)
        # embedding_function=None: vectors are always passed in, Chroma must never fetch its default model.
        self.collection = self.client.get_or_create_collection(
            settings.store.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.manifest_collection = self.client.get_or_create_collection(
            settings.store.collection + MANIFEST_SUFFIX, embedding_function=None
        )
        self._batch = max(1, min(self.client.get_max_batch_size(), 5000))
        self._lock = threading.RLock()
        self._manifest_cache: Optional[dict[str, dict]] = None
        self._committed: set[str] = set()
        self._checked_at = 0.0
        self._bm25: Optional[_Bm25State] = None

    # ------------------------------------------------------------------ manifest
    def _read_manifest(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        offset = 0
        while True:
            got = self.manifest_collection.get(include=["documents", "metadatas"], limit=self._batch, offset=offset)
            for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                rec = dict(meta or {})
                rec["ids"] = json.loads(doc) if doc else []
                rec["source"] = rid
                out[rid] = rec
            if len(got["ids"]) < self._batch:
                return out
            offset += self._batch

    def _manifest(self, force: bool = False) -> dict[str, dict]:
        """The manifest, re-read from Chroma when forced or older than REFRESH_SECONDS."""
        with self._lock:
            now = time.monotonic()
            if force or self._manifest_cache is None or now - self._checked_at >= REFRESH_SECONDS:
                self._manifest_cache = self._read_manifest()
                self._committed = {cid for rec in self._manifest_cache.values() for cid in rec["ids"]}
                self._checked_at = now
            return self._manifest_cache

    def fingerprint(self) -> str:
        """Hash of the committed content (sorted source, sha256 pairs); changes whenever any document does."""
        return self._fingerprint_of(self._manifest())

    @staticmethod
    def _fingerprint_of(manifest: dict[str, dict]) -> str:
        pairs = sorted((src, rec.get("sha256", "")) for src, rec in manifest.items())
        # The index format is part of the identity, so an index built the old way is rebuilt.
        return hashlib.sha256(json.dumps([BM25_FORMAT, pairs], ensure_ascii=False).encode("utf-8")).hexdigest()

    def documents(self) -> list[dict]:
        """One dict per committed file: source, title, chunks, sha256, chars, ingested_at (ISO)."""
        out = []
        for src, rec in sorted(self._manifest(force=True).items()):
            out.append(
                {
                    "source": src,
                    "title": rec.get("title", ""),
                    "chunks": len(rec["ids"]),
                    "sha256": rec.get("sha256", ""),
                    "chars": int(rec.get("chars", 0)),
                    "ingested_at": rec.get("ingested_at", ""),
                }
            )
        return out

    # ------------------------------------------------------------------ chroma helpers
    def _all_chunk_ids(self, with_meta: bool = False) -> list[tuple[str, dict]]:
        out: list[tuple[str, dict]] = []
        offset = 0
        include = ["metadatas"] if with_meta else []
        while True:
            got = self.collection.get(include=include, limit=self._batch, offset=offset)
            metas = got["metadatas"] or [{}] * len(got["ids"])
            out.extend(zip(got["ids"], (m or {} for m in metas)))
            if len(got["ids"]) < self._batch:
                return out
            offset += self._batch

    def _ids_of_source(self, source: str) -> list[str]:
        return list(self.collection.get(where={"source": source}, include=[])["ids"])

    def _delete(self, ids: list[str]) -> None:
        for i in range(0, len(ids), self._batch):
            self.collection.delete(ids=ids[i : i + self._batch])

    def _fetch(self, ids: list[str]) -> dict[str, Document]:
        out: dict[str, Document] = {}
        for i in range(0, len(ids), self._batch):
            got = self.collection.get(ids=ids[i : i + self._batch], include=["documents", "metadatas"])
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                out[cid] = _doc(cid, text, meta)
        return out

    def _reconcile(self) -> int:
        """Delete chunks no manifest record lists (debris of an interrupted ingest); returns how many."""
        committed = {cid for rec in self._manifest(force=True).values() for cid in rec["ids"]}
        cutoff = time.time() - ORPHAN_GRACE_SECONDS
        orphans = [
            cid
            for cid, meta in self._all_chunk_ids(with_meta=self.shared_server)
            if cid not in committed and (not self.shared_server or float(meta.get("written_at", 0)) < cutoff)
        ]
        if orphans:
            log.info("deleting %d uncommitted chunks left by an interrupted ingest", len(orphans))
            self._delete(orphans)
        return len(orphans)

    # ------------------------------------------------------------------ writing
    def ingest(self, paths: Iterable[Path], prune: bool = False, progress: bool = True) -> IngestReport:
        """Add new and changed files (folders recursed), skip unchanged ones; with prune, drop vanished files."""
        from tqdm import tqdm

        t0 = time.perf_counter()
        report = IngestReport()
        paths = [Path(p) for p in paths]
        self._reconcile()
        manifest = self._manifest(force=True)
        files, missing = _collect(paths)
        report.files = len(files)
        missing_sources = {source_id(p) for p in missing}
        for p in missing:
            if not (prune and source_id(p) in manifest):
                report.errors.append((source_id(p), f"找不到文件或文件夹：{p}，请检查路径是否正确。"))

        todo: list[tuple[str, str, LoadedDocument]] = []
        for path in files:
            src = source_id(path)
            try:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as e:
                report.errors.append(
                    (src, f"无法读取文件 {path.name}（{e.strerror or e}），请确认文件存在且有读取权限。")
                )
                continue
            if manifest.get(src, {}).get("sha256") == sha:
                report.skipped += 1
                continue
            try:
                todo.append((src, sha, load(path, src)))
            except LoadError as e:
                report.errors.append((src, str(e)))

        changed = False
        total = sum(len(doc.text) for _, _, doc in todo)
        with tqdm(
            total=total, unit="字", unit_scale=True, desc="入库", disable=not progress or total == 0, file=sys.stderr
        ) as bar:
            for src, sha, doc in todo:
                try:
                    added, removed = self._ingest_one(src, sha, doc, manifest.get(src), bar)
                except LoadError as e:
                    report.errors.append((src, str(e)))
                    continue
                except Exception as e:  # one broken file must not stop the others
                    log.exception("ingesting %s failed", src)
                    report.errors.append((src, f"处理文件 {doc.file_name} 时出错（{e}），请检查文件内容或联系管理员。"))
                    self._discard_uncommitted(src)
                    continue
                changed = True
                report.added += added
                report.removed += removed
                report.chars += len(doc.text)
                if progress:
                    bar.write(f"已入库：{src}（{added} 个新片段）", file=sys.stderr)

        if prune:
            roots = [Path(os.path.abspath(p)) for p in paths if p.is_dir()]
            for src in list(manifest):
                sp = _source_path(src)
                if sp.exists():
                    continue
                if src in missing_sources or any(sp.is_relative_to(r) for r in roots):
                    report.removed += self.remove(src)
                    changed = True

        if changed:
            self._manifest(force=True)
            self._refresh_bm25(force=True)
        report.seconds = time.perf_counter() - t0
        return report

    def _ingest_one(self, src: str, sha: str, doc: LoadedDocument, old: Optional[dict], bar: Any) -> tuple[int, int]:
        s = self.settings
        chunks = chunk_document(doc, s.store.chunk_size, s.store.chunk_overlap)
        if not chunks:
            raise LoadError(f"文件 {doc.file_name} 中没有可用的文字内容，请检查文件内容后再上传。")
        ids: list[str] = []
        seen: set[str] = set()
        unique: list[Document] = []
        for c in chunks:
            cid = chunk_id(src, int(c.metadata["start"]), c.page_content)
            if cid not in seen:  # identical text at the same offset cannot repeat, but never write a duplicate
                seen.add(cid)
                ids.append(cid)
                unique.append(c)
        # (1) chunks first: until the manifest names them they are invisible to readers
        done = 0
        for i in range(0, len(unique), EMBED_BATCH):
            batch, bids = unique[i : i + EMBED_BATCH], ids[i : i + EMBED_BATCH]
            vecs = self.embeddings.embed_documents([c.page_content for c in batch])
            now = time.time()
            self.collection.upsert(
                ids=bids,
                embeddings=np.asarray(vecs, dtype=np.float32),
                documents=[c.page_content for c in batch],
                metadatas=[_chroma_meta(c.metadata, sha, now) for c in batch],
            )
            reached = max(int(c.metadata["end"]) for c in batch)
            if reached > done:
                bar.update(reached - done)
                done = reached
        bar.update(max(0, len(doc.text) - done))
        # (2) commit point
        self.manifest_collection.upsert(
            ids=[src],
            embeddings=[MANIFEST_VECTOR],
            documents=[json.dumps(ids)],
            metadatas=[
                {
                    "sha256": sha,
                    "title": doc.title or "",
                    "file_name": doc.file_name or Path(src).name,
                    "chars": len(doc.text),
                    "chunks": len(ids),
                    "ingested_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
                }
            ],
        )
        # (3) the old version's leftovers
        stale = [cid for cid in self._ids_of_source(src) if cid not in seen]
        self._delete(stale)
        old_ids = set(old["ids"]) if old else set()
        return len(seen - old_ids), len(old_ids - seen)

    def _discard_uncommitted(self, source: str) -> None:
        """Best effort after a failed file: drop its chunks the manifest does not list (else the next ingest does)."""
        try:
            rec = self._manifest(force=True).get(source)
            keep = set(rec["ids"]) if rec else set()
            self._delete([cid for cid in self._ids_of_source(source) if cid not in keep])
        except Exception:  # the store itself may be what failed; reconcile will clean up
            log.warning("could not clean up after failing on %s", source, exc_info=True)

    def remove(self, source: str) -> int:
        """Remove one file's chunks; returns how many committed chunks it had (0 when unknown)."""
        rec = self._manifest(force=True).get(source)
        if rec is not None:
            self.manifest_collection.delete(ids=[source])  # commit point of the removal
        self._delete(self._ids_of_source(source))
        self._manifest(force=True)
        return len(rec["ids"]) if rec else 0

    # ------------------------------------------------------------------ reading
    def dense_search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k committed chunks by cosine similarity to the query (higher is better)."""
        self._manifest()
        committed = self._committed
        count = self.collection.count()
        if k <= 0 or count == 0 or not committed:
            return []
        # Uncommitted chunks (an ingest in progress elsewhere) may crowd the top; ask for enough to filter them.
        n = min(count, k + max(0, count - len(committed)))
        qv = self.embeddings.embed_query(query)
        got = self.collection.query(
            query_embeddings=[np.asarray(qv, dtype=np.float32)],
            n_results=n,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for cid, text, meta, dist in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]):
            if cid in committed:
                out.append((_doc(cid, text, meta), 1.0 - float(dist)))
            if len(out) >= k:
                break
        return out

    def bm25_search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k committed chunks by BM25 over core.grammar.tokenize tokens (only chunks scoring above 0)."""
        state = self._refresh_bm25()
        if state.index is None or k <= 0:
            return []
        vocab = state.index.vocab_dict
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return []
        scores = np.asarray(state.index.get_scores(tokens))
        top = np.argsort(-scores, kind="stable")[:k]
        return [(_copy(state.docs[i]), float(scores[i])) for i in top if scores[i] > 0]

    def chunks(self) -> list[Document]:
        """All committed chunks, ordered by source and chunk_index."""
        return [_copy(d) for d in self._refresh_bm25().docs]

    def document_chunks(self, source: str) -> list[Document]:
        """The committed chunks of one document, in order (for lists and items that span sections)."""
        state = self._refresh_bm25()
        return [_copy(state.by_pos[key]) for key in state.by_source.get(source, [])]

    def chunk(self, source: str, chunk_index: int) -> Optional[Document]:
        """One committed chunk by position (for widening a hit to its neighbours), or None."""
        d = self._refresh_bm25().by_pos.get((source, int(chunk_index)))
        return _copy(d) if d is not None else None

    # ------------------------------------------------------------------ BM25
    def _refresh_bm25(self, force: bool = False) -> _Bm25State:
        """The BM25 state for the current manifest: in memory, else from kb_dir/bm25, else rebuilt from Chroma."""
        with self._lock:
            manifest = self._manifest(force=force)
            fp = self._fingerprint_of(manifest)
            if self._bm25 is not None and self._bm25.fingerprint == fp:
                return self._bm25
            state = self._load_bm25(fp, manifest) or self._build_bm25(fp, manifest)
            self._bm25 = state
            return state

    def _ordered_ids(self, manifest: dict[str, dict]) -> list[str]:
        return [cid for src in sorted(manifest) for cid in manifest[src]["ids"]]

    def _load_bm25(self, fp: str, manifest: dict[str, dict]) -> Optional[_Bm25State]:
        folder = self.kb_dir / BM25_DIR / fp[:BM25_NAME_CHARS]
        if not (folder / "ids.json").exists():
            return None  # not built yet for this content: the normal case after an ingest
        try:
            meta = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fp:
                return None
            ids = meta["ids"]
            index = bm25s.BM25.load(str(folder), show_progress=False) if ids else None
        except (OSError, ValueError, KeyError) as e:
            log.info("BM25 index in %s unusable (%s); rebuilding", folder, e)
            return None
        docs_by_id = self._fetch(ids)
        if len(docs_by_id) != len(ids):
            return None
        return _state(fp, [docs_by_id[c] for c in ids], index)

    def _build_bm25(self, fp: str, manifest: dict[str, dict]) -> _Bm25State:
        ids = self._ordered_ids(manifest)
        docs_by_id = self._fetch(ids)
        # A chunk listed but absent can only be a concurrent writer's race; leave it out rather than fail.
        docs = [docs_by_id[c] for c in ids if c in docs_by_id]
        index = None
        if docs:
            index = bm25s.BM25()
            index.index([tokenize(indexed_text(d)) for d in docs], show_progress=False)
        state = _state(fp, docs, index)
        if len(docs) == len(ids):
            self._save_bm25(state)
        return state

    def _save_bm25(self, state: _Bm25State) -> None:
        """Write the index to kb_dir/bm25/<fingerprint> atomically (temp folder + rename); drop older ones."""
        root = self.kb_dir / BM25_DIR
        folder = root / state.fingerprint[:BM25_NAME_CHARS]
        tmp = root / f".tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            if state.index is not None:
                state.index.save(str(tmp), show_progress=False)
            ids = [d.metadata["id"] for d in state.docs]
            (tmp / "ids.json").write_text(json.dumps({"fingerprint": state.fingerprint, "ids": ids}), encoding="utf-8")
            if folder.exists():
                shutil.rmtree(tmp, ignore_errors=True)  # another process wrote the same index
            else:
                os.rename(tmp, folder)
            for old in root.iterdir():
                if old.name != folder.name and not old.name.startswith(".tmp-"):
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            log.warning("could not persist the BM25 index in %s: %s", root, e)
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------- helpers
def _collect(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files to ingest, paths that do not exist). Folders are recursed for SUPPORTED suffixes, hidden entries skipped."""
    files: list[Path] = []
    missing: list[Path] = []
    seen: set[str] = set()
    for p in paths:
        if p.is_dir():
            found = []
            for f in p.rglob("*"):
                rel = f.relative_to(p).parts
                if f.is_file() and f.suffix.lower() in SUPPORTED and not any(part.startswith(".") for part in rel):
                    found.append(f)
            candidates = sorted(found)
        elif p.is_file():
            candidates = [p]
        else:
            missing.append(p)
            continue
        for f in candidates:
            sid = source_id(f)
            if sid not in seen:
                seen.add(sid)
                files.append(f)
    return files, missing


def indexed_text(doc: Document) -> str:
    """What BM25 indexes for a chunk: its title and section path, then its text, so a short article
    ("第二十二条 本办法自…起施行") is also found by the words of its heading."""
    section = doc.metadata.get("section", "")
    return f"{doc.metadata.get('title', '')} {section}\n{doc.page_content}"


def _chroma_meta(meta: dict, sha: str, now: float) -> dict:
    """Chroma accepts only str/int/float/bool values; drop None and stringify anything else."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    out["doc_sha"] = sha
    out["written_at"] = now
    return out


def _doc(cid: str, text: str, meta: Optional[dict]) -> Document:
    metadata = dict(meta or {})
    metadata.pop("written_at", None)
    metadata["id"] = cid
    return Document(page_content=text or "", metadata=metadata, id=cid)


def _copy(doc: Document) -> Document:
    """A copy callers may annotate (the retriever writes scores into metadata) without touching the cache."""
    return Document(page_content=doc.page_content, metadata=dict(doc.metadata), id=doc.id)


def _state(fp: str, docs: list[Document], index: Any) -> _Bm25State:
    by_pos = {(d.metadata.get("source", ""), int(d.metadata.get("chunk_index", -1))): d for d in docs}
    by_source: dict[str, list[tuple[str, int]]] = {}
    for key in sorted(by_pos, key=lambda k: k[1]):
        by_source.setdefault(key[0], []).append(key)
    return _Bm25State(fingerprint=fp, docs=docs, index=index, by_pos=by_pos, by_source=by_source)
