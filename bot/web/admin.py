"""The functions behind the 知识库 tab: check the administrator token, then list, upload, delete or re-index
documents, or show and export the visitors' feedback on answers.

The actions themselves are `ingest.admin`'s (shared with the command line); these handlers only check
the token, call them and turn the outcome into a status line, the document table and the delete list.

The tab is on only when the configured token has at least MIN_TOKEN_CHARS characters (stripped). Wrong
tokens are logged with the client's address (never the token) and, after settings.web.admin_max_failures
in a row, the client is locked out (bot.web.throttle): every attempt is refused until the lock-out ends.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Optional

import gradio as gr

from bot.web import messages
from bot.web.feedback import feedback_rows, write_csv
from bot.web.feedback_log import FeedbackLog
from bot.web.render import esc
from bot.web.session import forget_replaced_components
from bot.web.throttle import Throttle
from core.settings import Settings
from ingest.admin import AdminError, delete_document, reindex, save_upload
from ingest.errors import KnowledgeBaseError
from ingest.index import KnowledgeBase

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 12  # a shorter token (after stripping spaces) keeps the tab off: it could be guessed
UNKNOWN_CLIENT = "unknown"  # the client address when the call did not come over HTTP

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
    ("提醒", "str"),  # e.g. sentences that address the assistant (never used as answers)
]

Update = dict[str, Any]  # what gr.update() returns
Rows = list[list[Any]]
AdminOutput = tuple[str, Rows, Update]  # status line, document table, choices of the delete dropdown
FeedbackOutput = tuple[str, Rows, Optional[str]]  # status line, feedback table, the CSV file (export only)
UploadOutput = tuple[str, Rows, Update, None]  # the same, and the emptied file picker


def admin_token(settings: Settings) -> Optional[str]:
    """The configured administrator token, stripped, or None when it is unset or too short to be safe."""
    token = (settings.web.admin_token or "").strip()
    return token if len(token) >= MIN_TOKEN_CHARS else None


def disabled_note(settings: Settings) -> Optional[str]:
    """Why the knowledge tab is off (Chinese), or None when it is on."""
    if admin_token(settings):
        return None
    if settings.web.admin_token:  # set, but blank or too short once stripped
        return messages.SHORT_TOKEN_NOTE.format(min_chars=MIN_TOKEN_CHARS)
    return messages.NO_TOKEN_NOTE


def client_address(request: Optional[gr.Request]) -> str:
    """The caller's address as the server saw it (behind a trusted proxy, the forwarded one)."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", None) or UNKNOWN_CLIENT)


