"""Streaming in the LLM mode, against the tests' local OpenAI-protocol server as the LLM: the markers the
LLM writes are renumbered in the stream as verification renumbers the final answer, a marker verification
drops is reported on the final chunk, and a slow answer blocks neither health checks nor other callers."""

from __future__ import annotations

import threading
import time

import pytest

from bot.pipeline import Assistant
from bot.web.api.openai_schema import MODEL_ID
from tests.bot.web.api.conftest import Api
from tests.bot.web.serving import serve_app
from tests.conftest import ScriptedReply

pytestmark = pytest.mark.integration

QUESTION = "去年开展了多少场理论宣讲活动？"
FACT = "215场"
LLM_DELAY = 2.0  # seconds the LLM takes before its first token
QUICK = 1.0  # a health check while an answer is being written must come back well within the LLM's delay
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def llm_api(seed_kb, fake_openai_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("llm_api")
    settings = seed_kb.settings.replace(
        mode="llm", base_url=fake_openai_server.base_url, timeout=10.0, feedback_log=root / "feedback.jsonl"
    )
    assistant = Assistant(settings, kb=seed_kb)
    served = serve_app(settings, assistant)
    yield Api(served.url, settings, assistant)
    served.close()


@pytest.fixture(scope="module")
def contexts(seed_kb) -> list[dict]:
    """The passages the LLM is given for QUESTION, numbered from 1 in this order."""
    return Assistant(seed_kb.settings.replace(mode="extractive"), kb=seed_kb).ask(QUESTION)["contexts"]


def number_of(contexts: list[dict], needle: str) -> int:
    return next(i for i, c in enumerate(contexts, 1) if needle in c["text"])


def streamed(api: Api) -> tuple[str, list]:
    chunks = list(
        api.openai().chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks), chunks


def test_markers_the_llm_writes_are_renumbered_as_the_final_answer(llm_api, contexts, fake_openai):
    n = number_of(contexts, FACT)
    other = next(i for i in range(len(contexts), 0, -1) if i != n)  # cited first, so it becomes [1]
    fake_openai.script(f"据资料[{other}]，去年全区开展各类理论宣讲活动215场[{n}]。")
    content, chunks = streamed(llm_api)
    assert len(fake_openai.requests) == 1 and fake_openai.requests[0]["stream"] is True
    assert content == "据资料[1]，去年全区开展各类理论宣讲活动215场[2]。"
    final = chunks[-1]
    assert [c["n"] for c in final.citations] == [1, 2]
    assert final.citations[0]["text"] == contexts[other - 1]["text"] and FACT in final.citations[1]["text"]
    assert not hasattr(final, "answer")  # what was streamed is the verified answer


def test_a_marker_verification_drops_is_corrected_on_the_final_chunk(llm_api, contexts, fake_openai):
    n, bad = number_of(contexts, FACT), len(contexts) + 2
    fake_openai.script(f"去年全区开展各类理论宣讲活动215场[{n}][{bad}]。")
    content, chunks = streamed(llm_api)
    assert content == "去年全区开展各类理论宣讲活动215场[1][2]。"  # the stream cannot know [bad] points nowhere
    final = chunks[-1]
    assert final.answer == "去年全区开展各类理论宣讲活动215场[1]。"
    assert [c["n"] for c in final.citations] == [1] and FACT in final.citations[0]["text"]


def test_a_slow_answer_blocks_neither_health_checks_nor_the_event_loop(llm_api, contexts, fake_openai):
    n = number_of(contexts, FACT)
    fake_openai.script(ScriptedReply(f"去年全区开展各类理论宣讲活动215场[{n}]。", delay=LLM_DELAY))
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(answer=streamed(llm_api)[0]))
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not fake_openai.requests and time.monotonic() < deadline:  # the answer is now waiting on the LLM
        time.sleep(0.01)
    assert fake_openai.requests, "the LLM was not called"
    with llm_api.http() as http:
        t0 = time.monotonic()
        assert http.get("healthz").status_code == 200
        assert http.get("readyz").status_code == 200
        assert time.monotonic() - t0 < QUICK
    thread.join(WAIT_SECONDS)
    assert result["answer"] == "去年全区开展各类理论宣讲活动215场[1]。"
