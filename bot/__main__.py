"""Command line: `python -m bot ask|outline|search ...` (the contract the evaluation relies on).

python -m bot ask "问题" [--history 对话.json] [--json]
python -m bot outline "主题" [--json]
python -m bot search "查询" [-k 5] [--json]     # dense, BM25, fused and re-ranked results of the bot's retriever
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import core.environment  # noqa: F401  # first: offline, no telemetry
from core import grammar
from core.grammar import section_path
from core.settings import Settings, SettingsError
from ingest.errors import KnowledgeBaseError

DEFAULT_SEARCH_K = 5
# Exit code of a usage or set-up error (bad input, no knowledge base): the message says what to do.
USAGE_ERROR = 2
# The turns of a --history file passed on: a follow-up leans on the last few, and the rule-based rewrite
# walks the history recursively (2,000 turns raised RecursionError).
HISTORY_TURNS = 20
# Largest --history file read, in bytes.
MAX_HISTORY_BYTES = 10 * 1024 * 1024
HISTORY_SHAPE = '[{"question": "问题", "answer": "回答"}, …]'

SKIPPED_IN = {"dense": "bm25", "bm25": "dense"}  # stage -> the retriever mode that does not run it
PREVIEW_CHARS = 160  # characters of a passage shown under a citation or a search hit
SEARCH_STAGES = (  # (Retrieval field, heading) in the order a question passes them
    ("dense", "向量检索（余弦相似度）"),
    ("bm25", "关键词检索（BM25）"),
    ("fused", "融合排序（RRF）"),
    ("ranked", "证据重排（交给作答的片段）"),
)


def _settings(args) -> Settings:
    update = {}
    if getattr(args, "kb", None):
        update["kb_dir"] = Path(args.kb)
    if getattr(args, "mode", None):
        update["mode"] = args.mode
    if getattr(args, "retriever", None):
        update["retriever"] = args.retriever
    return Settings.load().replace(**update)


class HistoryError(ValueError):
    """A --history file that cannot be used; str(e) is a Chinese message saying what to fix."""


def read_history(path: Path, *, max_turns: int = HISTORY_TURNS) -> list[dict]:
    """The last `max_turns` turns of a --history JSON file; HistoryError (Chinese) when it is missing, too large,
    not JSON, or not a list of {"question": str, "answer": str} objects."""
    try:
        size = path.stat().st_size
        if size > MAX_HISTORY_BYTES:
            raise HistoryError(
                f"对话历史文件 {path} 太大（{size / 1024 / 1024:.1f} MB），"
                f"最多 {MAX_HISTORY_BYTES // 1024 // 1024} MB，请只保留最近几轮对话。"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise HistoryError(f"找不到对话历史文件 {path}，请检查 --history 后面的路径。") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HistoryError(f"无法读取对话历史文件 {path}（{e}），请确认它是 UTF-8 编码的 JSON 文件。") from None
    try:
        turns = json.loads(text)
    except json.JSONDecodeError as e:
        raise HistoryError(
            f"对话历史文件 {path} 不是有效的 JSON（第 {e.lineno} 行第 {e.colno} 列）。格式应为：{HISTORY_SHAPE}"
        ) from None
    if not isinstance(turns, list):
        raise HistoryError(
            f"对话历史文件 {path} 应是一个列表，现在是 {type(turns).__name__}。格式应为：{HISTORY_SHAPE}"
        )
    for i, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
            raise HistoryError(f"对话历史文件 {path} 的第 {i} 项缺少文字形式的 question。格式应为：{HISTORY_SHAPE}")
        if not isinstance(turn.get("answer", ""), str):
            raise HistoryError(f"对话历史文件 {path} 的第 {i} 项的 answer 不是文字。格式应为：{HISTORY_SHAPE}")
    return turns[-max_turns:] if max_turns else []


def _print_answer(result: dict) -> None:
    print(result["answer"])
    if result.get("rewritten_question") and result["rewritten_question"] != result["question"]:
        print(f"\n（理解为：{result['rewritten_question']}）")
    if result.get("unsupported"):
        print("\n⚠ 以下句子未能在引用资料中找到依据：")
        for s in result["unsupported"]:
            print(f"  - {s}")
    if result["citations"]:
        print("\n来源：")
    for c in result["citations"]:
        where = section_path([x for x in (c["source"], c["section"]) if x])
        page = f"（第{c['page']}页）" if c.get("page") else ""
        print(f"[{c['n']}] {where}{page}")
        print(f"    {_preview(c['text'])}")


def _preview(text: str) -> str:
    return text[:PREVIEW_CHARS] + ("……" if len(text) > PREVIEW_CHARS else "")


def _hit(doc, score: float) -> dict:
    m = doc.metadata
    return {
        "source": m.get("source", ""),
        "section": m.get("section", ""),
        "chunk_index": int(m.get("chunk_index", 0)),
        "score": round(float(score), 4),
        "text": doc.page_content,
    }


def _search(retriever, question: str, k: int) -> dict:
    """Each stage's top k hits for a question, as the bot's retriever ranks them."""
    stages = retriever.retrieve(question, k=k)
    out: dict = {"question": question, "retriever": retriever.mode}
    for name, _ in SEARCH_STAGES:
        hits = getattr(stages, name)
        out[name] = [_hit(d, s) for d, s in (hits if name == "ranked" else hits[:k])]
    return out


def _print_search(result: dict) -> None:
    for name, heading in SEARCH_STAGES:
        print(f"【{heading}】")
        if not result[name]:
            print("  （未使用）" if SKIPPED_IN.get(name) == result["retriever"] else "  （没有结果）")
        for rank, h in enumerate(result[name], 1):
            where = section_path([x for x in (h["source"], h["section"]) if x])
            print(f"  {rank}. {h['score']:.4f}  {where}（第{h['chunk_index'] + 1}段）")
            print(f"     {_preview(' '.join(h['text'].split()))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="冬训问答助手：根据学习材料回答问题、生成宣讲提纲。"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, help_ in (("ask", "提问"), ("outline", "生成宣讲提纲"), ("search", "查看检索结果")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("text", help="问题或主题")
        p.add_argument("--kb", help="知识库目录（默认 var/kb）")
        p.add_argument("--json", action="store_true", help="输出 JSON")
        p.add_argument("--mode", choices=["extractive", "llm"], help="回答方式")
        p.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], help="检索方式")
        if name == "ask":
            p.add_argument("--history", help='对话历史 JSON 文件：[{"question": ..., "answer": ...}]')
        if name == "search":
            p.add_argument("-k", type=int, default=DEFAULT_SEARCH_K, help=f"每一路显示条数（默认 {DEFAULT_SEARCH_K}）")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (SettingsError, KnowledgeBaseError, HistoryError) as e:
        print(str(e), file=sys.stderr)
        return USAGE_ERROR


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    # Read before the knowledge base opens, so a bad file is reported at once.
    history = read_history(Path(args.history)) if getattr(args, "history", None) else []

    from bot.pipeline import Assistant, QuestionError, check_question
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(settings, create=False)
    if not kb.documents():
        print(f"知识库为空（{settings.store.kb_dir}）。请先运行：python -m ingest", file=sys.stderr)
        return USAGE_ERROR
    grammar.load_dictionary(settings.store.kb_dir)  # its copy loads in 0.3 s, jieba's own cache in ~0.9 s
    assistant = Assistant(settings, kb=kb)
    try:
        if args.cmd == "search":
            result = _search(assistant.retriever, check_question(args.text, settings), max(1, args.k))
        elif args.cmd == "ask":
            result = assistant.ask(args.text, history)
        else:
            result = assistant.outline(args.text)
    except QuestionError as e:
        print(str(e), file=sys.stderr)
        return USAGE_ERROR
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif args.cmd == "search":
        _print_search(result)
    else:
        _print_answer(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
