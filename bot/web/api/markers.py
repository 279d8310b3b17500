"""Citation markers of a streamed answer, renumbered as the final answer's are.

bot.verify renumbers the final answer's [n] in order of first use (the first passage cited becomes [1]),
while the Assistant streams the draft's own numbers. A client of the stream cannot take back text it has
shown, so the stream is renumbered the same way as it goes: a piece that may be the start of a marker
("[1", "【") is held back until the next piece shows what it is.
"""

from __future__ import annotations

import re

from bot.verify import MARKER

# A marker not yet closed at the end of the text so far ("[", "[1", "[1, 2", "【3").
OPEN_MARKER = re.compile(r"(?:\[[\d\s,，、]*|【\d*)$")
TRAILING_SPACE = re.compile(r"[ \t]+$")
MARKER_LIST = re.compile(r"\s*[,，、]\s*")  # "[1, 2]" cites two passages, as bot.verify reads it
SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([。！？，；])")  # tidied as bot.verify tidies the final answer
MAX_HELD_CHARS = 32  # an "open marker" longer than this is ordinary text


class MarkerRenumber:
    """Feed the streamed pieces in order; each call returns the text that can be sent now, renumbered."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}  # the draft's number -> the answer's, in order of first use
        self.held = ""  # the start of a marker, as streamed
        self.spaces = ""  # renumbered text's trailing spaces: they go if a punctuation mark follows

    def feed(self, piece: str) -> str:
        text = self.held + piece
        cut = len(text)
        open_marker = OPEN_MARKER.search(text)
        if open_marker and cut - open_marker.start() <= MAX_HELD_CHARS:
            cut = open_marker.start()
        self.held = text[cut:]
        out = self._renumber(text[:cut])
        space = TRAILING_SPACE.search(out)
        self.spaces = out[space.start() :] if space else ""
        return out[: space.start()] if space else out

    def flush(self) -> str:
        """What is still held back, at the end of the stream."""
        text, self.held = self.held, ""
        return self._renumber(text)

    def _renumber(self, text: str) -> str:
        def repl(m: re.Match) -> str:
            out = []
            for part in MARKER_LIST.split(m.group(1) or m.group(2)):
                n = int(part)
                if n >= 1:  # [0] points to no passage: bot.verify drops it
                    out.append(f"[{self.numbers.setdefault(n, len(self.numbers) + 1)}]")
            return "".join(out)

        text, self.spaces = self.spaces + MARKER.sub(repl, text), ""
        return SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
