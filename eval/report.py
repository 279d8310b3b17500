"""report.md and a self-contained report.html (inline CSS, plots as base64 PNG data URIs).

Both are rendered from one list of blocks, so they always say the same thing.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from eval.metrics import diagnose, item_score

log = logging.getLogger(__name__)

WORST_ITEMS = 10
PASSAGE_CHARS = 200  # cited passage text shown per citation in the worst-items list
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "Source Han Sans SC",
)
PLOT_DPI = 110
LATENCY_BINS = 20
SPLIT_ORDER = ("dev", "test")

# (key, label, kind): kind "ratio" prints as 0.000, "int" as an integer, "ms" from the latency block.
SUMMARY_METRICS = (
    ("items", "题目数", "int"),
    ("errors", "运行出错", "int"),
    ("hit@1", "证据 hit@1", "ratio"),
    ("hit@5", "证据 hit@5", "ratio"),
    ("hit_all@5", "证据 hit@5（全部引文）", "ratio"),
    ("mrr", "证据 MRR", "ratio"),
    ("keyfact_recall", "要点召回 keyfact_recall（拒答计 0）", "ratio"),
    ("keyfact_f", "长度加权要点 keyfact_f", "ratio"),
    ("answer_len_median", "回答长度中位数（字）", "num"),
    ("faithfulness", "忠实度 faithfulness", "ratio"),
    ("citation_validity", "引用有效率", "ratio"),
    ("refusal_recall", "拒答召回（无答案题）", "ratio"),
    ("false_refusal_rate", "误拒率（有答案题）", "ratio"),
    ("latency.total.p50", "总耗时 p50（毫秒）", "num"),
    ("latency.total.p95", "总耗时 p95（毫秒）", "num"),
)
TYPE_METRICS = (
    "items",
    "hit@1",
    "hit@5",
    "mrr",
    "keyfact_recall",
    "keyfact_f",
    "answer_len_median",
    "faithfulness",
    "citation_validity",
    "refusal_recall",
    "false_refusal_rate",
)
ABLATION_METRICS = (
    "hit@1",
    "hit@5",
    "mrr",
    "keyfact_recall",
    "keyfact_f",
    "faithfulness",
    "refusal_recall",
    "false_refusal_rate",
    "latency.total.p50",
)
PLOT_METRICS = ("hit@5", "mrr", "keyfact_recall", "keyfact_f", "faithfulness", "refusal_recall")

CSS = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #b22;padding-bottom:.3em}h2{margin-top:1.8em;color:#b22}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.item{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0;background:#fcfcfc}
.why{color:#b22}blockquote{margin:.4em 0;padding:.3em .8em;border-left:4px solid #ccc;background:#f7f7f7;white-space:pre-wrap}
.passage{font-size:.88em;color:#555}img{max-width:100%}code{background:#eee;padding:0 .2em}
"""


# --------------------------------------------------------------------------- values


def lookup(metrics: dict, key: str):
    """metrics[key], where "latency.<stage>.<p>" reads the latency block."""
    if key.startswith("latency."):
        _, stage, p = key.split(".")
        return metrics.get("latency_ms", {}).get(stage, {}).get(p)
    return metrics.get(key)


def fmt(value, kind: str = "ratio") -> str:
    """A metric value as text; "—" when it does not apply."""
    if value is None:
        return "—"
    if kind == "int":
        return str(int(value))
    if kind == "num":
        return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"
    return f"{value:.3f}"


def _kind(key: str) -> str:
    for k, _, kind in SUMMARY_METRICS:
        if k == key:
            return kind
    return "ratio"


# --------------------------------------------------------------------------- plots


def _cjk_font() -> None:
    """Use an installed CJK font when there is one (labels are ASCII anyway, so silently skip otherwise)."""
    try:
        from matplotlib import font_manager, rcParams

        names = {f.name for f in font_manager.fontManager.ttflist}
        found = [n for n in CJK_FONTS if n in names]
        if found:
            rcParams["font.sans-serif"] = found + list(rcParams["font.sans-serif"])
            rcParams["axes.unicode_minus"] = False
    except Exception:  # fonts are cosmetic
        log.debug("no CJK font", exc_info=True)


