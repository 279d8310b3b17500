"""A chat completion as server-sent events: `data: {chat.completion.chunk}` lines, ending with `data: [DONE]`.

The first chunk carries the role, the next ones the answer as the Assistant writes it (its citation markers
renumbered as the final answer's are, bot.web.api.markers), and the last one finish_reason "stop", the
citations and `refused`. A failure after the stream has begun is sent as `data: {"error": …}`, as OpenAI
does; its client raises it as an APIError.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from bot.web import messages as page_messages
from bot.web.api.errors import SERVER_ERROR, error_body
from bot.web.api.markers import MarkerRenumber
from bot.web.api.openai_schema import ChatCompletionChunk, ChunkChoice, Citation, Delta, FinalChunk

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no buffering by a proxy in front (nginx)
DONE = b"data: [DONE]\n\n"


def event(payload: BaseModel | dict[str, Any]) -> bytes:
    data = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


async def completion_events(
    events: AsyncIterator[dict[str, Any]], *, completion_id: str, created: int, model: str
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed chat completion over the Assistant's events (token…, final)."""

    def chunk(delta: Delta) -> bytes:
        return event(
            ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[ChunkChoice(delta=delta)])
        )

    markers = MarkerRenumber()
    sent = ""
    yield chunk(Delta(role="assistant", content=""))
    try:
        async for item in events:
            if item["type"] == "token":
                text = markers.feed(item["text"])
                text = text if sent else text.lstrip()  # the final answer is stripped
                if text:
                    sent += text
                    yield chunk(Delta(content=text))
                continue
            result = item["result"]
            answer: str = result["answer"]
            # What is still held back is sent as the verified answer has it; trailing spaces aside, what was
            # sent is normally the start of that answer.
            kept = sent if answer.startswith(sent) else sent.rstrip()
            verified = answer.startswith(kept)
            if verified and answer[len(kept) :]:
                yield chunk(Delta(content=answer[len(kept) :]))
            if not verified:
                log.warning("streamed answer differs from the verified one; the final chunk carries the latter")
            yield event(
                FinalChunk(
                    id=completion_id,
                    created=created,
                    model=model,
                    choices=[ChunkChoice(delta=Delta(), finish_reason="stop")],
                    citations=[Citation.model_validate(c) for c in result["citations"]],
                    refused=bool(result["refused"]),
                    answer=None if verified else answer,
                )
            )
    except Exception:  # a question the Assistant refuses is refused before the stream begins (routes)
        log.exception("streaming an API answer failed")
        yield event(error_body(page_messages.ERROR_MESSAGE, code="internal_error", type=SERVER_ERROR))
        return
    yield DONE
