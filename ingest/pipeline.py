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

from core import grammar
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

# Most chunks embedded together (a group's chunks are cut into even batches); also the progress bar's step.
EMBED_BATCH = 16
# Most chunks in one Chroma write. A Chroma write costs about the same whatever its size (one sqlite
# transaction): 1,000 one-chunk files took two writes each (~130 ms per file), and writing 16 chunks at a
# time wrote 13 times the knowledge base's size to disk. Documents of at most this many chunks are written
# together and committed together; a larger one is written in slices of this size, then committed.
GROUP_CHUNKS = 128
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


@dataclass
class _Prepared:
    """A job chunked (each chunk id once), with its flagged sentences and, for a small document once its group is
    embedded, its vectors."""

    job: _Job
    ids: list[str] = field(default_factory=list)
    chunks: list[Document] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    vectors: list[Any] = field(default_factory=list)


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
        """Chunk, embed, write and commit each job, with a progress bar in characters. Documents are gathered
        into groups embedded, written and committed together (see GROUP_CHUNKS); larger ones go one by one."""
        from tqdm import tqdm

        total = sum(len(job.doc.text) for job in jobs)
        if jobs:  # the BM25 refresh after the writes tokenizes the new chunks: load jieba while the workers embed
            grammar.load_dictionary_in_background(self.kb.kb_dir)  # and leave the app a quick copy
        group: list[_Prepared] = []
        with tqdm(
            total=total, unit="字", unit_scale=True, desc="入库", disable=not progress or total == 0, file=sys.stderr
        ) as bar:
            for job in jobs:
                try:
                    prepared = self._prepare(job)
                except Exception as e:
                    self._failed(job, e)
                    continue
                if len(prepared.chunks) > GROUP_CHUNKS:
                    self._flush(group, records, bar, progress)
                    group = []
                    self._write_large(prepared, records, bar, progress)
                    continue
                if sum(len(p.chunks) for p in group) + len(prepared.chunks) > GROUP_CHUNKS:
                    self._flush(group, records, bar, progress)
                    group = []
                group.append(prepared)
            self._flush(group, records, bar, progress)

    def _write_large(self, p: _Prepared, records: dict[str, Record], bar: Any, progress: bool) -> None:
        """A document of more than GROUP_CHUNKS chunks: written in slices as it is embedded, then committed."""
        try:
            self._stream(p, bar)
            (added, removed) = self._commit([p])[0]
        except Exception as e:
            self._failed(p.job, e)
            return
        self._done(p, added, removed, records, bar, progress)

    def _failed(self, job: _Job, error: Exception) -> None:
        """Report a file that failed (its uncommitted chunks dropped); re-raise what every file would hit."""
        if isinstance(error, LoadError):
            self.report.errors.append((job.source, str(error)))
            return
        self.kb.discard_uncommitted(job.source)
        if isinstance(error, KnowledgeBaseError):  # the knowledge base itself (another embedder)
            raise error
        log.error("ingesting %s failed", job.source, exc_info=error)  # one broken file must not stop the others
        self.report.errors.append((job.source, failed_message(job.doc.file_name, error)))

    def _done(
        self, p: _Prepared, added: int, removed: int, records: dict[str, Record], bar: Any, progress: bool
    ) -> None:
        """Account for a committed document."""
        report, job = self.report, p.job
        self.changed = True
        report.added += added
        report.removed += removed + self._drop(job.replaces, records)
        report.chars += len(job.doc.text)
        report.rechunked += job.rechunk
        if p.flagged:
            report.warnings.append(
                (job.source, instruction_warning(job.doc.file_name, len(p.flagged), quote(p.flagged[0])))
            )
        if progress:
            bar.write(f"已入库：{job.source}（{added} 个新片段）", file=sys.stderr)

    def _flush(self, group: list[_Prepared], records: dict[str, Record], bar: Any, progress: bool) -> None:
        """Embed the chunks of a group of small documents, write them in one Chroma call, then commit them in one.
        When that fails, each document is tried on its own, so one bad file does not fail its neighbours."""
        if not group:
            return
        try:
            self._embed([p for p in group if len(p.vectors) < len(p.chunks)], bar)
            self._write_chunks(
                [c for p in group for c in p.chunks],
                [i for p in group for i in p.ids],
                [v for p in group for v in p.vectors],
                [p.job.sha for p in group for _ in p.ids],
            )
            done = self._commit(group)
        except KnowledgeBaseError:
            for p in group:
                self.kb.discard_uncommitted(p.job.source)
            raise
        except Exception as e:
            if len(group) == 1:
                self._failed(group[0].job, e)
                return
            log.warning("embedding or writing %d documents together failed (%s); trying them one by one", len(group), e)
            for p in group:
                self._flush([p], records, bar, progress)
            return
        for p, (added, removed) in zip(group, done):
            self._done(p, added, removed, records, bar, progress)

    def _prepare(self, job: _Job) -> _Prepared:
        """The document's chunks, each id once, and the sentences that address the assistant."""
        doc, src = job.doc, job.source
        store = self.kb.settings.store
        chunks = chunk_document(doc, store.chunk_size, store.chunk_overlap)
        if not chunks:
            raise LoadError(f"文件 {doc.file_name} 中没有可用的文字内容，请检查文件内容后再上传。")
        out = _Prepared(job, flagged=instruction_sentences(doc.text))
        seen: set[str] = set()
        for c in chunks:
            cid = chunk_id(src, int(c.metadata["start"]), c.page_content)
            if cid not in seen:  # identical text at the same offset cannot repeat, but never write a duplicate
                seen.add(cid)
                out.ids.append(cid)
                out.chunks.append(c)
        return out

    def _embed(self, group: list[_Prepared], bar: Any) -> None:
        """Embed the chunks of a group of small documents together, EMBED_BATCH at a time (a batch may span
        documents, so short files fill it too), and keep each document's vectors for the group's write."""
        chunks = [(k, c) for k, p in enumerate(group) for c in p.chunks]
        vectors: list[Any] = []
        done = [0] * len(group)  # how far into each document the bar has moved
        for part in even_slices(len(chunks), EMBED_BATCH):
            batch = chunks[part]
            vectors += self.kb.embeddings.embed_documents([c.page_content for _, c in batch])
            for k in dict.fromkeys(k for k, _ in batch):
                done[k] = _advance(bar, [c for j, c in batch if j == k], done[k])
        at = 0
        for k, p in enumerate(group):
            p.vectors = vectors[at : at + len(p.chunks)]
            at += len(p.chunks)
            bar.update(max(0, len(p.job.doc.text) - done[k]))

    def _stream(self, p: _Prepared, bar: Any) -> None:
        """Embed a large document's chunks and write them GROUP_CHUNKS at a time (step 1 of the protocol); the
        bar moves once a slice is written."""
        done = 0
        for i in range(0, len(p.chunks), GROUP_CHUNKS):
            batch, bids = p.chunks[i : i + GROUP_CHUNKS], p.ids[i : i + GROUP_CHUNKS]
            vecs: list[Any] = []
            for part in even_slices(len(batch), EMBED_BATCH):
                vecs += self.kb.embeddings.embed_documents([c.page_content for c in batch[part]])
            self._write_chunks(batch, bids, vecs, [p.job.sha] * len(batch))
            done = _advance(bar, batch, done)
        bar.update(max(0, len(p.job.doc.text) - done))

    def _write_chunks(self, chunks: list[Document], ids: list[str], vectors: list, shas: list[str]) -> None:
        """Step 1 of the protocol: upsert chunks, each with the hash of its document (invisible until committed)."""
        now = time.time()
        self.kb.write_chunks(
            ids,
            [c.page_content for c in chunks],
            [chroma_metadata(c.metadata, sha, now) for c, sha in zip(chunks, shas)],
            vectors,
        )

    def _commit(self, group: list[_Prepared]) -> list[tuple[int, int]]:
        """Steps 2 and 3 for documents whose chunks are all stored: commit their records (one write), then drop
        the chunks of their old versions; (added, removed) chunks per document."""
        kb = self.kb
        store = kb.settings.store
        entries = []
        for p in group:
            job, doc = p.job, p.job.doc
            meta = {
                "sha256": job.sha,
                "title": doc.title or "",
                "file_name": doc.file_name or Path(job.source).name,
                "chars": len(doc.text),
                "chunks": len(p.ids),
                "ingested_at": now_iso(),
                "instructions": len(p.flagged),
                "instruction_quote": quote(p.flagged[0]) if p.flagged else "",
            }
            entries.append((job.source, p.ids, meta | chunking_of(store) | _place(job.found, job.root)))
        # (2) commit point
        kb.manifest.commit_many(entries)
        # (3) the old versions' leftovers
        held = kb.chunk_ids_by_source([p.job.source for p in group])
        out = []
        stale: list[str] = []
        for p in group:
            seen = set(p.ids)
            stale += [cid for cid in held.get(p.job.source, []) if cid not in seen]
            old_ids = set(p.job.old["ids"]) if p.job.old else set()
            out.append((len(seen - old_ids), len(old_ids - seen)))
        kb.delete_chunks(stale)
        return out

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


def even_slices(n: int, most: int) -> list[slice]:
    """Slices of range(n) in as few parts of at most `most` as possible, their sizes differing by at most one (no
    small remainder: a batch too small to split over the embedding workers runs on one core)."""
    parts = -(-n // most)
    return [slice(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def _advance(bar: Any, chunks: list[Document], done: int) -> int:
    """Move the bar to the end of the furthest of `chunks` when past `done`; the new position."""
    reached = max(int(c.metadata["end"]) for c in chunks)
    if reached > done:
        bar.update(reached - done)
        return reached
    return done


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
