"""The functions behind the conversation list: restore on load, save after an answer, start, open, rename,
delete and clear conversations. What is stored, and why in the browser, is `history`'s.

The server keeps per session what it kept before (the open conversation's turns, bounded by
bot.web.session) plus that conversation's id and title and the titles of the others; the conversations
themselves are in the browser's two stores, which these functions rewrite.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Optional

import gradio as gr

from bot.web import messages
from bot.web.handlers import chat_update
from bot.web.history import (
    OPEN_SHARE,
    TITLE_CHARS,
    Meta,
    budget,
    choices,
    conversation,
    entry,
    new_meta,
    opened,
    saved_list,
    title_of,
    trim_open,
    trim_saved,
    validated,
)
from bot.web.render import Turn, esc, render_sources
from core.settings import Settings

Update = dict[str, Any]  # what gr.update() returns


class View(NamedTuple):
    """What a conversation action shows, in the order of the layout's outputs; gr.skip() leaves a part as it is."""

    open_store: Any  # the browser's OPEN store: the conversation on screen
    saved_store: Any  # the browser's SAVED store: the others, newest first
    turns: Any  # the session's turns (gr.State)
    meta: Any  # the open conversation's id, title and time (gr.State)
    index: Any  # the saved conversations' ids, titles and times (gr.State)
    chatbot: Any
    sources: Any
    conversations: Any  # the list to choose from
    title: Any  # the open conversation's title, editable
    rated: Any  # which answer the feedback comment is about (gr.State)
    comment: Any  # the feedback comment box
    status: Any  # the feedback / history status line


# Parts View fills when it shows the rest of a conversation, and the save after an answer changes.
SAVED_PARTS = ("open_store", "meta", "conversations", "title")


