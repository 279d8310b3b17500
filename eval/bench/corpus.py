"""Benchmark corpora built deterministically from the project's own materials.

Copy 0 of every material is the file itself; copy v ≥ 1 shifts every number of two or more digits by v
and renames the places the materials mention, so every copy is a distinct document whose chunks read
like the real ones. Binary formats (docx, pdf) are copied as the text their loader extracts.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.dataset import REPO_ROOT

# The materials: the seed, the development corpus and the held-out corpus.
MATERIAL_DIRS = (REPO_ROOT / "knowledge", REPO_ROOT / "eval" / "corpus", REPO_ROOT / "eval" / "heldout" / "corpus")
# Suffixes varied in place; any other format is varied as the text its loader extracts.
TEXT_SUFFIXES = (".txt", ".md", ".html")
VARIED_TEXT_SUFFIX = ".txt"
# Place-name stems that occur in the materials; each copy replaces them by names from the pool below.
PLACE_STEMS = ("云岭", "松林", "白河", "红星")
NAME_FIRST = "青金清桃梅柳石丰长安平兴"
NAME_SECOND = "山河川岗溪湖源峰桥坪"
NAME_POOL = tuple(a + b for a in NAME_FIRST for b in NAME_SECOND)
# Numbers of at least this many digits are shifted (years, counts); shorter ones are list numbering.
_NUMBER_RE = re.compile(r"\d{2,}")
_DIGITS_RE = re.compile(r"\d+")
_PLACES_RE = re.compile("|".join(sorted(set(PLACE_STEMS + NAME_POOL), key=len, reverse=True)))
COPY_DIR = "v{copy:04d}"
# Lines kept from each material for the many-small-documents corpus (the no-op re-ingest).
SMALL_DOCUMENT_LINES = 4


@dataclass(frozen=True)
class Material:
    """One source file: its text as the loader reads it, and its raw text when the format is varied in place."""

    path: Path
    text: str  # the loaded, normalised text (for chunk counts and binary formats)
    raw: str | None  # the file's own text for TEXT_SUFFIXES (decoded; copies are written as UTF-8), else None
    chunks: int  # chunks the chunker makes of copy 0 with the benchmark's settings


@dataclass(frozen=True)
class Corpus:
    """A corpus on disk: its root folder, files, and the size the chunker predicts."""

    root: Path
    files: list[Path]
    chars: int
    chunks: int  # predicted from each material's copy 0; the knowledge base reports the real count

    @property
    def documents(self) -> int:
        return len(self.files)


def load_materials(
    folders: Sequence[Path] = MATERIAL_DIRS, *, chunk_size: int = 300, chunk_overlap: int = 1
) -> list[Material]:
    """Every supported file under the folders, loaded and chunked once, in a stable order."""
    from ingest.chunker import chunk_document
    from ingest.discovery import find_files
    from ingest.loaders import decode_bytes, load

    found = find_files([Path(f) for f in folders]).files
    out = []
    for f in sorted(found, key=lambda f: (str(f.given_root), f.path.name)):
        doc = load(f.path, f.path.name)
        raw = decode_bytes(f.path.read_bytes(), f.path.name) if f.path.suffix.lower() in TEXT_SUFFIXES else None
        out.append(Material(f.path, doc.text, raw, len(chunk_document(doc, chunk_size, chunk_overlap))))
    return out


def place_name(stem: str, copy: int) -> str:
    """The name that replaces a place stem in copy `copy` (never the stem itself)."""
    i = (copy * 7 + PLACE_STEMS.index(stem) * 31) % len(NAME_POOL)
    return NAME_POOL[i] if NAME_POOL[i] != stem else NAME_POOL[(i + 1) % len(NAME_POOL)]


def vary(text: str, copy: int) -> str:
    """Copy `copy` of a text: numbers of two or more digits plus `copy`, place stems renamed (copy 0 is the text)."""
    if copy == 0:
        return text
    text = _NUMBER_RE.sub(lambda m: str(int(m.group()) + copy), text)
    for stem in PLACE_STEMS:
        text = text.replace(stem, place_name(stem, copy))
    return text


def skeleton(text: str) -> str:
    """The text with numbers and place names blanked: equal for all copies of one chunk."""
    return _PLACES_RE.sub("@", _DIGITS_RE.sub("#", text))


def copy_name(material: Material, copy: int) -> str:
    """File name of a copy: the original for copy 0; else the varied stem, the copy number and the written suffix."""
    if copy == 0:
        return material.path.name
    suffix = material.path.suffix if material.raw is not None else VARIED_TEXT_SUFFIX
    return f"{vary(material.path.stem, copy)}-{copy:04d}{suffix}"


def copy_text(material: Material, copy: int) -> str:
    """What copy `copy` of a material holds (the varied file text, or the varied extracted text)."""
    return vary(material.raw if material.raw is not None else material.text, copy)


def write_copy(material: Material, copy: int, folder: Path) -> Path:
    """Write one copy into folder (copy 0 byte for byte); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / copy_name(material, copy)
    if copy == 0:
        shutil.copyfile(material.path, path)
    else:
        path.write_text(copy_text(material, copy), encoding="utf-8")
    return path


def copies(materials: Sequence[Material]) -> Iterator[tuple[int, Material]]:
    """(copy, material) for copy 0, 1, 2, … of every material, without end."""
    copy = 0
    while True:
        for m in materials:
            yield copy, m
        copy += 1


def build_corpus(root: Path, materials: Sequence[Material], target_chunks: int) -> Corpus:
    """Copies of the materials under root/v0000, root/v0001, … until the predicted chunks reach target_chunks."""
    if root.exists():
        shutil.rmtree(root)
    files: list[Path] = []
    chars = chunks = 0
    for copy, m in copies(materials):
        if chunks >= target_chunks:
            break
        files.append(write_copy(m, copy, root / COPY_DIR.format(copy=copy)))
        chars += len(m.text)
        chunks += m.chunks
    return Corpus(root, files, chars, chunks)


def build_small_documents(root: Path, materials: Sequence[Material], documents: int) -> Corpus:
    """`documents` short text files (the first lines of each copy of each material), for the no-op re-ingest."""
    if root.exists():
        shutil.rmtree(root)
    files: list[Path] = []
    chars = 0
    for copy, m in copies(materials):
        if len(files) >= documents:
            break
        name = f"{vary(m.path.stem, copy)}-{copy:04d}"
        lines = [ln for ln in m.text.splitlines() if ln.strip()][:SMALL_DOCUMENT_LINES]
        text = name + "\n" + vary("\n".join(lines), copy) + "\n"  # the name line keeps every file distinct
        folder = root / COPY_DIR.format(copy=copy)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}{VARIED_TEXT_SUFFIX}"
        path.write_text(text, encoding="utf-8")
        files.append(path)
        chars += len(text)
    return Corpus(root, files, chars, len(files))


def chunk_texts(files: Sequence[Path], *, chunk_size: int, chunk_overlap: int) -> list[str]:
    """The chunk texts of the files, cut as the ingest cuts them."""
    from ingest.chunker import chunk_document
    from ingest.loaders import load

    return [c.page_content for f in files for c in chunk_document(load(f, f.name), chunk_size, chunk_overlap)]
