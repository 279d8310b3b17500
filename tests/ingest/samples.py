"""Small documents and store checks shared by the knowledge-base tests (index, pipeline, bm25, cli)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SEED = REPO / "knowledge" / "冬训动员部署会讲话.txt"

TREES = (
    "关于组织春季植树活动的通知\n"
    "各党支部：\n"
    "为践行绿色发展理念，党工委决定于三月十二日组织春季植树活动。全体党员上午八点在滨江公园东门集合。"
    "每名党员种植两棵银杏树，工具由第三党支部统一准备。请各支部于三月十日前上报参加人数。\n"
)
BOOKS = (
    "关于举办冬季读书分享会的通知\n"
    "各党支部：\n"
    "党工委定于十二月二十日下午在社区文化中心举办冬季读书分享会。每个支部推荐一名党员交流读书体会，"
    "发言时间不超过十分钟。分享会结束后评选优秀读书笔记五篇。\n"
)
CLEANUP = (
    "关于开展河道清洁志愿服务的通知\n"
    "各党支部：\n"
    "本月第二个周六上午，组织党员志愿者清理青龙河沿岸垃圾。请穿着志愿者马甲，自带手套和垃圾袋，"
    "在青龙桥头签到。活动结束后各支部提交简报。\n"
)


def write(path: Path, text: str) -> Path:
    """Write a UTF-8 file, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def raw_chunks(kb) -> dict[str, dict]:
    """Every chunk record Chroma holds (committed or not): id -> {text, meta}."""
    got = kb.collection.get(include=["documents", "metadatas"])
    return {cid: {"text": t, "meta": m} for cid, t, m in zip(got["ids"], got["documents"], got["metadatas"])}


def sources_hit(hits) -> set[str]:
    """The document ids among search hits."""
    return {d.metadata["source"] for d, _ in hits}


def assert_consistent(kb) -> None:
    """Chroma holds exactly the chunks the manifest lists, each once, indexes 0..n-1 per source."""
    raw = raw_chunks(kb)
    listed = {}
    for rec in kb.manifest_collection.get(include=["documents"])["documents"]:
        for cid in json.loads(rec):
            assert cid not in listed, "a chunk id listed twice"
            listed[cid] = True
    assert set(raw) == set(listed)
    by_source: dict[str, list[int]] = {}
    for rec in raw.values():
        by_source.setdefault(rec["meta"]["source"], []).append(rec["meta"]["chunk_index"])
    for src, idx in by_source.items():
        assert sorted(idx) == list(range(len(idx))), src
    assert len(kb.chunks()) == len(raw)


def subprocess_env(**extra: str) -> dict:
    """The environment for a CLI subprocess: no DONGXUN_* settings of the caller, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGXUN_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env
