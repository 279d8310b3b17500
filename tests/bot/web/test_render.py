"""The page's HTML, built by pure functions: escaping, citation links, unsupported sentences, highlights."""

from __future__ import annotations

import re

import pytest

from bot.web import messages
from bot.web.render import (
    esc,
    highlight,
    render_answer,
    render_chat,
    render_citation,
    render_notice,
    render_outline_preview,
    render_outline_sources,
    render_partial,
    render_sources,
    render_text,
    same_ratings,
    supporting_spans,
)

pytestmark = pytest.mark.unit

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
RAW_TAG = re.compile(r"<\s*(script|img)\b", re.I)


def answer_result(answer: str, **fields) -> dict:
    return {"question": "q", "rewritten_question": "q", "refused": False, "answer": answer, "unsupported": [], **fields}


def turn(question: str, result: dict, error: bool = False, n: int = 0) -> dict:
    return {
        "question": question,
        "n": n,
        "answer": result.get("answer", ""),
        "result": result,
        "html": "",
        "error": error,
    }


# ---------------------------------------------------------------------- escaping
@pytest.mark.parametrize("hostile", [SCRIPT, IMG], ids=["script", "img-onerror"])
def test_document_text_is_escaped_everywhere(hostile):
    chunk = f"演练在社区活动中心举行，{hostile}共有三十名党员参加。"
    citation = {"n": 1, "source": f"knowledge/{hostile}.txt", "title": hostile, "section": hostile, "text": chunk}
    result = answer_result(f"演练{hostile}共有三十名党员参加[1]。", citations=[citation])
    outputs = {
        "answer": render_answer(result, 0),
        "sources": render_sources([turn(hostile, result)]),
        "citation": render_citation(citation, result["answer"], "src-0"),
        "partial": render_partial(result["answer"], 0),
        "notice": render_notice(hostile),
        "outline": render_outline_preview(hostile),
        "outline_sources": render_outline_sources(result),
        "chat": "".join(m["content"] for m in render_chat([turn(hostile, result)])),
    }
    for name, html_out in outputs.items():
        assert not RAW_TAG.search(html_out), (name, html_out)
    assert "&lt;script&gt;" in outputs["sources"] or "&lt;img" in outputs["sources"]


def test_esc_neutralises_template_and_math_syntax():
    assert esc("${x} `y` <a href='z'>") == "&#36;&#123;x&#125; &#96;y&#96; &lt;a href=&#x27;z&#x27;&gt;"
    assert esc(None) == "" and esc(215) == "215"


# ---------------------------------------------------------------------- citation links
def test_citation_markers_become_links_to_the_turns_sources():
    html_out = render_answer(answer_result("开展活动215场[1]，吸引2.6万人次[2]。"), 3)
    assert '<a class="cite" href="#src-3-1">[1]</a>' in html_out
    assert '<a class="cite" href="#src-3-2">[2]</a>' in html_out
    assert render_outline_preview("## 要点[1]") == '## 要点<a class="cite" href="#osrc-1">[1]</a>'


def test_streaming_answer_links_markers_and_shows_a_cursor():
    partial = render_partial("开展活动215场[1", 0) + "|" + render_partial("开展活动215场[1]", 0)
    first, second = partial.split("|")
    assert "href" not in first and first.endswith('<span class="cursor">▍</span>')
    assert '<a class="cite" href="#src-0-1">[1]</a>' in second


# ---------------------------------------------------------------------- unsupported sentences and refusals
def test_unsupported_sentence_and_refusal_rendering():
    result = {
        "question": "q",
        "rewritten_question": "q",
        "refused": False,
        "answer": "开展活动215场[1]。吸引3万人次观看[1]。",
        "unsupported": ["吸引3万人次观看。"],
        "citations": [],
    }
    html_out = render_answer(result, 0)
    assert '<span class="unsupported"' in html_out and "（未找到依据）" in html_out
    assert html_out.index("unsupported") > html_out.index("215场")
    assert "<del>开展活动" not in html_out
    refused = render_answer(
        {**result, "refused": True, "answer": "资料中没有找到能回答这个问题的内容。", "unsupported": []}, 0
    )
    assert 'class="refusal"' in refused and "未找到依据" in refused
    assert render_text("<b>x</b>[2]", [], "p") == '&lt;b&gt;x&lt;/b&gt;<a class="cite" href="#p-2">[2]</a>'


def test_only_the_flagged_sentence_is_struck_and_warned_about():
    answer = "开展活动215场[1]。吸引3万人次观看[1]。"
    struck = render_text(answer, ["吸引3万人次观看。"], "src-0")
    assert re.findall(r"<del>(.*?)</del>", struck) == ['吸引3万人次观看<a class="cite" href="#src-0-1">[1]</a>。']
    assert render_text(answer, [], "src-0").count("<del>") == 0
    assert messages.UNSUPPORTED_WARNING in render_answer(answer_result(answer, unsupported=["吸引3万人次观看。"]), 0)
    assert messages.UNSUPPORTED_WARNING not in render_answer(answer_result(answer), 0)


