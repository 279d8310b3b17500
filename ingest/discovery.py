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

Symbolic links inside a folder being ingested: a link to a file inside the same folder is followed (the file
is ingested once, under its real path's id); a link whose target lies outside the folder is skipped with a
message (a link to /etc/hostname must not put it in the knowledge base); a link to a folder is not descended
(a folder inside the root is walked on its own), and one that points back to a folder above it is reported as
a loop, as is a chain of file links that never ends. A path named on the command line is the user's choice
and is followed wherever it leads.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
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


@dataclass
class Discovery:
    """What find_files saw: the files to ingest, the given paths that do not exist, and what it skipped on
    purpose as (the entry's id-like name, a Chinese message): links leaving the folder, link loops."""

    files: list[Found] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def find_files(paths: Iterable[Path]) -> Discovery:
    """The files to ingest under `paths`. Folders are searched recursively for SUPPORTED suffixes in sorted
    order, hidden entries skipped, symbolic links handled as the module docstring says; a file reached twice
    is listed once."""
    out = Discovery()
    seen: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            root = resolved(p)
            candidates = [(f, root) for f in sorted(_walk(p, root, out.skipped))]
        elif p.is_file():
            candidates = [(p, resolved(p).parent)]
        else:
            out.missing.append(p)
            continue
        for f, root in candidates:
            path = resolved(f)
            if path not in seen:
                seen.add(path)
                out.files.append(Found(path, root))
    return out


def _walk(folder: Path, root: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """Supported files below `folder` (resolved: `root`), hidden entries left out, links not followed out of
    `root`; what was skipped on purpose is appended to `skipped`."""
    found: list[Path] = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in dirs:  # os.walk lists a link to a folder here and does not enter it
            entry = Path(here) / name
            if entry.is_symlink():
                _check_folder_link(entry, folder, root, skipped)
        for name in sorted(files):
            if name.startswith("."):
                continue
            entry = Path(here) / name
            if not entry.is_symlink():
                if entry.suffix.lower() in SUPPORTED and entry.is_file():
                    found.append(entry)
            elif _file_link_ok(entry, folder, root, skipped):
                found.append(entry)
    return found


def _label(entry: Path, folder: Path, root: Path) -> str:
    """How a skipped entry is named in a message: like an id, the root folder's name and the path below it."""
    return f"{root.name}/{entry.relative_to(folder).as_posix()}"


def _target(entry: Path) -> Path | None:
    """Where a link finally points (a dangling link: where it would), or None when it loops."""
    try:
        return entry.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        return None
    except OSError as e:  # later versions: ELOOP
        return None if e.errno == errno.ELOOP else resolved(entry)


def _loop_message(label: str) -> tuple[str, str]:
    return label, f"{label} 是循环的符号链接（链接最终又指回自己或上级文件夹），已跳过。请删除或改正这个链接。"


def _outside_message(label: str, target: Path) -> tuple[str, str]:
    return label, (
        f"{label} 是指向资料文件夹以外（{target}）的符号链接，为安全起见没有导入。"
        "如确需导入，请把该文件复制到资料文件夹中。"
    )


def _file_link_ok(entry: Path, folder: Path, root: Path, skipped: list[tuple[str, str]]) -> bool:
    """Whether a link found among the files is followed: it must end at a supported file inside `root`."""
    label = _label(entry, folder, root)
    target = _target(entry)
    if target is None:
        skipped.append(_loop_message(label))
        return False
    if not target.is_relative_to(root):
        if entry.suffix.lower() in SUPPORTED or target.suffix.lower() in SUPPORTED or target.is_dir():
            skipped.append(_outside_message(label, target))
        return False
    return target.is_file() and target.suffix.lower() in SUPPORTED


def _check_folder_link(entry: Path, folder: Path, root: Path, skipped: list[tuple[str, str]]) -> None:
    """A link to a folder is never entered; one leaving `root` or pointing above itself is reported."""
    label = _label(entry, folder, root)
    target = _target(entry)
    if target is None or resolved(entry.parent).is_relative_to(target):
        skipped.append(_loop_message(label))
    elif not target.is_relative_to(root):
        skipped.append(_outside_message(label, target))


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
