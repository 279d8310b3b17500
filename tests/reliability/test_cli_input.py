"""Issue 10, item 11: hostile command-line input. A bad --history file, a missing --kb folder and a Chroma
server that is down each give a Chinese message and a non-zero exit, no traceback, and nothing is created."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import HISTORY_TURNS, HistoryError, read_history
from tests.ingest.samples import REPO, subprocess_env
from tests.processes import finish

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CLI_TIMEOUT = 300  # seconds for all the processes of a fixture, started together on a shared machine
LONG_HISTORY = 2000  # turns; the recursive rewrite raised RecursionError on this many follow-ups
FOLLOW_UP = "那它呢？"  # leans on the turn before, so the rewrite walks back through every turn

BAD_HISTORIES = {
    "malformed": "[{",
    "dict": json.dumps({"question": "冬训什么时候开始？", "answer": "12月。"}, ensure_ascii=False),
    "string_items": json.dumps(["冬训什么时候开始？"], ensure_ascii=False),
    "no_question": json.dumps([{"answer": "12月。"}], ensure_ascii=False),
    "number_question": json.dumps([{"question": 3, "answer": "12月。"}]),
    "list_answer": json.dumps([{"question": "冬训？", "answer": ["12月"]}], ensure_ascii=False),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The process's stderr, checked to be a Chinese message with a non-zero exit and no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert CHINESE.search(proc.stderr), proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    return proc.stderr


# ---------------------------------------------------------------------- unit: the history reader
@pytest.mark.unit
@pytest.mark.parametrize("case", sorted(BAD_HISTORIES))
def test_bad_history_is_a_chinese_error(tmp_path, case):
    path = tmp_path / f"{case}.json"
    path.write_text(BAD_HISTORIES[case], encoding="utf-8")
    with pytest.raises(HistoryError) as err:
        read_history(path)
    assert str(path) in str(err.value) and CHINESE.search(str(err.value))


@pytest.mark.unit
def test_missing_and_undecodable_history(tmp_path):
    with pytest.raises(HistoryError, match="找不到对话历史文件"):
        read_history(tmp_path / "无.json")
    gbk = tmp_path / "gbk.json"
    gbk.write_bytes('[{"question": "冬训"}]'.encode("gbk"))
    with pytest.raises(HistoryError, match="UTF-8"):
        read_history(gbk)


@pytest.mark.unit
def test_history_keeps_the_last_turns(tmp_path):
    turns = [{"question": f"第{i}个问题？", "answer": f"回答{i}"} for i in range(LONG_HISTORY)]
    path = tmp_path / "long.json"
    path.write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")
    assert read_history(path) == turns[-HISTORY_TURNS:]
    assert read_history(path, max_turns=3) == turns[-3:]
    path.write_text("[]", encoding="utf-8")
    assert read_history(path) == []


# ---------------------------------------------------------------------- integration: real processes
@pytest.fixture(scope="module")
def runs(seed_kb, tmp_path_factory):
    """Every hostile CLI call of this module, started together (each is a cold process) and collected."""
    tmp = tmp_path_factory.mktemp("cli_input")
    kb_dir = str(Path(seed_kb.settings.store.kb_dir).resolve())
    calls: dict[str, subprocess.Popen] = {}
    for case, text in BAD_HISTORIES.items():
        path = tmp / f"{case}.json"
        path.write_text(text, encoding="utf-8")
        calls[f"history_{case}"] = _start(["bot", "ask", FOLLOW_UP, "--kb", kb_dir, "--history", str(path)])
    calls["history_missing"] = _start(["bot", "ask", FOLLOW_UP, "--kb", kb_dir, "--history", str(tmp / "无.json")])
    long = tmp / "long.json"
    turns = [{"question": "讲话提到的“飞燕”宣讲志愿者有几类？", "answer": "6类。"}]
    turns += [{"question": FOLLOW_UP, "answer": "见上文。"}] * (LONG_HISTORY - 1)
    long.write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")
    calls["history_long"] = _start(["bot", "ask", FOLLOW_UP, "--kb", kb_dir, "--history", str(long), "--json"])

    missing = {name: tmp / f"missing_{name}" for name in ("ask", "search", "list", "remove", "isearch")}
    calls["missing_ask"] = _start(["bot", "ask", "冬训什么时候开始？", "--kb", str(missing["ask"])])
    calls["missing_search"] = _start(["bot", "search", "冬训", "--kb", str(missing["search"])])
    calls["missing_list"] = _start(["ingest", "list", "--kb", str(missing["list"])])
    calls["missing_remove"] = _start(["ingest", "remove", "x.txt", "--kb", str(missing["remove"])])
    calls["missing_isearch"] = _start(["ingest", "search", "冬训", "--kb", str(missing["isearch"])])

    down = {"DONGXUN_CHROMA_HOST": "127.0.0.1", "DONGXUN_CHROMA_PORT": str(_closed_port())}
    calls["down_list"] = _start(["ingest", "list", "--kb", str(tmp / "down_kb")], **down)
    calls["down_ask"] = _start(["bot", "ask", "冬训什么时候开始？", "--kb", str(tmp / "down_kb")], **down)
    calls["bad_setting"] = _start(["ingest", "list", "--kb", kb_dir], DONGXUN_CHUNK_SIZE="7")
    return finish(calls, CLI_TIMEOUT), missing


@pytest.mark.integration
@pytest.mark.parametrize("case", [*sorted(BAD_HISTORIES), "missing"])
def test_bad_history_file_exits_with_a_chinese_message(runs, case):
    done, _ = runs
    _refused(done[f"history_{case}"], "对话历史文件")


@pytest.mark.integration
def test_two_thousand_turns_of_follow_ups_answer(runs):
    done, _ = runs
    proc = done["history_long"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RecursionError" not in proc.stderr
    result = json.loads(proc.stdout)
    assert result["question"] == FOLLOW_UP and result["answer"]


@pytest.mark.integration
@pytest.mark.parametrize("name", ["ask", "search", "list", "remove", "isearch"])
def test_missing_kb_folder_is_not_created(runs, name):
    done, missing = runs
    _refused(done[f"missing_{name}"], "知识库为空", str(missing[name]), "python -m ingest")
    assert not missing[name].exists()


@pytest.mark.integration
@pytest.mark.parametrize("name", ["down_list", "down_ask"])
def test_chroma_server_down_is_a_chinese_message(runs, name):
    done, _ = runs
    _refused(done[name], "连接不上知识库服务器", "DONGXUN_CHROMA_HOST")
    assert "Could not connect" in done[name].stderr  # chromadb's own reason is kept inside the message


@pytest.mark.integration
def test_bad_setting_is_a_chinese_message(runs):
    done, _ = runs
    _refused(done["bad_setting"], "DONGXUN_CHUNK_SIZE")


@pytest.mark.integration
def test_knowledge_base_construction_raises_a_clear_error(tmp_path):
    from core.settings import Settings
    from ingest.index import KnowledgeBase, KnowledgeBaseError

    settings = Settings.load(env_file=None, kb_dir=tmp_path / "kb", chroma_host="127.0.0.1", chroma_port=_closed_port())
    with pytest.raises(KnowledgeBaseError, match="连接不上知识库服务器"):
        KnowledgeBase(settings)
    with pytest.raises(KnowledgeBaseError, match="知识库为空"):
        KnowledgeBase(settings.replace(chroma_host=None, kb_dir=tmp_path / "无"), create=False)
    assert not (tmp_path / "无").exists()
