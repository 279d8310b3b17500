"""Conversation history, kept in the visitor's browser: what is stored, how it is checked when it comes back,
and how big it may grow.

Why the browser (Gradio's BrowserState, i.e. localStorage) rather than SQLite on the server keyed by a cookie:
  - replicas: the app runs as N replicas behind a proxy with sticky sessions (issue 11). A server-side
    store would live in one replica (SQLite does not share safely over a network volume), so a restart or
    a rescale would lose or split a browser's history; a store in the browser follows it to any replica.
  - privacy: nothing of a member's conversations stays on the server, so there is no retention to manage
    and no administrator who can read them. On a shared office PC both designs show the history to the
    next user of the same browser profile; the page therefore offers 删除此对话 and 清空全部对话, which
    really remove it (there is no server copy). Gradio writes the values AES-encrypted, but the key comes
    with the page: that keeps the text out of plain view, it is not secrecy.
  - size: localStorage holds about 5 MB per site, and the history is sent to the server when the page
    loads. It is held under `budget()` bytes (settings.web.history_max_kb, and below max_request_kb): the
    open conversation may take half (its oldest turns go first), the others the rest (the oldest
    conversations go first), at most settings.web.history_max_conversations in all.
  - CSP: BrowserState is Gradio's own component; it needs no script of ours and no cookie.

Two stores: OPEN, the conversation on screen, rewritten after every answer without sending anything up;
and SAVED, the others (newest first), sent up only when the visitor starts or switches a conversation.

What comes back from a browser is not trusted: it is validated here (pydantic), nothing malformed is
used, and no HTML is stored: the messages are rendered again from the stored results by bot.web.render,
which escapes every piece of text.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal, Optional, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.web import messages
from bot.web.render import Feedback, Turn, render_answer, render_notice, short
from core.settings import WebSettings

KB = 1024
# Where the two stores live in localStorage. The secret only has to be the same on every replica and after
# a restart (a random one, Gradio's default, would make the history unreadable then); it is sent to the
# page, which decrypts with it, so it is no secret and is not one of the settings.
OPEN_KEY = "dongxun:open-conversation:v1"
SAVED_KEY = "dongxun:saved-conversations:v1"
BROWSER_SECRET = "dongxun-history-v1"
ID_CHARS = 16  # hex characters of a conversation id
ID_PATTERN = rf"^[0-9a-f]{{{ID_CHARS}}}$"
TITLE_CHARS = 40  # a conversation's title (its first question, or the visitor's name for it) is cut to this
ENVELOPE_KB = 32  # room left in a request for what is not history (the event, the ids, a question)
OPEN_SHARE = 0.5  # of the budget, what the open conversation may take


class Meta(TypedDict):
    """Which conversation is open: its id, title ("" until the first question names it) and last change."""

    id: str
    title: str
    updated: float


# ---------------------------------------------------------------------- the stored shape (validated on the way in)
class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StoredCitation(_Stored):
    n: int = Field(ge=0)
    source: str = ""
    title: str = ""
    section: str = ""
    text: str = ""
    start: int = 0
    end: int = 0
    page: Optional[int] = None


class StoredResult(_Stored):
    question: str = ""
    rewritten_question: str = ""
    answer: str = ""
    refused: bool = False
    citations: list[StoredCitation] = []
    unsupported: list[str] = []


class StoredFeedback(_Stored):
    rating: Literal["up", "down"]
    comment: str = ""


class StoredTurn(_Stored):
    n: int = Field(ge=0)
    question: str = ""
    result: Optional[StoredResult] = None  # None for a notice
    notice: str = ""
    feedback: Optional[StoredFeedback] = None


class StoredConversation(_Stored):
    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    updated: float = 0.0
    turns: list[StoredTurn] = []


# ---------------------------------------------------------------------- bounds
def budget(web: WebSettings) -> int:
    """Bytes the whole history may take: history_max_kb, and below max_request_kb since it is sent on load."""
    return min(web.history_max_kb, web.max_request_kb - ENVELOPE_KB) * KB


def size(value: Any) -> int:
    """Bytes of the value as the browser sends it (compact JSON in UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def trim_open(conversation: dict[str, Any], *, limit: int) -> dict[str, Any]:
    """The conversation with its oldest turns dropped until it takes at most `limit` bytes (the latest stays)."""
    turns = list(conversation.get("turns", []))
    over = size(conversation) - limit
    while over > 0 and len(turns) > 1:
        over -= size(turns.pop(0)) + 1  # and its comma
    return {**conversation, "turns": turns}


def trim_saved(saved: list[dict[str, Any]], *, limit: int, max_count: int) -> list[dict[str, Any]]:
    """The newest of the saved conversations (newest first) that fit in `limit` bytes and `max_count` entries."""
    kept, used = [], 2  # the list's brackets
    for conversation in saved[: max(max_count, 0)]:
        used += size(conversation) + 1
        if used > limit:
            break
        kept.append(conversation)
    return kept


# ---------------------------------------------------------------------- conversions
def new_meta() -> Meta:
    """A fresh, empty conversation."""
    return {"id": uuid.uuid4().hex[:ID_CHARS], "title": "", "updated": 0.0}


def title_of(meta: Meta, turns: list[Turn]) -> str:
    """The conversation's title: the visitor's, else its first question, else 新对话."""
    first = next((t["question"] for t in turns if t.get("question")), "")
    return short(meta.get("title") or first or messages.NEW_CONVERSATION, TITLE_CHARS)


def stored_turn(turn: Turn) -> dict[str, Any]:
    """What the browser keeps of a turn: no HTML (it is rendered again), the result or the notice."""
    error = turn.get("error")
    return StoredTurn(
        n=turn["n"],
        question=turn.get("question", ""),
        result=None if error else StoredResult.model_validate(turn.get("result") or {}),
        notice=(turn.get("notice") or messages.ERROR_MESSAGE) if error else "",
        feedback=StoredFeedback.model_validate(turn["feedback"]) if turn.get("feedback") else None,
    ).model_dump()


def restored_turn(stored: StoredTurn) -> Turn:
    """A validated stored turn as the page keeps it, its message rendered (escaped) again."""
    turn: Turn
    if stored.result is None:
        notice = stored.notice or messages.ERROR_MESSAGE
        turn = {
            "question": stored.question,
            "n": stored.n,
            "answer": "",
            "result": {},
            "error": True,
            "html": render_notice(notice),
            "notice": notice,
        }
    else:
        result = stored.result.model_dump()
        turn = {
            "question": stored.question,
            "n": stored.n,
            "answer": result["answer"],
            "result": result,
            "error": False,
            "html": render_answer(result, stored.n),
        }
    if stored.feedback is not None:
        feedback: Feedback = {"rating": stored.feedback.rating, "comment": stored.feedback.comment}
        turn["feedback"] = feedback
    return turn


def conversation(meta: Meta, turns: list[Turn]) -> dict[str, Any]:
    """The open conversation as the browser stores it."""
    return {
        "id": meta["id"],
        "title": title_of(meta, turns),
        "updated": meta.get("updated") or time.time(),
        "turns": [stored_turn(t) for t in turns],
    }


def validated(value: Any) -> Optional[StoredConversation]:
    """A stored conversation checked field by field, or None when it is malformed."""
    try:
        return StoredConversation.model_validate(value)
    except ValidationError:
        return None


def opened(stored: StoredConversation) -> tuple[Meta, list[Turn]]:
    """A stored conversation as the open one: its meta and its turns, rendered again."""
    meta: Meta = {"id": stored.id, "title": short(stored.title, TITLE_CHARS), "updated": stored.updated}
    turns = sorted((restored_turn(t) for t in stored.turns), key=lambda t: t["n"])
    return meta, turns


def entry(stored: StoredConversation) -> Meta:
    """A saved conversation as the list shows it."""
    return {
        "id": stored.id,
        "title": short(stored.title or messages.NEW_CONVERSATION, TITLE_CHARS),
        "updated": stored.updated,
    }


def saved_list(value: Any, *, exclude: str = "") -> list[StoredConversation]:
    """The saved conversations from the browser: valid, one per id, not the open one, newest first."""
    seen = {exclude}
    out = []
    for item in value if isinstance(value, list) else []:
        stored = validated(item)
        if stored is not None and stored.id not in seen and stored.turns:
            seen.add(stored.id)
            out.append(stored)
    return sorted(out, key=lambda c: c.updated, reverse=True)


def choices(meta: Meta, turns: list[Turn], index: list[Meta]) -> list[tuple[str, str]]:
    """(title, id) of every conversation for the list, newest first; the open one only once it has turns."""
    entries = list(index)
    if turns:
        entries.append({"id": meta["id"], "title": title_of(meta, turns), "updated": meta.get("updated") or 0.0})
    entries.sort(key=lambda e: e["updated"] or float("inf"), reverse=True)
    return [(e["title"], e["id"]) for e in entries]
