"""The feedback log: one JSON record per line, in a file rotated at a size limit so it cannot fill the disk.

Anyone can send feedback, so a record must never break the one-line-per-record promise: json.dumps
escapes the C0 line breaks (\\n, \\r, \\v, \\f, \\x1c–\\x1e) but, with ensure_ascii=False, writes U+0085,
U+2028 and U+2029 raw, and str.splitlines() and many log readers break lines at those.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

KB = 1024
# Line breaks json.dumps(ensure_ascii=False) leaves raw, as the JSON escapes that stand for them.
RAW_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(record: dict[str, Any]) -> str:
    """The record as one line of JSON (readable Chinese, every line separator escaped), with its newline."""
    text = json.dumps(record, ensure_ascii=False)
    for raw, escaped in RAW_LINE_BREAKS.items():
        text = text.replace(raw, escaped)  # these can only occur inside JSON strings, where the escape is valid
    return text + "\n"


def rotated(path: Path, number: int) -> Path:
    """The `number`-th older file of the log at `path`: feedback.jsonl.1 is the newest of them."""
    return path.with_name(f"{path.name}.{number}")


class FeedbackLog:
    """Appends records to `path`; before a record would take it past `max_kb`, the file is rotated and the
    `backups` most recent old files are kept. Safe for the page's worker threads; OSError is the caller's."""

    def __init__(self, path: Path, *, max_kb: int = 5120, backups: int = 5):
        self.path = Path(path)
        self.max_bytes = max_kb * KB
        self.backups = backups
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line."""
        data = json_line(record).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            with open(self.path, "ab") as f:
                f.write(data)

    def _rotate(self) -> None:
        """feedback.jsonl → .1 → .2 …; the oldest beyond `backups` is dropped."""
        for number in range(self.backups - 1, 0, -1):
            older = rotated(self.path, number)
            if older.exists():
                os.replace(older, rotated(self.path, number + 1))
        os.replace(self.path, rotated(self.path, 1))

    def files(self) -> list[Path]:
        """The log and its rotated files that exist, newest first."""
        candidates = [self.path, *(rotated(self.path, n) for n in range(1, self.backups + 1))]
        return [p for p in candidates if p.exists()]
