"""Conversation history kept in the browser: stored and restored turns, what a tampered store can do (nothing),
the bounds, and the conversation list's handlers (start, open, rename, delete, clear) on plain values."""

from __future__ import annotations

import pytest

from bot.web import messages
from bot.web.conversations import Conversations, View
from bot.web.history import (
    ENVELOPE_KB,
    KB,
    budget,
    choices,
    conversation,
    new_meta,
    opened,
    restored_turn,
    saved_list,
    size,
    stored_turn,
    trim_open,
    trim_saved,
    validated,
)
from bot.web.render import render_answer, render_sources
from core.settings import Settings

pytestmark = pytest.mark.unit

SCRIPT = "<script>window.__xss=1</script>"
CITATION = {
    "n": 1,
    "source": "k/冬训动员部署会讲话.txt",
    "title": "冬训动员部署会讲话",
    "section": "一、",
    "text": "开展各类理论宣讲活动215场。",
    "start": 0,
    "end": 14,
    "page": None,
}


def result(question: str = "去年开展了多少场理论宣讲活动？", answer: str = "开展各类理论宣讲活动215场[1]。") -> dict:
    return {
        "question": question,
        "rewritten_question": question,
        "answer": answer,
        "refused": False,
        "citations": [dict(CITATION)],
        "unsupported": [],
    }


def turn(n: int, question: str = "去年开展了多少场理论宣讲活动？", **extra) -> dict:
    r = result(question)
    return {
        "question": question,
        "n": n,
        "answer": r["answer"],
        "result": r,
        "html": render_answer(r, n),
        "error": False,
        **extra,
    }


def notice(n: int) -> dict:
    return {"question": "", "n": n, "answer": "", "result": {}, "error": True, "html": "x", "notice": "问题不能为空。"}


def settings(**overrides) -> Settings:
    return Settings.load(env_file=None, **overrides)


# ---------------------------------------------------------------------- stored turns
def test_a_turn_comes_back_as_it_was_shown():
    t = turn(3, feedback={"rating": "down", "comment": "太长"})
    stored = stored_turn(t)
    assert "html" not in stored  # rendered again, never stored
    back = restored_turn(validated({"id": "0" * 16, "turns": [stored]}).turns[0])
    assert back["html"] == t["html"] and back["n"] == 3 and back["result"]["citations"][0]["text"] == CITATION["text"]
    assert back["feedback"] == {"rating": "down", "comment": "太长"}
    assert render_sources([back]) == render_sources([t])  # the sources panel too


def test_a_notice_comes_back_as_a_notice():
    back = restored_turn(validated({"id": "0" * 16, "turns": [stored_turn(notice(0))]}).turns[0])
    assert back["error"] and "问题不能为空" in back["html"]


def test_html_in_a_tampered_store_is_never_shown():
    stored = stored_turn(turn(0))
    stored["html"] = SCRIPT  # ignored: not part of the stored shape
    stored["question"] = SCRIPT
    stored["result"]["answer"] = f"答案{SCRIPT}[1]。"
    stored["result"]["citations"][0]["text"] = SCRIPT
    meta, turns = opened(validated({"id": "a" * 16, "title": SCRIPT, "turns": [stored]}))
    shown = turns[0]["html"] + render_sources(turns)
    assert "<script>" not in shown and "&lt;script&gt;" in shown


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        {"id": "not-hex", "turns": []},
        {"id": "0" * 16, "turns": [{"n": -1}]},
        {"id": "0" * 16, "turns": [{"n": 0, "result": {"citations": [{"n": "one"}]}}]},
        {"id": "0" * 16, "turns": "many"},
    ],
    ids=["none", "string", "bad-id", "negative-turn", "bad-citation", "turns-not-a-list"],
)
def test_a_malformed_conversation_is_dropped(value):
    assert validated(value) is None
    assert saved_list([value, conversation({"id": "1" * 16, "title": "", "updated": 1.0}, [turn(0)])])[0].id == "1" * 16


