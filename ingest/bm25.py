"""The BM25 index over the committed chunks and the chunk cache built with it; both derived from Chroma.

Chroma is the single source of truth. For a given committed content (its fingerprint) the index is
built once from the chunks, persisted under ``kb_dir/bm25/<fingerprint prefix>`` and loaded from there
by the next process; the chunk cache (all chunks in order, by document and by position) comes with it.

Tokenizing is most of a build (jieba, about 100k characters/s). The process that tokenizes a chunk first
publishes its tokens to Chroma (a TokenStore, one compressed record per document), so another process
with an empty kb_dir, for instance a new app replica on a shared Chroma server, reads them instead.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import os
import shutil
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

import bm25s
import numpy as np
from langchain_core.documents import Document

from core.grammar import STOPWORDS, tokenize
from ingest.manifest import Record

log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG; its index-building chatter is not for users.
logging.getLogger("bm25s").setLevel(logging.WARNING)

BM25_DIR = "bm25"
# Version of what BM25 indexes (2: title and section path before the chunk text).
BM25_FORMAT = 2
# Length of the fingerprint prefix naming a persisted BM25 folder.
BM25_NAME_CHARS = 16
IDS_FILE = "ids.json"
# The chunks themselves (id, text, metadata) beside the index: opening a knowledge base then reads one file
# instead of fetching every chunk from Chroma (at 20k chunks the fetch was 3.5 of the 8.4 s it took to open).
CHUNKS_FILE = "chunks.json"
TMP_PREFIX = ".tmp-"
# The tokens of every chunk beside the index, keyed by a hash of what was tokenized, with the tokenizer's
# version: the next rebuild (after an upload, another process's ingest, a re-chunk) tokenizes only chunks
# it has not seen (at 20k chunks the jieba pass was 36 of a 38 s rebuild). Kept beside the index rather than
# in Chroma's metadata, where the extra strings made writes ~50% slower.
TOKENS_FILE = "tokens.json"
TEXT_KEY_CHARS = 24  # hex digits of the sha256 naming a tokenized text
# Version of what TOKENS_FILE keeps per text (2: the tokens and how many are the heading's).
TOKENS_FORMAT = 2
# The answerer's document frequencies (tokens of chunk texts, headings left out) beside the index: counting them
# at the first question tokenized every chunk again (at 100k chunks about a minute).
TEXT_DF_FILE = "text_df.json"

# A chunk's tokens for BM25 (heading, then text) and how many of them are the heading's.
Tokens = tuple[int, list[str]]

# Chroma chunk ids -> their Documents (the ones Chroma holds; a missing id is left out).
Fetch = Callable[[list[str]], dict[str, Document]]
# zlib level of a published tokens payload: level 1 is within a few percent of 6 on token lists, several times faster.
PACK_LEVEL = 1


class TokenStore(Protocol):
    """Tokens kept where every process sharing the knowledge base can read them (ingest.index keeps them in
    Chroma); both calls are best effort: a store that fails answers {} and the caller tokenizes."""

    def get(self, sources: list[str]) -> dict[str, Tokens]:
        """text_key -> tokenized() of the chunks of these documents that some process published."""
        ...

    def put(self, docs: list[Document], tokens: dict[str, Tokens]) -> None:
        """Publish the tokens (text_key -> tokenized()) of these chunks, grouped by their document."""
        ...


def fingerprint(records: dict[str, Record]) -> str:
    """Hash of the committed content (sorted source, sha256 and chunk ids); changes whenever any document
    does, and when one is re-chunked (its chunk ids change, its file's hash does not)."""
    pairs = sorted((src, rec.get("sha256", ""), list(rec.get("ids", []))) for src, rec in records.items())
    # The index format is part of the identity, so an index built the old way is rebuilt.
    return hashlib.sha256(json.dumps([BM25_FORMAT, pairs], ensure_ascii=False).encode("utf-8")).hexdigest()


def ordered_ids(records: dict[str, Record]) -> list[str]:
    """Every committed chunk id, by source and then in chunk order: the order of the index and the cache."""
    return [cid for src in sorted(records) for cid in records[src]["ids"]]


def heading_text(doc: Document) -> str:
    """A chunk's title and section path, as BM25 indexes them before its text."""
    return f"{doc.metadata.get('title', '')} {doc.metadata.get('section', '')}"


def indexed_text(doc: Document) -> str:
    """What BM25 indexes for a chunk: its title and section path, then its text, so a short article
    ("第二十二条 本办法自…起施行") is also found by the words of its heading."""
    return f"{heading_text(doc)}\n{doc.page_content}"


def tokenized(doc: Document) -> Tokens:
    """The tokens of indexed_text(doc) and how many of them are the heading's. jieba cuts at the line break
    between heading and text, so they are the heading's tokens followed by the text's: the text's alone are the
    answerer's document frequencies, from the same pass."""
    head = tokenize(heading_text(doc))
    return len(head), head + tokenize(doc.page_content)


def text_frequencies(tokens: list[Tokens]) -> Counter:
    """In how many chunks each token of their texts (headings left out) occurs: CorpusStats' document frequencies."""
    df: Counter = Counter()
    for heading, toks in tokens:
        df.update(set(toks[heading:]))
    return df


@functools.cache
def tokens_version() -> str:
    """Identity of what tokenize() produces: the index format, jieba's version and the stopword list."""
    import jieba

    ident = json.dumps([BM25_FORMAT, TOKENS_FORMAT, jieba.__version__, sorted(STOPWORDS)], ensure_ascii=False)
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:BM25_NAME_CHARS]


