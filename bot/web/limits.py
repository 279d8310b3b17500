"""Request limits, checked before Gradio reads a byte: the size of a request body, and who may upload how much.

Gradio keeps what a visitor sends: a request's inputs are stored in the session, and its upload route
accepts files from anyone (whatever the 知识库 tab says) and keeps them in its temporary folder. So:
  - a body larger than `max_body` bytes is refused (413), and so is a body of undeclared length (411);
  - the upload route is refused (403) when the knowledge tab is off, since nobody may use uploads then;
  - otherwise an upload is refused (507) when it would take the uploads waiting in Gradio's folder (and
    those in flight) past `upload_quota` bytes or MAX_PENDING_UPLOADS files. Gradio's own `max_file_size`
    still caps each file, and its cache sweep (delete_cache) deletes old uploads.
Refusals are JSON {"detail": Chinese message}, as Gradio's own upload errors are. Paths with a limit of their
own (a `PathLimit`: the HTTP API's) are held to that size instead and refused in their own JSON shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.web import messages

UPLOAD_PATH = "/gradio_api/upload"  # Gradio's upload route, under the app's mount point
MAX_PENDING_UPLOADS = 1000  # files waiting in Gradio's upload folder at once
BODY_METHODS = {"POST", "PUT", "PATCH"}
KB = 1024
MB = 1024 * 1024

Refusal = Callable[[int, str], bytes]  # (status, Chinese message) -> the JSON body of the refusal


def detail_refusal(status: int, message: str) -> bytes:
    """The page's refusal body: {"detail": message}."""
    return json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class PathLimit:
    """A body limit of its own for the paths under `prefixes`, refused with `refusal`'s body."""

    prefixes: tuple[str, ...]
    max_body: int
    refusal: Refusal = detail_refusal

    def covers(self, path: str) -> bool:
        return any(path == p.rstrip("/") or path.startswith(p) for p in self.prefixes)


class RequestLimits:
    """ASGI middleware enforcing the limits above; `pending` says (bytes, files) of uploads waiting now."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        upload_quota: int,
        uploads_enabled: bool,
        pending: Callable[[], tuple[int, int]],
        path_limits: Sequence[PathLimit] = (),
    ):
        self.app = app
        self.max_body = max_body
        self.path_limits = tuple(path_limits)
        self.upload_quota = upload_quota
        self.uploads_enabled = uploads_enabled
        self.pending = pending
        self._in_flight = 0  # bytes of uploads being received (the event loop runs one check at a time)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        own = next((rule for rule in self.path_limits if rule.covers(path)), None)
        refusal = own.refusal if own is not None else detail_refusal
        length = _content_length(scope)
        if length is None:
            if _header(scope, b"transfer-encoding"):
                await _refuse(send, 411, messages.LENGTH_REQUIRED, refusal)
                return
            length = 0  # no body at all
        if path.rstrip("/") != UPLOAD_PATH:
            max_body = own.max_body if own is not None else self.max_body
            if length > max_body:
                await _refuse(send, 413, messages.REQUEST_TOO_LARGE.format(limit=max(1, max_body // KB)), refusal)
                return
            await self.app(scope, receive, send)
            return
        if not self.uploads_enabled:
            await _refuse(send, 403, messages.UPLOAD_DISABLED)
            return
        waiting, files = self.pending()
        if files >= MAX_PENDING_UPLOADS or waiting + self._in_flight + length > self.upload_quota:
            await _refuse(send, 507, messages.UPLOAD_QUOTA_FULL.format(limit=self.upload_quota // MB))
            return
        self._in_flight += length
        try:
            await self.app(scope, receive, send)
        finally:
            self._in_flight -= length


def _header(scope: Scope, name: bytes) -> Optional[bytes]:
    return next((v for k, v in scope.get("headers", []) if k.lower() == name), None)


def _content_length(scope: Scope) -> Optional[int]:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _refuse(send: Send, status: int, message: str, refusal: Refusal = detail_refusal) -> None:
    body = refusal(status, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
