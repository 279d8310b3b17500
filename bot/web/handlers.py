"""The functions behind the 问答 and 宣讲提纲 tabs: ask (streaming), outline and export. The conversation list
is `conversations`', the rating of answers `feedback`'s.

Each handler catches its own errors and answers in Chinese; what it shows is built by `render`. What an
anonymous visitor can make the server keep is bounded by settings.web: the turns (and characters) of a
conversation, the length of an exported outline, and how long exports stay.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import gradio as gr

from bot.export import outline_docx, outline_markdown
from bot.pipeline import Assistant, QuestionError
from bot.web import messages
from bot.web.render import (
    Turn,
    chat_ratings,
    render_answer,
    render_chat,
    render_notice,
    render_outline_sources,
    render_partial,
    render_sources,
    render_thinking,
    same_ratings,
    short,
)
from bot.web.session import UNKNOWN, forget_replaced_components, keep_recent, next_number, session_prop
from core.settings import Settings
from ingest.admin import MAX_NAME_CHARS, safe_filename

log = logging.getLogger(__name__)

STREAM_INTERVAL = 0.05  # seconds between streamed UI updates (tokens arrive faster than a page can draw)
EXPORT_ROOT = Path(tempfile.gettempdir()) / "dongxun-exports"
# What a turn keeps of the Assistant's result: enough to render the answer and its sources again (when the
# conversation is reopened from the browser's history) and to log feedback.
KEPT_RESULT_FIELDS = ("question", "rewritten_question", "answer", "refused", "citations", "unsupported")

Update = dict[str, Any]  # what gr.update() returns
# chatbot, sources panel, question box, send button, the session's turns: each a value, or an Update
AskOutput = tuple[Any, str, Any, Any, Any]
SEND_LABEL = "发送"  # the send button's label (the layout's); an update in mid-stream sends it as it stands
# editor text, outline sources panel, status line, the outline result kept for export (each may be gr.skip())
OutlineOutput = tuple[Any, Any, str, Any]


def chat_update(turns: list[Turn]) -> Update:
    """The chatbot showing the turns, with each answer's 👍/👎 as the visitor left it."""
    return gr.update(value=render_chat(turns), feedback_value=chat_ratings(turns))


def warn(message: str) -> None:
    """A pop-up notice with a Chinese title."""
    gr.Warning(message, title=messages.NOTICE_TITLE)


