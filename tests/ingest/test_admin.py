"""Knowledge-base administration: upload names (unit) and the save/delete/re-index actions on a small real KB."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.admin import (
    UPLOADS_DIR,
    AdminError,
    delete_document,
    file_sha256,
    reindex,
    safe_filename,
    save_upload,
    unique_target,
    uploads_dir,
)
from ingest.index import KnowledgeBase

NOTICE = "村级冬训补充通知\n今年冬训增加“红色读书角”活动，每个网格设立一处读书角，由网格员负责日常管理。\n"
OTHER = "冬训学习安排\n党员夜校每周三晚上七点开课，地点在村委会二楼会议室。\n"


# ---------------------------------------------------------------------- names (unit)
@pytest.mark.unit
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.md", "win.ini.md"),
        (".hidden.txt", "hidden.txt"),
        ("a\x00b\u202e.TXT", "ab.txt"),
        ("冬训 方案 (1).docx", "冬训_方案_(1).docx"),
        ("<script>.html", "script.html"),
        ("....txt", "upload.txt"),
    ],
)
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


@pytest.mark.unit
def test_safe_filename_caps_the_stem_and_gives_up_on_junk():
    assert safe_filename("冬" * 200 + ".txt") == "冬" * 80 + ".txt"
    assert safe_filename("a/\x00\u202e") == "" and safe_filename("") == ""


@pytest.mark.unit
def test_unique_target_never_overwrites_a_different_file(tmp_path):
    (tmp_path / "a.txt").write_text("one", encoding="utf-8")
    same = hashlib.sha256(b"one").hexdigest()
    other = hashlib.sha256(b"two").hexdigest()
    assert unique_target(tmp_path, "a.txt", same) == tmp_path / "a.txt"
    assert unique_target(tmp_path, "a.txt", other) == tmp_path / "a-1.txt"


@pytest.mark.unit
def test_unique_target_counts_past_taken_names_and_reuses_a_numbered_copy(tmp_path):
    for name, text in [("a.txt", "one"), ("a-1.txt", "two"), ("a-2.txt", "three")]:
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert unique_target(tmp_path, "a.txt", hashlib.sha256(b"four").hexdigest()) == tmp_path / "a-3.txt"
    assert unique_target(tmp_path, "a.txt", file_sha256(tmp_path / "a-2.txt")) == tmp_path / "a-2.txt"
    assert unique_target(tmp_path / "new", "b.md", "0" * 64) == tmp_path / "new" / "b.md"


# ---------------------------------------------------------------------- actions (integration)
@pytest.fixture
def kb(tmp_path) -> KnowledgeBase:
    """An empty knowledge base whose knowledge folder holds one document, with a 1 MB upload limit."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "安排.txt").write_text(OTHER, encoding="utf-8")
    settings = Settings.load(env_file=None, knowledge_dir=knowledge, kb_dir=tmp_path / "kb", max_upload_mb=1)
    return KnowledgeBase(settings)


def incoming(folder: Path, name: str, text: str) -> Path:
    """A file as it arrives from a browser: in some temporary folder, under its original name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def sources(kb: KnowledgeBase) -> set[str]:
    return {d["source"] for d in kb.documents()}


@pytest.mark.integration
def test_save_upload_keeps_names_apart_and_reuses_the_same_file(kb, tmp_path):
    settings = kb.settings
    first = save_upload(kb, settings, incoming(tmp_path / "in1", "通知.txt", NOTICE), "../通知.txt")
    assert first.target == uploads_dir(settings) / "通知.txt" and first.target.read_text(encoding="utf-8") == NOTICE
    assert first.chunks >= 1 and not first.unchanged and first.source in sources(kb)
    assert any("读书角" in doc.page_content for doc in kb.document_chunks(first.source))

    again = save_upload(kb, settings, incoming(tmp_path / "in2", "通知.txt", NOTICE), "通知.txt")
    assert again.target == first.target and again.unchanged and again.chunks == first.chunks

    changed = NOTICE.replace("网格员", "社区书记")
    other = save_upload(kb, settings, incoming(tmp_path / "in3", "通知.txt", changed), "通知.txt")
    assert other.target.name == "通知-1.txt" and not other.unchanged
    assert first.target.read_text(encoding="utf-8") == NOTICE and {first.source, other.source} <= sources(kb)


@pytest.mark.integration
@pytest.mark.parametrize(
    "name, content, message",
    [
        ("tool.exe", b"MZ\x00\x00", "不支持该文件类型"),
        ("big.txt", "冬训".encode() * (1024 * 1024), "文件过大"),
        ("empty.txt", b"", "文件是空的"),
        ("broken.docx", b"not a zip archive", ""),
    ],
    ids=["type", "size", "empty", "unreadable"],
)
def test_save_upload_refuses_and_keeps_nothing(kb, tmp_path, name, content, message):
    before = sources(kb)
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(AdminError) as refused:
        save_upload(kb, kb.settings, path, name)
    assert message in str(refused.value) and str(refused.value)
    assert sources(kb) == before
    uploads = uploads_dir(kb.settings)
    assert not uploads.exists() or not any(uploads.iterdir())


@pytest.mark.integration
def test_delete_removes_an_upload_with_its_file_but_keeps_other_files(kb, tmp_path):
    settings = kb.settings
    reindex(kb, settings)
    kept = next(s for s in sources(kb) if s.endswith("安排.txt"))
    upload = save_upload(kb, settings, incoming(tmp_path / "in", "通知.txt", NOTICE), "通知.txt")

    deletion = delete_document(kb, settings, upload.source)
    assert deletion.file_deleted and not deletion.file_kept and deletion.chunks == upload.chunks
    assert upload.source not in sources(kb) and not upload.target.exists()

    deletion = delete_document(kb, settings, kept)
    assert not deletion.file_deleted and deletion.file_kept
    assert kept not in sources(kb) and (Path(settings.store.knowledge_dir) / "安排.txt").exists()

    with pytest.raises(AdminError, match="知识库中没有文档"):
        delete_document(kb, settings, kept)


@pytest.mark.integration
def test_reindex_adds_new_files_and_prunes_vanished_ones(kb):
    settings = kb.settings
    knowledge = Path(settings.store.knowledge_dir)
    report = reindex(kb, settings)
    assert report.added >= 1 and not report.errors and len(sources(kb)) == 1

    (knowledge / UPLOADS_DIR).mkdir()
    (knowledge / UPLOADS_DIR / "通知.md").write_text(NOTICE, encoding="utf-8")
    (knowledge / "安排.txt").unlink()
    report = reindex(kb, settings)
    assert report.added >= 1 and report.removed >= 1
    assert [Path(s).name for s in sources(kb)] == ["通知.md"]
    assert reindex(kb, settings).skipped == 1