def text_key(text: str) -> str:
    """The name of a tokenized text in TOKENS_FILE."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:TEXT_KEY_CHARS]


def tokens_of(
    docs: list[Document], known: Optional[dict[str, Tokens]] = None
) -> tuple[list[Tokens], dict[str, Tokens]]:
    """Each chunk's tokenized(), in order, and the same by text_key(indexed_text) for keeping: from `known` (an
    earlier index's) when there, else tokenized now."""
    known = known or {}
    by_key: dict[str, Tokens] = {}
    in_order: list[Tokens] = []
    # One string object per distinct token: at 10k chunks the token occurrences as separate strings took ~370 MB.
    vocabulary: dict[str, str] = {}
    for d in docs:
        key = text_key(indexed_text(d))
        if key not in by_key:
            heading, tokens = known[key] if key in known else tokenized(d)
            by_key[key] = (heading, list(map(vocabulary.setdefault, tokens, tokens)))
        in_order.append(by_key[key])
    return in_order, by_key


def pack_tokens(tokens: dict[str, Tokens]) -> str:
    """A compact ASCII form of text_key -> tokenized(), for a Chroma metadata string: compressed, then base64
    (Chroma took ~13x longer to write the same tokens as plain Chinese text: 40 s against 3 s for 20k chunks;
    base64 rather than base85, whose decoder is pure Python: 9 s of reading 100k chunks' tokens)."""
    raw = json.dumps(tokens, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, PACK_LEVEL)).decode("ascii")


def unpack_tokens(payload: str, vocabulary: Optional[dict[str, str]] = None) -> dict[str, Tokens]:
    """pack_tokens() read back, each distinct token one string object (shared through `vocabulary` across calls);
    ValueError when the payload is damaged."""
    vocabulary = {} if vocabulary is None else vocabulary
    try:
        # Only the shape is checked: a payload is what pack_tokens() wrote, and checking every token cost seconds.
        # Interned as read: the token strings json makes for 100k chunks took ~450 MB, ~60 MB once shared.
        data = json.loads(zlib.decompress(base64.b64decode(payload, validate=True)).decode("utf-8"))
        return {
            key: (heading, list(map(vocabulary.setdefault, tokens, tokens))) for key, (heading, tokens) in data.items()
        }
    except (binascii.Error, zlib.error, UnicodeDecodeError, TypeError, AttributeError) as e:
        raise ValueError(f"damaged tokens payload: {e}") from e


def by_document(docs: list[Document], tokens: dict[str, Tokens]) -> dict[tuple[str, str], dict[str, Tokens]]:
    """The entries of `tokens` grouped by the (source, doc_sha) of the chunks they belong to."""
    out: dict[tuple[str, str], dict[str, Tokens]] = {}
    for d in docs:
        key = text_key(indexed_text(d))
        if key in tokens:
            doc = (str(d.metadata.get("source", "")), str(d.metadata.get("doc_sha", "")))
            out.setdefault(doc, {})[key] = tokens[key]
    return out


