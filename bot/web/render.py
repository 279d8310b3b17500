"""HTML for the page: answers, citations, the sources panel, the chat and the outline preview.

Pure functions. Every piece of document or user text is passed through `esc` before it is put into
the HTML built here; the only markup added is our own (citation links, <mark>, <del>, notices). `esc`
also disarms markdown: the chat and the outline preview render markdown, and a `[text](http://…)` or
`![](…)` in a document must show as text there, not become a live link or an image.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NotRequired, Optional, TypedDict

from bot.verify import CITE, MARKER, RELATED
from bot.web import messages
from core.grammar import split_sentences

# Markdown list or heading markup before an answer sentence ("- ", "1. ", "## "); not part of the quote.
MARKDOWN_PREFIX = re.compile(r"^\s*(?:[-*+•]|\d+[.、)）]|#+)\s*")
TRAILING_PUNCT = "。！？；，：.!?;,:"
DISPLAY_QUESTION_CHARS = 300  # an echoed question longer than this is shortened in the chat
OLDER_QUESTION_CHARS = 30  # the question shown on a folded earlier answer's sources
OUTLINE_PREFIX = "osrc"  # element ids of the outline's sources: osrc-1, osrc-2, …
STREAM_CURSOR = '<span class="cursor">▍</span>'
# Written as character references, these show the same but can no longer open a markdown link or image
# ([…](…), ![…](…), [ref]: …) or a GFM autolink (http://…, ftp://…, name@host); www. is handled by WWW.
LINK_SYNTAX = (("[", "&#91;"), ("]", "&#93;"), ("://", "&#58;//"), ("@", "&#64;"))
WWW = re.compile(r"(www)\.", re.I)
ESCAPED_CITE = re.compile(r"&#91;(\d+)&#93;")  # a [n] marker after esc()


Rating = Literal["up", "down"]
# The chatbot's own feedback values (its thumb icons) for our ratings.
CHATBOT_RATING: dict[str, str] = {"up": "Like", "down": "Dislike"}


class Feedback(TypedDict):
    """A visitor's rating of one answer, with an optional comment."""

    rating: Rating
    comment: str


class Turn(TypedDict):
    """One exchange of a chat session as the page keeps it in gr.State."""

    question: str
    answer: str
    n: int  # the turn's number in the conversation; its sources' element ids are src-{n}-1, src-{n}-2, …
    result: dict[str, Any]  # the answer and its citations (empty for a notice)
    html: str  # the rendered assistant message
    error: bool  # a notice or a failure, not an answer: skipped by history, sources and feedback
    notice: NotRequired[str]  # what a notice says (to render it again when the conversation is reopened)
    feedback: NotRequired[Optional[Feedback]]  # the visitor's rating of this answer


