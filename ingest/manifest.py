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
import uuid
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
# A record that is not a document: every commit and drop writes a new random token into it, so a reader
# learns whether anything changed by fetching this one record instead of the whole manifest (at 100k
# chunks the manifest is 5k records listing 100k ids, a few hundred ms to read). Source ids always carry a
# folder ("root/file"), so this id cannot be a document's.
GENERATION_ID = "#generation"

# A record: its metadata plus "source" (the document id) and "ids" (its chunk ids, in order).
Record = dict[str, Any]


def now_iso() -> str:
    """The local time, to the second, as stored in ingested_at."""
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


class Manifest:
    """The committed documents: read (re-checked every REFRESH_SECONDS, re-read when changed), commit, drop."""

    def __init__(self, collection: Collection, batch: int):
        """collection: the ``<collection>_manifest`` Chroma collection; batch: the most ids per Chroma call."""
        self.collection = collection
        self.batch = batch
        self._lock = threading.Lock()
        self._records: Optional[dict[str, Record]] = None
        self._committed: frozenset[str] = frozenset()
        self._generation: Optional[str] = None
        self._checked_at = 0.0
        self.reads = 0  # full reads so far (the tests watch it)

    def records(self, force: bool = False) -> dict[str, Record]:
        """source -> record, re-read from Chroma when forced, or when the generation token changed since the
        last read (checked at most every REFRESH_SECONDS; a store without a token is re-read each time)."""
        with self._lock:
            now = time.monotonic()
            records = self._records
            if force or records is None:
                records = self._reload(now)
            elif now - self._checked_at >= REFRESH_SECONDS:
                token = self._read_generation()
                if token is None or token != self._generation:
                    records = self._reload(now, token)
                else:
                    self._checked_at = now
            return records

    def committed(self) -> frozenset[str]:
        """The chunk ids some record lists (as of the last read)."""
        self.records()
        return self._committed

    def _reload(self, now: float, token: Optional[str] = None) -> dict[str, Record]:
        # The token is read before the records: a change landing in between is seen again at the next check.
        self._generation = token if token is not None else self._read_generation()
        records = self._records = self._read()
        self._committed = frozenset(cid for rec in records.values() for cid in rec["ids"])
        self._checked_at = now
        self.reads += 1
        return records

    def _read_generation(self) -> Optional[str]:
        got = self.collection.get(ids=[GENERATION_ID], include=["metadatas"])
        metas = got["metadatas"] or []
        return str((metas[0] or {}).get("token")) if got["ids"] and metas else None

    def _read(self) -> dict[str, Record]:
        out: dict[str, Record] = {}
        offset = 0
        while True:
            got = self.collection.get(include=["documents", "metadatas"], limit=self.batch, offset=offset)
            ids = got["ids"]
            for rid, doc, meta in zip(ids, got["documents"] or [""] * len(ids), got["metadatas"] or [{}] * len(ids)):
                if rid == GENERATION_ID:
                    continue
                rec: Record = dict(meta or {})
                rec["ids"] = json.loads(doc) if doc else []
                rec["source"] = rid
                out[rid] = rec
            if len(ids) < self.batch:
                return out
            offset += self.batch

    def _generation_row(self) -> tuple[str, list[float], str, dict[str, Any]]:
        """A new generation token as a row (id, vector, document, metadata), written with each change."""
        # Its document lists no chunk, like an empty document, for readers of the raw collection.
        return GENERATION_ID, MANIFEST_VECTOR, json.dumps([]), {"token": uuid.uuid4().hex}

    def commit(self, source: str, chunk_ids: list[str], meta: dict[str, Any]) -> None:
        """Write the record of `source` listing `chunk_ids`: from now on readers see exactly these chunks.
        The new generation token goes in the same write, so readers elsewhere re-read (one Chroma call)."""
        self.commit_many([(source, chunk_ids, meta)])

    def commit_many(self, entries: list[tuple[str, list[str], dict[str, Any]]]) -> None:
        """commit() for several documents (source, chunk ids, metadata) in one Chroma write, with one new
        generation token: a Chroma write costs tens of ms whatever its size, so many small files commit together.
        Every record must list only chunks already stored; readers see any subset of them committed or all."""
        if not entries:
            return
        gid, gvec, gdoc, gmeta = self._generation_row()
        self.collection.upsert(
            ids=[source for source, _, _ in entries] + [gid],
            embeddings=np.asarray([MANIFEST_VECTOR] * len(entries) + [gvec], dtype=np.float32),
            documents=[json.dumps(ids) for _, ids, _ in entries] + [gdoc],
            metadatas=[meta for _, _, meta in entries] + [gmeta],
        )

    def drop(self, source: str) -> None:
        """Delete the record of `source`: the commit point of a removal; then a new generation token."""
        self.collection.delete(ids=[source])
        gid, gvec, gdoc, gmeta = self._generation_row()
        self.collection.upsert(
            ids=[gid], embeddings=np.asarray([gvec], dtype=np.float32), documents=[gdoc], metadatas=[gmeta]
        )