def plots(summary: dict, rows: Sequence[dict]) -> dict[str, bytes]:
    """{file name: PNG bytes}: headline metrics by item type, and a histogram of total latency."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # the report is still useful without pictures
        log.warning("matplotlib unavailable; report without plots", exc_info=True)
        return {}
    _cjk_font()
    out: dict[str, bytes] = {}

    by_type = summary.get("by_type", {})
    types = list(by_type)
    if types:
        fig, ax = plt.subplots(figsize=(9, 4))
        width = 0.8 / len(PLOT_METRICS)
        for j, key in enumerate(PLOT_METRICS):
            vals = [by_type[t].get(key) for t in types]
            xs = [i + (j - (len(PLOT_METRICS) - 1) / 2) * width for i in range(len(types))]
            ax.bar(
                [x for x, v in zip(xs, vals) if v is not None],
                [v for v in vals if v is not None],
                width=width,
                label=key,
            )
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels([f"{t}\n(n={by_type[t]['items']})" for t in types], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title("Metrics by item type")
        ax.legend(fontsize=7, ncol=len(PLOT_METRICS), loc="upper center", bbox_to_anchor=(0.5, -0.2))
        out["metrics_by_type.png"] = _png(fig, plt)

    totals = [r["timings_ms"]["total"] for r in rows if r.get("timings_ms", {}).get("total") is not None]
    if totals:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.hist(totals, bins=LATENCY_BINS, color="#b22")
        lat = summary.get("overall", {}).get("latency_ms", {}).get("total", {})
        for p, style in (("p50", "--"), ("p95", ":")):
            if lat.get(p) is not None:
                ax.axvline(lat[p], color="k", linestyle=style, label=f"{p} = {lat[p]:.0f} ms")
        ax.set_xlabel("total latency per item (ms)")
        ax.set_ylabel("items")
        ax.set_title("Latency")
        ax.legend(fontsize=8)
        out["latency_hist.png"] = _png(fig, plt)
    chosen, decider, above = _operating_point(summary.get("config", {}))
    curve = refusal_curve(rows, sorted({*CURVE_THRESHOLDS, chosen}), decider, above)
    if any(c["recall"] is not None for c in curve):
        png = _curve_png(curve, chosen, "recall", "precision", "Refusal precision / recall")
        if png:
            out["refusal_curve.png"] = png
    return out


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=PLOT_DPI)
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------- blocks


def _summary_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    splits = [s for s in SPLIT_ORDER if s in summary.get("by_split", {})]
    splits += [s for s in summary.get("by_split", {}) if s not in splits]
    headers = ["指标", "全部"] + splits
    cols = [summary["overall"]] + [summary["by_split"][s] for s in splits]
    rows = [[label] + [fmt(lookup(c, key), kind) for c in cols] for key, label, kind in SUMMARY_METRICS]
    return headers, rows


def _type_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["类型"] + list(TYPE_METRICS)
    rows = [[t] + [fmt(lookup(m, k), _kind(k)) for k in TYPE_METRICS] for t, m in summary.get("by_type", {}).items()]
    return headers, rows


def _latency_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    lat = summary["overall"].get("latency_ms", {})
    return ["阶段", "p50（毫秒）", "p95（毫秒）"], [
        [s, fmt(v.get("p50"), "num"), fmt(v.get("p95"), "num")] for s, v in lat.items()
    ]


def _ablation_table(comparison: dict, split: Optional[str]) -> tuple[list[str], list[list[str]]]:
    rows = []
    for name, run in comparison.get("runs", {}).items():
        m = run.get("by_split", {}).get(split) if split else None
        m = m or run["overall"]
        rows.append(
            [name] + [fmt(lookup(m, k), _kind(k) if not k.startswith("latency") else "num") for k in ABLATION_METRICS]
        )
    return ["检索方式"] + list(ABLATION_METRICS), rows


def worst(rows: Sequence[dict], n: int = WORST_ITEMS) -> list[dict]:
    """The n lowest-scoring items (see eval.metrics.item_score), errors first."""
    return sorted(rows, key=lambda r: (not r.get("error"), item_score(r["metrics"])))[:n]


def blocks(summary: dict, rows: Sequence[dict], comparison: Optional[dict], images: dict[str, bytes]) -> list[tuple]:
    """The report as blocks: ("h", level, text), ("p", text), ("table", headers, rows), ("img", name, alt),
    ("quote", text), ("list", [text])."""
    cfg = summary.get("config", {})
    out: list[tuple] = [("h", 1, "冬训问答助手评测报告")]
    out.append(
        (
            "p",
            f"数据集 `{cfg.get('dataset', '?')}`，范围 {cfg.get('split', 'all')}，共 {cfg.get('items', len(rows))} 题；"
            f"回答方式 {cfg.get('mode', '?')}，检索方式 {cfg.get('retriever', '?')}；知识库 `{cfg.get('kb', '?')}`；"
            f"完成于 {cfg.get('finished_at', '?')}（用时 {cfg.get('seconds', '?')} 秒，提交 {cfg.get('commit') or '?'}）。"
            "各指标的定义见 eval/README.md 的 Metrics 一节。",
        )
    )
    out.append(("h", 2, "总体指标"))
    out.append(("table", *_summary_table(summary)))
    ragas = summary.get("ragas") or {}
    if ragas.get("enabled"):
        out.append(
            (
                "p",
                f"ragas（LLM 评审，{ragas.get('items')} 题）：faithfulness {fmt(ragas.get('faithfulness'))}，"
                f"context_recall {fmt(ragas.get('context_recall'))}。",
            )
        )
    else:
        out.append(("p", f"ragas 指标未计算：{ragas.get('reason', '未运行')}"))
    chosen, decider, above = _operating_point(cfg)
    curve = refusal_curve(rows, sorted({*CURVE_THRESHOLDS, chosen}), decider, above)
    if any(c["recall"] is not None for c in curve):
        out.append(("h", 2, "拒答曲线"))
        out.append(("p", f"拒答方式 {decider}{DECIDER_NAMES.get(decider, '')}，随学习的拒答门门限变化。"))
        cols = [("precision", "拒答准确率"), ("recall", "拒答召回"), ("false_refusals", "误拒率")]
        out.extend(curve_blocks(curve, chosen, cols, "refusal_curve.png"))
    out.append(("h", 2, "按题型"))
    out.append(("table", *_type_table(summary)))
    if "metrics_by_type.png" in images:
        out.append(("img", "metrics_by_type.png", "metrics by item type"))
    if comparison:
        ccfg = comparison.get("config", {})
        out.append(("h", 2, "检索方式对比（消融）"))
        out.append(
            ("p", f"同一知识库、同一批题目（范围 {ccfg.get('split', 'all')}），完成于 {ccfg.get('finished_at', '?')}。")
        )
        split = cfg.get("split") if cfg.get("split") in SPLIT_ORDER else None
        out.append(("table", *_ablation_table(comparison, split)))
    out.append(("h", 2, "耗时"))
    out.append(("table", *_latency_table(summary)))
    if "latency_hist.png" in images:
        out.append(("img", "latency_hist.png", "latency histogram"))
    out.append(("h", 2, f"得分最低的 {min(WORST_ITEMS, len(rows))} 题"))
    for r in worst(rows):
        m = r["metrics"]
        out.append(("h", 3, f"{r['id']}（{r['type']}，{r['split']}，综合分 {item_score(m):.2f}）"))
        out.append(("p", f"问题：{r['question']}"))
        if r.get("reference_answer"):
            out.append(("p", f"参考答案：{r['reference_answer']}"))
        out.append(("quote", r.get("answer") or "（无回答）"))
        cites = [
            f"[{c['n']}] {' > '.join(x for x in (c.get('source', ''), c.get('section', '')) if x)}："
            f"{c.get('text', '')[:PASSAGE_CHARS]}{'……' if len(c.get('text', '')) > PASSAGE_CHARS else ''}"
            for c in r.get("citations", [])
        ]
        if cites:
            out.append(("passages", cites))
        out.append(("why", diagnose(r) or ["各项得分偏低但未发现单一原因"]))
    return out


# --------------------------------------------------------------------------- refusal curve
CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 … 0.95


def _operating_point(cfg: dict) -> tuple[float, str, float]:
    """(gate threshold, decider, answer_above) of the run's settings (the gate alone for runs that predate them)."""
    settings = cfg.get("settings", {})
    return settings.get("gate_threshold", 0.5), settings.get("gate", "learned"), settings.get("gate_answer_above", 1.0)


