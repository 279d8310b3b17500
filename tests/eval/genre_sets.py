"""Reading the genre's question sets (eval/heldout, eval/dev2, eval/blind) in their tests."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import LoadedDocument, load


def corpus_documents(folder: Path) -> dict[str, LoadedDocument]:
    """File name -> the document as the system reads it, for every file of a set's corpus folder."""
    return {p.name: load(p) for p in sorted(folder.iterdir()) if p.is_file()}
