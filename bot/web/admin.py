"""The functions behind the 知识库 tab: check the administrator token, then list, upload, delete or re-index.

The actions themselves are `ingest.admin`'s (shared with the command line); these handlers only check
the token, call them and turn the outcome into a status line, the document table and the delete list.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Optional

import gradio as gr

from bot.web import messages
from bot.web.render import esc
from core.settings import Settings
from ingest.admin import AdminError, delete_document, reindex, save_upload
from ingest.index import KnowledgeBase

log = logging.getLogger(__name__)

SHA_SHORT = 12  # hex characters of a document's sha256 shown in the table
REINDEX_FIRST_PROGRESS = 0.1  # shown at once: the ingest reports no progress of its own
# The document table: (header, Gradio datatype) per column, in the order of document_rows().
DOCUMENT_COLUMNS: list[tuple[str, Literal["str", "number"]]] = [
    ("文件", "str"),
    ("标题", "str"),
    ("片段数", "number"),
    ("字数", "number"),
    ("入库时间", "str"),
    ("SHA256", "str"),
    ("来源路径", "str"),
]

Update = dict[str, Any]  # what gr.update() returns
Rows = list[list[Any]]
AdminOutput = tuple[str, Rows, Update]  # status line, document table, choices of the delete dropdown


def document_rows(documents: list[dict[str, Any]]) -> Rows:
    """One table row per document, in DOCUMENT_COLUMNS order."""
    return [
        [
            Path(d["source"]).name,
            d["title"],
            d["chunks"],
            d["chars"],
            d["ingested_at"].replace("T", " ")[:19],
            d["sha256"][:SHA_SHORT],
            d["source"],
        ]
        for d in documents
    ]


def uploaded_files(files: Optional[list[Any]]) -> list[tuple[Path, str]]:
    """(temporary path, original file name) of each file as Gradio hands it over: a path, a file object or a dict."""
    chosen = []
    for f in files or []:
        if not f:
            continue
        path = Path(f if isinstance(f, str) else getattr(f, "name", "") or f.get("path", ""))
        chosen.append((path, Path(str(getattr(f, "orig_name", "") or path.name)).name))
    return chosen


class AdminHandlers:
    """The knowledge-base tab over one KnowledgeBase; every action needs settings.web.admin_token."""

    def __init__(self, settings: Settings, kb: KnowledgeBase):
        self.settings = settings
        self.kb = kb

    # ------------------------------------------------------------------ plumbing
    def _denied(self, token: Optional[str]) -> Optional[str]:
        """A Chinese refusal, or None when the token matches settings.web.admin_token."""
        expected = self.settings.web.admin_token
        if not expected:
            return messages.NO_TOKEN_NOTE
        if not token or not hmac.compare_digest(str(token).encode("utf-8"), str(expected).encode("utf-8")):
            return messages.BAD_TOKEN
        return None

    def _output(self, message: str, *, listed: bool) -> AdminOutput:
        """The status line with the document table (listed) or, for a refusal, with nothing listed."""
        if not listed:
            return f"⚠️ {message}", [], gr.update(choices=[], value=None)
        documents = self.kb.documents()
        return message, document_rows(documents), gr.update(choices=[d["source"] for d in documents], value=None)

    def _guarded(
        self, token: Optional[str], action: Callable[[], str], *, what: str, list_on_error: bool
    ) -> AdminOutput:
        """Run `action` (which returns the status line) when the token is right; refusals and failures in Chinese."""
        denied = self._denied(token)
        if denied:
            return self._output(denied, listed=False)
        try:
            return self._output(action(), listed=True)
        except AdminError as e:
            return self._output(esc(e), listed=True)
        except Exception:
            log.exception("%s failed", what)
            return self._output(messages.ERROR_MESSAGE, listed=list_on_error)

    # ------------------------------------------------------------------ actions
    def list_documents(self, token: Optional[str]) -> AdminOutput:
        """List the documents in the knowledge base."""
        return self._guarded(
            token,
            lambda: messages.KB_COUNT.format(count=len(self.kb.documents())),
            what="listing documents",
            list_on_error=False,
        )

    def upload(
        self, token: Optional[str], files: Optional[list[Any]], progress: gr.Progress = gr.Progress()
    ) -> AdminOutput:
        """Save uploaded files under knowledge_dir/uploads and ingest them; one result line per file."""

        def action() -> str:
            chosen = uploaded_files(files)
            if not chosen:
                return messages.UPLOAD_NONE
            lines = []
            for i, (path, original) in enumerate(chosen):
                progress(
                    i / len(chosen),
                    desc=messages.UPLOAD_PROGRESS.format(name=original, number=i + 1, total=len(chosen)),
                )
                lines.append(self._upload_line(path, original))
            progress(1.0, desc=messages.PROGRESS_DONE)
            return "\n".join(lines)

        return self._guarded(token, action, what="upload", list_on_error=True)

    def _upload_line(self, path: Path, original: str) -> str:
        shown = esc(original)
        try:
            upload = save_upload(self.kb, self.settings, path, original)
        except AdminError as e:
            return messages.FILE_FAILED.format(name=shown, reason=esc(e))
        except Exception:
            log.exception("upload of %s failed", original)
            return messages.FILE_FAILED.format(name=shown, reason=messages.ERROR_MESSAGE)
        renamed = messages.UPLOAD_RENAMED.format(name=esc(upload.target.name)) if upload.target.name != original else ""
        template = messages.UPLOAD_UNCHANGED if upload.unchanged else messages.UPLOAD_DONE
        return template.format(name=shown, renamed=renamed, chunks=upload.chunks)

    def delete(self, token: Optional[str], source: Optional[str]) -> AdminOutput:
        """Remove a document from the knowledge base; its file is deleted only if it was uploaded here."""

        def action() -> str:
            if not source:
                return messages.DELETE_NONE
            deletion = delete_document(self.kb, self.settings, source)
            note = (
                messages.DELETE_FILE_REMOVED
                if deletion.file_deleted
                else messages.DELETE_FILE_KEPT
                if deletion.file_kept
                else ""
            )
            return messages.DELETE_DONE.format(name=esc(Path(source).name), chunks=deletion.chunks, note=note)

        return self._guarded(token, action, what=f"deleting {source}", list_on_error=True)

    def reindex(self, token: Optional[str], progress: gr.Progress = gr.Progress()) -> AdminOutput:
        """Re-ingest knowledge_dir: new and changed files added, vanished ones removed."""

        def action() -> str:
            progress(REINDEX_FIRST_PROGRESS, desc=messages.REINDEXING)
            report = reindex(self.kb, self.settings)
            errors = [messages.FILE_FAILED.format(name=esc(Path(s).name), reason=esc(m)) for s, m in report.errors]
            progress(1.0, desc=messages.PROGRESS_DONE)
            return "\n".join([report.summary(), *errors])

        return self._guarded(token, action, what="re-index", list_on_error=True)
