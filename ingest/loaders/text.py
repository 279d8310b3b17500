"""Plain text (.txt) and Markdown (.md, .markdown): decoded bytes; Markdown adds its # headings and title."""

from __future__ import annotations

import re

from core.grammar import normalise
from ingest.loaders.document import Parsed
from ingest.loaders.encoding import decode_bytes
from ingest.loaders.limits import DEFAULT_LIMITS, Limits

_MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def load_text(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """A plain-text file: its decoded, normalised text; no markup."""
    return Parsed(normalise(decode_bytes(data, name)), {}, "", [])


def load_markdown(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """A Markdown file: its text as written, with the # heading lines as headings and the first # as title."""
    text = normalise(decode_bytes(data, name))
    headings: dict[int, int] = {}
    title = ""
    offset = 0
    for line in text.split("\n"):
        m = _MD_HEADING_RE.match(line)
        if m:
            headings[offset] = len(m.group(1))
            if not title and len(m.group(1)) == 1:
                title = m.group(2).strip()
        offset += len(line) + 1
    return Parsed(text, headings, title, [])
