"""The manifest: one record per committed document, kept in Chroma beside the chunks. Writing a record is
the commit point of a document; a chunk no record lists is invisible to readers.

The records live in the Chroma collection ``<collection>_manifest`` (record id = the document's source id,
document = the JSON list of its chunk ids, metadata = sha256, title, file_name, chars, chunks, ingested_at,
and since identities became root-relative: path and root, absolute and resolved). Several processes sharing
one Chroma server therefore agree on what is committed.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:  # chromadb is imported where the client is made, not by readers of this module
    from chromadb.api.models.Collection import Collection

# A reader re-checks the manifest (and so BM25 staleness) at most this often, so a process
# sharing a Chroma server with an ingesting process picks up its changes within this delay.
REFRESH_SECONDS = 2.0
# The manifest collection needs some vector; one constant dimension is enough.
MANIFEST_VECTOR = [1.0]
MANIFEST_SUFFIX = "_manifest"

# A record: its metadata plus "source" (the document id) and "ids" (its chunk ids, in order).
Record = dict[str, Any]


def now_iso() -> str:
    """The local time, to the second, as stored in ingested_at."""
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


class Manifest:
    """The committed documents: read (cached for REFRESH_SECONDS), commit, drop."""

    def __init__(self, collection: Collection, batch: int):
        """collection: the ``<collection>_manifest`` Chroma collection; batch: the most ids per Chroma call."""
        self.collection = collection
        self.batch = batch
        self._lock = threading.Lock()
        self._records: Optional[dict[str, Record]] = None
        self._committed: frozenset[str] = frozenset()
        self._checked_at = 0.0

    def records(self, force: bool = False) -> dict[str, Record]:
        """source -> record, re-read from Chroma when forced or older than REFRESH_SECONDS."""
        with self._lock:
            now = time.monotonic()
            if force or self._records is None or now - self._checked_at >= REFRESH_SECONDS:
                self._records = self._read()
                self._committed = frozenset(cid for rec in self._records.values() for cid in rec["ids"])
                self._checked_at = now
            return self._records

    def committed(self) -> frozenset[str]:
        """The chunk ids some record lists (as of the last read)."""
        self.records()
        return self._committed

    def _read(self) -> dict[str, Record]:
        out: dict[str, Record] = {}
        offset = 0
        while True:
            got = self.collection.get(include=["documents", "metadatas"], limit=self.batch, offset=offset)
            ids = got["ids"]
            for rid, doc, meta in zip(ids, got["documents"] or [""] * len(ids), got["metadatas"] or [{}] * len(ids)):
                rec: Record = dict(meta or {})
                rec["ids"] = json.loads(doc) if doc else []
                rec["source"] = rid
                out[rid] = rec
            if len(ids) < self.batch:
                return out
            offset += self.batch

    def commit(self, source: str, chunk_ids: list[str], meta: dict[str, Any]) -> None:
        """Write the record of `source` listing `chunk_ids`: from now on readers see exactly these chunks."""
        self.collection.upsert(
            ids=[source],
            embeddings=np.asarray([MANIFEST_VECTOR], dtype=np.float32),
            documents=[json.dumps(chunk_ids)],
            metadatas=[meta],
        )

    def drop(self, source: str) -> None:
        """Delete the record of `source`: the commit point of a removal."""
        self.collection.delete(ids=[source])
