"""Answers per second through the running app's HTTP interface, with several clients at once, and the
cold start from process start to the first answer.

Page clients speak Gradio's queue protocol over plain HTTP (join, then read the event stream until the
answer is complete), one visitor per session as the page does. After each answer they also send the events the
page's script chains to it (`.then`), which Gradio leaves to the browser to trigger; an answer is counted once
those are done too. Each new visitor first opens the page as a browser does: the page with its config, then the
events the page runs on load (restoring the history); that work counts in the round's time and CPU, not in an
answer's latency. API clients post to /api/ask with the
conversation's earlier turns, as a program using the HTTP API does. gradio_client speaks the same protocol but spends
~60 ms of CPU and ~250 ms of latency per answer on its own side; on a 2-core machine that load generator
would be measured as if it were the app, so it runs only in one comparison round.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import httpx

from eval.bench.servers import APP_START_SECONDS, POLL_SECONDS, Process, http_ok
from eval.metrics import percentile

ASK_API = "ask"
LOAD = "load"  # the trigger of the events a page runs when it loads
CONFIG_PATH = "config"
DEFAULT_API_PREFIX = "/gradio_api"
DATA_PREFIX = "data:"
COMPLETED = "process_completed"
GENERATING = "process_generating"  # a streamed update on the page's event stream
# The page's first update shows a placeholder (正在查找资料……) before any answer text; the first token is
# the first update without it.
PLACEHOLDER_MARK = json.dumps('class="thinking"', ensure_ascii=False)[1:-1]  # as it reads inside the JSON
CHAT_PATH = "/v1/chat/completions"
MODEL = "dongxun-assistant"  # the model id the API lists
# Questions one visitor asks in one conversation before a new visitor comes (the chat keeps its turns).
SESSION_TURNS = 5
REQUEST_SECONDS = 120.0
HTTP = "http"
GRADIO_CLIENT = "gradio_client"
API = "api"
ASK_PATH = "/api/ask"


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call one event of a Gradio app: its base URL, API prefix and function index."""

    url: str
    prefix: str
    fn_index: int
    inputs: int  # how many inputs the event takes (the question, then session state the server fills in)
    # (fn_index, inputs) of the server events the page's script runs after this one succeeds, in order
    then: tuple[tuple[int, int], ...] = ()
    # (fn_index, inputs) of the server events the page runs when it loads (restoring the history, …)
    on_load: tuple[tuple[int, int], ...] = ()

    @classmethod
    def find(cls, url: str, api_name: str = ASK_API, *, http: Optional[httpx.Client] = None) -> Endpoint:
        """The event named `api_name` in the app's /config, with the events chained after it."""
        get = http.get if http is not None else httpx.get
        config = get(url.rstrip("/") + "/" + CONFIG_PATH, timeout=REQUEST_SECONDS).json()
        deps = [(dep.get("id", i), dep) for i, dep in enumerate(config["dependencies"])]
        for fn_index, dep in deps:
            if dep.get("api_name") == api_name:
                prefix = config.get("api_prefix", DEFAULT_API_PREFIX)
                then = chained(deps, fn_index)
                return cls(url.rstrip("/"), prefix, fn_index, len(dep["inputs"]), then, on_load(deps))
        raise RuntimeError(f"the app has no event named {api_name}")


def on_load(deps: list[tuple[int, dict[str, Any]]]) -> tuple[tuple[int, int], ...]:
    """The server events the page's script runs when the page loads, in order."""
    return tuple(
        (index, len(dep["inputs"]))
        for index, dep in deps
        if dep.get("backend_fn", True) and any(list(t)[1:] == [LOAD] for t in dep.get("targets", []))
    )


def chained(deps: list[tuple[int, dict[str, Any]]], fn_index: int) -> tuple[tuple[int, int], ...]:
    """The server events that run after fn_index succeeds (`.then` / `.success`, transitively), in order: the
    browser triggers them itself once the first is complete. Script-only events (no backend function) are
    not sent."""
    out: list[tuple[int, int]] = []
    todo = [fn_index]
    while todo:
        after = todo.pop(0)
        for index, dep in deps:
            if dep.get("trigger_after") == after and not dep.get("trigger_only_on_failure"):
                if dep.get("backend_fn", True):
                    out.append((index, len(dep["inputs"])))
                todo.append(index)
    return tuple(out)


