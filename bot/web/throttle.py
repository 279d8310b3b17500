"""Back-off for guesses: after too many failures a client is locked out, longer each time.

Used for the administrator token. A lock-out refuses every attempt, the right token included, until it
ends; the failures that led to it are forgotten, but the next lock-out lasts twice as long (up to a cap).
A success forgets the client.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_CLIENTS = 10_000  # clients remembered at once; the least recently seen is forgotten first
MAX_DOUBLINGS = 30  # the lock-out stops doubling here (the cap is reached long before; this keeps 2**n small)


@dataclass
class _Record:
    failures: int = 0  # since the last lock-out
    lockouts: int = 0  # lock-outs so far; each doubles the next
    locked_until: float = 0.0


class Throttle:
    """Per-client failure counts and lock-outs; thread-safe."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        lockout_seconds: float = 60.0,
        max_lockout_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.max_lockout_seconds = max_lockout_seconds
        self.clock = clock
        self._clients: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def locked_for(self, client: str) -> float:
        """Seconds left in the client's lock-out (0 when it may try)."""
        with self._lock:
            record = self._clients.get(client)
            return max(0.0, record.locked_until - self.clock()) if record else 0.0

    def failed(self, client: str) -> tuple[int, float]:
        """Count a failure: the failures in a row so far, and the length of the lock-out it starts (or 0)."""
        with self._lock:
            record = self._clients.pop(client, None) or _Record()
            self._clients[client] = record  # most recently seen last
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            record.failures += 1
            failures = record.failures
            if failures < self.max_failures:
                return failures, 0.0
            seconds = min(self.lockout_seconds * 2 ** min(record.lockouts, MAX_DOUBLINGS), self.max_lockout_seconds)
            record.failures, record.lockouts = 0, record.lockouts + 1
            record.locked_until = self.clock() + seconds
            return failures, seconds

    def succeeded(self, client: str) -> None:
        """Forget the client's failures and lock-outs."""
        with self._lock:
            self._clients.pop(client, None)
