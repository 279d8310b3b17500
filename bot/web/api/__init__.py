"""The HTTP API, served by the page's own server (bot.web.server) on the same port, over the same Assistant.

routes (the endpoints), openai_schema (OpenAI's chat-completions bodies, with citations and refused),
contract_schema (the bodies of /api/ask and /api/outline), sse (a streamed completion), markers (streamed
citation numbers), runner (the Assistant in worker threads), auth (bearer keys), errors (OpenAI's error
shape), messages (Chinese). `install_api` adds it all to the FastAPI app before the page is mounted;
`api_body_limit` is the API's request size limit, for bot.web.limits.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from bot.pipeline import Assistant
from bot.web.api.errors import ApiError, error_refusal, handle_api_error, handle_validation_error
from bot.web.api.routes import API_PREFIXES, api_router
from bot.web.limits import KB, PathLimit
from core.settings import Settings


def install_api(app: FastAPI, settings: Settings, assistant: Assistant) -> None:
    """Add the API's routes and error handlers to `app` (before the page is mounted at "/", or they are unreachable)."""
    app.include_router(api_router(settings, assistant))
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)


def api_body_limit(settings: Settings) -> PathLimit:
    """The API's request size limit (settings.web.api_max_request_kb), refused in OpenAI's error shape."""
    return PathLimit(API_PREFIXES, settings.web.api_max_request_kb * KB, refusal=error_refusal)
