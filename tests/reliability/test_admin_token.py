"""Issue 10 item 9: the admin token must be long enough to turn the 知识库 tab on; wrong guesses are logged (by
client address, never the token) and lock the client out, longer each time, the right token included.

Before: 400 guesses in 19.5 s, no throttling, no log, and a one-space token turned the tab on."""

from __future__ import annotations

import logging

import pytest

from bot.web import messages
from bot.web.admin import MIN_TOKEN_CHARS, admin_token, disabled_note
from bot.web.throttle import Throttle
from core.settings import Settings

TOKEN = "correct-horse-battery-staple"
FAILURES = 3
LOCKOUT = 30  # seconds: longer than the test, so every later attempt falls in the lock-out
GUESSES = 12


@pytest.mark.unit
@pytest.mark.parametrize(
    "configured, enabled",
    [
        (None, False),
        ("", False),
        (" ", False),
        ("     \t ", False),
        ("a" * 11, False),
        (" " + "a" * 11 + "  ", False),
        ("a" * 12, True),
        ("  " + "a" * 12 + " ", True),
    ],
    ids=["unset", "empty", "one-space", "blank", "11", "11-padded", "12", "12-padded"],
)
def test_a_short_or_blank_token_keeps_the_tab_off(configured, enabled):
    settings = Settings.load(env_file=None, admin_token=configured)
    assert (admin_token(settings) is not None) is enabled
    note = disabled_note(settings)
    if enabled:
        assert note is None
    elif configured:
        assert note == messages.SHORT_TOKEN_NOTE.format(min_chars=MIN_TOKEN_CHARS) and "至少" in note
    else:
        assert note == messages.NO_TOKEN_NOTE


@pytest.mark.unit
def test_lockouts_double_up_to_the_cap():
    now = [0.0]
    throttle = Throttle(max_failures=2, lockout_seconds=10, max_lockout_seconds=25, clock=lambda: now[0])
    lengths = []
    for _ in range(4):
        assert throttle.failed("10.0.0.1") == (1, 0.0)
        failures, seconds = throttle.failed("10.0.0.1")
        assert failures == 2 and throttle.locked_for("10.0.0.1") == seconds
        assert throttle.locked_for("10.0.0.2") == 0  # per client
        lengths.append(seconds)
        now[0] += seconds
        assert throttle.locked_for("10.0.0.1") == 0
    assert lengths == [10, 20, 25, 25]
    throttle.succeeded("10.0.0.1")
    assert throttle.failed("10.0.0.1") == (1, 0.0)


@pytest.mark.integration
def test_a_one_space_token_does_not_turn_the_tab_on(serve):
    from gradio_client import Client

    served = serve(admin_token=" ")
    token_box = next(b for b in served.blocks.blocks.values() if getattr(b, "elem_id", None) == "admin-token")
    assert token_box.interactive is False
    status, _, _ = Client(served.url, verbose=False).predict(" ", api_name="/admin_list")
    assert messages.SHORT_TOKEN_NOTE.format(min_chars=MIN_TOKEN_CHARS) in status


@pytest.mark.integration
def test_wrong_guesses_are_logged_and_locked_out(serve, caplog):
    from gradio_client import Client

    served = serve(admin_token=TOKEN, admin_max_failures=FAILURES, admin_lockout_seconds=LOCKOUT)
    client = Client(served.url, verbose=False)
    caplog.set_level(logging.WARNING, logger="bot.web.admin")
    statuses = [client.predict(f"guess-{i:04d}-wrong", api_name="/admin_list")[0] for i in range(GUESSES)]
    assert all(messages.BAD_TOKEN in s for s in statuses[:FAILURES]), statuses
    assert messages.LOCKED_OUT.split("，")[0] in statuses[FAILURES - 1]  # the guess that starts the lock-out says so
    assert all(s.startswith("⚠️ 口令错误次数过多") for s in statuses[FAILURES:]), statuses
    status, table, _ = client.predict(TOKEN, api_name="/admin_list")  # the right token, during the lock-out
    assert status.startswith("⚠️ 口令错误次数过多") and "秒后再试" in status
    assert table["data"] in ([], [[]]) or not table["data"][0][0]

    lines = [r.getMessage() for r in caplog.records if r.name == "bot.web.admin"]
    wrong = [line for line in lines if line.startswith("wrong admin token from client 127.0.0.1")]
    assert len(wrong) == FAILURES, lines
    assert any("locked for client 127.0.0.1" in line for line in lines)
    assert sum("locked-out client 127.0.0.1" in line for line in lines) == GUESSES - FAILURES + 1
    assert not any("guess-" in line or TOKEN in line for line in lines)  # no token text in the log

    served.blocks.admin.throttle.succeeded("127.0.0.1")  # the lock-out over, the right token works again
    status, _, _ = client.predict(TOKEN, api_name="/admin_list")
    assert status == messages.KB_COUNT.format(count=len(served.blocks.admin.kb.documents()))
