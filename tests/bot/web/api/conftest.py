"""Servers for the API tests, each served as `python -m bot.app` serves it (bot.web.server on uvicorn), and
clients for them: the official `openai` client, and httpx for what that client does not show."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import httpx
import pytest

from core.settings import Settings

if TYPE_CHECKING:  # imported where used: collecting this folder's unit tests loads no server, Gradio or openai
    import openai

    from bot.pipeline import Assistant

API_KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-9876543210fedcba"
CLIENT_SECONDS = 120  # generous on a loaded machine: the first answer warms the models up


@dataclass
class Api:
    """A served app: its base URL (with a trailing slash), settings and Assistant."""

    url: str
    settings: Settings
    assistant: Assistant

    def openai(self, api_key: Optional[str] = None) -> openai.OpenAI:
        """The official client, without retries (a refused request must show as it is)."""
        import openai

        return openai.OpenAI(
            base_url=self.url + "v1", api_key=api_key or "unused", max_retries=0, timeout=CLIENT_SECONDS
        )

    def http(self, api_key: Optional[str] = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=CLIENT_SECONDS)


@pytest.fixture(scope="package")
def seed_api(seed_kb, tmp_path_factory) -> Iterator[Api]:
    """The server over the shared seed knowledge base, API open (no keys)."""
    from bot.pipeline import Assistant
    from tests.bot.web.serving import serve_app

    root = tmp_path_factory.mktemp("seed_api")
    settings = seed_kb.settings.replace(feedback_log=root / "feedback.jsonl", api_keys=())
    assistant = Assistant(settings, kb=seed_kb)
    served = serve_app(settings, assistant)
    yield Api(served.url, settings, assistant)
    served.close()


@pytest.fixture(scope="package")
def keyed_api(seed_kb, tmp_path_factory) -> Iterator[Api]:
    """The server over the seed knowledge base with two API keys configured."""
    from bot.pipeline import Assistant
    from tests.bot.web.serving import serve_app

    root = tmp_path_factory.mktemp("keyed_api")
    settings = seed_kb.settings.replace(feedback_log=root / "feedback.jsonl", api_keys=f"{API_KEY},{OTHER_KEY}")
    assistant = Assistant(settings, kb=seed_kb)
    served = serve_app(settings, assistant)
    yield Api(served.url, settings, assistant)
    served.close()
