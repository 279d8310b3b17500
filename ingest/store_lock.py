"""Who may use an embedded Chroma store: any number of processes that only read it, or one that writes.

Chroma's PersistentClient is not process-safe: each process keeps its own HNSW index in memory and writes it
back, so two writers can damage it (the likely cause why a knowledge base rewritten by one training while
another held it open missed 34 of 340 exact top-5 hits afterwards; see eval/README), and a process that opened the store before
another wrote to it never sees the new vectors. Several processes that write share a Chroma server instead
(settings.store.chroma_host).

An flock on ``<kb_dir>/chroma.lock``: shared from the store's opening (share), made exclusive before the first
write (own) and kept so until the process ends or releases it. So a writer is refused while another process
has the store open, and a process cannot open a store another one is writing to; both get a Chinese
KnowledgeBaseError. A killed process leaves no stale lock. The KnowledgeBase objects of one process share its
lock. Where the system has no flock (Windows) nothing is locked.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no lock
    fcntl = None  # type: ignore[assignment]  # reason: the module is optional

from ingest.errors import store_in_use

LOCK_FILE = "chroma.lock"


@dataclass
class _Held:
    file: IO[str]
    exclusive: bool


_held: dict[Path, _Held] = {}  # the folders this process holds
_guard = threading.Lock()


def _holder(f: IO[str]) -> str:
    """The pid the last exclusive holder wrote ('' when none was written)."""
    f.seek(0)
    return f.read().strip()


def share(kb_dir: Path) -> None:
    """Open the folder's store for reading (a no-op when this process holds it); KnowledgeBaseError when another
    process is writing to it."""
    if fcntl is None:
        return
    key = Path(kb_dir).resolve()
    with _guard:
        if key in _held:
            return
        key.mkdir(parents=True, exist_ok=True)
        f = open(key / LOCK_FILE, "a+", encoding="utf-8")
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(f)
            f.close()
            raise store_in_use(Path(kb_dir), holder, writing=False) from None
        _held[key] = _Held(f, exclusive=False)


def own(kb_dir: Path) -> None:
    """Make this process the store's only user before it writes (a no-op when it already is); KnowledgeBaseError
    when another process has the store open."""
    if fcntl is None:
        return
    share(kb_dir)
    key = Path(kb_dir).resolve()
    with _guard:
        held = _held[key]
        if held.exclusive:
            return
        try:
            fcntl.flock(held.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Converting a lock is not atomic (flock(2)): the shared one may be gone; take it again.
            try:
                fcntl.flock(held.file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                held.file.close()
                del _held[key]
            raise store_in_use(Path(kb_dir), "", writing=True) from None  # readers leave no pid behind
        held.file.seek(0)
        held.file.truncate()
        held.file.write(str(os.getpid()))
        held.file.flush()
        held.exclusive = True


def release(kb_dir: Path) -> None:
    """Give the folder's lock back (it is released anyway when the process ends)."""
    with _guard:
        held = _held.pop(Path(kb_dir).resolve(), None)
        if held is not None:
            held.file.close()  # closing the file drops the flock


def holds(kb_dir: Path) -> str:
    """How this process holds the folder: "exclusive", "shared" or ""."""
    held = _held.get(Path(kb_dir).resolve())
    return "" if held is None else ("exclusive" if held.exclusive else "shared")


def may_write(kb_dir: Path) -> bool:
    """Whether this process writes to the folder's store without asking: it holds it exclusively, or the system
    has no flock."""
    return fcntl is None or holds(kb_dir) == "exclusive"