def remove_temporary_uploads(paths: list[Path]) -> None:
    """Delete Gradio's temporary copies of uploaded files (and their emptied folders) once handled."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    for path in paths:
        resolved = path.resolve()
        if not resolved.is_relative_to(folder) or resolved == folder:
            continue  # never delete a file Gradio did not receive (a direct call may pass any path)
        resolved.unlink(missing_ok=True)
        try:
            resolved.parent.rmdir()  # Gradio keeps each upload in a folder of its own
        except OSError:
            pass  # not empty, or already gone


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
            "；".join(d.get("warnings") or []),
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

    def __init__(self, settings: Settings, kb: KnowledgeBase, feedback_log: Optional[FeedbackLog] = None):
        self.settings = settings
        self.kb = kb
        web = settings.web
        self.feedback_log = feedback_log or FeedbackLog(
            web.feedback_log, max_kb=web.feedback_log_max_kb, backups=web.feedback_log_backups
        )
        self.blocks: Optional[gr.Blocks] = None  # the page, once built (to trim what Gradio keeps per session)
        self.throttle = Throttle(
            max_failures=web.admin_max_failures,
            lockout_seconds=web.admin_lockout_seconds,
            max_lockout_seconds=web.admin_lockout_max_seconds,
        )

    # ------------------------------------------------------------------ plumbing
    def _denied(self, token: Optional[str], request: Optional[gr.Request]) -> Optional[str]:
        """A Chinese refusal, or None when the token matches and the client is not locked out."""
        expected = admin_token(self.settings)
        if not expected:
            return disabled_note(self.settings)
        client = client_address(request)
        locked = self.throttle.locked_for(client)
        if locked:
            log.warning("admin attempt from locked-out client %s refused (%.0f s left)", client, locked)
            return messages.LOCKED_OUT.format(seconds=math.ceil(locked))
        given = str(token or "").strip().encode("utf-8")
        if hmac.compare_digest(given, expected.encode("utf-8")):
            self.throttle.succeeded(client)
            return None
        failures, lockout = self.throttle.failed(client)
        log.warning("wrong admin token from client %s (%d in a row)", client, failures)
        if lockout:
            log.warning(
                "admin actions locked for client %s for %.0f s after %d wrong tokens", client, lockout, failures
            )
            return f"{messages.BAD_TOKEN}{messages.LOCKED_OUT.format(seconds=math.ceil(lockout))}"
        return messages.BAD_TOKEN

    def _output(self, message: str, *, listed: bool) -> AdminOutput:
        """The status line with the document table (listed) or, for a refusal, with nothing listed."""
        if not listed:
            return f"⚠️ {message}", [], gr.update(choices=[], value=None)
        documents = self.kb.documents()
        return message, document_rows(documents), gr.update(choices=[d["source"] for d in documents], value=None)

    def _guarded(
        self,
        token: Optional[str],
        request: Optional[gr.Request],
        action: Callable[[], str],
        *,
        what: str,
        list_on_error: bool,
    ) -> AdminOutput:
        """Run `action` (which returns the status line) when the token is right; refusals and failures in Chinese."""
        forget_replaced_components(self.blocks, request)  # the delete list is both updated and read
        denied = self._denied(token, request)
        if denied:
            return self._output(denied, listed=False)
        try:
            return self._output(action(), listed=True)
        except (AdminError, KnowledgeBaseError) as e:  # a refusal, or the store held by another process
            return self._output(esc(e), listed=True)
        except Exception:
            log.exception("%s failed", what)
            return self._output(messages.ERROR_MESSAGE, listed=list_on_error)

    # ------------------------------------------------------------------ actions
    def list_documents(self, token: Optional[str], request: Optional[gr.Request] = None) -> AdminOutput:
        """List the documents in the knowledge base."""
        return self._guarded(
            token,
            request,
            lambda: messages.KB_COUNT.format(count=len(self.kb.documents())),
            what="listing documents",
            list_on_error=False,
        )

    def upload(
        self,
        token: Optional[str],
        files: Optional[list[Any]],
        request: Optional[gr.Request] = None,
        progress: gr.Progress = gr.Progress(),
    ) -> UploadOutput:
        """Save uploaded files under knowledge_dir/uploads and ingest them; one result line per file.

        Gradio's temporary copies are deleted afterwards, whatever the outcome, and the picker is emptied."""
        chosen = uploaded_files(files)

        def action() -> str:
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

        try:
            return (*self._guarded(token, request, action, what="upload", list_on_error=True), None)
        finally:
            remove_temporary_uploads([path for path, _ in chosen])

    def _upload_line(self, path: Path, original: str) -> str:
        shown = esc(original)
        try:
            upload = save_upload(self.kb, self.settings, path, original)
        except (AdminError, KnowledgeBaseError) as e:
            return messages.FILE_FAILED.format(name=shown, reason=esc(e))
        except Exception:
            log.exception("upload of %s failed", original)
            return messages.FILE_FAILED.format(name=shown, reason=messages.ERROR_MESSAGE)
        renamed = messages.UPLOAD_RENAMED.format(name=esc(upload.target.name)) if upload.target.name != original else ""
        template = messages.UPLOAD_UNCHANGED if upload.unchanged else messages.UPLOAD_DONE
        return template.format(name=shown, renamed=renamed, chunks=upload.chunks)

    def delete(self, token: Optional[str], source: Optional[str], request: Optional[gr.Request] = None) -> AdminOutput:
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

        return self._guarded(token, request, action, what=f"deleting {source}", list_on_error=True)

    def reindex(
        self, token: Optional[str], request: Optional[gr.Request] = None, progress: gr.Progress = gr.Progress()
    ) -> AdminOutput:
        """Re-ingest knowledge_dir: new and changed files added, vanished ones removed."""

        def action() -> str:
            progress(REINDEX_FIRST_PROGRESS, desc=messages.REINDEXING)
            report = reindex(self.kb, self.settings)
            errors = [messages.FILE_FAILED.format(name=esc(Path(s).name), reason=esc(m)) for s, m in report.errors]
            progress(1.0, desc=messages.PROGRESS_DONE)
            return "\n".join([report.summary(), *errors])

        return self._guarded(token, request, action, what="re-index", list_on_error=True)

    # ------------------------------------------------------------------ feedback
    def _feedback(self, token: Optional[str], request: Optional[gr.Request], *, export: bool) -> FeedbackOutput:
        denied = self._denied(token, request)
        if denied:
            return f"⚠️ {denied}", [], None
        try:
            records = self.feedback_log.records()
            rows = feedback_rows(records)
            if not records:
                return messages.FEEDBACK_NONE, rows, None
            if export:
                path = write_csv(records, max_age=self.settings.web.temp_file_max_age)
                return messages.FEEDBACK_EXPORTED.format(count=len(records)), rows, str(path)
        except Exception:
            log.exception("reading feedback from %s failed", self.feedback_log.path)
            return f"⚠️ {messages.ERROR_MESSAGE}", [], None
        up = sum(1 for r in records if r.get("rating") == "up")
        status = messages.FEEDBACK_COUNT.format(count=len(records), up=up, down=len(records) - up)
        return status, rows, None

    def list_feedback(self, token: Optional[str], request: Optional[gr.Request] = None) -> FeedbackOutput:
        """The visitors' feedback on answers, newest first."""
        return self._feedback(token, request, export=False)

    def export_feedback(self, token: Optional[str], request: Optional[gr.Request] = None) -> FeedbackOutput:
        """The visitors' feedback as a CSV file to download."""
        return self._feedback(token, request, export=True)
