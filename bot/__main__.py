"""Command line: `python -m bot ask|outline|search ...` (the contract the evaluation relies on)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import core.environment  # noqa: F401  # first: offline, no telemetry
from core.settings import Settings


def _settings(args) -> Settings:
    update = {}
    if getattr(args, "kb", None):
        update["kb_dir"] = Path(args.kb)
    if getattr(args, "mode", None):
        update["mode"] = args.mode
    if getattr(args, "retriever", None):
        update["retriever"] = args.retriever
    return Settings.load().replace(**update)


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
        where = " > ".join(x for x in (c["source"], c["section"]) if x)
        page = f"（第{c['page']}页）" if c.get("page") else ""
        print(f"[{c['n']}] {where}{page}")
        print(f"    {c['text'][:160]}{'……' if len(c['text']) > 160 else ''}")


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
            p.add_argument("-k", type=int, default=5, help="显示条数")
    args = parser.parse_args(argv)
    settings = _settings(args)

    from bot.pipeline import Assistant, QuestionError
    from ingest.index import KnowledgeBase

    kb = KnowledgeBase(settings)
    if not kb.documents():
        print(f"知识库为空（{settings.store.kb_dir}）。请先运行：python -m ingest", file=sys.stderr)
        return 2
    if args.cmd == "search":
        from ingest.__main__ import print_search

        print_search(kb, args.text, args.k, settings)
        return 0
    assistant = Assistant(settings, kb=kb)
    try:
        if args.cmd == "ask":
            history = json.loads(Path(args.history).read_text(encoding="utf-8")) if args.history else []
            result = assistant.ask(args.text, history)
        else:
            result = assistant.outline(args.text)
    except QuestionError as e:
        print(str(e), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_answer(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