def test_saved_list_is_newest_first_one_per_id_and_without_the_open_one():
    def conv(i: str, updated: float) -> dict:
        return conversation({"id": i * 16, "title": "", "updated": updated}, [turn(0)])

    listed = saved_list([conv("1", 1), conv("2", 3), conv("1", 2), conv("3", 5), conv("4", 4)], exclude="3" * 16)
    assert [s.id[0] for s in listed] == ["4", "2", "1"]


# ---------------------------------------------------------------------- bounds
def test_the_budget_stays_below_the_request_limit():
    assert budget(settings().web) == 768 * KB
    assert budget(settings(history_max_kb=100_000, max_request_kb=256).web) == (256 - ENVELOPE_KB) * KB


def test_trim_open_drops_the_oldest_turns_and_keeps_the_latest():
    conv = conversation(new_meta(), [turn(n) for n in range(10)])
    limit = size(conv) // 2
    kept = trim_open(conv, limit=limit)
    assert size(kept) <= limit and [t["n"] for t in kept["turns"]] == list(range(10 - len(kept["turns"]), 10))
    assert [t["n"] for t in trim_open(conv, limit=1)["turns"]] == [9]  # the latest always stays


def test_trim_saved_keeps_the_newest_within_size_and_count():
    saved = [conversation({"id": f"{i:016x}", "title": "", "updated": 100 - i}, [turn(0)]) for i in range(10)]
    one = size(saved[0])
    assert len(trim_saved(saved, limit=10**9, max_count=4)) == 4
    kept = trim_saved(saved, limit=3 * one + 4, max_count=100)
    assert kept == saved[:3] and size(kept) <= 3 * one + 4


def test_choices_list_the_open_conversation_only_once_it_has_turns():
    meta = {"id": "f" * 16, "title": "", "updated": 0.0}
    index = [{"id": "1" * 16, "title": "旧的", "updated": 5.0}, {"id": "2" * 16, "title": "较新", "updated": 9.0}]
    assert choices(meta, [], index) == [("较新", "2" * 16), ("旧的", "1" * 16)]
    assert choices(meta, [turn(0, "新问题")], index)[0] == ("新问题", "f" * 16)


# ---------------------------------------------------------------------- the conversation list
def value(part):
    """The value a gr.update() or a plain output carries."""
    return part["value"] if isinstance(part, dict) and "__type__" in part else part


def test_start_open_rename_delete_clear():
    c = Conversations(settings())
    first = c.restore(None, None)
    assert value(first.chatbot) == [] and first.saved_store == [] and first.conversations["choices"] == []
    assert first.conversations["info"] == messages.HISTORY_EMPTY

    meta_a, turns_a = first.meta, [turn(0, "第一个问题"), turn(1, "追问")]
    opened_a, meta_a, listed, title = c.save(turns_a, meta_a, first.index)
    assert opened_a["title"] == "第一个问题" == title and listed["value"] == meta_a["id"]

    started: View = c.start(turns_a, meta_a, first.saved_store)
    assert [s["id"] for s in started.saved_store] == [meta_a["id"]] and started.turns == []
    assert started.meta["id"] != meta_a["id"]

    meta_b, turns_b = started.meta, [turn(0, "第二个对话")]
    _, meta_b, listed, _ = c.save(turns_b, meta_b, started.index)
    assert [label for label, _ in listed["choices"]] == ["第二个对话", "第一个问题"]

    back = c.switch(meta_a["id"], turns_b, meta_b, started.saved_store)
    assert back.meta["id"] == meta_a["id"] and [t["question"] for t in back.turns] == ["第一个问题", "追问"]
    assert [s["id"] for s in back.saved_store] == [meta_b["id"]]
    assert 'id="src-1-1"' in back.sources and back.open_store["id"] == meta_a["id"]

    stored, meta_a, listed, title = c.rename("  我的  冬训 问题 ", back.turns, back.meta, back.index)
    assert title == "我的 冬训 问题" == stored["title"]
    assert ("我的 冬训 问题", meta_a["id"]) in listed["choices"]

    gone = c.delete(back.turns, meta_a, back.index)
    assert gone.turns == [] and gone.open_store["turns"] == [] and gone.open_store["id"] != meta_a["id"]
    assert "我的 冬训 问题" in gone.status
    assert [e["id"] for e in gone.index] == [meta_b["id"]]  # the others stay

    cleared = c.clear()
    assert cleared.saved_store == [] and cleared.index == [] and cleared.turns == []


