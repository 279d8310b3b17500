"""The ingest loop: find the files, skip the unchanged ones, then for each new or changed file
load -> chunk -> embed -> write the chunks -> commit its manifest record -> drop its stale chunks,
with a progress bar in characters and an IngestReport at the end.

It also moves documents of the first id scheme (ids relative to the working directory) to their
root-relative ids: an unchanged file is re-keyed with the vectors Chroma already holds (nothing is
embedded again), a changed one is ingested anew and its old record dropped, and copies of one file
ingested from several working directories collapse into one document.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from langchain_core.documents import Document

from core.settings import StoreSettings
from ingest.chunker import CHUNKER_VERSION, chunk_document
from ingest.discovery import Found, Identities, file_sha256, find_files, resolved
from ingest.errors import KnowledgeBaseError
from ingest.instructions import instruction_sentences, instruction_warning, quote
from ingest.legacy_ids import is_legacy, legacy_claims, legacy_path
from ingest.loaders import Limits, LoadedDocument, LoadError, load
from ingest.manifest import Record, now_iso

if TYPE_CHECKING:  # the knowledge base imports this module; only the type is needed here
    from ingest.index import KnowledgeBase

log = logging.getLogger(__name__)

# Chunks embedded and upserted together; also the granularity of the progress bar.
EMBED_BATCH = 16
# Length of the chunk id (hex characters of its sha256).
CHUNK_ID_CHARS = 32
# Manifest fields that are not metadata of the record itself.
RECORD_KEYS = ("ids", "source")


def chunk_id(source: str, start: int, text: str) -> str:
    """Identity by content and place: the same text at the same offset of the same file keeps its id."""
    return hashlib.sha256(f"{source}\n{start}\n{text}".encode()).hexdigest()[:CHUNK_ID_CHARS]


def chunking_of(store: StoreSettings) -> dict[str, int]:
    """Everything that decides how a document's text is cut into chunks; recorded with each document, and a
    change re-chunks documents whose files did not change."""
    return {"chunk_size": store.chunk_size, "chunk_overlap": store.chunk_overlap, "chunker_version": CHUNKER_VERSION}


def same_chunking(record: Record, chunking: dict[str, int]) -> bool:
    """Whether a document was chunked as `chunking` asks. A record from before chunking was recorded is
    taken as chunked the current way (adopted, so nobody has to rebuild)."""
    return all(record.get(key, value) == value for key, value in chunking.items())


@dataclass
class IngestReport:
    """What one ingest did; `errors` holds (source, Chinese message) per file that failed, `warnings` the same
    for files that were skipped on purpose (links leaving the folder, link loops) or ingested with a warning
    (sentences that address the assistant)."""

    files: int = 0
    added: int = 0
    skipped: int = 0
    removed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    chars: int = 0
    seconds: float = 0.0
    renamed: int = 0  # unchanged documents moved from a working-directory id to their root-relative id
    rechunked: int = 0  # unchanged files chunked again because the chunking settings changed
    warnings: list[tuple[str, str]] = field(default_factory=list)

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
        if self.renamed:
            line += f"；{self.renamed} 个文件改用新的来源标识（未重新计算向量）"
        if self.rechunked:
            line += f"；{self.rechunked} 个文件因分段设置改变而重新分段"
        if self.warnings:
            line += f"；{len(self.warnings)} 条提醒"
        return line + "。"


@dataclass
class _Job:
    """A new or changed file, loaded and waiting to be chunked, embedded and committed."""

    found: Found
    source: str
    root: Path
    sha: str
    doc: LoadedDocument
    old: Optional[Record]
    replaces: list[str]  # first-scheme records of the same file, dropped once this one is committed
    rechunk: bool = False  # the file is unchanged; only the chunking settings are


class Pipeline:
    """One ingest run over a KnowledgeBase, through its write protocol (see ingest.index)."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.report = IngestReport()
        self.changed = False

    def run(self, paths: list[Path], *, prune: bool = False, progress: bool = True) -> IngestReport:
        """Add new and changed files (folders recursed), skip unchanged ones; with prune, drop vanished files."""
        t0 = time.perf_counter()
        kb = self.kb
        kb.reconcile()
        records = kb.manifest.records(force=True)
        identities = kb.identities(records)
        discovery = find_files(paths)
        files, missing = discovery.files, discovery.missing
        self.report.warnings.extend(discovery.skipped)
        self.report.files = len(files)
        sources = {found.path: identities.source_of(found) for found in files}
        folders = [resolved(p) for p in paths if p.is_dir()]
        gone = [resolved(p) for p in missing]
        places = self._places(records, folders, gone)
        for p, place in zip(missing, gone):
            if not (prune and any(_under(where, [place]) for where in places.values())):
                source = identities.peek(Found(place, place.parent))
                self.report.errors.append((source, f"找不到文件或文件夹：{p}，请检查路径是否正确。"))

        hashed = self._hash(files, sources)
        jobs = self._plan(hashed, records, identities)
        self._write(jobs, records, progress)
        if prune:
            self._prune(places, folders + gone)
        if self.changed:
            kb.refresh()
        self.report.seconds = time.perf_counter() - t0
        return self.report

    def _hash(self, files: list[Found], sources: dict[Path, str]) -> list[tuple[Found, str, str]]:
        """(file, id, sha256) of each readable file; an unreadable one is reported."""
        hashed = []
        for found in files:
            source = sources[found.path]
            try:
                hashed.append((found, source, file_sha256(found.path)))
            except OSError as e:
                self.report.errors.append(
                    (source, f"无法读取文件 {found.path.name}（{e.strerror or e}），请确认文件存在且有读取权限。")
                )
        return hashed

    def _plan(
        self, hashed: list[tuple[Found, str, str]], records: dict[str, Record], identities: Identities
    ) -> list[_Job]:
        """Skip the unchanged files and re-key the unchanged ones that carry a first-scheme id; load the rest."""
        kb, report = self.kb, self.report
        claims = legacy_claims(records, hashed)
        limits = Limits.of(kb.settings.store)
        chunking = chunking_of(kb.settings.store)
        jobs: list[_Job] = []
        for found, source, sha in hashed:
            old = records.get(source)
            root = Path(old["root"]) if old and old.get("root") else identities.root_of(found)
            others = [s for s in claims.get(found.path, []) if s != source]
            unchanged = old is not None and old.get("sha256") == sha
            if old is not None and unchanged and same_chunking(old, chunking):
                report.skipped += 1
                if is_legacy(old):  # a first-scheme record that already has this id: note where it lives
                    kb.manifest.commit(source, old["ids"], _meta(old) | _place(found, root))
                report.removed += self._drop(others, records)
                continue
            if old is None:
                same = next(
                    (s for s in others if records[s].get("sha256") == sha and same_chunking(records[s], chunking)),
                    None,
                )
                if same is not None and self._rekey(records[same], source, _place(found, root)):
                    report.skipped += 1
                    report.renamed += 1
                    report.removed += self._drop([s for s in others if s != same], records)
                    continue
            try:
                doc = load(found.path, source, limits=limits)
            except LoadError as e:
                report.errors.append((source, str(e)))
                continue
            except Exception as e:  # a reader's own failure (a parser bug, a recursion limit): this file only
                log.exception("loading %s failed", source)
                report.errors.append((source, failed_message(found.path.name, e)))
                continue
            jobs.append(_Job(found, source, root, sha, doc, old, others, rechunk=unchanged))
        return jobs

    def _prune(self, places: dict[str, Path], roots: list[Path]) -> None:
        """Remove the documents whose file vanished from under the given roots (and only those)."""
        for source, place in places.items():
            if not place.exists() and _under(place, roots):
                removed = self.kb.remove(source)
                self.report.removed += removed
                self.changed = self.changed or removed > 0

    # ------------------------------------------------------------------ one file
    def _write(self, jobs: list[_Job], records: dict[str, Record], progress: bool) -> None:
        """Chunk, embed, write and commit each job, with a progress bar in characters."""
        from tqdm import tqdm

        report = self.report
        total = sum(len(job.doc.text) for job in jobs)
        with tqdm(
            total=total, unit="字", unit_scale=True, desc="入库", disable=not progress or total == 0, file=sys.stderr
        ) as bar:
            for job in jobs:
                try:
                    added, removed = self._ingest_one(job, bar)
                except LoadError as e:
                    report.errors.append((job.source, str(e)))
                    continue
                except KnowledgeBaseError:  # the knowledge base itself (another embedder): every file would fail
                    self.kb.discard_uncommitted(job.source)
                    raise
                except Exception as e:  # one broken file must not stop the others
                    log.exception("ingesting %s failed", job.source)
                    report.errors.append((job.source, failed_message(job.doc.file_name, e)))
                    self.kb.discard_uncommitted(job.source)
                    continue
                self.changed = True
                report.added += added
                report.removed += removed + self._drop(job.replaces, records)
                report.chars += len(job.doc.text)
                report.rechunked += job.rechunk
                if progress:
                    bar.write(f"已入库：{job.source}（{added} 个新片段）", file=sys.stderr)

    def _ingest_one(self, job: _Job, bar: Any) -> tuple[int, int]:
        kb, doc, src = self.kb, job.doc, job.source
        store = kb.settings.store
        chunks = chunk_document(doc, store.chunk_size, store.chunk_overlap)
        if not chunks:
            raise LoadError(f"文件 {doc.file_name} 中没有可用的文字内容，请检查文件内容后再上传。")
        flagged = instruction_sentences(doc.text)
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
            vecs = kb.embeddings.embed_documents([c.page_content for c in batch])
            now = time.time()
            kb.write_chunks(
                bids,
                [c.page_content for c in batch],
                [chroma_metadata(c.metadata, job.sha, now) for c in batch],
                vecs,
            )
            reached = max(int(c.metadata["end"]) for c in batch)
            if reached > done:
                bar.update(reached - done)
                done = reached
        bar.update(max(0, len(doc.text) - done))
        # (2) commit point
        meta = {
            "sha256": job.sha,
            "title": doc.title or "",
            "file_name": doc.file_name or Path(src).name,
            "chars": len(doc.text),
            "chunks": len(ids),
            "ingested_at": now_iso(),
            "instructions": len(flagged),
            "instruction_quote": quote(flagged[0]) if flagged else "",
        }
        kb.manifest.commit(src, ids, meta | chunking_of(store) | _place(job.found, job.root))
        if flagged:
            self.report.warnings.append((src, instruction_warning(doc.file_name, len(flagged), quote(flagged[0]))))
        # (3) the old version's leftovers
        kb.delete_chunks([cid for cid in kb.chunk_ids_of(src) if cid not in seen])
        old_ids = set(job.old["ids"]) if job.old else set()
        return len(seen - old_ids), len(old_ids - seen)

    # ------------------------------------------------------------------ first-scheme ids
    def _rekey(self, old: Record, source: str, place: dict[str, str]) -> bool:
        """Move an unchanged document to the id `source` with the vectors Chroma holds; False when they are incomplete."""
        kb = self.kb
        rows = kb.fetch_with_vectors(old["ids"])
        if len(rows) != len(old["ids"]):
            return False
        # Drop the old record first: a kill between the steps leaves the document absent (the next ingest
        # adds it again), never twice.
        kb.manifest.drop(old["source"])
        now = time.time()
        ids = [chunk_id(source, int(meta["start"]), text) for _, text, meta, _ in rows]
        kb.write_chunks(
            ids,
            [text for _, text, _, _ in rows],
            [meta | {"source": source, "written_at": now} for _, _, meta, _ in rows],
            [vec for _, _, _, vec in rows],
        )
        kb.manifest.commit(source, ids, _meta(old) | place)
        kb.delete_chunks(kb.chunk_ids_of(old["source"]))
        log.info("re-keyed %s as %s", old["source"], source)
        self.changed = True
        return True

    def _drop(self, sources: list[str], records: dict[str, Record]) -> int:
        """Remove first-scheme copies of a file that now has its own record; the chunks they held."""
        removed = 0
        for source in sources:
            removed += self.kb.remove(source)
            log.info("dropped %s, an older id of %s", source, records[source].get("file_name", ""))
            self.changed = True
        return removed

    def _places(self, records: dict[str, Record], folders: list[Path], gone: list[Path]) -> dict[str, Path]:
        """Where each committed document's file lives: its recorded path, or for a first-scheme id the place
        it names under one of the given folders (or, named as a missing path, relative to the working directory)."""
        out: dict[str, Path] = {}
        for source, rec in records.items():
            if not is_legacy(rec):
                out[source] = Path(rec["path"])
                continue
            place = legacy_path(source, folders)
            if place is None and resolved(source) in gone:
                place = resolved(source)
            if place is not None:
                out[source] = place
        return out


# ---------------------------------------------------------------------- helpers
def failed_message(file_name: str, error: BaseException) -> str:
    """The Chinese error of a file whose loading or ingest failed unexpectedly (not a LoadError)."""
    return f"处理文件 {file_name} 时出错（{type(error).__name__}: {error}），请检查文件内容或联系管理员。"


def _meta(rec: Record) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in RECORD_KEYS}


def _place(found: Found, root: Path) -> dict[str, str]:
    return {"path": found.path.as_posix(), "root": root.as_posix()}


def _under(place: Path, roots: list[Path]) -> bool:
    return any(place == r or place.is_relative_to(r) for r in roots)


def chroma_metadata(meta: dict, sha: str, now: float) -> dict[str, Any]:
    """Chroma accepts only str/int/float/bool values; drop None and stringify anything else."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    out["doc_sha"] = sha
    out["written_at"] = now
    return out
