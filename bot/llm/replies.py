"""What the model says, made usable: the rewritten question out of a reply that may carry labels or quotes."""

from __future__ import annotations

import re

MAX_REWRITE_CHARS = 200  # a longer "rewrite" is a model that did not follow the instruction
# Labels some models put before the rewritten question despite being told not to.
REWRITE_LABEL = re.compile(r"^(改写后的问题|独立问题|改写|问题|Question|Rewritten question)\s*[:：]\s*", re.I)
QUOTES = "\"'“”‘’「」『』`"


def clean_rewrite(text: str) -> str:
    """The first non-empty line of the model's output, without labels or quotes; '' when unusable."""
    for line in text.splitlines():
        line = REWRITE_LABEL.sub("", line.strip()).strip().strip(QUOTES).strip()
        if line:
            return line if len(line) <= MAX_REWRITE_CHARS else ""
    return ""