class Conversations:
    """The conversation list over the browser's stores, bounded by settings.web.history_*."""

    def __init__(self, settings: Settings):
        self.settings = settings
        total = budget(settings.web)
        self.open_limit = int(total * OPEN_SHARE)
        self.saved_limit = total - self.open_limit
        self.max_saved = settings.web.history_max_conversations - 1  # the open conversation is one of them

    # ------------------------------------------------------------------ pieces
    def stored(self, meta: Meta, turns: list[Turn]) -> dict[str, Any]:
        """The open conversation as the OPEN store keeps it (its oldest turns dropped beyond its share)."""
        return trim_open(conversation(meta, turns), limit=self.open_limit)

    def _filed(self, meta: Meta, turns: list[Turn], saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """SAVED with the open conversation put first (when it has turns), cut to its bounds."""
        if turns:
            saved = [self.stored(meta, turns), *saved]
        return trim_saved(saved, limit=self.saved_limit, max_count=self.max_saved)

    @staticmethod
    def _title(meta: Meta, turns: list[Turn]) -> str:
        """What the title box shows: empty for a new conversation the visitor has not named."""
        return title_of(meta, turns) if (turns or meta.get("title")) else ""

    def _list(self, meta: Meta, turns: list[Turn], index: list[Meta]) -> tuple[Update, str]:
        """The conversation list and the title box."""
        title = self._title(meta, turns)
        listed = choices(meta, turns, index)
        info = "" if listed else messages.HISTORY_EMPTY
        return gr.update(choices=listed, value=meta["id"] if turns else None, info=info), title

    def _view(self, meta: Meta, turns: list[Turn], index: list[Meta], *, saved_store: Any, status: str = "") -> View:
        listed, title = self._list(meta, turns, index)
        return View(
            open_store=self.stored(meta, turns),
            saved_store=saved_store,
            turns=turns,
            meta=meta,
            index=index,
            chatbot=chat_update(turns),
            sources=render_sources(turns),
            conversations=listed,
            title=title,
            rated=None,
            comment=gr.update(value="", visible=False),
            status=status,
        )

    # ------------------------------------------------------------------ events
    def restore(self, open_value: Any, saved_value: Any) -> View:
        """On page load: the browser's stores, checked, with the open conversation on screen."""
        stored_open = validated(open_value)
        if stored_open is not None:
            meta, turns = opened(stored_open)
        else:
            meta, turns = new_meta(), []
        saved = saved_list(saved_value, exclude=meta["id"])
        kept = trim_saved(
            [s.model_dump() for s in saved], limit=self.saved_limit, max_count=self.max_saved
        )  # the settings may have shrunk since they were stored
        index = [entry(s) for s in saved[: len(kept)]]
        return self._view(meta, turns, index, saved_store=kept)

    def save(
        self, turns: Optional[list[Turn]], meta: Meta, index: list[Meta], *, shown: Optional[list[Any]] = None
    ) -> tuple[Any, ...]:
        """After an answer: the open conversation stored, named by its first question unless renamed. When the
        list's entries are those it shows already (`shown`, as `choices` gives them), only its selection is
        sent: for a gr.update Gradio rebuilds the component in the session's config."""
        turns = turns or []
        if not turns:
            return tuple(gr.skip() for _ in SAVED_PARTS)
        meta = {**meta, "updated": time.time()}
        update, title = self._list(meta, turns, index)
        same = shown is not None and update["choices"] == shown
        return self.stored(meta, turns), meta, meta["id"] if same else update, title

    def as_shown(self, meta: Meta, turns: list[Turn]) -> tuple[Any, ...]:
        """The SAVED_PARTS left as they are: the stores untouched, the list's selection and the title as shown
        (plain values; a gr.skip() would have Gradio rebuild the list and the title box)."""
        return gr.skip(), gr.skip(), meta["id"] if turns else None, self._title(meta, turns)

    def saving(self, ask: Callable[..., Iterator[tuple[Any, ...]]]) -> Callable[..., Iterator[tuple[Any, ...]]]:
        """The answering event with the save in its last update (one event per question, not an answer and
        then a save that the browser sends once the answer is complete: each event costs the app a queue
        round of its own). ask(question, turns, request) yields its updates, the last one ending with the
        turns (earlier ones end with gr.skip()); each update gets the SAVED_PARTS after it."""

        def ask_and_save(
            question: Optional[str],
            turns: Optional[list[Turn]],
            meta: Meta,
            index: list[Meta],
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            before = turns or []
            shown = choices(meta, before, index)
            for update in ask(question, turns, request):
                done = update[-1]
                if isinstance(done, list):
                    yield (*update, *self.save(done, meta, index, shown=shown))
                else:
                    yield (*update, *self.as_shown(meta, before))

        return ask_and_save

    def start(self, turns: Optional[list[Turn]], meta: Meta, saved_value: Any = None) -> View:
        """新对话: the open conversation joins the saved ones; an empty one opens."""
        saved = self._filed(meta, turns or [], [s.model_dump() for s in saved_list(saved_value, exclude=meta["id"])])
        index = [entry(s) for s in saved_list(saved)]
        return self._view(new_meta(), [], index, saved_store=saved)

    def switch(self, target: Optional[str], turns: Optional[list[Turn]], meta: Meta, saved_value: Any) -> View:
        """Open a saved conversation; the one on screen joins the saved ones."""
        turns = turns or []
        others = saved_list(saved_value, exclude=meta["id"])
        chosen = next((s for s in others if s.id == target), None)
        if chosen is None:  # the open one again, or one deleted in another window
            index = [entry(s) for s in others]
            status = "" if target == meta["id"] else messages.HISTORY_NOT_FOUND
            return self._view(meta, turns, index, saved_store=gr.skip(), status=status)
        rest = [s.model_dump() for s in others if s.id != chosen.id]
        saved = self._filed(meta, turns, rest)
        new_meta_, new_turns = opened(chosen)
        index = [entry(s) for s in saved_list(saved)]
        return self._view(new_meta_, new_turns, index, saved_store=saved)

    def rename(
        self, title: Optional[str], turns: Optional[list[Turn]], meta: Meta, index: list[Meta]
    ) -> tuple[Any, ...]:
        """Name the open conversation (an empty name gives it back its first question)."""
        turns = turns or []
        meta = {**meta, "title": " ".join((title or "").split())[:TITLE_CHARS]}
        listed, shown = self._list(meta, turns, index)
        return self.stored(meta, turns), meta, listed, shown

    def delete(self, turns: Optional[list[Turn]], meta: Meta, index: list[Meta]) -> View:
        """删除此对话: the open conversation is gone from the browser; an empty one opens."""
        status = messages.HISTORY_DELETED.format(title=esc(title_of(meta, turns or []))) if turns else ""
        return self._view(new_meta(), [], index, saved_store=gr.skip(), status=status)

    def clear(self) -> View:
        """清空全部对话: every conversation is gone from the browser."""
        return self._view(new_meta(), [], [], saved_store=[], status=messages.HISTORY_CLEARED)
