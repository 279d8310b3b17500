"""Feedback on each answer: the chatbot's 👍/👎 under every answer, an optional comment, and what the
administrator sees of them (a table and a CSV file).

One record per answer (its id is the conversation's id and the turn's number): rating it again, or adding
a comment, updates that record; the same rating twice (a double click) writes nothing new; taking the
rating back (clicking the chosen thumb again) removes it. The record keeps the log's fields: time,
question, answer, citations, rating, comment (bot.web.feedback_log does the writing).
"""

from __future__ import annotations

import csv
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Optional

import gradio as gr

from bot.web import messages
from bot.web.conversations import Conversations
from bot.web.feedback_log import FeedbackLog
from bot.web.handlers import EXPORT_ROOT, drop_old_exports
from bot.web.history import Meta
from bot.web.render import CHATBOT_RATING, Feedback, Rating, Turn, turn_at
from core.settings import Settings

log = logging.getLogger(__name__)

# The chatbot's like value (True/False from its thumbs, or the option's name) as our rating.
RATINGS: dict[Any, Rating] = {True: "up", False: "down", CHATBOT_RATING["up"]: "up", CHATBOT_RATING["down"]: "down"}
# The admin's table and CSV: (header, Gradio datatype, share of the table's width) per column, in the order of
# feedback_rows().
FEEDBACK_COLUMNS: list[tuple[str, Literal["str"], str]] = [
    ("时间", "str", "12%"),
    ("评价", "str", "9%"),
    ("问题", "str", "19%"),
    ("回答", "str", "30%"),
    ("引用", "str", "15%"),
    ("意见", "str", "15%"),
]
CSV_NAME = "用户反馈-{stamp}.csv"
CSV_ENCODING = "utf-8-sig"  # with a BOM, so Excel reads the Chinese right
# A cell starting with one of these is a formula to a spreadsheet; anyone can write a comment, so such a
# cell is written with a leading apostrophe (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# turns, OPEN store, the answer the comment box is about, the comment box, the status line
RateOutput = tuple[list[Turn], Any, Optional[int], Any, str]


def record_id(meta: Meta, turn: Turn) -> str:
    """The feedback record's id: one per answer of one conversation."""
    return f"{meta['id']}-{turn['n']}"


def feedback_record(meta: Meta, turn: Turn, feedback: Feedback) -> dict[str, Any]:
    """The log record of a rated answer."""
    return {
        "id": record_id(meta, turn),
        "time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "question": turn["question"],
        "answer": turn["answer"],
        "citations": [
            {"n": c.get("n"), "source": c.get("source"), "section": c.get("section")}
            for c in turn["result"].get("citations", [])
        ],
        "rating": feedback["rating"],
        "comment": feedback["comment"],
    }


def rating_of(liked: Any) -> Optional[Rating]:
    """Our rating for the chatbot's like value (True/False or "Like"/"Dislike"); None when it was taken back."""
    try:
        return RATINGS.get(liked)
    except TypeError:  # an unhashable value from a hand-made request
        return None


