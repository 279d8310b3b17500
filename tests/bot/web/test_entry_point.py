"""`python -m bot.app`: --help starts nothing, flags override the settings, a real start serves the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.app import load_settings, parser
from core.settings import Settings, SettingsError

REPO_ROOT = Path(__file__).resolve().parents[3]
HELP_SECONDS = 20  # generous on a loaded machine; --help imports neither Gradio nor the models
START_SECONDS = 180  # first-run ingest of one small file, model load and Gradio start
POLL_SECONDS = 0.5
STOP_SECONDS = 10
SEED = REPO_ROOT / "knowledge" / "冬训动员部署会讲话.txt"


def run_module(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, encoding="utf-8", **kwargs
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return None


@pytest.mark.unit
def test_help_prints_chinese_help_and_starts_nothing():
    t0 = time.monotonic()
    done = run_module("-m", "bot.app", "--help", timeout=HELP_SECONDS)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < HELP_SECONDS
    for flag in ("--host", "--port", "--kb"):
        assert flag in done.stdout
    assert "用法" in done.stdout and "端口" in done.stdout and "知识库目录" in done.stdout
    assert "已启动" not in done.stdout + done.stderr and "知识库为空" not in done.stderr


@pytest.mark.unit
def test_importing_the_entry_point_loads_neither_gradio_nor_the_store():
    done = run_module("-c", "import sys, bot.app; print(sorted({'gradio', 'chromadb'} & set(sys.modules)))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.unit
def test_flags_override_the_settings_and_absent_flags_keep_them(tmp_path):
    args = parser().parse_args(["--host", "0.0.0.0", "--port", "8123", "--kb", str(tmp_path / "kb")])
    settings = load_settings(args)
    assert (settings.web.host, settings.web.port, settings.store.kb_dir) == ("0.0.0.0", 8123, tmp_path / "kb")
    assert load_settings(parser().parse_args([])).flat() == Settings.load().flat()


@pytest.mark.unit
@pytest.mark.parametrize("argv", [["--port", "0"], ["--port", "abc"]], ids=["range", "not-a-number"])
def test_a_bad_port_is_refused_in_chinese(argv):
    with pytest.raises(SettingsError, match="DONGXUN_PORT"):
        load_settings(parser().parse_args(argv))
    done = run_module("-m", "bot.app", *argv, timeout=HELP_SECONDS)
    assert done.returncode == 2 and "允许范围" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.integration
def test_start_ingests_an_empty_kb_and_serves_on_the_given_port(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / SEED.name).write_bytes(SEED.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGXUN_")}
    env.update(DONGXUN_KNOWLEDGE_DIR=str(knowledge), DONGXUN_FEEDBACK_LOG=str(tmp_path / "feedback.jsonl"))
    port = free_port()
    log = tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log, "w", encoding="utf-8") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.app", "--host", "127.0.0.1", "--port", str(port), "--kb", str(tmp_path / "kb")],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            status = None
            while time.monotonic() < deadline and server.poll() is None:
                status = status_of(url)
                if status is not None:
                    break
                time.sleep(POLL_SECONDS)
            output = log.read_text(encoding="utf-8")
            assert status == 200, output
        finally:
            server.terminate()
            try:
                server.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert "知识库为空" in output and url in output, output
    assert (tmp_path / "kb").is_dir()