class HttpSession:
    """One visitor: questions asked in one conversation over Gradio's queue protocol (join, then the event stream)."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.http = httpx.Client(timeout=REQUEST_SECONDS)
        self.session_hash = uuid.uuid4().hex

    def new_visitor(self) -> None:
        """A new visitor opens the page: a new session (the old one's turns are left behind), the page fetched
        with its config, and the events the page runs when it loads, as a browser does."""
        self.session_hash = uuid.uuid4().hex
        e = self.endpoint
        self.http.get(e.url + "/").raise_for_status()
        for fn_index, inputs in e.on_load:
            self._event(fn_index, [None] * inputs)

    def ask(self, question: str, on_first: Optional[Callable[[], None]] = None) -> list[Any]:
        """Ask and wait until the answer is complete, and the events chained to it too: the answer event's
        outputs (for the chat: the messages, the sources panel, …); RuntimeError when the app reports a
        failure. on_first is called when the first part of the answer's text is on the wire (after the
        placeholder)."""
        e = self.endpoint
        # state inputs are kept by the server per session
        output = self._event(e.fn_index, [question] + [None] * (e.inputs - 1), on_first)
        for fn_index, inputs in e.then:
            self._event(fn_index, [None] * inputs)
        return output

    def _event(self, fn_index: int, data: list[Any], on_first: Optional[Callable[[], None]] = None) -> list[Any]:
        """One event through the queue: join, then read the event stream until it is complete; its outputs."""
        e = self.endpoint
        body = {
            "data": data,
            "fn_index": fn_index,
            "session_hash": self.session_hash,
            "event_data": None,
            "trigger_id": None,
        }
        self.http.post(f"{e.url}{e.prefix}/queue/join", json=body).raise_for_status()
        params = {"session_hash": self.session_hash}
        with self.http.stream("GET", f"{e.url}{e.prefix}/queue/data", params=params) as stream:
            for line in stream.iter_lines():
                if not line.startswith(DATA_PREFIX):
                    continue
                message = json.loads(line[len(DATA_PREFIX) :])
                if on_first is not None and message.get("msg") in (GENERATING, COMPLETED):
                    if PLACEHOLDER_MARK not in json.dumps(message.get("output", {}), ensure_ascii=False):
                        on_first()
                        on_first = None
                if message.get("msg") == COMPLETED:
                    if not message.get("success", False):
                        raise RuntimeError(f"the app failed to answer: {str(message.get('output'))[:200]}")
                    return list(message.get("output", {}).get("data", []))
        raise RuntimeError("the event stream ended before the answer was complete")

    def close(self) -> None:
        self.http.close()


class ApiSession:
    """One program using the HTTP API: questions posted to /api/ask with the conversation's earlier turns."""

    def __init__(self, url: str, http: Optional[httpx.Client] = None):
        """url: the app's base URL; http: the client to post with (a new one by default)."""
        self.url = url.rstrip("/") + ASK_PATH
        self.http = http if http is not None else httpx.Client(timeout=REQUEST_SECONDS)
        self.history: list[dict[str, str]] = []

    def new_visitor(self) -> None:
        self.history = []

    def ask(self, question: str) -> dict[str, Any]:
        """The API's answer; RuntimeError when it is not a 200."""
        r = self.http.post(self.url, json={"question": question, "history": self.history})
        if r.status_code != 200:
            raise RuntimeError(f"/api/ask answered {r.status_code}: {r.text[:200]}")
        body: dict[str, Any] = r.json()
        self.history.append({"question": question, "answer": str(body.get("answer", ""))})
        return body

    def close(self) -> None:
        self.http.close()


class GradioClientSession:
    """One visitor through gradio_client (for the comparison round)."""

    def __init__(self, url: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False, download_files=False)

    def new_visitor(self) -> None:
        self.client.predict(api_name="/new_chat")

    def ask(self, question: str) -> None:
        self.client.submit(question, api_name="/" + ASK_API).result(timeout=REQUEST_SECONDS)

    def close(self) -> None:
        self.client.close()


def wait_ready(app: Process, *, timeout: float = APP_START_SECONDS) -> float:
    """Seconds from the app's process start until its page answers."""
    deadline = app.started + timeout
    while not http_ok(app.url):
        if app.popen.poll() is not None:
            raise RuntimeError(f"the app exited with {app.popen.returncode}:\n{app.tail()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the app did not start within {timeout:.0f} s:\n{app.tail()}")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - app.started


