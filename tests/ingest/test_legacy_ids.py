"""Ids of the first scheme (relative to the working directory of the ingest): which file each one names."""

from __future__ import annotations

import pytest

from ingest.discovery import Found
from ingest.legacy_ids import is_legacy, legacy_claims, legacy_names, legacy_path

pytestmark = pytest.mark.unit


def test_is_legacy():
    assert is_legacy({"sha256": "a", "ids": []}) and not is_legacy({"path": "/k/a.txt", "ids": []})


@pytest.mark.parametrize(
    "legacy, expected",
    [
        ("knowledge/a.txt", True),
        ("a.txt", True),
        ("repo/knowledge/a.txt", True),
        ("other/a.txt", False),
        ("knowledge/b.txt", False),
        ("../knowledge/a.txt", False),
    ],
)
def test_legacy_names(tmp_path, legacy, expected):
    path = tmp_path / "repo" / "knowledge" / "a.txt"
    assert legacy_names(legacy, path) is expected


def test_legacy_names_absolute(tmp_path):
    path = tmp_path / "repo" / "knowledge" / "a.txt"
    assert legacy_names(path.as_posix(), path)
    assert not legacy_names((tmp_path / "a.txt").as_posix(), path)


def test_legacy_path_places_an_old_id_only_when_it_names_the_root(tmp_path):
    corpus = tmp_path / "repo" / "eval" / "corpus"
    assert legacy_path("corpus/a.txt", [corpus]) == corpus / "a.txt"
    assert legacy_path("eval/corpus/sub/a.txt", [corpus]) == corpus / "sub" / "a.txt"
    assert legacy_path("repo/eval/corpus/a.txt", [corpus]) == corpus / "a.txt"
    assert legacy_path("other/corpus/a.txt", [corpus]) is None  # a different folder called corpus
    assert legacy_path("a.txt", [corpus]) is None  # ingested from inside the root: cannot tell where
    assert legacy_path("corpus", [corpus]) is None
    assert legacy_path((corpus / "a.txt").as_posix(), []) == corpus / "a.txt"


def test_claims_go_to_the_file_with_the_id_then_the_content_then_the_path(tmp_path):
    corpus = tmp_path / "repo" / "eval" / "corpus"
    a, b = corpus / "a.txt", tmp_path / "other" / "corpus" / "a.txt"
    records = {
        "corpus/a.txt": {"sha256": "old"},  # the id the first file now has: its own record
        "eval/corpus/a.txt": {"sha256": "x"},  # names only the first file
        "a.txt": {"sha256": "y"},  # names both; the second has its content
        "zzz/a.txt": {"sha256": "x"},  # names neither
        "corpus/b.txt": {"sha256": "b", "path": "/somewhere/b.txt"},  # not of the first scheme
    }
    hashed = [(Found(a, corpus), "corpus/a.txt", "x"), (Found(b, b.parent), "corpus-2/a.txt", "y")]
    assert legacy_claims(records, hashed) == {a: ["corpus/a.txt", "eval/corpus/a.txt"], b: ["a.txt"]}
    assert legacy_claims(records, []) == {}


def test_a_claim_without_matching_content_goes_to_the_first_file(tmp_path):
    a, b = tmp_path / "x" / "k" / "a.txt", tmp_path / "y" / "k" / "a.txt"
    hashed = [(Found(a, a.parent), "k/a.txt", "1"), (Found(b, b.parent), "y/k/a.txt", "2")]
    assert legacy_claims({"a.txt": {"sha256": "3"}}, hashed) == {a: ["a.txt"]}
