"""python -m ingest: ingest (summary, errors, progress), list, remove, search."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.__main__ import main

REPO = Path(__file__).resolve().parents[2]

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
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGXUN_")}
    env["PYTHONPATH"] = str(REPO)
    env["DONGXUN_KNOWLEDGE_DIR"] = "knowledge"
    cmd = [sys.executable, "-m", "ingest", "--kb", "kb"]
    first = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "字/s" in first.stderr  # the progress bar shows throughput
    assert "共 2 个文件" in first.stdout and "0 个文件出错" in first.stdout
    again = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "新增 0 个片段，2 个文件未变化已跳过" in again.stdout