def refusal_curve(
    rows: Sequence[dict], thresholds: Sequence[float], decider: str = "learned", answer_above: float = 1.0
) -> list[dict]:
    """Refusal precision / recall (an unanswerable item refused is a hit) and false refusals at each threshold
    of the gate's answerable probability, as the decider refuses (with the row's rule verdict; a row without one
    counts as the rule judge answering); items the gate did not see (injections, outlines) are left out."""
    from bot.answering.model import refused

    seen = [r for r in rows if r.get("answerable_probability") is not None and r.get("type") != "outline"]
    neg = [r for r in seen if not r.get("answerable", True)]
    pos = [r for r in seen if r.get("answerable", True)]

    def refusals(items: list[dict], t: float) -> int:
        return sum(
            refused(decider, r["answerable_probability"], r.get("rule_ok") is not False, t, answer_above) for r in items
        )

    curve = []
    for t in thresholds:
        hit, wrong = refusals(neg, t), refusals(pos, t)
        curve.append(
            {
                "threshold": t,
                "precision": hit / (hit + wrong) if hit + wrong else None,
                "recall": hit / len(neg) if neg else None,
                "false_refusals": wrong / len(pos) if pos else None,
            }
        )
    return curve


def _curve_png(curve: Sequence[dict], chosen: float, x: str, y: str, title: str) -> Optional[bytes]:
    """The curve (x against y) with the chosen threshold's point marked, as a PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # the table says the same
        return None
    pts = [(c[x], c[y]) for c in curve if c.get(x) is not None and c.get(y) is not None]
    here = [(c[x], c[y]) for c in curve if c["threshold"] == chosen and c.get(x) is not None and c.get(y) is not None]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", color="#b22")
    for px, py in here:
        ax.plot([px], [py], marker="o", markersize=10, color="k", label=f"threshold {chosen:.3f}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    if here:
        ax.legend(fontsize=8)
    return _png(fig, plt)


def curve_blocks(curve: Sequence[dict], chosen: float, columns: Sequence[tuple[str, str]], image: str) -> list[tuple]:
    """The refusal curve as a table (columns: (key, label)) with the chosen operating point marked."""
    rows = [
        [("→ " if c["threshold"] == chosen else "") + f"{c['threshold']:.3f}"] + [fmt(c.get(k)) for k, _ in columns]
        for c in curve
    ]
    return [
        ("p", f"拒答门限：答案存在概率低于门限即拒答；当前工作点 {chosen:.4f}（表中 → 所指）。"),
        ("img", image, "refusal curve"),
        ("table", ["门限"] + [label for _, label in columns], rows),
    ]


DECIDER_NAMES = {
    "learned": "（学习的拒答门单独决定）",
    "rules": "（规则单独决定）",
    "union": "（规则与学习的拒答门，任一拒答即拒答）",
    "cascade": "（学习的拒答门把握大时决定，其余由规则决定）",
}


def write_cmrc_report(out_dir: Path, summary: dict) -> None:
    """report.md and report.html of the CMRC suite: headline figures and the refusal curve with its operating point."""
    out_dir = Path(out_dir)
    chosen = summary["threshold"]
    curve = summary["refusal_curve"]
    cols = [
        ("false_refusals", "误拒率"),
        ("span_recall_answered", "答对且未拒"),
        ("hard_refused", "困难负例拒答"),
        ("hard_precision", "困难负例拒答准确率"),
        ("swapped_refused", "换词负例拒答"),
        ("removed_refused", "删答案负例拒答"),
    ]
    images = {}
    png = _curve_png(curve, chosen, "hard_refused", "false_refusals", "CMRC report: refusal curve")
    if png:
        images["refusal_curve.png"] = png
        (out_dir / "refusal_curve.png").write_bytes(png)
    after = summary["after"]
    bl: list[tuple] = [
        ("h", 1, "CMRC 2018 公开数据评测"),
        (
            "p",
            f"报告部分 {summary['report_paragraphs']} 段、{summary['report_questions']} 题（本次用 "
            f"{after['answerable']} 题）；报告部分从未用于训练或定门限。拒答方式 {summary.get('decider', 'learned')}"
            f"{DECIDER_NAMES.get(summary.get('decider', 'learned'), '')}。答案片段召回 {fmt(after['span_recall'])}，"
            f"回答长度中位数 {after['median_chars']} 字，误拒率 {fmt(after['false_refusals'])}；困难负例拒答 "
            f"{fmt(after['hard_refused'])}，换词负例拒答 {fmt(after['swapped_refused'])}，删答案负例拒答 "
            f"{fmt(after['removed_refused'])}。",
        ),
        ("h", 2, "拒答曲线与工作点"),
        (
            "p",
            f"下表与图为拒答方式 {summary.get('decider', 'learned')} 随学习的拒答门门限变化的结果；"
            "各种拒答方式在当前门限下的结果见 summary.json 的 by_decider，学习的拒答门单独决定时见 gate_alone。",
        ),
        *curve_blocks(curve, chosen, cols, "refusal_curve.png"),
    ]
    (out_dir / "report.md").write_text(render_md(bl), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(bl, images), encoding="utf-8")


# --------------------------------------------------------------------------- rendering


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_md(bl: Sequence[tuple]) -> str:
    """Markdown; images are referenced as files next to report.md."""
    lines: list[str] = []
    for b in bl:
        kind = b[0]
        if kind == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif kind == "p":
            lines += [b[1], ""]
        elif kind == "table":
            headers, rows = b[1], b[2]
            lines.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
            lines.append("|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
        elif kind == "img":
            lines += [f"![{b[2]}]({b[1]})", ""]
        elif kind == "quote":
            lines += ["> " + line for line in b[1].splitlines() or [""]] + [""]
        elif kind == "passages":
            lines += ["引用的段落："] + [f"- {_md_cell(c)}" for c in b[1]] + [""]
        elif kind == "why":
            lines += ["得分低的原因："] + [f"- **{_md_cell(w)}**" for w in b[1]] + [""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_html(bl: Sequence[tuple], images: dict[str, bytes]) -> str:
    """One self-contained HTML page: inline CSS, PNGs as data URIs, no external requests."""
    body: list[str] = []
    in_item = False
    for b in bl:
        kind = b[0]
        if kind == "h" and b[1] == 3:
            body.append(("</div>" if in_item else "") + '<div class="item">')
            in_item = True
        elif kind == "h" and in_item:
            body.append("</div>")
            in_item = False
        if kind == "h":
            body.append(f"<h{b[1]}>{_inline(b[2])}</h{b[1]}>")
        elif kind == "p":
            body.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in b[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img" and b[1] in images:
            data = base64.b64encode(images[b[1]]).decode("ascii")
            body.append(f'<img alt="{html.escape(b[2])}" src="data:image/png;base64,{data}">')
        elif kind == "quote":
            body.append(f"<blockquote>{html.escape(b[1])}</blockquote>")
        elif kind == "passages":
            body.append(
                '<div class="passage">引用的段落：<ul>'
                + "".join(f"<li>{html.escape(c)}</li>" for c in b[1])
                + "</ul></div>"
            )
        elif kind == "why":
            body.append(
                '<div class="why">得分低的原因：<ul>'
                + "".join(f"<li>{html.escape(w)}</li>" for w in b[1])
                + "</ul></div>"
            )
    if in_item:
        body.append("</div>")
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>冬训问答助手评测报告</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(out_dir: Path, summary: dict, rows: Sequence[dict], comparison: Optional[dict] = None) -> None:
    """report.md (+ its PNG files) and the self-contained report.html in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plots(summary, rows)
    for name, data in images.items():
        (out_dir / name).write_bytes(data)
    bl = blocks(summary, rows, comparison, images)
    (out_dir / "report.md").write_text(render_md(bl), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(bl, images), encoding="utf-8")
