"""Scale-out on one Chroma server (issue 11): deploy/processes.sh starts a real `chroma run` and two app
processes on 127.0.0.1; a document ingested through the CLI against the server is answered by both apps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval.bench.servers import free_port
from eval.bench.throughput import Endpoint, HttpSession

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "processes.sh"
SEED = REPO / "knowledge" / "冬训动员部署会讲话.txt"
QUESTION = "去年开展了多少场理论宣讲活动？"
EXPECTED = "215"
START_SECONDS = 300  # chroma plus two apps loading their models, on a busy 2-core machine
INGEST_SECONDS = 300
STOP_SECONDS = 60
SEE_SECONDS = 30  # the manifest is re-read every 2 s; BM25 follows it
POLL_SECONDS = 1.0


def _answer(url: str) -> str:
    """The answer to QUESTION in a new conversation, as the page shows it (HTML with citation links), asked
    over HTTP the way the benchmark's clients ask."""
    session = HttpSession(Endpoint.find(url))
    try:
        chat = session.ask(QUESTION)[0]
    finally:
        session.close()
    messages = chat["value"] if isinstance(chat, dict) else chat  # the chatbot with its per-answer ratings
    return messages[-1]["content"][0]["text"]


def _kill_leftovers(run_dir: Path) -> None:
    for pidfile in run_dir.glob("*.pid"):
        try:
            os.killpg(int(pidfile.read_text()), 9)
        except (ProcessLookupError, ValueError, PermissionError):
            pass


@pytest.fixture
def deployment(tmp_path):
    """The plain-process recipe started with a chroma server and two replicas; stopped (and checked) after."""
    run_dir = tmp_path / "run"
    empty = tmp_path / "knowledge"
    empty.mkdir()
    ports = [free_port(), free_port()]
    env = {
        **os.environ,
        "DEPLOY_RUN_DIR": str(run_dir),
        "CHROMA_PORT": str(free_port()),
        "APP_PORTS": " ".join(map(str, ports)),
        "PYTHON": sys.executable,
        "START_TIMEOUT": str(START_SECONDS),
        "DONGXUN_KNOWLEDGE_DIR": str(empty),  # the replicas start on an empty store
        "DONGXUN_FEEDBACK_LOG": str(tmp_path / "feedback.jsonl"),
    }

    def script(*args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout
        )

    try:
        started = script("start", timeout=START_SECONDS * 3)
        logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in run_dir.glob("*.log"))
        assert started.returncode == 0, started.stderr + logs
        yield [f"http://127.0.0.1:{p}/" for p in ports], script, tmp_path
    finally:
        stopped = script("stop", timeout=STOP_SECONDS)
        _kill_leftovers(run_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not list(run_dir.glob("*.pid"))


def test_a_document_ingested_through_the_cli_is_answered_by_both_apps(deployment):
    (first, second), script, tmp = deployment
    status = script("status", timeout=STOP_SECONDS)
    assert status.returncode == 0
    assert len(status.stdout.splitlines()) == 3 and "已停止" not in status.stdout, status.stdout
    assert EXPECTED not in _answer(first)  # nothing ingested yet

    docs = tmp / "docs"
    docs.mkdir()
    shutil.copy(SEED, docs / SEED.name)
    ingested = script("ingest", str(docs), timeout=INGEST_SECONDS)
    assert ingested.returncode == 0, ingested.stderr

    deadline = time.monotonic() + SEE_SECONDS
    answer = _answer(second)
    while EXPECTED not in answer and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        answer = _answer(second)
    assert EXPECTED in answer, answer
    assert 'class="cite"' in answer  # answered with a citation, not from anywhere else
    assert EXPECTED in _answer(first)  # the other replica sees the same store
