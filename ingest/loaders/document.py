"""What every loader produces: a LoadedDocument (normalised text plus markup hints), and the pieces they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from core.grammar import normalise
from core.settings import StoreSettings, env_name

# A first line this short (no sentence end, no trailing colon) is taken as the document title.
TITLE_MAX_CHARS = 40
TITLE_BAD_CHARS = "。！？；"
TITLE_BAD_ENDINGS = ("：", ":")

SPACE_RE = re.compile(r"\s+")
# The highest heading level kept from markup (h6, ######, Heading 6).
MAX_HEADING_LEVEL = 6


class LoadError(Exception):
    """A file that cannot be read; str(e) is a Chinese message naming the file and what to do."""


def too_much_text(name: str, max_chars: int) -> LoadError:
    """The refusal of a file with more than `max_chars` characters of text, naming the setting that allows more."""
    var = env_name(StoreSettings, "max_file_chars")
    return LoadError(
        f"文件 {name} 的文字超过单个文件 {max_chars} 字的上限（设置项 {var}），没有导入。"
        f"请把它拆成几个较小的文件后再导入；确需导入整份文件时，请管理员调高 {var}。"
    )


@dataclass
class LoadedDocument:
    """One file as text: every offset (pages, headings, chunk start/end) refers to `text`."""

    source: str  # stable id of the file in the knowledge base (see ingest.discovery)
    title: str
    text: str  # core.grammar.normalise()d full text
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, page from 1); pdf only
    headings: dict[int, int] = field(default_factory=dict)  # offset of a heading line -> level 1..6, from markup
    file_name: str = ""  # base name of the file, for citations

    def __post_init__(self) -> None:
        if not self.file_name:
            self.file_name = Path(self.source).name


class Parsed(NamedTuple):
    """What a format reader extracts from a file's bytes; `load` turns it into a LoadedDocument."""

    text: str
    headings: dict[int, int]
    title: str
    pages: list[tuple[int, int, int]]


class TextBuilder:
    """Joins normalised pieces with single line breaks, keeping exact offsets of headings and pages.

    With `max_chars` it stops a runaway file early: adding past that many characters raises LoadError."""

    def __init__(self, max_chars: int | None = None, name: str = "文件") -> None:
        """max_chars: the most characters the text may reach (None: no limit); name: the file, for the message."""
        self.parts: list[str] = []
        self.pos = 0
        self.headings: dict[int, int] = {}
        self.max_chars = max_chars
        self.name = name

    def add(self, text: str, level: int | None = None) -> tuple[int, int] | None:
        """Append one piece (a heading line when level is given); its (start, end), or None when blank."""
        if level:
            # A heading is one line.
            text = collapse_spaces(text)
        piece = normalise(text)
        if not piece.strip():
            return None
        if self.parts:
            self.parts.append("\n")
            self.pos += 1
        start = self.pos
        if level:
            self.headings[start] = max(1, min(MAX_HEADING_LEVEL, level))
        self.parts.append(piece)
        self.pos += len(piece)
        if self.max_chars is not None and self.pos > self.max_chars:
            raise too_much_text(self.name, self.max_chars)
        return start, self.pos

    @property
    def text(self) -> str:
        return "".join(self.parts)


def collapse_spaces(text: str) -> str:
    """Runs of whitespace as one space, ends stripped (a title or a table cell is one line)."""
    return SPACE_RE.sub(" ", text).strip()


def table_rows(rows: list[list[str]]) -> list[str]:
    """Markdown pipe rows, one per line, with a separator after the header row."""
    out: list[str] = []
    for cells in rows:
        cells = [collapse_spaces(c).replace("|", "｜") for c in cells]
        if not any(cells):
            continue
        out.append("| " + " | ".join(cells) + " |")
        if len(out) == 1:
            out.append("|" + "---|" * len(cells))
    return out


def title_from_text(text: str) -> str:
    """The first non-blank line when it reads like a title (short, no sentence end, no colon), else ""."""
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if (
            len(line) <= TITLE_MAX_CHARS
            and not any(ch in line for ch in TITLE_BAD_CHARS)
            and not line.endswith(TITLE_BAD_ENDINGS)
        ):
            return line.lstrip("#").strip()
        return ""
    return ""
