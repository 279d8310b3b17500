"""Answers per second through the running app's HTTP interface (Gradio's API, as gradio_client calls it),
with several clients at once, and the cold start from process start to the first answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from eval.bench.servers import APP_START_SECONDS, POLL_SECONDS, Process, http_ok
from eval.metrics import percentile

ASK_API = "/ask"
NEW_CHAT_API = "/new_chat"
# Questions one client asks in one conversation before it starts a new one (as a member would).
SESSION_TURNS = 5
REQUEST_SECONDS = 120.0


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def cold_start(app: Process, question: str, *, timeout: float = APP_START_SECONDS) -> dict[str, Any]:
    """Seconds from the app's process start until its page answers, and until the first answer arrives."""
    deadline = app.started + timeout
    while not http_ok(app.url):
        if app.popen.poll() is not None:
            raise RuntimeError(f"the app exited with {app.popen.returncode}:\n{app.tail()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the app did not start within {timeout:.0f} s:\n{app.tail()}")
        time.sleep(POLL_SECONDS)
    ready = time.perf_counter() - app.started
    client = _client(app.url)
    client.predict(question, api_name=ASK_API)
    return {"ready_s": ready, "first_answer_s": time.perf_counter() - app.started}


def load_round(
    app: Process, questions: Sequence[str], *, clients: int, per_client: int, session_turns: int = SESSION_TURNS
) -> dict[str, Any]:
    """`clients` concurrent sessions, each asking `per_client` questions in turn; rate, latency and the app's CPU."""
    sessions = [_client(app.url) for _ in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def run(k: int) -> None:
        client = sessions[k]
        start.wait()
        for j in range(per_client):
            question = questions[(k * per_client + j) % len(questions)]
            t = time.perf_counter()
            try:
                client.submit(question, api_name=ASK_API).result(timeout=REQUEST_SECONDS)
            except Exception as e:  # one failed request is counted, not fatal to the round
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                continue
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)
            if (j + 1) % session_turns == 0:
                client.predict(api_name=NEW_CHAT_API)

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(clients)]
    for th in threads:
        th.start()
    cpu0, client_cpu0 = app.cpu_seconds(), time.process_time()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join(timeout=REQUEST_SECONDS * per_client)
    wall = time.perf_counter() - t0
    cpu = app.cpu_seconds() - cpu0
    client_cpu = time.process_time() - client_cpu0  # the load generator shares the machine's cores
    answers = len(latencies)
    return {
        "clients": clients,
        "answers": answers,
        "errors": len(errors),
        "error_examples": errors[:3],
        "wall_s": wall,
        "answers_per_s": answers / wall if wall else None,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "app_cpu_s": cpu,
        "app_cpu_ms_per_answer": cpu * 1000 / answers if answers else None,
        "client_cpu_ms_per_answer": client_cpu * 1000 / answers if answers else None,
        "app_peak_rss_mb": app.peak_rss_mb(),
    }


def rounds(
    app: Process, questions: Sequence[str], concurrency: Sequence[int], *, answers: int, min_per_client: int
) -> list[dict[str, Any]]:
    """One load round per number of clients, each about `answers` answers (at least min_per_client per client)."""
    out: list[dict[str, Any]] = []
    for c in concurrency:
        per_client = max(min_per_client, -(-answers // c))
        out.append(load_round(app, questions, clients=c, per_client=per_client))
    return out
