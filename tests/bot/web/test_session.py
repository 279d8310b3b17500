"""bot.web.session.session_prop: a component's property as the session shows it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.web.session import UNKNOWN, session_prop

pytestmark = pytest.mark.unit

CHATBOT_ID = 7


def page(session_copies: dict) -> SimpleNamespace:
    """A page whose state holder has one session ("s1") holding these copies of components (id -> copy)."""
    session = SimpleNamespace(blocks_config=SimpleNamespace(blocks=session_copies))
    return SimpleNamespace(state_holder=SimpleNamespace(session_data={"s1": session}))


CHATBOT = SimpleNamespace(_id=CHATBOT_ID, feedback_value=None)  # as the page built it


def test_the_sessions_last_update_wins_over_the_page():
    blocks = page({CHATBOT_ID: SimpleNamespace(_id=CHATBOT_ID, feedback_value=["Like", None])})
    assert session_prop(blocks, SimpleNamespace(session_hash="s1"), CHATBOT, "feedback_value") == ["Like", None]


def test_a_component_the_session_never_updated_shows_the_pages_value():
    assert session_prop(page({}), SimpleNamespace(session_hash="s1"), CHATBOT, "feedback_value") is None


@pytest.mark.parametrize(
    "request_, component, prop",
    [
        (None, CHATBOT, "feedback_value"),  # outside a request
        (SimpleNamespace(session_hash="gone"), CHATBOT, "feedback_value"),  # a session Gradio does not hold
        (SimpleNamespace(session_hash="s1"), None, "feedback_value"),  # no component
        (SimpleNamespace(session_hash="s1"), CHATBOT, "no_such_prop"),
    ],
    ids=["no-request", "unknown-session", "no-component", "no-prop"],
)
def test_unknown_when_it_cannot_be_told(request_, component, prop):
    assert session_prop(page({}), request_, component, prop) is UNKNOWN
