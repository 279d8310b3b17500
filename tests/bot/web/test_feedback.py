"""Feedback on each answer: one record per answer in the log (double clicks, changed ratings, comments, ratings
taken back), and what the administrator sees of it (rows, a CSV a spreadsheet cannot run)."""

from __future__ import annotations

import csv
import json

import gradio as gr
import pytest

from bot.web import messages
from bot.web.conversations import Conversations
from bot.web.feedback import FEEDBACK_COLUMNS, FeedbackHandlers, feedback_rows, record_id, write_csv
from bot.web.feedback_log import FeedbackLog
from bot.web.render import chat_ratings, render_chat, turn_at
from core.settings import Settings

pytestmark = pytest.mark.unit

META = {"id": "0123456789abcdef", "title": "", "updated": 0.0}


def answered(n: int, question: str = "去年开展了多少场理论宣讲活动？") -> dict:
    result = {"answer": "开展活动215场[1]。", "citations": [{"n": 1, "source": "k/a.txt", "section": "一、"}]}
    return {"question": question, "n": n, "answer": result["answer"], "result": result, "html": "答", "error": False}


def notice(n: int) -> dict:
    return {"question": "", "n": n, "answer": "", "result": {}, "html": "⚠️", "error": True, "notice": "问题不能为空。"}


def handlers(tmp_path, **overrides) -> FeedbackHandlers:
    settings = Settings.load(env_file=None, feedback_log=tmp_path / "feedback.jsonl", **overrides)
    return FeedbackHandlers(settings, Conversations(settings))


def like(index: int, liked) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": ["答"], "liked": liked})