def test_an_answer_saves_its_conversation_in_its_last_update_and_resends_the_list_only_when_it_changes():
    """saving(ask): one event per question. Updates before the last leave the stores alone and show the list's
    selection and the title as they are (plain values); the last one stores the conversation, and rebuilds the
    list (a gr.update) only when its entries change: a conversation's first answer, or one reopened from
    below another."""
    import gradio as gr

    c = Conversations(settings())
    skip = gr.skip()

    def ask(question, turns, request):  # the shape of Handlers.ask: the turns come with the last update
        yield ("chat", "sources", skip)
        yield ("chat", "sources", [*(turns or []), turn(len(turns or []), question)])

    answer = c.saving(ask)
    view = c.restore(None, None)
    first, last = list(answer("第一个问题", [], view.meta, view.index, None))
    assert first[3:] == (skip, skip, None, "")  # nothing to list yet
    stored, meta, listed, title = last[3:]
    assert stored["title"] == title == "第一个问题" and meta["updated"] > 0
    assert isinstance(listed, dict) and listed["choices"] == [("第一个问题", meta["id"])]  # first answer: rebuilt

    turns = last[2]
    first, last = list(answer("追问", turns, meta, view.index, None))
    assert first[3:] == (skip, skip, meta["id"], "第一个问题")
    stored, meta, listed, _ = last[3:]
    assert listed == meta["id"] and len(stored["turns"]) == 2  # same entries: only the selection

    started = c.start(last[2], meta, [])  # a second conversation, newer; then the first one reopened
    _, last = list(answer("第二个对话", [], started.meta, started.index, None))
    back = c.switch(meta["id"], last[2], last[4], started.saved_store)
    assert [label for label, _ in back.conversations["choices"]] == ["第二个对话", "第一个问题"]
    _, last = list(answer("再问", back.turns, back.meta, back.index, None))
    listed = last[5]
    assert isinstance(listed, dict) and [label for label, _ in listed["choices"]] == ["第一个问题", "第二个对话"]


def test_a_conversation_deleted_elsewhere_is_not_opened():
    c = Conversations(settings())
    meta = new_meta()
    view = c.switch("0" * 16, [turn(0)], meta, [])
    assert view.meta == meta and view.status == messages.HISTORY_NOT_FOUND


def test_the_browser_never_holds_more_than_the_budget():
    s = settings(history_max_kb=64, history_max_conversations=5)
    c = Conversations(s)
    limit = budget(s.web)
    view = c.restore(None, None)
    long_answer = "长" * 3000
    for i in range(12):  # more conversations, and bigger, than the budget holds
        turns = [turn(n, f"第{i}个对话的问题{n}") for n in range(6)]
        for t in turns:
            t["result"]["answer"] = long_answer
        opened_store, meta, _, _ = c.save(turns, view.meta, view.index)
        assert size(opened_store) + size(view.saved_store) <= limit
        view = c.start(turns, meta, view.saved_store)
        assert len(view.saved_store) <= s.web.history_max_conversations - 1
        assert size(view.open_store) + size(view.saved_store) <= limit
    assert view.saved_store[0]["title"].startswith("第11个对话")  # the newest kept, the oldest dropped
    again = c.restore(view.open_store, view.saved_store)
    assert again.saved_store == view.saved_store
