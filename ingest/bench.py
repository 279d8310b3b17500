"""Ingest throughput on the seed and on a corpus N× its size, and the cost of a no-op re-ingest.

    python -m ingest.bench [--copies 20] [--seed knowledge/冬训动员部署会讲话.txt]

Each run uses a fresh temporary knowledge base (so the embedding cache is cold) and the configured embedder.
A tiny seed and --copies 1 make a run of a few seconds (the CLI test does that).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

import core.environment  # noqa: F401  # first: offline, no telemetry
from core.settings import Settings

DEFAULT_SEED = Path("knowledge/冬训动员部署会讲话.txt")
DEFAULT_COPIES = 20


def make_corpus(seed: Path, folder: Path, copies: int) -> list[Path]:
    """Write `copies` variants of seed into folder; every line gets a per-copy suffix so no chunk repeats.

    The suffix goes at the end of a line so headings (which are recognised at line start) keep their structure.
    """
    text = seed.read_text(encoding="utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(1, copies + 1):
        lines = [f"{line}（第{i}稿）" if line.strip() else line for line in text.splitlines()]
        path = folder / f"{seed.stem}_{i:02d}{seed.suffix}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.append(path)
    return out


def _run(settings: Settings, folder: Path, label: str) -> None:
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(settings)
    first = kb.ingest([folder], progress=False)
    t0 = time.perf_counter()
    again = kb.ingest([folder], progress=False)
    noop = time.perf_counter() - t0
    n_chunks = sum(d["chunks"] for d in kb.documents())
    print(
        f"{label}：{first.files} 个文件，{first.chars} 字，{n_chunks} 个片段；"
        f"入库 {first.seconds:.1f} 秒 = {first.chars_per_second:.0f} 字/秒"
        f"（每个片段 {first.seconds / max(n_chunks, 1) * 1000:.0f} 毫秒）；"
        f"无变化重新入库 {noop:.2f} 秒（跳过 {again.skipped} 个文件，新增 {again.added} 个片段）"
    )
    if first.errors or again.added:
        print(f"  异常：出错 {first.errors}，重新入库新增了 {again.added} 个片段")


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.bench", description="测量入库速度（字/秒）和无变化重新入库的耗时。"
    )
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="作为样本的资料文件")
    parser.add_argument(
        "--copies", type=int, default=DEFAULT_COPIES, help=f"大语料是样本的几倍（默认 {DEFAULT_COPIES}）"
    )
    args = parser.parse_args(argv)
    base = Settings.load()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        seed_dir = tmp / "seed"
        seed_dir.mkdir()
        shutil.copy(args.seed, seed_dir / args.seed.name)
        _run(base.replace(kb_dir=tmp / "kb-seed"), seed_dir, "样本")
        big_dir = tmp / "corpus"
        make_corpus(args.seed, big_dir, args.copies)
        _run(base.replace(kb_dir=tmp / "kb-big"), big_dir, f"样本 ×{args.copies}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
