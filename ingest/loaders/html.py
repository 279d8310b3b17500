"""HTML: the visible text block by block (scripts, styles and navigation dropped), h1–h6 as headings, tables as rows."""

from __future__ import annotations

from typing import Any

from ingest.loaders.document import LoadError, Parsed, TextBuilder, collapse_spaces, table_rows
from ingest.loaders.encoding import decode_bytes

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


def load_html(data: bytes, name: str) -> Parsed:
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
    builder = TextBuilder()
    _HtmlWalker(builder).walk(soup)
    return Parsed(builder.text, builder.headings, title, [])


class _HtmlWalker:
    """Collects inline text into lines and flushes a line at every block boundary."""

    def __init__(self, builder: TextBuilder) -> None:
        self.builder = builder
        self.buf: list[str] = []

    def flush(self) -> None:
        line = collapse_spaces("".join(self.buf))
        self.buf = []
        if line:
            self.builder.add(line)

    def walk(self, node: Any) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
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
                self.walk(child)
                self.flush()
            else:
                self.walk(child)
        if node.parent is None:
            self.flush()
