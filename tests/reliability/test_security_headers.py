"""Issue 10 item 6: every response over real HTTP carries Content-Security-Policy, X-Frame-Options: DENY and
X-Content-Type-Options: nosniff: the page, its static assets, our own script, API calls and refusals.
The page itself gets a fresh nonce on each of its scripts (tests/bot/web/test_browser.py proves it runs)."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.web.headers import content_security_policy

pytestmark = pytest.mark.integration

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NONCE = re.compile(r"'nonce-([\w-]+)'")


def assert_secured(response: httpx.Response) -> None:
    headers = response.headers
    assert headers.get("x-frame-options") == "DENY", (response.url, dict(headers))
    assert headers.get("x-content-type-options") == "nosniff", response.url
    policy = headers.get("content-security-policy", "")
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"):
        assert directive in policy, (response.url, policy)
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0], policy


def test_every_response_carries_the_security_headers(serve):
    served = serve(admin_token=None)
    with httpx.Client(base_url=served.url, timeout=30) as http:
        page = http.get("/", headers={"Accept": BROWSER_ACCEPT, "Accept-Encoding": "gzip, br"})
        assert page.status_code == 200 and "<gradio-app" in page.text
        assets = re.findall(r'src="\./(assets/[^"]+\.js)"', page.text)
        assert assets, page.text[:500]
        responses = {
            "page": page,
            "page for a non-browser client": http.get("/"),
            "a Gradio asset": http.get(assets[0]),
            "the theme": http.get("/theme.css"),
            "our footnote script": http.get("/web-static/app.js"),
            "API info": http.get("/gradio_api/info"),
            # new_chat takes the two session states and the browser's saved conversations (none here)
            "an API call": http.post("/gradio_api/run/new_chat", json={"data": [None, None, None]}),
            "a missing page": http.get("/no-such-page"),
            "a refused upload": http.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}),
        }
    for name, response in responses.items():
        assert response.status_code < 500, (name, response.status_code, response.text[:200])
        assert_secured(response)
    assert responses["our footnote script"].status_code == 200
    assert responses["an API call"].status_code == 200, responses["an API call"].text[:300]
    assert responses["a refused upload"].status_code == 403


def test_the_page_scripts_carry_this_loads_nonce(serve):
    served = serve()
    with httpx.Client(base_url=served.url, timeout=30) as http:
        first, second = (http.get("/", headers={"Accept": BROWSER_ACCEPT}) for _ in range(2))
    nonces = []
    for page in (first, second):
        (nonce,) = NONCE.findall(page.headers["content-security-policy"])
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts), scripts
        assert int(page.headers["content-length"]) == len(page.content)
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # a fresh nonce per page load


@pytest.mark.unit
def test_policy_allows_scripts_only_from_this_origin():
    policy = content_security_policy("abc")
    scripts = policy.split("script-src ")[1].split(";")[0].split()
    assert scripts == ["'self'", "'nonce-abc'", "'unsafe-eval'"]  # eval: gr.HTML compiles its template
    assert "http" not in policy and "*" not in policy
