"""Issue 10, item 3: links inside an ingested folder. A link out of the folder (to /etc/hostname) is skipped
with a message, link loops are reported, a link to a file inside the folder is followed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.discovery import find_files
from tests.reliability.ingest_hostile import symlinks

OUTSIDE = Path("/etc/hostname")


@pytest.fixture
def linked(tmp_path):
    outside = OUTSIDE if OUTSIDE.is_file() else tmp_path / "secret.txt"
    if not outside.exists():
        outside.write_text("机密内容", encoding="utf-8")
    root = tmp_path / "knowledge"
    root.mkdir()
    return root, outside, symlinks(root, outside)


@pytest.mark.unit
def test_discovery_skips_links_out_and_reports_loops(linked):
    root, outside, links = linked
    found = find_files([root])
    assert [f.path for f in found.files] == [links["good"].resolve()]  # the alias is the same file: once
    skipped = dict(found.skipped)
    assert set(skipped) == {"knowledge/host.txt", "knowledge/a.txt", "knowledge/b.txt", "knowledge/sub/up"}
    assert "资料文件夹以外" in skipped["knowledge/host.txt"] and str(outside.resolve()) in skipped["knowledge/host.txt"]
    for loop in ("knowledge/a.txt", "knowledge/b.txt", "knowledge/sub/up"):
        assert "循环" in skipped[loop], loop


@pytest.mark.unit
def test_a_link_inside_the_folder_is_followed(tmp_path):
    root = tmp_path / "knowledge"
    (root / "real").mkdir(parents=True)
    target = root / "real" / "通知.txt"
    target.write_text("通知", encoding="utf-8")
    (root / "快捷方式.txt").symlink_to(target)
    (root / "文件夹链接").symlink_to(root / "real")  # walked through its real place, not twice
    found = find_files([root])
    assert [f.path for f in found.files] == [target.resolve()] and found.skipped == []


@pytest.mark.unit
def test_a_path_named_on_the_command_line_is_followed(linked, tmp_path):
    _, outside, links = linked
    found = find_files([links["escape"]])  # the user named the link itself
    assert [f.path for f in found.files] == [outside.resolve()] and found.skipped == []


@pytest.mark.integration
def test_ingest_reports_them_and_loads_the_rest(linked, make_kb):
    root, _, _ = linked
    kb = make_kb(knowledge_dir=root)
    report = kb.ingest([root], progress=False)
    assert report.errors == []
    assert [d["source"] for d in kb.documents()] == ["knowledge/notice.txt"]
    assert sorted(source for source, _ in report.warnings) == [
        "knowledge/a.txt",
        "knowledge/b.txt",
        "knowledge/host.txt",
        "knowledge/sub/up",
    ]
    assert "4 条提醒" in report.summary()
