"""The knowledge base an evaluation runs over: built fresh from the given folders, or the existing one opened."""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from core.grammar import DICTIONARY_FILE
from core.settings import Settings
from eval.errors import EvalError
from ingest.embedders import CACHE_FILE as EMBED_CACHE
from ingest.store_lock import LOCK_FILE

KB_ROOT = Path("var")  # default fresh KBs live in var/eval-kb-<hash>, relative to the working directory
KB_PREFIX = "eval-kb-"
KB_HASH_CHARS = 10
KB_ARTEFACTS = ("chroma", "bm25", EMBED_CACHE, EMBED_CACHE + "-wal", EMBED_CACHE + "-shm", LOCK_FILE)
# what else a knowledge base's folder holds: the app's copy of jieba's dictionary, and its temporary file while
# being written (core.grammar.load_dictionary)
KB_ARTEFACT_PREFIXES = (DICTIONARY_FILE,)


def kb_artefact(name: str) -> bool:
    """Whether a file or folder of this name in a knowledge base's folder is one the knowledge base writes."""
    return name in KB_ARTEFACTS or name.startswith(KB_ARTEFACT_PREFIXES)


def default_kb_dir(knowledge_dirs: Sequence[Path]) -> Path:
    """var/eval-kb-<hash of the knowledge folders' absolute paths>."""
    key = "\n".join(sorted(str(Path(d).resolve()) for d in knowledge_dirs))
    return KB_ROOT / (KB_PREFIX + hashlib.sha1(key.encode("utf-8")).hexdigest()[:KB_HASH_CHARS])


def _clear_kb_dir(kb_dir: Path, keep_embed_cache: bool) -> None:
    """Delete a knowledge-base folder, refusing folders holding anything a knowledge base does not write."""
    if not kb_dir.exists():
        return
    foreign = [p.name for p in kb_dir.iterdir() if not kb_artefact(p.name)]
    if foreign:
        raise EvalError(
            f"{kb_dir} 里有非知识库文件（{', '.join(sorted(foreign)[:3])}），为安全起见不删除。"
            "请用 --kb 指定一个空目录或评测专用目录。"
        )
    for p in kb_dir.iterdir():
        if keep_embed_cache and p.name.startswith(EMBED_CACHE):
            continue  # vectors are keyed by model + text, so reusing them cannot change results
        if p.name == LOCK_FILE:
            continue  # this process holds it (build_kb): another must not get a fresh one meanwhile
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def build_kb(
    settings: Settings, knowledge_dirs: Sequence[Path], *, keep_embed_cache: bool = True, progress: bool = True
):
    """A fresh KnowledgeBase in settings.store.kb_dir built from the folders (the embedding cache is kept unless told)."""
    from ingest.index import KnowledgeBase

    kb_dir = Path(settings.store.kb_dir)
    if not settings.store.chroma_host:
        from ingest import store_lock

        store_lock.own(kb_dir)  # before clearing: another process using this folder keeps its knowledge base
    _clear_kb_dir(kb_dir, keep_embed_cache)
    kb = KnowledgeBase(settings)
    report = kb.ingest([Path(d) for d in knowledge_dirs], progress=progress)
    if report.errors:
        details = "；".join(f"{src}：{msg}" for src, msg in report.errors[:3])
        raise EvalError(f"构建评测知识库时有 {len(report.errors)} 个文件出错：{details}。请修正这些文件后重试。")
    if progress:
        print(report.summary(), file=sys.stderr)
    return kb


def open_kb(settings: Settings):
    """The existing KnowledgeBase in settings.store.kb_dir; EvalError when it is empty."""
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(settings)
    if not kb.documents():
        raise EvalError(
            f"知识库为空（{settings.store.kb_dir}）。请用 --knowledge 指定材料文件夹重新构建，或先运行 python -m ingest。"
        )
    return kb
