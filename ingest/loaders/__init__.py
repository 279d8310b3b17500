"""Read one file (txt, md, docx, pdf, html) into a LoadedDocument: normalised text plus markup hints.

CONTRACT:

    class LoadError(Exception): str(e) is a Chinese message naming the file and what to do.

    @dataclass
    class LoadedDocument:
        source: str                 # stable id of the file (see ingest.discovery)
        title: str                  # document title
        text: str                   # core.grammar.normalise()d full text; every offset refers to it
        pages: list[tuple[int, int, int]]  # (start, end, page number from 1); pdf only, else []
        headings: dict[int, int]    # offset of a heading line's first char -> level 1..6, from markup
        file_name: str              # base name of the file, for citations

    SUPPORTED: frozenset of lower-case suffixes
    def load(path: Path, source: str | None = None, *, limits: Limits | None = None) -> LoadedDocument
    def decode_bytes(data: bytes, name: str = "文件") -> str

One module per format (text, docx, pdf, html), each turning a file's bytes into a Parsed under the Limits
of one file (`limits`: size, characters, zip container); `encoding` decodes text bytes for the text and
html readers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from core.grammar import normalise
from ingest.loaders.document import LoadedDocument, LoadError, Parsed, title_from_text, too_much_text
from ingest.loaders.docx import load_docx
from ingest.loaders.encoding import decode_bytes
from ingest.loaders.html import load_html
from ingest.loaders.limits import Limits, check_file_size
from ingest.loaders.pdf import load_pdf
from ingest.loaders.text import load_markdown, load_text

__all__ = [
    "READERS",
    "SUPPORTED",
    "SUPPORTED_HINT",
    "Limits",
    "LoadError",
    "LoadedDocument",
    "decode_bytes",
    "load",
]

log = logging.getLogger(__name__)


class Reader(Protocol):
    """A format reader: a file's bytes (and name, for messages) to a Parsed, under the limits of one file."""

    def __call__(self, data: bytes, name: str, *, limits: Limits = ...) -> Parsed: ...


# Lower-case file suffix -> the reader of that format.
READERS: dict[str, Reader] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".docx": load_docx,
    ".pdf": load_pdf,
    ".html": load_html,
    ".htm": load_html,
}
SUPPORTED = frozenset(READERS)
SUPPORTED_HINT = "txt、md、docx、pdf、html"
# Formats whose bytes are the text itself: no character takes more than this many bytes in any accepted
# encoding, so a larger file is refused before it is decoded.
PLAIN_TEXT = frozenset({".txt", ".md", ".markdown"})
MAX_BYTES_PER_CHAR = 4


def load(path: Path, source: str | None = None, *, limits: Limits | None = None) -> LoadedDocument:
    """Read a supported file into a LoadedDocument; raise LoadError with a Chinese message otherwise.

    limits: how large a file may be (default: the settings' defaults); a larger one is refused early."""
    path = Path(path)
    name = path.name
    limits = limits or Limits.defaults()
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise LoadError(f"不支持的文件类型：{name}。目前支持 {SUPPORTED_HINT} 格式，请另存为其中一种后再上传。")
    try:
        size = path.stat().st_size
        if path.suffix.lower() in PLAIN_TEXT and size > limits.max_chars * MAX_BYTES_PER_CHAR:
            raise too_much_text(name, limits.max_chars)  # for plain text the characters are what matters
        check_file_size(size, name, limits)
        data = path.read_bytes()
    except OSError as e:
        raise LoadError(f"无法读取文件 {name}（{e.strerror or e}），请确认文件存在且有读取权限。") from e
    if not data.strip():
        raise LoadError(f"文件 {name} 是空的，没有可读取的文字，请检查文件内容后再上传。")

    text, headings, title, pages = reader(data, name, limits=limits)

    if len(text) > limits.max_chars:
        raise too_much_text(name, limits.max_chars)
    if not text.strip():
        raise LoadError(f"文件 {name} 中没有可读取的文字，请检查文件内容后再上传。")
    if normalise(text) != text:  # pieces are normalised one by one; this should never trigger
        log.warning("text of %s was not stable under normalise(); markup offsets dropped", name)
        text, headings, pages = normalise(text), {}, []
    title = (title or "").strip() or title_from_text(text) or path.stem
    return LoadedDocument(
        source=source if source is not None else str(path),
        title=title,
        text=text,
        pages=pages,
        headings=headings,
        file_name=name,
    )
