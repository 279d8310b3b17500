"""HTML: the visible text block by block (scripts, styles and navigation dropped), h1–h6 as headings, tables as rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ingest.loaders.document import LoadError, Parsed, TextBuilder, collapse_spaces, table_rows
from ingest.loaders.encoding import decode_bytes
from ingest.loaders.limits import DEFAULT_LIMITS, Limits

_DROP_TAGS = {"script", "style", "nav", "head", "noscript", "template", "svg", "iframe"}
_HEADING_TAGS = {f"h{i}": i for i in range(1, 7)}
_BLOCK_TAGS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "body",
    "html",
    "blockquote",
    "pre",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "form",
    "aside",
    "address",
    "hr",
    "tr",
}


def load_html(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """An HTML page: one line per block element; title from <title>, else the first <h1>."""
    from bs4 import BeautifulSoup

    markup = decode_bytes(data, name)
    try:
        import lxml  # noqa: F401  # only probing whether the faster parser is installed

        parser = "lxml"
    except ImportError:
        parser = "html.parser"
    try:
        soup = BeautifulSoup(markup, parser)
    except Exception as e:
        raise LoadError(f"文件 {name} 无法解析为网页，请确认文件内容后再上传。") from e
    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = collapse_spaces(soup.title.get_text())
    else:
        h1 = soup.find("h1")
        if h1 is not None:
            title = collapse_spaces(h1.get_text(" "))
    builder = TextBuilder(limits.max_chars, name)
    _HtmlWalker(builder).walk(soup)
    return Parsed(builder.text, builder.headings, title, [])


class _HtmlWalker:
    """Collects inline text into lines and flushes a line at every block boundary.

    The tree is walked with an explicit stack, not by recursion: a page nested a thousand elements deep is
    ordinary input for a parser and must not raise RecursionError."""

    def __init__(self, builder: TextBuilder) -> None:
        self.builder = builder
        self.buf: list[str] = []

    def flush(self) -> None:
        line = collapse_spaces("".join(self.buf))
        self.buf = []
        if line:
            self.builder.add(line)

    def walk(self, root: Any) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        # (children still to visit, whether the element is a block that ends its line when done)
        stack: list[tuple[Iterator[Any], bool]] = [(iter(root.children), False)]
        while stack:
            children, block = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if block:
                    self.flush()
                continue
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                    self.buf.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = (child.name or "").lower()
            if tag in _DROP_TAGS:
                continue
            if tag in _HEADING_TAGS:
                self.flush()
                self.builder.add(child.get_text(" "), _HEADING_TAGS[tag])
            elif tag == "table":
                self.flush()
                rows = []
                for tr in child.find_all("tr"):
                    rows.append([cell.get_text(" ") for cell in tr.find_all(["td", "th"])])
                for row in table_rows(rows):
                    self.builder.add(row)
            elif tag == "br":
                self.flush()
            elif tag in _BLOCK_TAGS:
                self.flush()
                stack.append((iter(child.children), True))
            else:
                stack.append((iter(child.children), False))
        if root.parent is None:
            self.flush()
