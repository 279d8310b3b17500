"""The synchronous Assistant behind the asynchronous API: every call runs in a worker thread, so the event
loop (and with it the page, health checks and other callers) never waits for an answer.

At most `limit` answers are computed at once; further callers wait their turn. A stream advances the
Assistant's generator one event at a time in a worker thread and closes it when the caller goes away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any, Optional, TypeVar

import anyio
import anyio.to_thread

from bot.pipeline import Assistant

T = TypeVar("T")


def _next_event(events: Iterator[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The stream's next event, or None when it is over."""
    return next(events, None)


class AssistantRunner:
    """Readiness and answers of one Assistant, for async routes."""

    def __init__(self, assistant: Assistant, *, limit: int = 4):
        """limit: answers computed at once (settings.web.api_concurrency_limit)."""
        self.assistant = assistant
        self.limiter = anyio.CapacityLimiter(limit)

    async def documents(self) -> int:
        """Documents in the knowledge base (0: not ready), as of the manifest's last check (at most a couple of
        seconds old). Asked before every answer, so it must not re-read the manifest; not queued behind answers,
        so probes stay quick."""
        return await anyio.to_thread.run_sync(self.assistant.kb.document_count)

    async def ask(self, question: str, history: list[dict[str, str]]) -> dict[str, Any]:
        """The JSON contract of `python -m bot ask --json`."""
        return await self._run(self.assistant.ask, question, history)

    async def outline(self, topic: str) -> dict[str, Any]:
        """The JSON contract of `python -m bot outline --json`."""
        return await self._run(self.assistant.outline, topic)

    async def ask_stream(self, question: str, history: list[dict[str, str]]) -> AsyncIterator[dict[str, Any]]:
        """The events of Assistant.ask_stream, each computed in a worker thread as the caller asks for it."""
        events = self.assistant.ask_stream(question, history)
        finished = False
        try:
            while True:
                event = await self._run(_next_event, events)
                if event is None:
                    finished = True
                    return
                yield event
        finally:
            if not finished and isinstance(events, Generator):  # the caller left or it failed: release what it holds
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(events.close)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        # Cancelling the caller waits for the thread to return (anyio's default), so a generator is never
        # closed while it runs.
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)