def cold_start(app: Process, question: str) -> dict[str, Any]:
    """Seconds from the app's process start until its page answers, and until the first answer arrives."""
    ready = wait_ready(app)
    session = HttpSession(Endpoint.find(app.url))
    try:
        session.ask(question)
    finally:
        session.close()
    return {"ready_s": ready, "first_answer_s": time.perf_counter() - app.started}


def api_first_token(url: str, question: str, http: httpx.Client) -> float:
    """Milliseconds from posting a streaming chat completion until its first content arrives."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": question}]}
    t = time.perf_counter()
    ms: Optional[float] = None
    with http.stream("POST", url.rstrip("/") + CHAT_PATH, json=body) as stream:
        if stream.status_code != 200:
            raise RuntimeError(f"{CHAT_PATH} answered {stream.status_code}")
        # Read to the end, so the next request starts on a quiet server.
        for line in stream.iter_lines():
            if ms is not None or not line.startswith(DATA_PREFIX) or line.endswith("[DONE]"):
                continue
            choices = json.loads(line[len(DATA_PREFIX) :]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                ms = (time.perf_counter() - t) * 1000
    if ms is None:
        raise RuntimeError("the stream ended without content")
    return ms


def page_first_token(session: HttpSession, question: str) -> float:
    """Milliseconds from joining the page's queue until the first part of the answer's text is on the event
    stream (the placeholder shown before it does not count)."""
    t = time.perf_counter()
    first: list[float] = []
    session.ask(question, on_first=lambda: first.append((time.perf_counter() - t) * 1000))
    session.new_visitor()
    if not first:
        raise RuntimeError("the page sent no answer")
    return first[0]


def first_tokens(app: Process, questions: Sequence[str], *, n: int) -> dict[str, Any]:
    """Time to first token, one client at a time, through the API's stream and the page's event stream."""
    api: list[float] = []
    page: list[float] = []
    http = httpx.Client(timeout=REQUEST_SECONDS)
    session = HttpSession(Endpoint.find(app.url))
    try:
        for i in range(n):
            q = questions[i % len(questions)]
            api.append(api_first_token(app.url, q, http))
            page.append(page_first_token(session, q))
    finally:
        http.close()
        session.close()
    return {
        "questions": n,
        "api_p50_ms": percentile(api, 50),
        "api_p95_ms": percentile(api, 95),
        "page_p50_ms": percentile(page, 50),
        "page_p95_ms": percentile(page, 95),
    }


def load_round(
    app: Process,
    questions: Sequence[str],
    *,
    clients: int,
    per_client: int,
    driver: str = HTTP,
    session_turns: int = SESSION_TURNS,
) -> dict[str, Any]:
    """`clients` concurrent visitors, each asking `per_client` questions in turn; rate, latency and CPU."""
    make: Callable[[], Any]
    if driver == HTTP:
        make = functools.partial(HttpSession, Endpoint.find(app.url))
    elif driver == API:
        make = functools.partial(ApiSession, app.url)
    else:
        make = functools.partial(GradioClientSession, app.url)
    sessions = [make() for _ in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def run(k: int) -> None:
        session = sessions[k]
        start.wait()
        for j in range(per_client):
            question = questions[(k * per_client + j) % len(questions)]
            try:
                if j % session_turns == 0:  # a visitor opens the page, then asks session_turns questions
                    session.new_visitor()
                t = time.perf_counter()
                session.ask(question)
            except Exception as e:  # one failed request is counted, not fatal to the round
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                continue
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)

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
    for s in sessions:
        s.close()
    answers = len(latencies)
    return {
        "driver": driver,
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
    app: Process,
    questions: Sequence[str],
    concurrency: Sequence[int],
    *,
    answers: int,
    min_per_client: int,
    compare_clients: int = 0,
    drivers: Sequence[str] = (HTTP, API),
) -> list[dict[str, Any]]:
    """For each driver (the page's queue protocol, the HTTP API), one round per number of clients, each about
    `answers` answers (at least min_per_client per client); then, when compare_clients > 0, one round through
    gradio_client with that many clients."""
    out: list[dict[str, Any]] = []
    for driver in drivers:
        for c in concurrency:
            per_client = max(min_per_client, -(-answers // c))
            out.append(load_round(app, questions, clients=c, per_client=per_client, driver=driver))
    if compare_clients:
        per_client = max(min_per_client, -(-answers // compare_clients))
        out.append(load_round(app, questions, clients=compare_clients, per_client=per_client, driver=GRADIO_CLIENT))
    return out
