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
