"""Ids of the first scheme and the files they name.

The first store named a document by its path relative to the working directory of the ingest (or its
absolute path outside it), so one folder ingested from three directories gave three ids per file. Such
records carry no ``path`` in the manifest. The next ingest recognises them here and the pipeline moves
them to root-relative ids: re-keyed with their vectors when unchanged, replaced when changed, extra
copies dropped. An id that fits no given root is left alone: it cannot say where its file was.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Optional

from ingest.discovery import Found, resolved
from ingest.manifest import Record


def is_legacy(rec: Record) -> bool:
    """Whether a manifest record was written under the first scheme (it records no path)."""
    return not rec.get("path")


def legacy_names(legacy_id: str, path: Path) -> bool:
    """Whether an id of the first scheme (cwd-relative, or absolute outside the cwd) can name the file `path`:
    the id is the tail of the file's absolute path (or, when absolute, that path)."""
    legacy = PurePosixPath(legacy_id)
    if legacy.is_absolute():
        return resolved(legacy_id) == path
    parts = legacy.parts
    return bool(parts) and ".." not in parts and path.parts[-len(parts) :] == parts


def legacy_path(legacy_id: str, roots: Iterable[Path]) -> Optional[Path]:
    """Where a first-scheme id places its file under one of `roots`: an absolute id is its own place; a relative
    one must name a root folder and the folders above it as far as it reaches ("eval/corpus/a.txt" is
    <root>/a.txt for the root …/eval/corpus). None when it fits no root: the id alone cannot say where it is."""
    legacy = PurePosixPath(legacy_id)
    if legacy.is_absolute():
        return resolved(legacy_id)
    parts = legacy.parts
    if ".." in parts:
        return None
    for root in roots:
        above = root.parent.parts
        for k, part in enumerate(parts[:-1]):
            if part == root.name and parts[:k] == above[len(above) - k :]:
                return root.joinpath(*parts[k + 1 :])
    return None


def legacy_claims(records: dict[str, Record], hashed: list[tuple[Found, str, str]]) -> dict[Path, list[str]]:
    """file path -> the first-scheme records that name that file (a record goes to the file with its id,
    else to a file with its content, else to the first file whose path it is the tail of)."""
    by_source = {source: found.path for found, source, _ in hashed}
    claims: dict[Path, list[str]] = {}
    for source, rec in records.items():
        if not is_legacy(rec):
            continue
        owner = by_source.get(source)
        if owner is None:
            candidates = [(found.path, sha) for found, _, sha in hashed if legacy_names(source, found.path)]
            if not candidates:
                continue
            owner = next((path for path, sha in candidates if sha == rec.get("sha256")), candidates[0][0])
        claims.setdefault(owner, []).append(source)
    return claims
