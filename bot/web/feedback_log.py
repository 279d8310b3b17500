"""The feedback log: one JSON record per line, in a file rotated at a size limit so it cannot fill the disk.

Anyone can send feedback, so a record must never break the one-line-per-record promise: json.dumps
escapes the C0 line breaks (\\n, \\r, \\v, \\f, \\x1c–\\x1e) but, with ensure_ascii=False, writes U+0085,
U+2028 and U+2029 raw, and str.splitlines() and many log readers break lines at those.

A record with an "id" (one answer of one conversation) is kept once: writing it again with a new rating
or comment replaces its line where it is (in the log or a rotated file), and writing it unchanged writes
nothing, so a double click logs once. Writers hold a lock file beside the log (flock, where the system has
it) besides the thread lock, so replicas sharing the folder do not lose each other's lines.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Optional

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone (one process)
    fcntl = None  # type: ignore[assignment]  # reason: the module is optional

KB = 1024
ID = "id"  # the field that names what a record is about
VOLATILE = ("time",)  # fields that do not make a record different from the one it replaces
# Line breaks json.dumps(ensure_ascii=False) leaves raw, as the JSON escapes that stand for them.
RAW_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
Outcome = Literal["added", "updated", "unchanged", "removed", "absent"]


def json_line(record: dict[str, Any]) -> str:
    """The record as one line of JSON (readable Chinese, every line separator escaped), with its newline."""
    text = json.dumps(record, ensure_ascii=False)
    for raw, escaped in RAW_LINE_BREAKS.items():
        text = text.replace(raw, escaped)  # these can only occur inside JSON strings, where the escape is valid
    return text + "\n"


def rotated(path: Path, number: int) -> Path:
    """The `number`-th older file of the log at `path`: feedback.jsonl.1 is the newest of them."""
    return path.with_name(f"{path.name}.{number}")


def parsed(line: bytes) -> Optional[dict[str, Any]]:
    """One log line as a record, or None when it is not one (a torn or foreign line)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records say the same thing (their times aside)."""
    return {k: v for k, v in a.items() if k not in VOLATILE} == {k: v for k, v in b.items() if k not in VOLATILE}


class FeedbackLog:
    """Appends records to `path`; before a record would take it past `max_kb`, the file is rotated and the
    `backups` most recent old files are kept. Safe for the page's worker threads; OSError is the caller's."""

    def __init__(self, path: Path, *, max_kb: int = 5120, backups: int = 5):
        self.path = Path(path)
        self.max_bytes = max_kb * KB
        self.backups = backups
        self._lock = threading.Lock()

    @property
    def lock_path(self) -> Path:
        """The file writers lock (beside the log, so that rotation never replaces it)."""
        return self.path.with_name(f"{self.path.name}.lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if fcntl is None:
                yield
                return
            with open(self.lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ writing
    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line."""
        with self._locked():
            self._append(json_line(record).encode("utf-8"))

    def put(self, record: dict[str, Any]) -> Outcome:
        """Write a record, replacing the one with the same id if there is one: added, updated or unchanged."""
        data = json_line(record).encode("utf-8")
        key = record.get(ID)
        with self._locked():
            found = self._find(key) if key else None
            if found is None:
                self._append(data)
                return "added"
            path, lines, i = found
            old = parsed(lines[i])
            if old is not None and same(old, record):
                return "unchanged"
            lines[i] = data
            self._rewrite(path, lines)
            return "updated"

    def remove(self, key: str) -> Outcome:
        """Delete the record with this id (a rating taken back): removed, or absent."""
        with self._locked():
            found = self._find(key)
            if found is None:
                return "absent"
            path, lines, i = found
            del lines[i]
            self._rewrite(path, lines)
            return "removed"

    def _append(self, data: bytes) -> None:
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

    def _find(self, key: str) -> Optional[tuple[Path, list[bytes], int]]:
        """The file holding the record with this id, its lines (each with its newline) and the record's line."""
        needle = json.dumps(key, ensure_ascii=False).encode("utf-8")
        for path in self.files():
            lines = path.read_bytes().splitlines(keepends=True)
            for i in range(len(lines) - 1, -1, -1):
                if needle in lines[i] and (record := parsed(lines[i])) is not None and record.get(ID) == key:
                    return path, lines, i
        return None

    def _rewrite(self, path: Path, lines: list[bytes]) -> None:
        """Replace a log file's content at once (a reader sees the old file or the new one, never half)."""
        partial = path.with_name(f"{path.name}.tmp")
        partial.write_bytes(b"".join(lines))
        os.replace(partial, path)

    # ------------------------------------------------------------------ reading
    def files(self) -> list[Path]:
        """The log and its rotated files that exist, newest first."""
        candidates = [self.path, *(rotated(self.path, n) for n in range(1, self.backups + 1))]
        return [p for p in candidates if p.exists()]

    def records(self) -> list[dict[str, Any]]:
        """Every record kept, oldest first; for an id written more than once (by racing writers), the latest."""
        by_key: dict[Any, dict[str, Any]] = {}
        for number, path in enumerate(reversed(self.files())):
            for line_number, line in enumerate(path.read_bytes().splitlines()):
                record = parsed(line)
                if record is None:
                    continue
                given = record.get(ID)
                key = given if isinstance(given, str) and given else (number, line_number)  # id-less: all kept
                by_key.pop(key, None)
                by_key[key] = record
        return list(by_key.values())
