"""The page's HTML, rendered by Gradio once per kind of request instead of once per visitor.

For every GET of the page Gradio deep-copies the page's config, rewrites its URLs for the request's root and
describes the whole API again: about 50 ms of CPU on a 2-core machine, about a sixth of what a visitor who asks
five questions costs the server (py-spy of `eval bench`'s throughput part, 2026-12-02). None of it changes
while the app runs: the page's config is fixed at launch (what a session changes is kept per session, and
every visitor's page loads its own state through the events it runs on load). What the HTML does depend on
is the URL (the root it names, a deep link or page in the query) and the headers Gradio reads it from (Host,
X-Forwarded-*), and the encoding asked for, since Gradio compresses what it serves: those are the key.

The cache sits inside bot.web.headers.SecurityHeaders, so every copy still gets a fresh script nonce, and
it serves only while Gradio's own login is off (with it, the page would depend on the visitor).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.headers import PAGE_PATHS

# The request headers the page's HTML is rendered from (gradio.route_utils.get_root_url) or encoded by.
KEY_HEADERS = frozenset(
    {b"host", b"accept-encoding", b"forwarded", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-port"}
)
MAX_PAGES = 16  # kinds of request kept (a deployment sees a few: its host names, each with and without gzip)

Key = tuple[object, ...]


@dataclass
class PageStore:
    """The rendered pages by request key, newest last, and how often one was served from here."""

    max_pages: int = MAX_PAGES
    pages: OrderedDict[Key, tuple[Message, bytes]] = field(default_factory=OrderedDict)
    hits: int = 0

    def get(self, key: Key) -> tuple[Message, bytes] | None:
        page = self.pages.get(key)
        if page is not None:
            self.pages.move_to_end(key)
            self.hits += 1
        return page

    def put(self, key: Key, start: Message, body: bytes) -> None:
        self.pages[key] = (start, body)
        self.pages.move_to_end(key)
        while len(self.pages) > self.max_pages:
            self.pages.popitem(last=False)


def request_key(scope: Scope) -> Key:
    """What the page's HTML depends on in a request."""
    headers = tuple(sorted((k.lower(), v) for k, v in scope.get("headers", []) if k.lower() in KEY_HEADERS))
    return (scope.get("scheme"), scope.get("server"), scope.get("root_path", ""), scope["path"],
            scope.get("query_string", b""), headers)  # fmt: skip


class PageCache:
    """ASGI middleware serving the page from `store` when a request of the same key was answered before."""

    def __init__(self, app: ASGIApp, *, store: PageStore, enabled: Callable[[], bool] = lambda: True):
        """enabled: whether the page may be cached now (False while Gradio's own login is on)."""
        self.app = app
        self.store = store
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page_load = scope["type"] == "http" and scope.get("method") == "GET" and scope.get("path") in PAGE_PATHS
        if not page_load or not self.enabled():
            await self.app(scope, receive, send)
            return
        key = request_key(scope)
        page = self.store.get(key)
        if page is not None:
            kept, body = page
            await send({**kept, "headers": list(kept["headers"])})  # a copy: the middleware outside adds to it
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        start: Message = {}
        parts: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = {**message, "headers": list(message.get("headers", []))}  # before anyone adds to it
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False) and _storable(start):
                    self.store.put(key, start, b"".join(parts))
            await send(message)

        await self.app(scope, receive, keep)


def _storable(start: Message) -> bool:
    """A whole, successful page that sets nothing in the browser."""
    names = {k.lower() for k, _ in start.get("headers", [])}
    return start.get("status") == 200 and b"set-cookie" not in names