def drop_old_exports(max_age: float) -> None:
    """Remove export folders older than `max_age` seconds so exports do not pile up."""
    cutoff = time.time() - max_age
    for folder in EXPORT_ROOT.glob("*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # another request removed it first


def export_path(text: str, suffix: str, *, max_age: float) -> Path:
    """A fresh path for an exported outline, named after its first line, in its own folder under EXPORT_ROOT;
    export folders older than `max_age` seconds are removed first."""
    first = next((ln.lstrip("# ").strip() for ln in (text or "").splitlines() if ln.strip()), "")
    fallback = messages.OUTLINE_DEFAULT_NAME + suffix
    name = safe_filename((first or messages.OUTLINE_DEFAULT_NAME)[:MAX_NAME_CHARS] + suffix) or fallback
    drop_old_exports(max_age)
    folder = EXPORT_ROOT / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def notice_turn(question: Optional[str], message: str, n: int) -> Turn:
    """A turn that shows a notice instead of an answer; a rejected (perhaps huge) question is kept shortened."""
    return {
        "question": short((question or "").strip()),
        "n": n,
        "answer": "",
        "result": {},
        "error": True,
        "html": render_notice(message),
        "notice": message,
    }


def kept(status: str) -> OutlineOutput:
    """The outline tab unchanged but for its status line."""
    return gr.skip(), gr.skip(), status, gr.skip()


class Handlers:
    """Chat, feedback, outline and export over one Assistant."""

    def __init__(self, settings: Settings, assistant: Assistant):
        self.settings = settings
        self.assistant = assistant
        self.blocks: Optional[gr.Blocks] = None  # the page, once built (to trim what Gradio keeps per session)
        self.chatbot: Optional[gr.Chatbot] = None  # the page's chatbot (whose ratings a session shows)

    def _kept(self, turns: list[Turn]) -> list[Turn]:
        """The session's turns cut to settings.web.session_max_turns / session_max_chars."""
        web = self.settings.web
        return keep_recent(turns, max_turns=web.session_max_turns, max_chars=web.session_max_chars)

    # ------------------------------------------------------------------ chat
    def ask(
        self, question: Optional[str], turns: Optional[list[Turn]], request: Optional[gr.Request] = None
    ) -> Iterator[AskOutput]:
        """Answer a question in this session's conversation, streaming the growing answer.

        The first update disables the question box and button, the last one enables them again; the chatbot's
        ratings are sent only when they differ from those it shows. Every other part goes as a plain value: for
        each gr.update (gr.skip() too) Gradio rebuilds the component and its API schema, which cost most of the
        page's CPU per answer."""
        forget_replaced_components(self.blocks, request)
        turns = list(turns or [])
        history = [{"question": t["question"], "answer": t["answer"]} for t in turns if not t.get("error")]
        question = question or ""
        busy: tuple[Update, Update] = (gr.update(value="", interactive=False), gr.update(interactive=False))
        as_they_stand = ("", SEND_LABEL)  # the question box (emptied) and the button while the answer streams
        idle: tuple[Update, Update] = (gr.update(value="", interactive=True), gr.update(interactive=True))
        turn = next_number(turns)
        pending: Turn = {
            "question": short(question.strip()),
            "n": turn,
            "answer": "",
            "html": render_thinking(),
            "error": True,
            "result": {},
        }
        ratings = chat_ratings(turns + [pending])
        shown = session_prop(self.blocks, request, self.chatbot, "feedback_value")
        try:
            stream = self.assistant.ask_stream(question, history)
            sources = render_sources(turns)  # the earlier answers' sources, until this answer is complete
            unchanged = shown is not UNKNOWN and same_ratings(ratings, shown)
            chat = render_chat(turns + [pending]) if unchanged else chat_update(turns + [pending])
            yield (chat, sources, *busy, gr.skip())
            text, last = "", None
            result = None
            for event in stream:
                if event["type"] == "token":
                    text += event["text"]
                    now = time.monotonic()
                    # The first piece is held: an extractive answer's pieces and its final event come at once, and a
                    # partial update of them would cost a whole Gradio update for a few characters nobody sees (85-92
                    # -> 73-77 ms of app CPU per page answer at 32 clients). Text that keeps coming shows
                    # STREAM_INTERVAL later.
                    if last is None:
                        last = now
                    elif now - last >= STREAM_INTERVAL:
                        last = now
                        pending["html"] = render_partial(text, turn)
                        yield (render_chat(turns + [pending]), sources, *as_they_stand, gr.skip())
                elif event["type"] == "final":
                    result = event["result"]
            if result is None:
                raise RuntimeError("the answer stream ended without a final event")
            turns.append(
                {
                    "question": result["question"],
                    "n": turn,
                    "answer": result["answer"],
                    "result": {k: result[k] for k in KEPT_RESULT_FIELDS if k in result},
                    "html": render_answer(result, turn),
                    "error": False,
                }
            )
        except QuestionError as e:
            turns.append(notice_turn(question, str(e), turn))
        except Exception:
            log.exception("answering failed")
            turns.append(notice_turn(question, messages.ERROR_MESSAGE, turn))
        turns = self._kept(turns)
        # The ratings change only when old turns were dropped or an answer was rated meanwhile.
        chat = render_chat(turns) if same_ratings(chat_ratings(turns), ratings) else chat_update(turns)
        yield (chat, render_sources(turns), *idle, turns)
        # Run when Gradio asks for the next update, after showing the last: the copies of the question box and
        # button that this answer's updates replaced are dropped now rather than at the next question.
        forget_replaced_components(self.blocks, request)

    # ------------------------------------------------------------------ outline
    def outline(self, topic: Optional[str]) -> OutlineOutput:
        """Draft a 宣讲提纲 on a topic: editable markdown, its sources, a status line. When no outline comes
        (a refused topic, an error), only the status line changes: the outline being edited stays."""
        try:
            result = self.assistant.outline(topic or "")
        except QuestionError as e:
            return kept(f"⚠️ {e}")
        except Exception:
            log.exception("outline failed")
            return kept(f"⚠️ {messages.ERROR_MESSAGE}")
        if result.get("refused"):
            return kept(f"⚠️ {messages.OUTLINE_REFUSED}")
        status = messages.OUTLINE_READY.format(count=len(result["citations"]))
        if result.get("unsupported"):
            status += messages.OUTLINE_UNSUPPORTED.format(count=len(result["unsupported"]))
        return result["answer"], render_outline_sources(result), status, result

    # ------------------------------------------------------------------ export
    def _exportable(self, text: str) -> bool:
        """Whether the outline text can be exported; if not, the visitor is told why (Chinese)."""
        if not text.strip():
            warn(messages.EXPORT_EMPTY)
            return False
        limit = self.settings.web.max_export_chars
        if len(text) > limit:
            warn(messages.EXPORT_TOO_LONG.format(chars=len(text), limit=limit))
            return False
        return True

    def _export_path(self, text: str, suffix: str) -> Path:
        return export_path(text, suffix, max_age=self.settings.web.temp_file_max_age)

    def export_docx(self, text: Optional[str], result: Optional[dict[str, Any]]) -> Optional[str]:
        """The edited outline as a Word file (title, point headings, bullets, 资料来源)."""
        text = text or ""
        if not self._exportable(text):
            return None
        try:
            return str(outline_docx(text, (result or {}).get("citations", []), self._export_path(text, ".docx")))
        except Exception:
            log.exception("docx export failed")
            warn(messages.EXPORT_DOCX_FAILED)
            return None

    def export_md(self, text: Optional[str], result: Optional[dict[str, Any]]) -> Optional[str]:
        """The edited outline as a Markdown file with 资料来源 appended."""
        text = text or ""
        if not self._exportable(text):
            return None
        path = self._export_path(text, ".md")
        path.write_text(outline_markdown(text, (result or {}).get("citations", [])), encoding="utf-8")
        return str(path)
