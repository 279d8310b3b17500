"""Which files an ingest reads, their content hash, and the one id each file has in the knowledge base.

A document's id (its ``source``) is its path below the knowledge root it was ingested under, prefixed by
that root folder's name: eval/corpus/通知.txt ingested with eval/corpus is ``corpus/通知.txt``, whatever
the working directory. The absolute resolved path is kept in the manifest beside it, so:

- a file keeps the id it was first given (found again by its path);
- a new file under a root the knowledge base already knows (a recorded root, or the configured
  knowledge folder) is named from the outermost such root, so ``ingest knowledge/uploads/x.txt`` and
  ``ingest knowledge`` agree on ``knowledge/uploads/x.txt``;
- otherwise the root is the folder given on the command line (a single file's own folder);
- two roots with the same name never share an id: the later file takes more of its path.

Ids of the first scheme (the path relative to the working directory of the ingest) are read by
ingest.legacy_ids, so an old knowledge base is re-keyed instead of duplicated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ingest.loaders import SUPPORTED

# Bytes read at a time when hashing a file.
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Found:
    """A file to ingest: its absolute resolved path and the folder it was found under."""

    path: Path
    given_root: Path  # the folder named on the command line, or the file's own folder when it was named itself


def resolved(path: Path | str) -> Path:
    """The absolute path with symlinks and .. resolved: the form every comparison of places uses."""
    return Path(path).expanduser().resolve()


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (read in blocks); raises OSError when it cannot be read."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def find_files(paths: Iterable[Path]) -> tuple[list[Found], list[Path]]:
    """(files to ingest, given paths that do not exist). Folders are searched recursively for SUPPORTED
    suffixes in sorted order, hidden entries skipped; a file reached twice is listed once."""
    files: list[Found] = []
    missing: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            root = resolved(p)
            found = []
            for f in p.rglob("*"):
                rel = f.relative_to(p).parts
                if f.is_file() and f.suffix.lower() in SUPPORTED and not any(part.startswith(".") for part in rel):
                    found.append(f)
            candidates = [(f, root) for f in sorted(found)]
        elif p.is_file():
            candidates = [(p, resolved(p).parent)]
        else:
            missing.append(p)
            continue
        for f, root in candidates:
            path = resolved(f)
            if path not in seen:
                seen.add(path)
                files.append(Found(path, root))
    return files, missing


def source_id(path: Path, root: Path) -> str:
    """The id of the file `path` under the knowledge root `root`: the root's folder name, then the posix path below it."""
    rel = resolved(path).relative_to(resolved(root)).as_posix()
    name = resolved(root).name
    return f"{name}/{rel}" if name else rel


def outermost_root(path: Path, roots: Iterable[Path]) -> Optional[Path]:
    """The outermost of `roots` (absolute, resolved) that contains `path`, or None."""
    containing = [r for r in roots if path.is_relative_to(r)]
    return min(containing, key=lambda r: len(r.parts)) if containing else None


class Identities:
    """Gives each file its id: the one the manifest already records for its path, else one from its root."""

    def __init__(self, known: dict[Path, str], roots: Iterable[Path]):
        """known: absolute path -> id of every committed document that records its path;
        roots: the knowledge roots already in use (recorded roots, the configured knowledge folder)."""
        self.by_path = dict(known)
        self.taken = {source: path for path, source in known.items()}
        self.roots = [resolved(r) for r in roots]

    def root_of(self, found: Found) -> Path:
        """The knowledge root a new file is named from: the outermost known root holding it, else where it was found."""
        return outermost_root(found.path, self.roots) or found.given_root

    def source_of(self, found: Found) -> str:
        """The id of the file (assigned now if it has none; later calls agree)."""
        source = self.peek(found)
        self.by_path[found.path] = source
        self.taken[source] = found.path
        return source

    def peek(self, found: Found) -> str:
        """The id the file has or would be given now, without reserving it."""
        if found.path in self.by_path:
            return self.by_path[found.path]
        root = self.root_of(found)
        source = source_id(found.path, root)
        # The same root folder name in two places: take one more parent folder until the id is free.
        below = len(found.path.parts) - len(root.parts) + 1
        for extra in range(below + 1, len(found.path.parts)):
            if self.taken.get(source, found.path) == found.path:
                break
            source = "/".join(found.path.parts[-extra:])
        if self.taken.get(source, found.path) != found.path:
            source = found.path.as_posix()
        return source
