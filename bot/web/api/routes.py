"""The API's routes, over the page's Assistant:

  POST /v1/chat/completions   OpenAI-compatible, streamed (SSE) or not, with citations and refused
  GET  /v1/models[/{id}]      the one model, MODEL_ID
  POST /api/ask               {"question", "history"} -> the JSON of `python -m bot ask --json`
  POST /api/outline           {"topic"} -> the JSON of `python -m bot outline --json`
  GET  /healthz               the process is up
  GET  /readyz                the knowledge base is loaded and holds documents (503 otherwise)

Everything under /v1/ and /api/ asks for a bearer key when keys are configured (bot.web.api.auth); the
health checks never do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from bot.pipeline import Assistant
from bot.web.api import messages
from bot.web.api.auth import BearerKeys
from bot.web.api.contract_schema import AskRequest, OutlineRequest
from bot.web.api.errors import SERVER_ERROR, ApiError, answering_errors
from bot.web.api.openai_schema import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    Citation,
    ModelCard,
    ModelList,
    conversation,
)
from bot.web.api.runner import AssistantRunner
from bot.web.api.sse import HEADERS, MEDIA_TYPE, completion_events
from core.settings import Settings

API_PREFIXES = ("/v1/", "/api/")  # the paths bearer keys and the API's body limit cover
COMPLETION_ID = "chatcmpl-{}"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CATCH_ALL = "unknown"  # the routes answering paths under API_PREFIXES that no other route has


def api_router(settings: Settings, assistant: Assistant) -> APIRouter:
    """The routes above, answering with `assistant`."""
    runner = AssistantRunner(assistant, limit=settings.web.api_concurrency_limit)
    guarded = [Depends(BearerKeys(settings.web.api_keys))]
    started = int(time.time())
    router = APIRouter()

    async def require_ready() -> None:
        if not await runner.documents():
            raise ApiError(503, messages.NOT_READY, code="not_ready", type=SERVER_ERROR)

    def model_card(model: str) -> ModelCard:
        if model != MODEL_ID:
            raise ApiError(
                404,
                messages.UNKNOWN_MODEL.format(model=model, available=MODEL_ID),
                code="model_not_found",
                param="model",
            )
        return ModelCard(created=started)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> dict[str, Any]:
        documents = await runner.documents()
        if not documents:
            raise ApiError(503, messages.NOT_READY, code="not_ready", type=SERVER_ERROR)
        return {"status": "ready", "documents": documents}

    @router.get("/v1/models", dependencies=guarded)
    async def models() -> ModelList:
        return ModelList(data=[model_card(MODEL_ID)])

    @router.get("/v1/models/{model}", dependencies=guarded)
    async def model(model: str) -> ModelCard:
        return model_card(model)

    @router.post("/v1/chat/completions", dependencies=guarded, response_model=None)
    async def chat_completions(body: ChatCompletionRequest) -> ChatCompletion | StreamingResponse:
        model_card(body.model)
        try:
            question, history = conversation(body.messages)
        except ValueError as e:
            raise ApiError(400, str(e), code="invalid_messages", param="messages") from None
        await require_ready()
        completion_id, created = COMPLETION_ID.format(uuid.uuid4().hex), int(time.time())
        if body.stream:
            events = runner.ask_stream(question, history)
            with answering_errors("messages"):
                first = await anext(events)  # a question the Assistant refuses to take is a 400, not a stream

            async def all_events() -> AsyncIterator[dict[str, Any]]:
                yield first
                async for item in events:
                    yield item

            return StreamingResponse(
                completion_events(all_events(), completion_id=completion_id, created=created, model=MODEL_ID),
                media_type=MEDIA_TYPE,
                headers=HEADERS,
            )
        with answering_errors("messages"):
            result = await runner.ask(question, history)
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=MODEL_ID,
            choices=[Choice(message=AssistantMessage(content=result["answer"]))],
            citations=[Citation.model_validate(c) for c in result["citations"]],
            refused=bool(result["refused"]),
        )

    @router.post("/api/ask", dependencies=guarded)
    async def ask(body: AskRequest) -> JSONResponse:
        await require_ready()
        with answering_errors("question"):
            result = await runner.ask(body.question, [turn.model_dump() for turn in body.history])
        return JSONResponse(result)

    @router.post("/api/outline", dependencies=guarded)
    async def outline(body: OutlineRequest) -> JSONResponse:
        await require_ready()
        with answering_errors("topic"):
            result = await runner.outline(body.topic)
        return JSONResponse(result)

    @router.api_route("/v1/{path:path}", methods=ALL_METHODS, dependencies=guarded, name=CATCH_ALL)
    @router.api_route("/api/{path:path}", methods=ALL_METHODS, dependencies=guarded, name=CATCH_ALL)
    async def unknown(request: Request) -> None:
        path = request.url.path
        allowed = sorted(
            {
                method
                for route in router.routes
                if isinstance(route, APIRoute) and route.name != CATCH_ALL and route.path_regex.match(path)
                for method in route.methods or ()
            }
        )
        if allowed:
            message = messages.WRONG_METHOD.format(method=request.method, allowed="、".join(allowed))
            raise ApiError(405, message, code="method_not_allowed", headers={"Allow": ", ".join(allowed)})
        raise ApiError(404, messages.UNKNOWN_ROUTE.format(method=request.method, path=path), code="unknown_route")

    return router
