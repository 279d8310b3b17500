"""Fixtures of the reliability suite: the page served as `python -m bot.app` serves it, over the seed knowledge base."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported where used: collecting this folder's unit tests loads no server or Gradio
    from tests.bot.web.serving import Served


@pytest.fixture
def serve(seed_kb, tmp_path):
    """Factory: serve(**settings_overrides) starts the page over the (read-only) seed knowledge base; stopped after."""
    from bot.pipeline import Assistant
    from tests.bot.web.serving import serve_app

    started: list[Served] = []

    def start(**overrides) -> Served:
        settings = seed_kb.settings.replace(feedback_log=tmp_path / "feedback.jsonl", **overrides)
        served = serve_app(settings, Assistant(settings, kb=seed_kb))
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()
