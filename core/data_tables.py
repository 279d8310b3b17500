"""The project's data tables (cues, word lists, synonyms): tab-separated text files whose lines starting
with "#" carry the header and the provenance."""

from __future__ import annotations

from pathlib import Path


def table_rows(path: Path, *, maxsplit: int = -1) -> list[list[str]]:
    """The fields of each data line of a table (blank lines and "#" comment lines left out), split on tabs
    at most `maxsplit` times."""
    return [
        line.split("\t", maxsplit)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