def lines(log: FeedbackLog) -> list[dict]:
    return [json.loads(line) for p in reversed(log.files()) for line in p.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------- which answer a click is about
def test_a_message_index_names_its_turn():
    turns = [answered(0), notice(1), answered(2, "追问")]  # a notice has no question message
    chat = render_chat(turns)
    assert [m["role"] for m in chat] == ["user", "assistant", "assistant", "user", "assistant"]
    assert turn_at(turns, 1)["n"] == 0 and turn_at(turns, 2)["n"] == 1 and turn_at(turns, 4)["n"] == 2
    assert turn_at(turns, 0) is None and turn_at(turns, 3) is None and turn_at(turns, 9) is None
    turns[2]["feedback"] = {"rating": "down", "comment": ""}
    assert chat_ratings(turns) == [None, None, "Dislike"]


# ---------------------------------------------------------------------- one record per answer
def test_a_double_click_logs_once_and_a_changed_rating_updates(tmp_path):
    h = handlers(tmp_path)
    turns = [answered(0), answered(1, "追问")]
    turns, _, rated, box, status = h.rate(turns, META, like(3, True))
    assert rated == 1 and box["visible"] and status == messages.FEEDBACK_RECORDED_UP.format(number=2)
    turns, *_ = h.rate(turns, META, like(3, True))  # the second click of a double click, had it got through
    assert [r["rating"] for r in lines(h.log)] == ["up"]
    turns, *_ = h.rate(turns, META, like(3, False))
    turns, *_ = h.rate(turns, META, like(1, "Dislike"))
    records = lines(h.log)
    assert [(r["id"], r["rating"]) for r in records] == [
        (record_id(META, turns[1]), "down"),
        (record_id(META, turns[0]), "down"),
    ]
    assert set(records[0]) == {"id", "time", "question", "answer", "citations", "rating", "comment"}
    assert turns[1]["feedback"] == {"rating": "down", "comment": ""}


def test_a_comment_joins_its_answers_record_and_a_rating_taken_back_removes_it(tmp_path):
    h = handlers(tmp_path)
    turns = [answered(0)]
    turns, stored, rated, _, _ = h.rate(turns, META, like(1, False))
    assert stored["turns"][0]["feedback"] == {"rating": "down", "comment": ""}  # kept in the browser's history
    turns, stored, box, status = h.comment("  来源段落太长  ", rated, turns, META)
    assert status == messages.FEEDBACK_THANKS and box == "来源段落太长"
    turns, *_ = h.rate(turns, META, like(1, True))  # a new rating keeps the comment
    assert [(r["rating"], r["comment"]) for r in lines(h.log)] == [("up", "来源段落太长")]
    turns, stored, rated, box, status = h.rate(turns, META, like(1, ""))  # the chosen thumb clicked again
    assert lines(h.log) == [] and rated is None and not box["visible"]
    assert status == messages.FEEDBACK_WITHDRAWN.format(number=1) and stored["turns"][0]["feedback"] is None


def test_notices_are_not_rated_and_comments_need_a_rating(tmp_path):
    h = handlers(tmp_path)
    turns = [notice(0), answered(1)]
    *_, status = h.rate(turns, META, like(0, True))
    assert status == messages.FEEDBACK_NOT_AN_ANSWER
    _, _, _, status = h.comment("意见", 1, turns, META)
    assert status == messages.FEEDBACK_RATE_FIRST
    assert not h.log.files()


def test_a_comment_over_the_limit_is_refused_and_handed_back_cut(tmp_path):
    h = handlers(tmp_path, feedback_max_comment_chars=10)
    turns, _, rated, _, _ = h.rate([answered(0)], META, like(1, True))
    _, _, box, status = h.comment("评" * 11, rated, turns, META)
    assert status == messages.FEEDBACK_TOO_LONG.format(chars=11, limit=10) and box == "评" * 10
    assert [r["comment"] for r in lines(h.log)] == [""]


def test_an_update_reaches_a_record_in_a_rotated_file(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", max_kb=1, backups=3)
    log.put({"id": "a", "rating": "up", "comment": "x" * 600})
    log.put({"id": "b", "rating": "up", "comment": "y" * 600})  # rotates: "a" is now in feedback.jsonl.1
    assert [p.name for p in log.files()] == ["feedback.jsonl", "feedback.jsonl.1"]
    assert log.put({"id": "a", "rating": "down", "comment": "x" * 600}) == "updated"
    assert log.put({"id": "a", "rating": "down", "comment": "x" * 600, "time": "later"}) == "unchanged"
    assert [(r["id"], r["rating"]) for r in log.records()] == [("a", "down"), ("b", "up")]
    assert log.remove("a") == "removed" and log.remove("a") == "absent"
    assert [r["id"] for r in log.records()] == ["b"]


def test_records_keep_old_lines_without_an_id_and_skip_torn_ones(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    log.append({"question": "旧记录一", "rating": "up"})
    log.append({"question": "旧记录二", "rating": "up"})
    with open(log.path, "a", encoding="utf-8") as f:
        f.write('{"question": "断开的\n')
    log.put({"id": "x", "question": "新记录", "rating": "down"})
    assert [r["question"] for r in log.records()] == ["旧记录一", "旧记录二", "新记录"]


# ---------------------------------------------------------------------- what the administrator sees
def test_rows_and_csv_show_every_field_and_no_formula(tmp_path):
    records = [
        {
            "time": "2026-01-02T03:04:05+08:00",
            "question": "问一",
            "answer": "答一[1]。",
            "rating": "up",
            "comment": "",
            "citations": [
                {"n": 1, "source": "k/冬训.txt", "section": "一、"},
                {"n": 2, "source": "k/b.pdf", "section": ""},
            ],
        },
        {
            "time": "2026-01-03T03:04:05+08:00",
            "question": '=HYPERLINK("http://x")',
            "answer": "答二",
            "rating": "down",
            "comment": "-1+2",
            "citations": [],
        },
    ]
    rows = feedback_rows(records)
    assert rows[0][:3] == [
        "2026-01-03 03:04:05",
        messages.RATING_LABELS["down"],
        '=HYPERLINK("http://x")',
    ]  # newest first
    assert rows[1][4] == "[1] 冬训.txt · 一、；[2] b.pdf"
    path = write_csv(records, max_age=3600)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese right
    with open(path, encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == [header for header, _, _ in FEEDBACK_COLUMNS]
    assert table[1][2] == '\'=HYPERLINK("http://x")' and table[1][5] == "'-1+2"  # shown as text, never run
    assert table[2][2] == "问一" and table[2][1] == messages.RATING_LABELS["up"]
