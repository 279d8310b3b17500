"""KnowledgeBase: idempotent re-ingest, replacement, removal, pruning, bad files, kill -9, Chroma server."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.bench import make_corpus
from ingest.store import REFRESH_SECONDS, KnowledgeBase, source_id

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SEED = REPO / "knowledge" / "冬训动员部署会讲话.txt"
# Seed variants in the kill test: one gets committed, the kill lands in the second, the third is never reached.
KILL_COPIES = 3

TREES = (
    "关于组织春季植树活动的通知\n"
    "各党支部：\n"
    "为践行绿色发展理念，党工委决定于三月十二日组织春季植树活动。全体党员上午八点在滨江公园东门集合。"
    "每名党员种植两棵银杏树，工具由第三党支部统一准备。请各支部于三月十日前上报参加人数。\n"
)
BOOKS = (
    "关于举办冬季读书分享会的通知\n"
    "各党支部：\n"
    "党工委定于十二月二十日下午在社区文化中心举办冬季读书分享会。每个支部推荐一名党员交流读书体会，"
    "发言时间不超过十分钟。分享会结束后评选优秀读书笔记五篇。\n"
)
CLEANUP = (
    "关于开展河道清洁志愿服务的通知\n"
    "各党支部：\n"
    "本月第二个周六上午，组织党员志愿者清理青龙河沿岸垃圾。请穿着志愿者马甲，自带手套和垃圾袋，"
    "在青龙桥头签到。活动结束后各支部提交简报。\n"
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _raw_chunks(kb: KnowledgeBase) -> dict[str, dict]:
    """Every chunk record Chroma holds (committed or not): id -> {text, meta}."""
    got = kb.collection.get(include=["documents", "metadatas"])
    return {cid: {"text": t, "meta": m} for cid, t, m in zip(got["ids"], got["documents"], got["metadatas"])}


def _sources_hit(hits) -> set[str]:
    return {d.metadata["source"] for d, _ in hits}


def _assert_consistent(kb: KnowledgeBase) -> None:
    """Chroma holds exactly the chunks the manifest lists, each once, indexes 0..n-1 per source."""
    raw = _raw_chunks(kb)
    listed = {}
    for rec in kb.manifest_collection.get(include=["documents"])["documents"]:
        for cid in json.loads(rec):
            assert cid not in listed, "a chunk id listed twice"
            listed[cid] = True
    assert set(raw) == set(listed)
    by_source: dict[str, list[int]] = {}
    for rec in raw.values():
        by_source.setdefault(rec["meta"]["source"], []).append(rec["meta"]["chunk_index"])
    for src, idx in by_source.items():
        assert sorted(idx) == list(range(len(idx))), src
    assert len(kb.chunks()) == len(raw)


# ------------------------------------------------------------------ seed KB (read-only)
def test_seed_kb_searchable(seed_kb):
    dense = seed_kb.dense_search("冬训工作如何加大宣传", 3)
    bm25 = seed_kb.bm25_search("冬训工作如何加大宣传", 3)
    assert len(dense) == 3 and len(bm25) >= 1
    assert dense[0][1] >= dense[-1][1] and -1.0 <= dense[-1][1] <= 1.0
    assert any("宣传" in d.page_content for d, _ in dense)
    assert "宣传" in bm25[0][0].page_content
    meta = dense[0][0].metadata
    for key in ("id", "source", "file_name", "title", "section", "page", "start", "end", "chunk_index"):
        assert key in meta, key
    nb = seed_kb.chunk(meta["source"], meta["chunk_index"] + 1)
    assert nb is None or nb.metadata["chunk_index"] == meta["chunk_index"] + 1
    assert seed_kb.chunk(meta["source"], 10_000) is None
    _assert_consistent(seed_kb)


def test_reingest_is_idempotent(seed_kb):
    folder = seed_kb.settings.store.knowledge_dir
    before_docs = seed_kb.documents()
    before_calls = (seed_kb.embeddings.inner_calls, seed_kb.embeddings.inner_texts)
    before_fp = seed_kb.fingerprint()
    report = seed_kb.ingest([folder], progress=False)
    assert (report.files, report.added, report.skipped, report.removed, report.errors) == (1, 0, 1, 0, [])
    assert (seed_kb.embeddings.inner_calls, seed_kb.embeddings.inner_texts) == before_calls
    assert seed_kb.documents() == before_docs  # same ingested_at: nothing was rewritten
    assert seed_kb.fingerprint() == before_fp
    assert "跳过" in report.summary()


def test_source_id_relative_inside_cwd_absolute_outside(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert source_id(Path("knowledge/a/通知.txt")) == "knowledge/a/通知.txt"
    assert source_id(tmp_path / "knowledge" / "b" / "通知.txt") == "knowledge/b/通知.txt"
    outside = tmp_path.parent / "elsewhere.txt"
    assert source_id(outside) == outside.as_posix()


# ------------------------------------------------------------------ mutations (own small KBs)
def test_changed_file_replaces_chunks(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    notice = _write(folder / "通知.txt", TREES)
    _write(folder / "读书.txt", BOOKS)
    first = kb.ingest([folder], progress=False)
    assert first.added >= 2 and not first.errors
    src = source_id(notice)
    assert src in _sources_hit(kb.bm25_search("植树 银杏树", 3))

    _write(notice, CLEANUP)
    report = kb.ingest([folder], progress=False)
    assert report.skipped == 1 and report.added >= 1 and report.removed >= 1
    for d, _ in kb.dense_search("春季植树活动在哪里集合", 10) + kb.bm25_search("植树 银杏树 滨江公园", 10):
        assert "植树" not in d.page_content and "银杏" not in d.page_content
    assert not any("植树" in r["text"] for r in _raw_chunks(kb).values()), "stale vector left in Chroma"
    top = kb.dense_search("河道清洁志愿服务在哪里签到", 1)[0][0]
    assert top.metadata["source"] == src and "青龙" in top.page_content
    assert src in _sources_hit(kb.bm25_search("青龙河 垃圾", 3))
    _assert_consistent(kb)


def test_remove_and_prune_leave_nothing_behind(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    trees = _write(folder / "植树.txt", TREES)
    _write(folder / "读书.txt", BOOKS)
    cleanup = _write(folder / "sub" / "河道.txt", CLEANUP)
    kb.ingest([folder], progress=False)
    assert len(kb.documents()) == 3

    n = kb.remove(source_id(trees))
    assert n >= 1
    assert source_id(trees) not in {d["source"] for d in kb.documents()}
    assert source_id(trees) not in _sources_hit(kb.bm25_search("植树 银杏树", 5))
    assert source_id(trees) not in _sources_hit(kb.dense_search("植树活动", 5))
    assert kb.remove(source_id(trees)) == 0
    trees.unlink()  # else the next folder ingest would add it again

    cleanup.unlink()
    kept = kb.ingest([folder], progress=False)  # without --prune a vanished file stays
    assert (kept.added, kept.removed) == (0, 0) and source_id(cleanup) in {d["source"] for d in kb.documents()}
    pruned = kb.ingest([folder], prune=True, progress=False)
    assert pruned.removed >= 1 and pruned.skipped == 1
    assert [d["source"] for d in kb.documents()] == [source_id(folder / "读书.txt")]
    assert source_id(cleanup) not in _sources_hit(kb.bm25_search("青龙河 垃圾 志愿者", 5))
    assert source_id(cleanup) not in _sources_hit(kb.dense_search("河道清洁", 5))
    _assert_consistent(kb)


def test_same_name_in_another_folder_survives(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    a = _write(folder / "a" / "通知.txt", TREES)
    b = _write(folder / "b" / "通知.txt", BOOKS)
    report = kb.ingest([folder], progress=False)
    assert report.files == 2 and {d["source"] for d in kb.documents()} == {source_id(a), source_id(b)}

    a.unlink()
    kb.ingest([folder], prune=True, progress=False)
    assert [d["source"] for d in kb.documents()] == [source_id(b)]
    hit = kb.bm25_search("读书分享会", 1)[0][0]
    assert hit.metadata["source"] == source_id(b) and hit.metadata["file_name"] == "通知.txt"
    assert kb.dense_search("读书分享会什么时候举办", 1)[0][0].metadata["source"] == source_id(b)
    _assert_consistent(kb)


def test_bad_files_reported_others_still_load(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    _write(folder / "空文件.txt", "")
    (folder / "损坏.docx").write_bytes(os.urandom(2048))
    good = _write(folder / "读书.txt", BOOKS)
    report = kb.ingest([folder, folder / "不存在.txt"], progress=False)
    bad = dict(report.errors)
    assert set(bad) == {
        source_id(folder / "空文件.txt"),
        source_id(folder / "损坏.docx"),
        source_id(folder / "不存在.txt"),
    }
    assert "空文件.txt" in bad[source_id(folder / "空文件.txt")]
    assert "损坏.docx" in bad[source_id(folder / "损坏.docx")]
    assert [d["source"] for d in kb.documents()] == [source_id(good)]
    assert {r["meta"]["source"] for r in _raw_chunks(kb).values()} == {source_id(good)}
    assert "3 个文件出错" in report.summary()
    _assert_consistent(kb)


def test_embedding_cache_reuses_vectors_of_unchanged_chunks(make_kb):
    kb = make_kb(chunk_size=80)  # small chunks so the file has several
    folder = kb.settings.store.knowledge_dir
    path = _write(folder / "两段.txt", TREES + "\n" + BOOKS)
    kb.ingest([folder], progress=False)
    texts_before = kb.embeddings.inner_texts
    n_chunks = kb.documents()[0]["chunks"]
    assert n_chunks >= 2
    _write(path, TREES + "\n" + BOOKS + "\n" + CLEANUP)
    report = kb.ingest([folder], progress=False)
    assert report.added >= 1
    # only the new chunk(s) reach the model; the unchanged chunks come from the cache
    assert 1 <= kb.embeddings.inner_texts - texts_before < kb.documents()[0]["chunks"]


# ------------------------------------------------------------------ kill -9 midway
_CHECK = r"""
import json, sys
from pathlib import Path
from core.settings import Settings
from ingest.store import KnowledgeBase
kb = KnowledgeBase(Settings.load(env_file=None, kb_dir=Path(sys.argv[1])))
got = kb.collection.get(include=["metadatas"])
man = kb.manifest_collection.get(include=["documents"])
print(json.dumps({
    "chunks": [[cid, m["source"], m["chunk_index"]] for cid, m in zip(got["ids"], got["metadatas"])],
    "manifest": {src: json.loads(doc) for src, doc in zip(man["ids"], man["documents"])},
    "dense": [[d.metadata["id"], d.metadata["source"]] for d, _ in kb.dense_search("冬训工作的重要意义", 5)],
    "bm25": [[d.metadata["id"], d.metadata["source"]] for d, _ in kb.bm25_search("冬训 宣传", 5)],
}))
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGXUN_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _check(kb_dir: Path) -> dict:
    out = subprocess.run(
        [PYTHON, "-c", _CHECK, str(kb_dir)], capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _progress(stderr: str) -> float:
    """Characters done according to the last tqdm bar drawn ("1.23k/4.56k")."""
    found = re.findall(r"([0-9.]+)(k?)/[0-9.]+k?", stderr)
    if not found:
        return 0.0
    value, kilo = found[-1]
    return float(value) * (1000 if kilo else 1)


def test_kill_9_midway_then_rerun(tmp_path):
    corpus = tmp_path / "corpus"
    make_corpus(SEED, corpus, copies=KILL_COPIES)
    kb_dir = tmp_path / "kb"
    cmd = [PYTHON, "-m", "ingest", "--kb", str(kb_dir), str(corpus)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mid_second_file = threading.Event()

    def watch():
        # Kill right after the first batch of the second file is written: its chunks are in Chroma,
        # its manifest record is not (the window the protocol must survive).
        buf, done_at = "", None
        for piece in iter(lambda: proc.stderr.read1(4096), b""):
            buf += piece.decode("utf-8", "replace")
            if done_at is None and "已入库" in buf:
                done_at = _progress(buf[: buf.index("已入库")])
            if done_at is not None and _progress(buf) > done_at:
                mid_second_file.set()

    threading.Thread(target=watch, daemon=True).start()
    assert mid_second_file.wait(300), "the second file never started"
    assert proc.poll() is None, "ingest finished before it could be killed; make the corpus bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    state = _check(kb_dir)
    present = {cid for cid, _, _ in state["chunks"]}
    committed = {cid for ids in state["manifest"].values() for cid in ids}
    assert 1 <= len(state["manifest"]) < KILL_COPIES
    print(
        f"after kill: {len(state['manifest'])} documents committed, {len(present - committed)} uncommitted chunks on disk"
    )
    assert committed <= present, "a committed document lost chunks"
    assert state["dense"] and state["bm25"], "queries fail after the kill"
    assert all(cid in committed for cid, _ in state["dense"] + state["bm25"]), "uncommitted chunk served"

    rerun = subprocess.run(cmd + ["--quiet"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(state['manifest'])} 个文件未变化已跳过" in rerun.stdout

    state = _check(kb_dir)
    assert len(state["manifest"]) == KILL_COPIES
    ids = [cid for cid, _, _ in state["chunks"]]
    committed = [cid for lst in state["manifest"].values() for cid in lst]
    assert len(ids) == len(set(ids)) and len(committed) == len(set(committed))
    assert set(ids) == set(committed), "orphan or missing chunks after the rerun"
    positions = [(src, idx) for _, src, idx in state["chunks"]]
    assert len(positions) == len(set(positions)), "a chunk position is duplicated"
    for src, lst in state["manifest"].items():
        assert sorted(idx for _, s, idx in state["chunks"] if s == src) == list(range(len(lst)))


# ------------------------------------------------------------------ shared Chroma server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = Path(PYTHON).parent / "chroma"
    if not chroma.exists():
        pytest.skip("chroma executable not installed in the virtualenv")
    port = _free_port()
    log = open(tmp_path / "chroma.log", "wb")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
                assert time.monotonic() < deadline, "chroma server did not start"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_shared_chroma_server(make_kb, chroma_server, tmp_path):
    writer = make_kb(chroma_host="127.0.0.1", chroma_port=chroma_server, kb_dir=tmp_path / "kb-writer")
    folder = writer.settings.store.knowledge_dir
    books = _write(folder / "读书.txt", BOOKS)
    report = writer.ingest([folder], progress=False)
    assert report.added >= 1 and not report.errors
    assert writer.dense_search("读书分享会在哪里举办", 1)[0][0].metadata["source"] == source_id(books)

    # another process elsewhere: its own kb_dir (BM25 files), the same Chroma server
    reader = make_kb(chroma_host="127.0.0.1", chroma_port=chroma_server, kb_dir=tmp_path / "kb-reader")
    assert source_id(books) in _sources_hit(reader.bm25_search("读书 分享会", 3))
    assert reader.bm25_search("青龙河 垃圾", 3) == []

    cleanup = _write(folder / "河道.txt", CLEANUP)
    writer.ingest([folder], progress=False)
    deadline = time.monotonic() + REFRESH_SECONDS * 3
    while source_id(cleanup) not in _sources_hit(reader.bm25_search("青龙河 垃圾", 3)):
        assert time.monotonic() < deadline, "the second instance never saw the new document in BM25"
        time.sleep(0.2)
    assert reader.dense_search("河道清洁在哪里签到", 1)[0][0].metadata["source"] == source_id(cleanup)

    writer.remove(source_id(books))
    deadline = time.monotonic() + REFRESH_SECONDS * 3
    while source_id(books) in _sources_hit(reader.bm25_search("读书 分享会", 3) + reader.dense_search("读书分享会", 3)):
        assert time.monotonic() < deadline, "the second instance still serves a removed document"
        time.sleep(0.2)
    assert [d["source"] for d in reader.documents()] == [source_id(cleanup)]
