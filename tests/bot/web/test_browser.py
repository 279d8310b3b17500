"""The page in a real Chromium (Debian /usr/bin/chromium driven by playwright).

Asks a seed question, measures time-to-first-token and full-answer time as the browser sees them,
clicks the first [n] footnote and checks the cited passage is revealed; loads hostile documents and
checks no script from them runs. Screenshots and timings go to tests/output/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.bot.web.serving import serve_app
from tests.conftest import hostile_kb

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "output"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 900}
ANSWER_TIMEOUT_MS = 60_000
QUESTION = "去年开展了多少场理论宣讲活动？"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install -y chromium fonts-wqy-microhei)"
    ),
]

# Records, in page time, when the last bot message first shows answer text and when it is complete
# (no streaming cursor, no placeholder).
WATCH_JS = """
() => {
  window.__t = {start: performance.now(), first: null, done: null};
  const check = () => {
    const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
    const last = bots[bots.length - 1];
    if (!last) return;
    const thinking = last.querySelector('.thinking');
    const text = (last.innerText || '').trim();
    if (!window.__t.first && text && !thinking) window.__t.first = performance.now();
    if (!window.__t.done && text && !thinking && !last.querySelector('.cursor')
        && document.querySelector('#sources details.src')) window.__t.done = performance.now();
  };
  window.__obs = new MutationObserver(check);
  window.__obs.observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def launch(settings, kb):
    from bot.pipeline import Assistant

    served = serve_app(settings, Assistant(settings, kb=kb))
    return served, served.url


def watch_policy_violations(page) -> list[str]:
    """Collects the Content-Security-Policy violations the page reports (console errors naming the policy)."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def seed_url(seed_kb, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_seed")
    settings = seed_kb.settings.replace(feedback_log=root / "feedback.jsonl")
    app, url = launch(settings, seed_kb)
    yield url
    app.close()


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    settings, kb = hostile_kb(tmp_path_factory.mktemp("browser_hostile"))
    app, url = launch(settings, kb)
    yield url
    app.close()


def ask(page, question: str) -> dict:
    """Type a question, press 发送, wait for the complete answer; returns the page-side timings in ms."""
    page.fill("#question textarea", question)
    page.evaluate(WATCH_JS)
    page.click("#send")
    page.wait_for_function("() => window.__t && window.__t.done", timeout=ANSWER_TIMEOUT_MS)
    t = page.evaluate("() => window.__t")
    page.evaluate("() => window.__obs.disconnect()")
    return {
        "time_to_first_token_ms": round(t["first"] - t["start"], 1),
        "full_answer_ms": round(t["done"] - t["start"], 1),
    }


def test_ask_click_citation_and_timings(browser, seed_url):
    from gradio_client import Client

    OUTPUT.mkdir(parents=True, exist_ok=True)
    # Warm the models (jieba dictionary, ONNX session) so the timing is what a member sees, not start-up.
    Client(seed_url, verbose=False).predict("这次讲话提出了哪三点意见？", api_name="/ask")

    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    violations = watch_policy_violations(page)
    t0 = time.perf_counter()
    response = page.goto(seed_url)
    page.wait_for_selector("#question textarea")
    # The page runs under the Content-Security-Policy: inline scripts only with this load's nonce.
    assert response is not None and "'nonce-" in response.headers["content-security-policy"]
    load_ms = round((time.perf_counter() - t0) * 1000, 1)

    timings = ask(page, QUESTION)
    answer = page.locator('#chatbot [data-testid="bot"]').last
    assert "215" in answer.inner_text()

    source = page.locator("#src-0-1")
    # Fold the source and scroll away so the click has to reveal it.
    page.evaluate("() => { document.getElementById('src-0-1').open = false; window.scrollTo(0, 0); }")
    assert not source.locator("mark").first.is_visible()
    answer.locator("a.cite").first.click()
    page.wait_for_function("() => document.getElementById('src-0-1').open", timeout=5000)
    page.wait_for_timeout(800)  # the smooth scroll
    mark = source.locator("mark").first
    assert mark.is_visible() and "215" in mark.inner_text()
    assert "flash" in (source.get_attribute("class") or "")
    box, view = mark.bounding_box(), page.viewport_size
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= view["height"], box
    assert page.url.rstrip("/") == seed_url.rstrip("/") and len(page.context.pages) == 1  # no navigation
    page.screenshot(path=str(OUTPUT / "browser_answer.png"))

    timings.update({"page_load_ms": load_ms, "question": QUESTION, "warmed_up": True})
    print(f"\nbrowser timings: {json.dumps(timings, ensure_ascii=False)}")
    (OUTPUT / "browser_timings.json").write_text(json.dumps(timings, ensure_ascii=False, indent=2), encoding="utf-8")
    assert timings["time_to_first_token_ms"] <= timings["full_answer_ms"]
    assert not errors, errors
    assert not violations, violations

    # The lecturer tab renders an outline and its preview.
    page.get_by_role("tab", name="宣讲提纲").click()
    page.fill("#topic textarea", "冬训工作的重要意义")
    page.click("#make-outline")
    page.wait_for_function("() => (document.querySelector('#outline-editor textarea') || {}).value", timeout=30000)
    page.wait_for_selector("#outline-preview h2", timeout=10000)
    page.screenshot(path=str(OUTPUT / "browser_outline.png"), full_page=True)
    assert not violations, violations
    page.close()


def test_hostile_documents_do_not_run_scripts(browser, hostile_url):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(hostile_url)
    page.wait_for_selector("#question textarea")
    for question in ("飞燕安全演练有多少名党员参加？", "党员夜校在什么地点开课？"):
        ask(page, question)
    page.wait_for_timeout(500)  # give any injected handler a chance to fire
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    sources = page.locator("#sources")
    assert "<script>window.__xss=1</script>" in sources.inner_text()  # shown as text
    assert page.locator("#sources script, #sources img, #chatbot img[src='x']").count() == 0
    page.screenshot(path=str(OUTPUT / "browser_hostile.png"))
    page.close()