def test_a_rewritten_question_is_shown_only_when_it_differs():
    same = render_answer(answer_result("答[1]。", question="那人次呢？", rewritten_question="那人次呢？"), 0)
    other = render_answer(answer_result("答[1]。", question="那人次呢？", rewritten_question="宣讲吸引多少人次？"), 0)
    assert "理解为" not in same
    assert '<div class="rewritten">理解为：宣讲吸引多少人次？</div>' in other


# ---------------------------------------------------------------------- highlights
def test_supporting_spans_highlight_only_verbatim_sentences():
    chunk = "我们深化品牌项目，开展各类理论宣讲活动215场，吸引2.6万人次在线观看。其他内容。"
    answer = "……开展各类理论宣讲活动215场，吸引2.6万人次在线观看[1]。编造的句子[1]。"
    spans = supporting_spans(answer, 1, chunk)
    assert [chunk[s:e] for s, e in spans] == ["开展各类理论宣讲活动215场，吸引2.6万人次在线观看。"]
    assert supporting_spans(answer, 2, chunk) == []


def test_supporting_spans_drop_list_markup_and_merge_overlaps():
    chunk = "一是加强学习。二是深入宣讲。"
    answer = "- 一是加强学习[1]。\n- 加强学习[1]。\n1. 二是深入宣讲[2]。"
    assert [chunk[s:e] for s, e in supporting_spans(answer, 1, chunk)] == ["一是加强学习。"]
    assert [chunk[s:e] for s, e in supporting_spans(answer, 2, chunk)] == ["二是深入宣讲。"]


def test_highlight_escapes_inside_and_outside_the_marks():
    chunk = "前<b>\n中<i>后"
    assert highlight(chunk, [(5, 9)]) == "前&lt;b&gt;<br><mark>中&lt;i&gt;</mark>后"
    assert highlight(chunk, []) == "前&lt;b&gt;<br>中&lt;i&gt;后"


def test_citation_block_shows_title_file_section_page_and_marks_the_quote():
    chunk = "开展各类理论宣讲活动215场。其他内容。"
    citation = {"n": 2, "source": "knowledge/讲话.pdf", "section": "一、成绩", "page": 3, "text": chunk}
    html_out = render_citation(citation, "开展各类理论宣讲活动215场[2]。", "src-1", open_=False)
    assert html_out.startswith('<details class="src" id="src-1-2">')
    assert '<span class="src-title">讲话</span>' in html_out and '<span class="src-file">讲话.pdf</span>' in html_out
    assert '<span class="src-section">一、成绩</span>' in html_out and "第3页" in html_out
    assert "<mark>开展各类理论宣讲活动215场。</mark>其他内容。" in html_out


# ---------------------------------------------------------------------- panels and chat
def test_sources_panel_opens_the_latest_answer_and_folds_earlier_ones():
    cite = {"n": 1, "source": "a.txt", "text": "内容。"}
    turns = [
        turn("第一问", answer_result("内容[1]。", citations=[cite]), n=0),
        turn("出错的问", {}, error=True, n=1),
        turn("第二问", answer_result("内容[1]。", citations=[cite]), n=2),
    ]
    panel = render_sources(turns)
    assert panel.index('id="src-2-1"') < panel.index('<details class="src-older">') < panel.index('id="src-0-1"')
    assert "之前的回答来源（第一问）" in panel
    assert messages.SOURCES_EMPTY in render_sources([turns[1]]) and messages.SOURCES_EMPTY in render_outline_sources(
        None
    )


def test_chat_shortens_long_questions_and_skips_empty_ones():
    long_question = "冬" * 400
    chat = render_chat([{**turn(long_question, {}), "html": "答"}, {**turn("", {}), "html": "提示"}])
    assert [m["role"] for m in chat] == ["user", "assistant", "assistant"]
    assert chat[0]["content"].endswith("……") and len(chat[0]["content"]) < len(long_question)


@pytest.mark.parametrize(
    "a, b, same",
    [
        (["Like", None], ["Like", None], True),
        (["Like", None, None], ["Like"], True),  # an answer past the end shows no rating
        ([None, None], None, True),  # the page's chatbot before any rating
        (["Like"], ["Dislike"], False),
        (["Like", None], [None, "Like"], False),  # dropping the oldest turn shifts the ratings
        ([None, "Like"], None, False),
    ],
)
def test_same_ratings(a, b, same):
    assert same_ratings(a, b) is same
