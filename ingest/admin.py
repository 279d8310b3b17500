"""Knowledge-base administration: save an uploaded file, delete a document, re-index the knowledge folder.

Plain functions over a KnowledgeBase and the Settings, shared by the web page's 知识库 tab and the
command line. A refusal is an AdminError whose text is a Chinese message saying what to do; other
exceptions are failures of the store itself and are left to the caller to log.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from ingest.discovery import file_sha256
from ingest.index import KnowledgeBase
from ingest.loaders import SUPPORTED, SUPPORTED_HINT
from ingest.pipeline import IngestReport

log = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"  # uploads are kept in this folder under settings.store.knowledge_dir
MB = 1024 * 1024
MAX_NAME_CHARS = 80  # longest sanitised file stem
FALLBACK_STEM = "upload"  # the stem of a file whose name had nothing usable in it
UNSAFE_NAME_CHARS = re.compile(r"[^\w\-.()（）]+")
NAME_EDGE = "._- "  # stripped from both ends of a stem: no hidden files, no dangling separators

# Saving is check-then-copy; one lock keeps two uploads of the same name in this process apart.
_save_lock = threading.Lock()


class AdminError(ValueError):
    """A request the knowledge base refuses; str(e) is a Chinese message saying what to do."""


@dataclass(frozen=True)
class Upload:
    """An uploaded file as it was saved and ingested."""

    target: Path  # where it was saved (a -1, -2… suffix when another file had the name)
    source: str  # its document id in the knowledge base
    chunks: int  # committed chunks of the document
    unchanged: bool  # the same content was already in the knowledge base
    warnings: tuple[str, ...] = ()  # Chinese messages, e.g. sentences in it that address the assistant


@dataclass(frozen=True)
class Deletion:
    """A document removed from the knowledge base, and what became of its file."""

    source: str
    chunks: int  # committed chunks removed
    file_deleted: bool  # the file was an upload and was deleted with it
    file_kept: bool  # the file lives outside the uploads folder and is still on disk


# ---------------------------------------------------------------------- names
def safe_filename(name: str) -> str:
    """Base name only, NFKC, no control/hidden/odd characters; the suffix lower-cased. May return '' for junk."""
    name = unicodedata.normalize("NFKC", str(name or ""))
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    cut = name.rfind(".")  # not os.path.splitext: "....txt" is a .txt file with a junk stem
    stem, suffix = (name[:cut], name[cut:]) if cut >= 0 else (name, "")
    suffix = UNSAFE_NAME_CHARS.sub("", suffix).lower()
    stem = UNSAFE_NAME_CHARS.sub("_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip(NAME_EDGE)[:MAX_NAME_CHARS].strip(NAME_EDGE)
    if not suffix:
        return stem
    return (stem or FALLBACK_STEM) + suffix


def unique_target(folder: Path, name: str, sha: str) -> Path:
    """folder/name, or name-1, name-2… when a different file already has that name (the same file is reused)."""
    stem, suffix = os.path.splitext(name)
    candidate = folder / name
    i = 1
    while candidate.exists():
        if candidate.is_file() and file_sha256(candidate) == sha:
            return candidate
        candidate = folder / f"{stem}-{i}{suffix}"
        i += 1
    return candidate


def uploads_dir(settings: Settings) -> Path:
    """The folder uploads are saved in."""
    return Path(settings.store.knowledge_dir) / UPLOADS_DIR


# ---------------------------------------------------------------------- actions
def check_upload(path: Path, name: str, settings: Settings) -> str:
    """The safe file name to save `path` under; AdminError when its type, size or emptiness is refused."""
    safe = safe_filename(name)
    if Path(safe).suffix.lower() not in SUPPORTED:
        raise AdminError(f"不支持该文件类型，请上传 {SUPPORTED_HINT} 文件。")
    size = path.stat().st_size
    limit = settings.web.max_upload_mb
    if size > limit * MB:
        raise AdminError(f"文件过大（{size / MB:.1f} MB），请上传不超过 {limit} MB 的文件。")
    if size == 0:
        raise AdminError("文件是空的，请检查后重新上传。")
    return safe


def save_upload(kb: KnowledgeBase, settings: Settings, path: Path, name: str) -> Upload:
    """Copy the file at `path` (originally called `name`) into the uploads folder and ingest it.

    A different file of the same name is kept beside it under a numbered name; a file the knowledge base
    cannot read is not kept, whatever went wrong, so it never blocks a later re-index or start-up.
    Raises AdminError (Chinese) when the file is refused."""
    safe = check_upload(path, name, settings)
    folder = uploads_dir(settings)
    with _save_lock:
        folder.mkdir(parents=True, exist_ok=True)
        target = unique_target(folder, safe, file_sha256(path))
        created = not target.exists()
        if created:
            shutil.copyfile(path, target)
    try:
        report = kb.ingest([target], progress=False)
    except BaseException:
        if created:  # a copy this call made; a file that was there before may be a committed document
            target.unlink(missing_ok=True)
        raise
    source = kb.source_id(target)
    errors = [message for s, message in report.errors if s == source] or [message for _, message in report.errors]
    if errors:
        target.unlink(missing_ok=True)
        raise AdminError(errors[0])
    chunks = next((d["chunks"] for d in kb.documents() if d["source"] == source), 0)
    if not report.skipped:
        log.info("uploaded %s (%d chunks)", source, chunks)
    warnings = tuple(message for s, message in report.warnings if s == source)
    return Upload(target=target, source=source, chunks=chunks, unchanged=bool(report.skipped), warnings=warnings)


def delete_document(kb: KnowledgeBase, settings: Settings, source: str) -> Deletion:
    """Remove a document from the knowledge base; its file is deleted only when it is an upload.

    Raises AdminError (Chinese) when the knowledge base has no such document."""
    if source not in {d["source"] for d in kb.documents()}:
        raise AdminError(f"知识库中没有文档 {source}，请刷新列表后重试。")
    path = kb.file_path(source)
    chunks = kb.remove(source)
    deleted = False
    if path is not None and path.is_relative_to(uploads_dir(settings).resolve()) and path.is_file():
        path.unlink()
        deleted = True
    log.info("removed %s (%d chunks)", source, chunks)
    return Deletion(
        source=source, chunks=chunks, file_deleted=deleted, file_kept=not deleted and path is not None and path.exists()
    )


def reindex(kb: KnowledgeBase, settings: Settings, *, progress: bool = False) -> IngestReport:
    """Ingest the knowledge folder again: new and changed files added, vanished ones removed."""
    return kb.ingest([Path(settings.store.knowledge_dir)], prune=True, progress=progress)