class FeedbackHandlers:
    """Rating and commenting answers, written to settings.web.feedback_log."""

    def __init__(self, settings: Settings, conversations: Conversations):
        self.settings = settings
        self.conversations = conversations
        web = settings.web
        self.log = FeedbackLog(web.feedback_log, max_kb=web.feedback_log_max_kb, backups=web.feedback_log_backups)

    def _changed(self, turns: list[Turn], turn: Turn, feedback: Optional[Feedback]) -> list[Turn]:
        """The turns with `turn`'s feedback replaced."""
        updated: Turn = {**turn, "feedback": feedback}
        return [updated if t["n"] == turn["n"] else t for t in turns]

    def rate(self, turns: Optional[list[Turn]], meta: Meta, like: gr.LikeData) -> RateOutput:
        """👍/👎 on one answer (or taking it back): the record written, the comment box opened for it."""
        turns = turns or []
        index = like.index if isinstance(like.index, int) else -1
        turn = turn_at(turns, index)
        if turn is None or turn.get("error"):
            return turns, gr.skip(), None, gr.update(visible=False), messages.FEEDBACK_NOT_AN_ANSWER
        number = turn["n"] + 1
        rating = rating_of(like.liked)
        try:
            if rating is None:
                self.log.remove(record_id(meta, turn))
                turns = self._changed(turns, turn, None)
                return (
                    turns,
                    self.conversations.stored(meta, turns),
                    None,
                    gr.update(visible=False, value=""),
                    messages.FEEDBACK_WITHDRAWN.format(number=number),
                )
            old = turn.get("feedback")
            feedback: Feedback = {"rating": rating, "comment": old["comment"] if old else ""}
            self.log.put(feedback_record(meta, turn, feedback))
        except OSError:
            log.exception("writing feedback to %s failed", self.log.path)
            return turns, gr.skip(), None, gr.skip(), messages.FEEDBACK_FAILED
        turns = self._changed(turns, turn, feedback)
        status = messages.FEEDBACK_RECORDED_UP if rating == "up" else messages.FEEDBACK_RECORDED_DOWN
        comment_box = gr.update(
            visible=True, value=feedback["comment"], label=messages.FEEDBACK_COMMENT_LABEL.format(number=number)
        )
        return turns, self.conversations.stored(meta, turns), turn["n"], comment_box, status.format(number=number)

    def comment(
        self, text: Optional[str], rated: Optional[int], turns: Optional[list[Turn]], meta: Meta
    ) -> tuple[list[Turn], Any, Any, str]:
        """The comment on the answer just rated, added to its record: turns, OPEN store, comment box, status."""
        turns = turns or []
        text = (text or "").strip()
        limit = self.settings.web.feedback_max_comment_chars
        if len(text) > limit:  # refused, and handed back cut to the limit for the visitor to finish
            return turns, gr.skip(), text[:limit], messages.FEEDBACK_TOO_LONG.format(chars=len(text), limit=limit)
        turn = next((t for t in turns if t["n"] == rated), None)
        old = turn.get("feedback") if turn is not None else None
        if turn is None or not old:
            return turns, gr.skip(), text, messages.FEEDBACK_RATE_FIRST
        feedback: Feedback = {"rating": old["rating"], "comment": text}
        try:
            self.log.put(feedback_record(meta, turn, feedback))
        except OSError:
            log.exception("writing feedback to %s failed", self.log.path)
            return turns, gr.skip(), text, messages.FEEDBACK_FAILED
        turns = self._changed(turns, turn, feedback)
        return turns, self.conversations.stored(meta, turns), text, messages.FEEDBACK_THANKS


# ---------------------------------------------------------------------- what the administrator sees
def citations_text(citations: Any) -> str:
    """A record's citations on one line: [1] 文件 · 章节；[2] …"""
    parts = []
    for c in citations if isinstance(citations, list) else []:
        if not isinstance(c, dict):
            continue
        name = Path(str(c.get("source") or "")).name
        section = f" · {c['section']}" if c.get("section") else ""
        parts.append(f"[{c.get('n')}] {name}{section}")
    return "；".join(parts)


def feedback_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """One row per record, the latest written (or updated) first, in FEEDBACK_COLUMNS order."""
    latest_first = sorted(reversed(records), key=lambda r: str(r.get("time", "")), reverse=True)
    return [
        [
            str(r.get("time", "")).replace("T", " ")[:19],
            messages.RATING_LABELS.get(str(r.get("rating")), str(r.get("rating", ""))),
            str(r.get("question", "")),
            str(r.get("answer", "")),
            citations_text(r.get("citations")),
            str(r.get("comment", "")),
        ]
        for r in latest_first
    ]


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def write_csv(records: list[dict[str, Any]], *, max_age: float) -> Path:
    """The feedback as a CSV file in its own folder under EXPORT_ROOT (old exports removed first)."""
    drop_old_exports(max_age)
    folder = EXPORT_ROOT / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CSV_NAME.format(stamp=datetime.now().strftime("%Y%m%d-%H%M%S"))
    with open(path, "w", encoding=CSV_ENCODING, newline="") as f:
        writer = csv.writer(f)
        writer.writerow([header for header, _, _ in FEEDBACK_COLUMNS])
        writer.writerows([[safe_cell(cell) for cell in row] for row in feedback_rows(records)])
    return path
