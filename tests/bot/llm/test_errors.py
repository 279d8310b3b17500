"""Endpoint failures become Chinese messages naming the setting to check (bot/llm/errors.py), built
from the OpenAI client's own exception types (no server)."""

from __future__ import annotations

import httpx
import openai
import pytest

from bot.llm.errors import LLMError, explain
from core.settings import Settings

pytestmark = pytest.mark.unit

URL = "http://127.0.0.1:9/v1"
REQUEST = httpx.Request("POST", URL + "/chat/completions")


def status_error(cls, code: int) -> openai.APIStatusError:
    return cls("failed", response=httpx.Response(code, request=REQUEST), body=None)


@pytest.fixture
def settings() -> Settings:
    return Settings.load(env_file=None, base_url=URL, model="qwen-test", timeout=7.0)


@pytest.mark.parametrize(
    "error,says",
    [
        (openai.APITimeoutError(request=REQUEST), ["7 秒", "DONGXUN_LLM_TIMEOUT", URL]),
        (openai.APIConnectionError(request=REQUEST), ["无法连接", URL]),
        (status_error(openai.AuthenticationError, 401), ["HTTP 401", "DONGXUN_LLM_API_KEY"]),
        (status_error(openai.NotFoundError, 404), ["qwen-test", "DONGXUN_LLM_MODEL", "/v1"]),
        (status_error(openai.RateLimitError, 429), ["HTTP 429"]),
        (status_error(openai.InternalServerError, 500), ["HTTP 500", "qwen-test"]),
        (ValueError("x"), ["ValueError", "DONGXUN_LLM_MODEL"]),
    ],
    ids=["timeout", "connection", "auth", "not-found", "rate-limit", "server", "other"],
)
def test_each_failure_says_what_to_check(settings, error, says):
    message = explain(error, settings)
    assert isinstance(message, LLMError)
    for needle in says:
        assert needle in str(message), (needle, str(message))
