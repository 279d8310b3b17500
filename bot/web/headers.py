"""Security headers on every response: a Content-Security-Policy that lets the Gradio page run, no framing,
no content-type sniffing.

Gradio's page carries inline scripts (its config and boot code), so scripts are allowed by a fresh nonce
per page load: the middleware stamps it on the <script> tags of the page itself (only the page paths,
never a served file). Document text never reaches that HTML (it arrives later as escaped data), and a
script or on…= handler injected later gets no nonce, so it does not run. Two allowances Gradio needs:
'unsafe-eval', because gr.HTML renders every value through a template compiled with Function() (our
templates only; values are escaped and never compiled), and 'unsafe-inline' styles, because Gradio sets
style attributes and theme <style> elements everywhere.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_BYTES = 16
SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.I)
# Whether a request is a page load (a browser navigation asks for HTML first).
PAGE_REQUEST = re.compile(rb"text/html", re.I)
PAGE_PATHS = ("/",)  # where Gradio serves the page (the app is mounted at the root)


def content_security_policy(nonce: str = "") -> str:
    """The policy: everything from this origin only; inline scripts only with the page's nonce."""
    scripts = "'self'" + (f" 'nonce-{nonce}'" if nonce else "") + " 'unsafe-eval'"  # eval: gr.HTML templates
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "media-src 'self' blob: data:",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


FIXED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP response, and the nonce to HTML pages' scripts."""

    def __init__(self, app: ASGIApp, *, page_paths: tuple[str, ...] = PAGE_PATHS):
        self.app = app
        self.page_paths = page_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope.get("path") in self.page_paths and _asks_for_html(scope)
        if page:
            # Served uncompressed, so the nonce can be stamped on it (Gradio compresses what it serves).
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        start: Message = {}
        body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                stamp = page and _is_plain_html(headers)
                for name, value in FIXED_HEADERS.items():
                    headers[name] = value
                headers["Content-Security-Policy"] = content_security_policy(nonce if stamp else "")
                if not stamp:
                    await send(message)
                    return
                start = message  # held back until the whole page is read, since its length changes
                return
            if message["type"] == "http.response.body" and start:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), b"".join(body))
                MutableHeaders(scope=start)["Content-Length"] = str(len(html))
                await send(start)
                await send({"type": "http.response.body", "body": html, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _asks_for_html(scope: Scope) -> bool:
    if scope.get("method") != "GET":
        return False
    accept = next((v for k, v in scope["headers"] if k.lower() == b"accept"), b"")
    return bool(PAGE_REQUEST.search(accept))


def _is_plain_html(headers: MutableHeaders) -> bool:
    """An uncompressed HTML response, whose scripts can be stamped with the nonce."""
    return headers.get("content-type", "").startswith("text/html") and not headers.get("content-encoding")
