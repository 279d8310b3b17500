"""Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with Chinese messages.

`ApiError` is raised by the routes and answered by `handle_api_error`; request bodies that fail validation
are answered by `handle_validation_error` (422, or 400 for a body that is not JSON at all); `error_refusal`
gives bot.web.limits the same shape for a body it refuses before the API reads it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Optional

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.pipeline import QuestionError
from bot.web import messages as page_messages
from bot.web.api import messages

log = logging.getLogger(__name__)

# OpenAI's error types: the caller's mistake, or ours.
INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"
CODES = {411: "length_required", 413: "request_too_large"}  # refusals of bot.web.limits, by status
LIST_SEPARATOR = re.compile(r",\s*|\s+or\s+")  # pydantic lists allowed values as "'a', 'b' or 'c'"


class ApiError(Exception):
    """An error answered to the caller in OpenAI's shape; `message` is Chinese and says what to do."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: Optional[str] = None,
        param: Optional[str] = None,
        type: str = INVALID_REQUEST,
        headers: Optional[Mapping[str, str]] = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, code=self.code, param=self.param)


def error_body(message: str, *, type: str = INVALID_REQUEST, code: Optional[str] = None, param: Optional[str] = None):
    """{"error": {...}} as OpenAI answers it."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_refusal(status: int, message: str) -> bytes:
    """The body bot.web.limits sends when it refuses an API request (too large, length undeclared)."""
    body = error_body(message, code=CODES.get(status), type=INVALID_REQUEST if status < 500 else SERVER_ERROR)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """The first problem in the body, in Chinese, with `param` saying where it is."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {"type": "", "loc": ("body",)}
    if first.get("type") == "json_invalid":
        return JSONResponse(error_body(messages.INVALID_JSON, code="invalid_json"), status_code=400)
    message, param = validation_message(first)
    return JSONResponse(error_body(message, code="invalid_value", param=param), status_code=422)


def validation_message(error: Mapping[str, Any]) -> tuple[str, Optional[str]]:
    """(Chinese message, the field's path such as "messages[0].role") for one pydantic error."""
    param = field_path(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = dict(error.get("ctx") or {})
    if param is None and kind in {"model_attributes_type", "dict_type", "model_type"}:
        return messages.BODY_NOT_OBJECT, None
    field = param or messages.BODY
    if kind == "value_error" and ctx.get("error") is not None:
        return str(ctx["error"]), param  # our validators' own Chinese messages
    if "expected" in ctx:
        ctx["expected"] = LIST_SEPARATOR.sub("、", str(ctx["expected"]))
    template = messages.VALIDATION.get(kind, messages.INVALID_VALUE)
    try:
        return template.format(field=field, **ctx), param
    except (KeyError, IndexError):
        return messages.INVALID_VALUE.format(field=field), param


def field_path(loc: Any) -> Optional[str]:
    """("body", "messages", 0, "role") -> "messages[0].role"; None for the body itself."""
    path = ""
    for part in list(loc)[1:] if list(loc)[:1] == ["body"] else list(loc):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


@contextmanager
def answering_errors(param: str) -> Iterator[None]:
    """Turns what the Assistant raises into ApiErrors: a question it cannot take (400), anything else (500)."""
    try:
        yield
    except QuestionError as e:
        raise ApiError(400, str(e), code="invalid_question", param=param) from None
    except ApiError:
        raise
    except Exception:
        log.exception("answering an API request failed")
        raise ApiError(500, page_messages.ERROR_MESSAGE, code="internal_error", type=SERVER_ERROR) from None
