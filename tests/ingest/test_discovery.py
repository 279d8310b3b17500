"""Finding files, hashing them, and the one id a file has whatever the working directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.discovery import (
    Found,
    Identities,
    file_sha256,
    find_files,
    outermost_root,
    source_id,
)

pytestmark = pytest.mark.unit


def _touch(path: Path, text: str = "内容。") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    for rel in ("b.txt", "a.md", "sub/c.docx", "sub/deep/d.pdf", "e.HTML", ".hidden/x.txt", "sub/.y.txt", "f.xls"):
        _touch(root / rel)
    return root


def test_find_files_recurses_sorted_skipping_hidden_and_unsupported(tree):
    found = find_files([tree])
    files, missing = found.files, found.missing
    assert missing == []
    assert [f.path.relative_to(tree).as_posix() for f in files] == [
        "a.md",
        "b.txt",
        "e.HTML",
        "sub/c.docx",
        "sub/deep/d.pdf",
    ]
    assert all(f.given_root == tree.resolve() and f.path.is_absolute() for f in files)


def test_find_files_lists_a_file_once_and_reports_missing_paths(tree):
    found = find_files([tree / "b.txt", tree, tree / "sub" / ".." / "b.txt", tree / "无.txt"])
    files, missing = found.files, found.missing
    assert [f.path.name for f in files].count("b.txt") == 1
    assert files[0] == Found(tree.resolve() / "b.txt", tree.resolve())  # a file named itself: its folder is its root
    assert missing == [tree / "无.txt"]


def test_file_sha256_is_the_hash_of_the_bytes(tmp_path):
    data = "冬训".encode() * 300_000  # more than one read block
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError):
        file_sha256(tmp_path / "无.txt")


def test_source_id_is_root_name_and_path_below_it(tmp_path):
    root = tmp_path / "eval" / "corpus"
    assert source_id(root / "通知.txt", root) == "corpus/通知.txt"
    assert source_id(root / "sub" / ".." / "sub" / "a.txt", root / "sub" / "..") == "corpus/sub/a.txt"
    with pytest.raises(ValueError):
        source_id(tmp_path / "x.txt", root)


def test_source_id_follows_symlinks_to_the_real_file(tmp_path):
    real = _touch(tmp_path / "knowledge" / "a.txt")
    (tmp_path / "link").symlink_to(tmp_path / "knowledge")
    assert source_id(tmp_path / "link" / "a.txt", tmp_path / "knowledge") == "knowledge/a.txt"
    assert find_files([tmp_path / "link" / "a.txt"]).files[0].path == real


def test_same_ids_from_any_working_directory(tree, monkeypatch):
    seen = []
    for cwd, given in (
        (tree.parent, "knowledge"),
        (tree, "."),
        (tree / "sub", ".."),
        (tree / "sub" / "deep", str(tree)),
    ):
        monkeypatch.chdir(cwd)
        files = find_files([Path(given)]).files
        identities = Identities({}, [])
        seen.append([identities.source_of(f) for f in files])
    assert seen[0][0] == "knowledge/a.md" and all(ids == seen[0] for ids in seen)


def test_outermost_root(tmp_path):
    roots = [tmp_path / "a" / "b", tmp_path / "a", tmp_path / "c"]
    assert outermost_root(tmp_path / "a" / "b" / "x.txt", roots) == tmp_path / "a"
    assert outermost_root(tmp_path / "c" / "x.txt", roots) == tmp_path / "c"
    assert outermost_root(tmp_path / "d" / "x.txt", roots) is None


def test_identities_keep_known_ids_and_name_new_files_from_known_roots(tmp_path):
    knowledge = tmp_path / "knowledge"
    known = {knowledge / "old.txt": "sub/old.txt"}  # an id given earlier stays, whatever the roots say now
    ids = Identities(known, [knowledge])
    assert ids.source_of(Found(knowledge / "old.txt", knowledge)) == "sub/old.txt"
    # a single upload under the knowledge folder is named from it, as a folder ingest would
    upload = knowledge / "uploads" / "x.txt"
    assert ids.source_of(Found(upload, upload.parent)) == "knowledge/uploads/x.txt"
    # outside every known root: the folder it was found under
    other = tmp_path / "eval" / "corpus" / "y.txt"
    assert ids.source_of(Found(other, other.parent)) == "corpus/y.txt"
    assert ids.root_of(Found(other, other.parent)) == other.parent


def test_identities_never_give_two_files_one_id(tmp_path):
    a, b, c = (tmp_path / p / "资料" / "通知.txt" for p in ("a", "b", "x/b"))
    ids = Identities({a: "资料/通知.txt"}, [])
    assert ids.peek(Found(b, b.parent)) == "b/资料/通知.txt"
    assert ids.source_of(Found(b, b.parent)) == "b/资料/通知.txt"
    assert ids.source_of(Found(c, c.parent)) == "x/b/资料/通知.txt"
    assert ids.source_of(Found(b, b.parent)) == "b/资料/通知.txt"  # asked again: the same answer


def test_peek_reserves_nothing(tmp_path):
    a, b = tmp_path / "a" / "k" / "f.txt", tmp_path / "b" / "k" / "f.txt"
    ids = Identities({}, [])
    assert ids.peek(Found(a, a.parent)) == "k/f.txt"
    assert ids.source_of(Found(b, b.parent)) == "k/f.txt"
