"""Who may use an embedded Chroma store (ingest.store_lock): processes that read it together, or one that writes.
A refused process gets a Chinese error and nothing is lost; a killed holder leaves no stale lock."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest import store_lock
from tests.conftest import SEED_FILE, _kb_settings
from tests.ingest.samples import REPO, subprocess_env

pytestmark = pytest.mark.integration

# Opens the knowledge base given (ingesting its folder first with "write"), says so, and keeps it open until killed.
HOLDER = """
import sys, time
from pathlib import Path
from core.settings import Settings
from ingest.index import KnowledgeBase
kb = KnowledgeBase(Settings.load(env_file=None, kb_dir=Path(sys.argv[1]), knowledge_dir=Path(sys.argv[2])))
if sys.argv[3] == "write":
    kb.ingest([Path(sys.argv[2])], progress=False)
print("open", flush=True)
time.sleep(300)
"""


@pytest.fixture
def corpus(tmp_path) -> Iterator[Path]:
    (tmp_path / "knowledge").mkdir()
    shutil.copy(SEED_FILE, tmp_path / "knowledge" / SEED_FILE.name)
    yield tmp_path
    store_lock.release(tmp_path / "kb")


@contextmanager
def holder(corpus: Path, mode: str) -> Iterator[subprocess.Popen]:
    """Another process holding the corpus's knowledge base ("read" or "write"), killed (-9) at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(corpus / "kb"), str(corpus / "knowledge"), mode],
        cwd=REPO,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open", proc.communicate()[1][-2000:]
        yield proc
    finally:
        proc.send_signal(signal.SIGKILL)  # a killed holder leaves no stale lock
        proc.wait(30)


def _run(module: str, *argv: str, knowledge: Path | None = None) -> subprocess.CompletedProcess:
    """python -m module argv… as a command-line user runs it."""
    env = subprocess_env(**({"DONGXUN_KNOWLEDGE_DIR": str(knowledge)} if knowledge else {}))
    return subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def _ingested(corpus: Path) -> int:
    """A knowledge base of the corpus, written by this process and handed back; its chunk count."""
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(_kb_settings(corpus))
    assert kb.ingest([corpus / "knowledge"], progress=False).added > 0
    store_lock.release(corpus / "kb")
    return kb.collection.count()


def test_readers_share_a_store_and_a_writer_is_refused_in_chinese_losing_nothing(corpus):
    from ingest.errors import KnowledgeBaseError
    from ingest.index import KnowledgeBase

    chunks = _ingested(corpus)
    (corpus / "knowledge" / "新增.txt").write_text("冬训期间每周三晚上开展集中学习。" * 5, encoding="utf-8")
    with holder(corpus, "read"):
        reader = KnowledgeBase(_kb_settings(corpus))  # two readers together
        assert store_lock.holds(corpus / "kb") == "shared" and reader.document_count() == 1
        assert reader.bm25_search("冬训", 3) and reader.dense_search("冬训", 3)
        with pytest.raises(KnowledgeBaseError) as refused:
            reader.ingest([corpus / "knowledge"], progress=False)
        message = str(refused.value)
        assert "正被另一个程序打开" in message and "不能写入" in message and "DONGXUN_CHROMA_HOST" in message
        assert store_lock.holds(corpus / "kb") == "shared"  # still a reader
        assert reader.collection.count() == chunks and reader.document_count() == 1

        cli = _run("ingest", str(corpus / "knowledge"), "--kb", str(corpus / "kb"))
        assert cli.returncode == 2 and "不能写入" in cli.stderr + cli.stdout and "Traceback" not in cli.stderr
    store_lock.release(corpus / "kb")

    writer = KnowledgeBase(_kb_settings(corpus))  # alone now: the refused file goes in
    assert writer.ingest([corpus / "knowledge"], progress=False).added > 0 and writer.document_count() == 2
    assert store_lock.holds(corpus / "kb") == "exclusive"
    assert KnowledgeBase(_kb_settings(corpus)).document_count() == 2  # one process opens it again


def test_a_store_being_written_cannot_be_opened_until_its_writer_is_gone(corpus):
    from ingest.errors import KnowledgeBaseError
    from ingest.index import KnowledgeBase

    with holder(corpus, "write") as proc:
        with pytest.raises(KnowledgeBaseError) as refused:
            KnowledgeBase(_kb_settings(corpus))
        assert f"正由另一个程序（进程号 {proc.pid}）写入" in str(refused.value)
        assert store_lock.holds(corpus / "kb") == ""
        ask = _run("bot", "ask", "冬训什么时候开始？", "--kb", str(corpus / "kb"))
        assert ask.returncode == 2 and "写入" in ask.stderr + ask.stdout and "Traceback" not in ask.stderr
    kb = KnowledgeBase(_kb_settings(corpus))  # killed: no stale lock, and what it committed is there
    assert kb.document_count() == 1 and kb.bm25_search("冬训", 3)


def test_an_evaluation_does_not_clear_a_store_another_process_uses(corpus):
    from eval.knowledge import build_kb
    from ingest.errors import KnowledgeBaseError

    _ingested(corpus)
    with holder(corpus, "read"):
        before = sorted(p.name for p in (corpus / "kb").iterdir())
        with pytest.raises(KnowledgeBaseError):
            build_kb(_kb_settings(corpus), [corpus / "knowledge"], progress=False)
        assert sorted(p.name for p in (corpus / "kb").iterdir()) == before and (corpus / "kb" / "chroma").is_dir()


def test_an_upload_while_another_process_reads_is_refused_in_chinese_and_keeps_no_file(corpus):
    from bot.web.admin import AdminHandlers
    from ingest.admin import uploads_dir
    from ingest.index import KnowledgeBase

    _ingested(corpus)
    settings = _kb_settings(corpus, admin_token="correct-horse-battery-staple", feedback_log=corpus / "fb.jsonl")
    upload = corpus / "新通知.txt"
    upload.write_text("冬训期间每周三晚上开展集中学习，地点在村党群服务中心。" * 3, encoding="utf-8")
    with holder(corpus, "read"):
        kb = KnowledgeBase(settings)
        admin = AdminHandlers(settings, kb)
        status, *_ = admin.upload(settings.web.admin_token, [str(upload)], progress=lambda *a, **k: None)
        assert "新通知.txt" in status and "不能写入" in status and "Chroma 服务器" in status
        assert not any(uploads_dir(settings).glob("*")) and kb.document_count() == 1


def test_the_app_refuses_to_fill_a_store_another_process_has_open(corpus):
    with holder(corpus, "read"):  # an empty knowledge base: the app would ingest the folder first
        app = _run("bot.app", "--kb", str(corpus / "kb"), "--port", "8799", knowledge=corpus / "knowledge")
    assert app.returncode == 2 and "不能写入" in app.stderr and "Traceback" not in app.stderr, app.stderr[-2000:]
