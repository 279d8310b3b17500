"""The page's HTML is rendered once per kind of request (bot.web.page_cache), and what is served from the cache
is what Gradio would have rendered."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.web.page_cache import MAX_PAGES, PageCache, PageStore, request_key

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NONCE = re.compile(r"nonce-?=?\"?'?([\w-]{16,})")


def _without_nonces(html: str) -> str:
    return NONCE.sub("NONCE", html)


@pytest.mark.integration
def test_the_page_is_rendered_once_per_kind_of_request(seed_kb, tmp_path):
    import httpx

    from bot.pipeline import Assistant
    from tests.bot.web.serving import serve_app

    settings = seed_kb.settings.replace(feedback_log=tmp_path / "feedback.jsonl")
    served = serve_app(settings, Assistant(settings, kb=seed_kb))
    store: PageStore = served.app.state.page_store
    try:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            browser = {"Accept": BROWSER_ACCEPT}
            first = http.get("/", headers=browser)
            assert store.hits == 0 and len(store.pages) == 1
            again = http.get("/", headers=browser)
            assert store.hits == 1
            # the same page with a fresh nonce, and the security headers, as rendered anew
            assert again.status_code == 200 and _without_nonces(again.text) == _without_nonces(first.text)
            assert again.headers["content-security-policy"] != first.headers["content-security-policy"]
            assert again.headers["x-frame-options"] == "DENY"
            # behind a proxy that says https, the page names https URLs: another key, rendered by Gradio
            proxied = http.get("/", headers=browser | {"X-Forwarded-Proto": "https"})
            assert store.hits == 1 and len(store.pages) == 2
            https = served.url.replace("http://", "https://").rstrip("/")
            assert https in proxied.text and https not in first.text
            # each encoding a client may ask for is its own key (Gradio compresses what it serves)
            identity, gzip = ({"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip"})
            plain, packed = http.get("/", headers=identity), http.get("/", headers=gzip)
            assert store.hits == 1 and len(store.pages) == 4
            assert _without_nonces(packed.text) == _without_nonces(plain.text)
            before = store.hits
            assert http.get("/", headers=identity).text == plain.text and store.hits == before + 1
            # other paths never come from the cache
            assert http.get("/config").status_code == 200 and store.hits == before + 1
    finally:
        served.close()


@pytest.mark.unit
def test_a_page_that_sets_a_cookie_or_fails_is_not_kept_and_the_store_is_bounded():
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["path"])
        status, headers = (500, []) if b"fail" in scope["query_string"] else (200, [])
        if b"cookie" in scope["query_string"]:
            headers = [(b"set-cookie", b"a=1")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"<html>", "more_body": False})

    store = PageStore(max_pages=2)
    cache = PageCache(app, store=store)

    def get(query: bytes, path: str = "/") -> None:
        scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": []}
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        asyncio.run(cache(scope, None, send))
        assert sent[-1]["body"] == b"<html>"

    for query in (b"cookie", b"cookie", b"fail", b"fail"):
        get(query)
    assert len(calls) == 4 and not store.pages  # rendered every time
    get(b"a"), get(b"a"), get(b"b"), get(b"c"), get(b"a")
    assert calls[4:] == ["/", "/", "/", "/"] and store.hits == 1  # "a" was dropped for "c", then rendered again
    assert len(store.pages) == 2
    disabled = PageCache(app, store=PageStore(), enabled=lambda: False)
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}

    async def ignore(message):
        return None

    asyncio.run(disabled(scope, None, ignore)), asyncio.run(disabled(scope, None, ignore))
    assert len(calls) == 10


@pytest.mark.unit
def test_the_key_reads_the_headers_the_page_depends_on_and_no_others():
    def scope(**headers: str) -> dict:
        items = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
        return {
            "scheme": "http",
            "server": ("h", 80),
            "root_path": "",
            "path": "/",
            "query_string": b"",
            "headers": items,
        }

    base = request_key(scope(host="a"))
    assert request_key(scope(host="a", cookie="x=1", user_agent="firefox", accept_language="en")) == base
    for other in ({"host": "b"}, {"host": "a", "x_forwarded_proto": "https"}, {"host": "a", "accept_encoding": "gzip"}):
        assert request_key(scope(**other)) != base, other
    assert MAX_PAGES >= 4