def esc(text: Any) -> str:
    """HTML-escape document text so it shows as text: no tag, template (`$`/`{}`), math, markdown link or image."""
    out = (
        html.escape(str(text or ""), quote=True)
        .replace("$", "&#36;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
        .replace("`", "&#96;")
    )
    for syntax, reference in LINK_SYNTAX:
        out = out.replace(syntax, reference)
    return WWW.sub(r"\1&#46;", out)


def turn_prefix(turn: int) -> str:
    """Element-id prefix of the sources of the chat's `turn`-th answer: src-0, src-1, …"""
    return f"src-{turn}"


def cite_links(escaped: str, prefix: str) -> str:
    """Turn [n] in already-escaped text into footnote links to the element id `{prefix}-{n}`."""
    return ESCAPED_CITE.sub(lambda m: f'<a class="cite" href="#{prefix}-{m.group(1)}">[{m.group(1)}]</a>', escaped)


def sentence_body(sentence: str) -> str:
    """A sentence as verify() names it in `unsupported`: markers and the related-content label removed."""
    return RELATED.sub("", MARKER.sub("", sentence).strip())


def short(text: Any, limit: int = DISPLAY_QUESTION_CHARS) -> str:
    """The text, cut to `limit` characters with …… when longer."""
    text = str(text or "")
    return text if len(text) <= limit else text[:limit] + "……"


def render_text(text: str, unsupported: list[str], prefix: str) -> str:
    """Answer or outline text as escaped HTML/markdown: [n] become links, unsupported sentences are struck."""
    flagged = {u.strip() for u in unsupported or [] if u.strip()}
    out, pos = [], 0
    for s, e in split_sentences(text):
        out.append(cite_links(esc(text[pos:s]), prefix))
        sentence = text[s:e]
        body = cite_links(esc(sentence), prefix)
        if sentence_body(sentence) in flagged:
            label = messages.NOT_FOUND_LABEL
            body = f'<span class="unsupported" title="{label}"><del>{body}</del><em>（{label}）</em></span>'
        out.append(body)
        pos = e
    out.append(cite_links(esc(text[pos:]), prefix))
    return "".join(out)


def render_answer(result: dict[str, Any], turn: int) -> str:
    """The chat message for one answer (markdown with inline HTML, all document text escaped)."""
    body = render_text(result.get("answer", ""), result.get("unsupported", []), turn_prefix(turn))
    parts = []
    rewritten = (result.get("rewritten_question") or "").strip()
    if rewritten and rewritten != (result.get("question") or "").strip():
        parts.append(f'<div class="rewritten">{messages.REWRITTEN.format(question=esc(rewritten))}</div>')
    if result.get("refused"):
        # Inside an HTML block markdown is not applied, so line breaks are written out.
        parts.append(
            f'<div class="refusal"><div class="refusal-title">⚠️ {messages.NOT_FOUND_LABEL}</div>'
            f"{body.replace(chr(10), '<br>')}</div>"
        )
    else:
        parts.append(body)
    if result.get("unsupported"):
        parts.append(f'<div class="warn-unsupported">{messages.UNSUPPORTED_WARNING}</div>')
    return "\n\n".join(parts)


def render_partial(text: str, turn: int) -> str:
    """An answer still streaming in: escaped, [n] linked, a cursor at the end."""
    return cite_links(esc(text), turn_prefix(turn)) + STREAM_CURSOR


def render_thinking() -> str:
    """The placeholder message shown before the first token arrives."""
    return f'<span class="thinking">{messages.THINKING}</span>'


def render_notice(message: str) -> str:
    """A notice in the chat instead of an answer (a rejected question, a failure)."""
    return f'<div class="notice">⚠️ {esc(message)}</div>'


def supporting_spans(answer: str, n: int, chunk: str) -> list[tuple[int, int]]:
    """Where in the chunk the answer sentences citing [n] occur verbatim (marker, leading …… removed)."""
    spans = []
    for s, e in split_sentences(answer):
        sentence = answer[s:e]
        if n not in {int(x) for x in CITE.findall(sentence)}:
            continue
        body = MARKDOWN_PREFIX.sub("", sentence_body(sentence)).lstrip("…").strip()
        for candidate in (body, body.rstrip(TRAILING_PUNCT)):
            i = chunk.find(candidate) if candidate else -1
            if i >= 0:
                spans.append((i, i + len(candidate)))
                break
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(chunk: str, spans: list[tuple[int, int]]) -> str:
    """The chunk escaped, with the spans wrapped in <mark>."""
    out, pos = [], 0
    for s, e in spans:
        out.append(esc(chunk[pos:s]))
        out.append(f"<mark>{esc(chunk[s:e])}</mark>")
        pos = e
    out.append(esc(chunk[pos:]))
    return "".join(out).replace("\n", "<br>")


def render_citation(c: dict[str, Any], answer: str, prefix: str, open_: bool = True) -> str:
    """One source as a <details id="{prefix}-{n}"> block: title, file, section, page, highlighted chunk."""
    n = int(c.get("n", 0))
    source = str(c.get("source", ""))
    file_name = Path(source).name or source
    title = c.get("title") or Path(file_name).stem
    meta = [f'<span class="src-file">{esc(file_name)}</span>']
    if c.get("section"):
        meta.append(f'<span class="src-section">{esc(c["section"])}</span>')
    if c.get("page"):
        meta.append(f'<span class="src-page">{messages.PAGE.format(page=int(c["page"]))}</span>')
    chunk = str(c.get("text", ""))
    return (
        f'<details class="src" id="{prefix}-{n}"{" open" if open_ else ""}>'
        f'<summary><span class="src-n">[{n}]</span> <span class="src-title">{esc(title)}</span></summary>'
        f'<div class="src-meta">{" · ".join(meta)}</div>'
        f'<blockquote class="src-text">{highlight(chunk, supporting_spans(answer, n, chunk))}</blockquote>'
        f"</details>"
    )


def _sources_panel(inner: str) -> str:
    return f'<div class="sources">{inner}</div>'


def _sources_empty() -> str:
    return _sources_panel(f'<div class="src-empty">{messages.SOURCES_EMPTY}</div>')


def render_sources(turns: list[Turn]) -> str:
    """The sources panel: the latest answer's citations open, earlier answers' folded below."""
    answered = [t for t in turns if not t.get("error") and t["result"].get("citations")]
    if not answered:
        return _sources_empty()
    blocks = []
    for rank, t in enumerate(reversed(answered)):
        result = t["result"]
        items = "".join(
            render_citation(c, result.get("answer", ""), turn_prefix(t["n"]), open_=True) for c in result["citations"]
        )
        head = f'<div class="src-question">{messages.SOURCE_QUESTION.format(question=esc(short(t["question"])))}</div>'
        if rank == 0:
            blocks.append(f'<div class="src-turn">{head}{items}</div>')
        else:
            older = messages.OLDER_SOURCES.format(question=esc(short(t["question"], OLDER_QUESTION_CHARS)))
            blocks.append(f'<details class="src-older"><summary>{older}</summary>{head}{items}</details>')
    return _sources_panel("".join(blocks))


def render_chat(turns: list[Turn]) -> list[dict[str, str]]:
    """Chatbot messages (role, content) for the session's turns."""
    chat = []
    for t in turns:
        if t.get("question"):
            chat.append({"role": "user", "content": esc(short(t["question"]))})
        chat.append({"role": "assistant", "content": t["html"]})
    return chat


def turn_at(turns: list[Turn], index: int) -> Optional[Turn]:
    """The turn whose assistant message is message `index` of render_chat(turns), or None."""
    position = -1
    for t in turns:
        position += 2 if t.get("question") else 1
        if position == index:
            return t
        if position > index:
            return None
    return None


def chat_ratings(turns: list[Turn]) -> list[Optional[str]]:
    """The chatbot's feedback value of each assistant message of render_chat(turns) ("Like", "Dislike" or None)."""
    return [CHATBOT_RATING[f["rating"]] if (f := t.get("feedback")) else None for t in turns]


def same_ratings(a: Optional[Sequence[Optional[str]]], b: Optional[Sequence[Optional[str]]]) -> bool:
    """Whether two chatbot feedback values show the same 👍/👎 (an answer past the end of one shows none)."""
    a, b = list(a or []), list(b or [])
    width = max(len(a), len(b))
    return a + [None] * (width - len(a)) == b + [None] * (width - len(b))


def render_outline_preview(text: Optional[str]) -> str:
    """The edited outline as markdown with escaped text and [n] linking to the outline's source list."""
    return render_text(text or "", [], OUTLINE_PREFIX)


def render_outline_sources(result: Optional[dict[str, Any]]) -> str:
    """The outline's sources panel (all open), or the empty hint when there is no outline."""
    if not result or not result.get("citations"):
        return _sources_empty()
    return _sources_panel(
        "".join(render_citation(c, result.get("answer", ""), OUTLINE_PREFIX) for c in result["citations"])
    )
