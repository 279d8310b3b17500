"""Issue 10 item 5: a markdown link, image or bare URL inside a document shows as text, never as a live link or
an image, in the answer, the sources panel and the outline preview (the chat and the preview render markdown)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.web.render import render_answer, render_outline_preview, render_sources
from tests.bot.web.serving import serve_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
ANSWER_TIMEOUT_MS = 60_000
EVIL = "evil.example"
LINK = f"http://{EVIL}/phish"
BARE = f"http://{EVIL}/help"
POSTER = f"http://{EVIL}/poster.png"
DOCUMENT = (
    "# 冬训报名通知\n\n"
    f"冬训报名请通过[报名入口]({LINK})在线填写，报名截止时间为十二月一日。\n\n"
    f"报名咨询请访问网址 {BARE} 或 www.{EVIL} ，也可以发邮件到 help@{EVIL} 咨询。\n\n"
    f"冬训宣传海报见![宣传海报]({POSTER})，请各村在村务公开栏张贴海报。\n"
)
# (question, a piece of document text the answer must quote as text)
QUESTIONS = [
    ("冬训报名截止时间是什么时候？", f"[报名入口]({LINK})"),
    ("报名咨询可以访问哪个网址？", BARE),
    ("冬训宣传海报要张贴在哪里？", f"[宣传海报]({POSTER})"),  # "!" ends the sentence before it
]
# Elements in the chat, the sources or the preview that point outside the page.
OUTSIDE = "a[href^='http'], a[href^='mailto'], a[href*='evil'], img"


def live_elements(page, selector: str) -> list[str]:
    return page.evaluate(
        "([root, outside]) => [...document.querySelectorAll(root)].flatMap(r => [...r.querySelectorAll(outside)])"
        ".map(e => e.outerHTML)",
        [selector, OUTSIDE],
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [f"[报名入口]({LINK})", f"![宣传海报]({POSTER})", BARE, f"www.{EVIL}", f"help@{EVIL}", f"[入口][1]\n\n[1]: {LINK}"],
    ids=["link", "image", "bare-url", "www", "email", "reference"],
)
def test_rendered_text_carries_no_markdown_link_syntax(text):
    """What the chat renders as markdown has no [..](..), ![..], ://, www. or @ left for a parser to link."""
    citation = {"n": 1, "source": "knowledge/links.md", "title": text, "section": text, "text": text}
    result = {"question": "q", "answer": f"见{text}[1]。", "unsupported": [], "citations": [citation]}
    turn = {"question": text, "n": 0, "answer": result["answer"], "result": result, "html": "", "error": False}
    for html_out in (render_answer(result, 0), render_sources([turn]), render_outline_preview(text)):
        outside_cites = re.sub(r'<a class="cite" href="#[\w-]+">\[\d+\]</a>', "", html_out)
        assert not re.search(r"\]\(|!\[|\]\[|\]:|://|www\.|@", outside_cites, re.I), html_out


@pytest.fixture(scope="module")
def links_url(tmp_path_factory):
    from bot.pipeline import Assistant
    from core.settings import Settings
    from ingest.index import KnowledgeBase

    root = tmp_path_factory.mktemp("links")
    knowledge = root / "knowledge"
    knowledge.mkdir()
    (knowledge / "报名通知.md").write_text(DOCUMENT, encoding="utf-8")
    settings = Settings.load(
        env_file=None, knowledge_dir=knowledge, kb_dir=root / "kb", feedback_log=root / "feedback.jsonl"
    )
    kb = KnowledgeBase(settings)
    report = kb.ingest([knowledge], progress=False)
    assert not report.errors and report.added == 1, report
    served = serve_app(settings, Assistant(settings, kb=kb))
    yield served.url
    served.close()


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")
def test_links_in_documents_show_as_text_in_the_browser(links_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url) if EVIL in r.url else None)
        page.goto(links_url)
        page.wait_for_selector("#question textarea")
        for number, (question, quoted) in enumerate(QUESTIONS):
            page.fill("#question textarea", question)
            page.click("#send")
            page.wait_for_function(
                "n => document.querySelectorAll('#sources .src-turn details.src').length && "
                "document.querySelectorAll('#chatbot [data-testid=\"bot\"]').length > n && "
                "!document.querySelector('#chatbot .cursor, #chatbot .thinking')",
                arg=number,
                timeout=ANSWER_TIMEOUT_MS,
            )
            answer = page.locator('#chatbot [data-testid="bot"]').last.inner_text()
            assert quoted in answer, (question, answer)  # the document text is shown, URL and all
            assert quoted in page.locator("#sources .src-turn").inner_text()
        assert live_elements(page, "#chatbot") == []
        assert live_elements(page, "#sources") == []

        page.get_by_role("tab", name="宣讲提纲").click()
        page.fill(
            "#outline-editor textarea", f"# 提纲\n## 报名\n- 通过[报名入口]({LINK})报名[1]\n- ![海报]({POSTER})\n"
        )
        page.wait_for_selector("#outline-preview h2", timeout=10_000)
        assert LINK in page.locator("#outline-preview").inner_text()
        assert live_elements(page, "#outline-preview") == []
        page.wait_for_timeout(500)  # an <img> that slipped through would be fetched by now
        assert requested == []
        browser.close()
