"""Issue 10 item 8 (memory): what the server keeps for one session is bounded. Measured as the size of the
stored state itself (the session's gr.State values and the component values Gradio keeps for it), not RSS.

Before: 31 questions of 1 MB grew one session's stored state from 0.06 M to 21.8 M characters, and 新对话
left 10.9 M of it (the question box's replaced copies, one per question)."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.web.render import Turn
from bot.web.session import keep_recent, turn_size

MB = 1024 * 1024
BIG_QUESTIONS = 31
MAX_TURNS = 4
QUESTIONS = [
    "去年开展了多少场理论宣讲活动？",
    "这次讲话提出了哪三点意见？",
    "6类“飞燕”指什么？",
    "党组织书记在冬训中要做什么？",
    "理论宣讲样板课程有什么要求？",
    "云端学习载体有哪些？",
    "训前调查研究工作怎么做？",
    "冬训与主题党日如何结合？",
]
PLATEAU_SLACK = 0.25  # answers differ in length; a bounded session stops growing within this share


def stored_chars(blocks, session_hash: str) -> int:
    """Characters of everything Gradio keeps for the session: State values and per-session component config."""
    session = blocks.state_holder.session_data[session_hash]
    values = [*session.state_data.values(), *session.config_values.values()]
    return sum(len(json.dumps(v, ensure_ascii=False, default=str)) for v in values)


def stored_turns(blocks, session_hash: str) -> list[Turn]:
    session = blocks.state_holder.session_data[session_hash]
    return next(v for v in session.state_data.values() if isinstance(v, list))


@pytest.mark.unit
def test_keep_recent_bounds_turns_and_characters():
    def turn(n: int, chars: int) -> Turn:
        return {"question": "问" * chars, "n": n, "answer": "", "result": {}, "html": "", "error": False}

    turns = [turn(n, 1000) for n in range(10)]
    assert [t["n"] for t in keep_recent(turns, max_turns=4, max_chars=10**6)] == [6, 7, 8, 9]
    kept = keep_recent(turns, max_turns=10, max_chars=3 * turn_size(turns[0]))
    assert [t["n"] for t in kept] == [7, 8, 9]
    huge = [turn(0, 10), turn(1, 10**5)]
    assert [t["n"] for t in keep_recent(huge, max_turns=10, max_chars=100)] == [1]  # the latest always stays


@pytest.mark.integration
def test_one_session_stays_bounded_and_new_chat_releases_it(serve):
    from gradio_client import Client

    served = serve(session_max_turns=MAX_TURNS, max_sessions=50)
    assert served.blocks.state_holder.capacity == 50  # the least recently used sessions beyond it are dropped
    client = Client(served.url, verbose=False)
    client.predict(QUESTIONS[0], api_name="/ask")
    baseline = stored_chars(served.blocks, client.session_hash)

    for i in range(BIG_QUESTIONS):  # 1 MB each: refused before Gradio stores it
        with pytest.raises(httpx.HTTPStatusError) as refused:
            client.predict("冬" * (MB // 3) + str(i), api_name="/ask")
        assert refused.value.response.status_code == 413
    assert stored_chars(served.blocks, client.session_hash) <= baseline * (1 + PLATEAU_SLACK)

    sizes = []
    for question in QUESTIONS:
        client.predict(question, api_name="/ask")
        sizes.append(stored_chars(served.blocks, client.session_hash))
        turns = stored_turns(served.blocks, client.session_hash)
        assert len(turns) <= MAX_TURNS
    assert turns[-1]["n"] == len(QUESTIONS)  # numbering continues past the dropped turns
    full = max(sizes[MAX_TURNS - 1 : MAX_TURNS + 1])
    assert max(sizes[MAX_TURNS + 1 :]) <= full * (1 + PLATEAU_SLACK), sizes  # no growth once the cap is reached
    session = served.blocks.state_holder.session_data[client.session_hash]
    assert len(session.blocks_config.blocks) <= len(served.blocks.blocks) + 1  # Gradio's replaced copies dropped

    client.predict(api_name="/new_chat")
    assert stored_turns(served.blocks, client.session_hash) == []
    after = stored_chars(served.blocks, client.session_hash)
    assert after < min(sizes), (after, sizes)
