"""The chat handler's stream of updates: the first and last change the widgets, the ones between only the text.

A gr.update (gr.skip() too) makes Gradio rebuild the component and its API schema, so the updates while an
answer streams carry plain values; the chatbot's ratings are set once, and again only when they changed."""

from __future__ import annotations

import pytest

from bot.web import handlers
from bot.web.handlers import SEND_LABEL, Handlers
from bot.web.render import Rating, Turn, render_chat

pytestmark = pytest.mark.integration

QUESTION = "这次讲话提出了哪三点意见？"


def is_update(output) -> bool:
    return isinstance(output, dict) and output.get("__type__") == "update"


def rated_turn(n: int, rating: Rating) -> Turn:
    return {
        "question": f"问题{n}",
        "n": n,
        "answer": f"回答{n}",
        "html": f"回答{n}",
        "error": False,
        "result": {},
        "feedback": {"rating": rating, "comment": ""},
    }


@pytest.fixture
def every_token_shown(monkeypatch):
    monkeypatch.setattr(handlers, "STREAM_INTERVAL", 0.0)


def test_only_the_first_and_last_updates_change_the_widgets(seed_assistant, every_token_shown):
    h = Handlers(seed_assistant.settings, seed_assistant)
    earlier = [rated_turn(0, "up")]
    first, *between, last = list(h.ask(QUESTION, earlier))
    assert between, "the answer should stream in several updates"

    chat, _, box, send, turns = first
    assert is_update(chat) and chat["feedback_value"] == ["Like", None]
    assert box["interactive"] is False and send["interactive"] is False
    assert is_update(turns) and "value" not in turns  # the session's turns are left as they are
    for chat, sources, box, send, turns in between:
        assert not is_update(chat) and chat[-1]["role"] == "assistant"
        assert (box, send) == ("", SEND_LABEL)
        assert sources == first[1] and is_update(turns) and "value" not in turns
    assert between[-1][0][-1]["content"] != between[0][0][-1]["content"]  # the text grows

    chat, sources, box, send, turns = last
    assert chat == render_chat(turns)  # the ratings stand as the first update set them
    assert box["interactive"] is True and send["interactive"] is True
    assert [t["n"] for t in turns] == [0, 1] and 'id="src-1-' in sources


def test_the_last_update_sets_the_ratings_when_old_turns_are_dropped(seed_assistant):
    settings = seed_assistant.settings.replace(session_max_turns=2)
    h = Handlers(settings, seed_assistant)
    earlier = [rated_turn(0, "up"), rated_turn(1, "down")]
    first, *_, last = list(h.ask(QUESTION, earlier))
    assert first[0]["feedback_value"] == ["Like", "Dislike", None]
    chat, *_, turns = last
    assert [t["n"] for t in turns] == [1, 2]
    assert is_update(chat) and chat["feedback_value"] == ["Dislike", None]
    assert chat["value"] == render_chat(turns)


def test_an_answer_that_comes_at_once_is_two_updates(seed_assistant):
    """An extractive answer's pieces and final event arrive together: no partial update between the first and the
    last (each one is a whole Gradio update)."""
    h = Handlers(seed_assistant.settings, seed_assistant)
    updates = list(h.ask(QUESTION, []))
    assert len(updates) == 2
    chat, *_, turns = updates[-1]
    assert turns[-1]["answer"] and not turns[-1]["error"]


class Clock:
    now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_text_that_keeps_coming_is_shown_as_it_comes(seed_assistant, monkeypatch):
    """Pieces 30 ms apart (an LLM writing): the first is held, then the text shows every STREAM_INTERVAL."""
    clock = Clock()
    monkeypatch.setattr(handlers, "time", clock)

    class Writing:
        def __getattr__(self, name):
            return getattr(seed_assistant, name)

        def ask_stream(self, question, history):
            for event in seed_assistant.ask_stream(question, history):
                clock.now += 0.03
                yield event

    pieces = sum(1 for e in seed_assistant.ask_stream(QUESTION, []) if e["type"] == "token")
    h = Handlers(seed_assistant.settings, Writing())
    first, *between, last = list(h.ask(QUESTION, []))
    assert pieces >= 5 and len(between) == (pieces - 1) // 2  # 30 ms apart, shown at most every 50 ms
    texts = [chat[-1]["content"] for chat, *_ in between]
    assert all(a != b for a, b in zip(texts, texts[1:]))  # each shows more of the answer