def read_tokens(root: Path) -> dict[str, Tokens]:
    """The tokens kept beside the indexes under root that this tokenizer made ({} when none)."""
    out: dict[str, Tokens] = {}
    if not root.is_dir():
        return out
    for folder in root.iterdir():
        if folder.name.startswith(TMP_PREFIX):
            continue
        try:
            data = json.loads((folder / TOKENS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # absent (an index saved before tokens were kept) or damaged: tokenize again
        if isinstance(data, dict) and data.get("version") == tokens_version() and isinstance(data.get("tokens"), dict):
            out.update((key, (int(heading), tokens)) for key, (heading, tokens) in data["tokens"].items())
    return out


def copy_doc(doc: Document) -> Document:
    """A copy callers may annotate (the retriever writes scores into metadata) without touching the cache."""
    return Document(page_content=doc.page_content, metadata=dict(doc.metadata), id=doc.id)


class ChunkCache:
    """The committed chunks in index order, looked up by id, by document and by (source, chunk_index); hands out
    copies."""

    def __init__(self, docs: list[Document]):
        self.docs = docs
        self._by_id = {d.id: d for d in docs if d.id}
        self._by_pos = {(d.metadata.get("source", ""), int(d.metadata.get("chunk_index", -1))): d for d in docs}
        self._by_source: dict[str, list[tuple[str, int]]] = {}
        for key in sorted(self._by_pos, key=lambda k: k[1]):
            self._by_source.setdefault(key[0], []).append(key)

    def all(self) -> list[Document]:
        """Every chunk, ordered by source and chunk_index."""
        return [copy_doc(d) for d in self.docs]

    def of_document(self, source: str) -> list[Document]:
        """The chunks of one document, in order ([] when unknown)."""
        return [copy_doc(self._by_pos[key]) for key in self._by_source.get(source, [])]

    def get(self, cid: str) -> Optional[Document]:
        """One chunk by id, or None."""
        d = self._by_id.get(cid)
        return copy_doc(d) if d is not None else None

    def at(self, source: str, chunk_index: int) -> Optional[Document]:
        """One chunk by position, or None."""
        d = self._by_pos.get((source, int(chunk_index)))
        return copy_doc(d) if d is not None else None


@dataclass
class Bm25Index:
    """BM25 over core.grammar.tokenize tokens of indexed_text(chunk), for one committed content."""

    fingerprint: str
    chunks: ChunkCache
    index: Any  # bm25s.BM25, or None when the knowledge base is empty
    text_df: Optional[Counter] = None  # text_frequencies() of the chunks; None for an index saved without them

    tokens: Optional[dict[str, Tokens]] = None  # text_key -> tokenized(), kept until saved

    @classmethod
    def build(cls, fp: str, docs: list[Document], known: Optional[dict[str, Tokens]] = None) -> Bm25Index:
        """Index `docs` (in this order) for the content with fingerprint `fp`; `known`: tokens of texts an
        earlier index tokenized (text_key -> tokenized()), reused instead of tokenizing again."""
        index = None
        in_order, by_key = tokens_of(docs, known)
        if docs:
            index = bm25s.BM25()
            index.index([tokens for _, tokens in in_order], show_progress=False)
        return cls(fp, ChunkCache(docs), index, text_frequencies(in_order), by_key)

    def search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k chunks by BM25 score (only chunks scoring above 0), best first; ties keep index order."""
        if self.index is None or k <= 0:
            return []
        vocab = self.index.vocab_dict
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return []
        scores = np.asarray(self.index.get_scores(tokens))
        docs = self.chunks.docs
        return [(copy_doc(docs[i]), float(scores[i])) for i in top_positive(scores, k)]

    def counted_text_df(self, root: Path) -> Counter:
        """text_df; for an index saved without it, counted now and saved beside it (once per index, not per process)."""
        if self.text_df is None:
            self.text_df = text_frequencies([(0, tokenize(d.page_content)) for d in self.chunks.docs])
            folder = root / self.fingerprint[:BM25_NAME_CHARS]
            if (folder / IDS_FILE).exists():
                tmp = folder / f"{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}"
                try:
                    _write_text_df(tmp, len(self.chunks.docs), self.text_df)
                    os.replace(tmp, folder / TEXT_DF_FILE)
                except OSError as e:
                    log.warning("could not keep the document frequencies in %s: %s", folder, e)
        return self.text_df

    # ------------------------------------------------------------------ persistence
    def save(self, root: Path) -> None:
        """Write the index to root/<fingerprint prefix> atomically (temp folder + rename); drop older ones."""
        folder = root / self.fingerprint[:BM25_NAME_CHARS]
        tmp = root / f"{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            if self.index is not None:
                self.index.save(str(tmp), show_progress=False)
            ids = [d.metadata["id"] for d in self.chunks.docs]
            rows = [[d.metadata["id"], d.page_content, d.metadata] for d in self.chunks.docs]
            (tmp / CHUNKS_FILE).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            if self.text_df is not None:
                _write_text_df(tmp / TEXT_DF_FILE, len(ids), self.text_df)
            if self.tokens is not None:
                kept = {"version": tokens_version(), "tokens": self.tokens}
                (tmp / TOKENS_FILE).write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
            # Written last: a folder without it is incomplete and never loaded.
            (tmp / IDS_FILE).write_text(json.dumps({"fingerprint": self.fingerprint, "ids": ids}), encoding="utf-8")
            if folder.exists():
                shutil.rmtree(tmp, ignore_errors=True)  # another process wrote the same index
            else:
                os.rename(tmp, folder)
            for old in root.iterdir():
                if old.name != folder.name and not old.name.startswith(TMP_PREFIX):
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            log.warning("could not persist the BM25 index in %s: %s", root, e)
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, root: Path, fp: str, fetch: Fetch) -> Optional[Bm25Index]:
        """The index persisted under root for fingerprint `fp`, its chunks fetched from Chroma; None when absent or unusable."""
        folder = root / fp[:BM25_NAME_CHARS]
        if not (folder / IDS_FILE).exists():
            return None  # not built yet for this content: the normal case after an ingest
        try:
            meta = json.loads((folder / IDS_FILE).read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fp:
                return None
            ids = meta["ids"]
            index = bm25s.BM25.load(str(folder), show_progress=False) if ids else None
        except (OSError, ValueError, KeyError) as e:
            log.info("BM25 index in %s unusable (%s); rebuilding", folder, e)
            return None
        docs = _read_chunks(folder / CHUNKS_FILE, ids)
        if docs is None:  # written before the chunks were kept beside the index
            docs_by_id = fetch(ids)
            if len(docs_by_id) != len(ids):
                return None
            docs = [docs_by_id[c] for c in ids]
        return cls(fp, ChunkCache(docs), index, _read_text_df(folder / TEXT_DF_FILE, len(ids)))


def _read_chunks(path: Path, ids: list[str]) -> Optional[list[Document]]:
    """The chunks saved beside an index, in the order of `ids`; None when absent or not matching."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        docs = [Document(page_content=text, metadata=meta, id=cid) for cid, text, meta in rows]
    except (OSError, ValueError, TypeError) as e:
        if path.exists():
            log.info("chunks beside the BM25 index unusable (%s); fetching them from Chroma", e)
        return None
    if [d.id for d in docs] != ids:
        return None
    return docs


def top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores above 0, best first, ties in index order: the positive ones among the
    first k of a stable argsort of -scores, without sorting every chunk (at 100k chunks 4 ms of each search)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        kth = np.partition(scores[positive], len(positive) - k)[len(positive) - k]
        positive = positive[scores[positive] >= kth]  # the k best and any tied with the k-th, in index order
    return positive[np.argsort(-scores[positive], kind="stable")[:k]]


def _write_text_df(path: Path, chunks: int, df: Counter) -> None:
    path.write_text(json.dumps({"chunks": chunks, "df": df}, ensure_ascii=False), encoding="utf-8")


def _read_text_df(path: Path, chunks: int) -> Optional[Counter]:
    """The document frequencies saved beside an index of `chunks` chunks; None when absent or not matching."""
    try:
        counts = json.loads(path.read_text(encoding="utf-8"))
        if counts.get("chunks") == chunks and isinstance(counts.get("df"), dict):
            return Counter(counts["df"])
    except (OSError, ValueError, AttributeError):
        pass  # an index saved before they were kept, or a damaged file: the answerer counts them itself
    return None


def known_tokens(root: Path, docs: list[Document], store: Optional[TokenStore]) -> dict[str, Tokens]:
    """Tokens of `docs` already made: those kept under root, then for the documents with chunks still missing,
    those published to the store."""
    known = read_tokens(root)
    if store is not None:
        missing = {str(d.metadata.get("source", "")) for d in docs if text_key(indexed_text(d)) not in known}
        if missing:
            known.update(store.get(sorted(missing)))
    return known


def load_or_build(
    root: Path, records: dict[str, Record], fetch: Fetch, store: Optional[TokenStore] = None
) -> Bm25Index:
    """The index of the committed content `records`: loaded from root when persisted, else built and persisted;
    store: where tokens are shared with other processes (read before tokenizing, what was tokenized published)."""
    fp = fingerprint(records)
    loaded = Bm25Index.load(root, fp, fetch)
    if loaded is not None:
        return loaded
    ids = ordered_ids(records)
    docs_by_id = fetch(ids)
    # A chunk listed but absent can only be a concurrent writer's race; leave it out rather than fail.
    docs = [docs_by_id[c] for c in ids if c in docs_by_id]
    known = known_tokens(root, docs, store)
    built = Bm25Index.build(fp, docs, known)
    if store is not None and built.tokens is not None:
        made = {key: toks for key, toks in built.tokens.items() if key not in known}
        if made:
            store.put(docs, made)
    if len(docs) == len(ids):
        built.save(root)
    built.tokens = None  # saved (or not worth keeping): the index needs only its matrix
    return built
