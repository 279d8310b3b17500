"""The lecturer's check of the 宣讲提纲: outlines for a list of topics, and in them the lines a lecturer
could not use as they stand. Each count must be 0.

- boilerplate: a point heading that is an administrative or procedural heading (时间安排, 方法步骤) or a
  document's formula (…现就有关事项通知如下), or a bullet that is such a formula;
- fragment: a bullet that is not whole clauses of its cited passage: it starts or ends with "……", opens
  with a word leaning on the clause before it (且…, 其中…), or is cut from its passage away from a clause
  boundary;
- unverified: a bullet (or any other line that states something) without a valid [n], or one the
  citation verifier (bot.verify) finds unsupported by the passage it cites;
- off-topic: an outline drawn up for a topic the materials do not cover (topics marked "covered": false).

The cues are those of bot/data/outline_cues.tsv, chosen on the dev corpora. Topic files are JSON lines
{"topic", "covered": true | false | null, "why"}: eval/outline_topics.jsonl for the dev corpora
(knowledge/ + eval/corpus/), eval/heldout/outline_topics.jsonl for eval/heldout/corpus/, which is
reported on and never tuned on.

python -m eval outline [--heldout] [--topics FILE] [--knowledge DIR…] [--kb DIR] [--show]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from langchain_core.documents import Document

from bot.answering.numbering import strip_numbering
from bot.export import HEADING
from bot.outline import is_boilerplate, is_preamble, leans_back
from bot.verify import CITE, MARKER, claims, verify
from core.grammar import CLOSERS
from eval.dataset import REPO_ROOT
from eval.errors import EvalError

DEV_TOPICS = REPO_ROOT / "eval" / "outline_topics.jsonl"
HELDOUT_TOPICS = REPO_ROOT / "eval" / "heldout" / "outline_topics.jsonl"
HELDOUT_KNOWLEDGE = (REPO_ROOT / "eval" / "heldout" / "corpus",)
COUNTS = ("boilerplate", "fragment", "unverified", "off_topic")
COUNT_LABELS = {
    "boilerplate": "套话",
    "fragment": "残句要点",
    "unverified": "无引用或引用不支持",
    "off_topic": "离题提纲",
}
BULLET = re.compile(r"^\s*[-*+]\s+")
ELLIPSIS = ("……", "…", "...")
# Where a clause may start or end in a passage: after or before these marks (、 separates list items inside
# a clause, so it is no boundary).
CLAUSE_MARKS = "，,；;：:。！？!?\n"
FRAME_HEADINGS = ("开场", "结语")  # the outline's own labels for its opening and closing, not the materials'


@dataclass
class Topic:
    topic: str
    covered: Optional[bool]
    """False: the materials do not cover it and the outline must be refused; None: either is right."""
    why: str = ""


@dataclass
class OutlineFindings:
    """The offending lines of one outline, by count."""

    boilerplate: list[str] = field(default_factory=list)
    fragment: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    off_topic: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in COUNTS}


def load_topics(path: Path) -> list[Topic]:
    """The topics of a JSON-lines topic file; EvalError naming the line when one is malformed."""
    topics = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            topics.append(Topic(str(row["topic"]), row.get("covered"), str(row.get("why", ""))))
        except (ValueError, KeyError, TypeError) as e:
            raise EvalError(f'提纲题目文件 {path} 第{i}行格式不对（{e}），应为 {{"topic": …, "covered": …}}。') from e
    return topics


def _at_start(text: str, i: int) -> bool:
    """Whether a clause may start at text[i]: the passage's start, after a clause mark (and any closing
    quote), or after the numbering that opens its line or sentence (…意义重大。一是这是…)."""
    j = i
    while j > 0 and text[j - 1] in " \t　":
        j -= 1
    if j == 0 or text[j - 1] in CLAUSE_MARKS or (j > 1 and text[j - 1] in CLOSERS and text[j - 2] in CLAUSE_MARKS):
        return True
    lead = text[max(text.rfind(m, 0, j) for m in CLAUSE_MARKS) + 1 : j].strip()
    return bool(lead) and not strip_numbering(lead).strip()


def _at_end(text: str, i: int) -> bool:
    """Whether a clause may end before text[i]: the passage's end or a clause mark."""
    return i >= len(text) or text[i] in CLAUSE_MARKS or text[i] in " \t"


def is_fragment(bullet: str, passages: Sequence[str]) -> bool:
    """A bullet that is not whole clauses of one of the passages it cites."""
    body = MARKER.sub("", BULLET.sub("", bullet, count=1)).strip()
    if body.startswith(ELLIPSIS) or body.rstrip("。！？!?").endswith(ELLIPSIS):
        return True
    if leans_back(body):
        return True
    quote = body.rstrip("。！？!?")  # the mark the outline adds after the [n]
    if not quote:
        return True
    for text in passages:
        for m in re.finditer(re.escape(quote), text):
            if _at_start(text, m.start()) and _at_end(text, m.end()):
                return False
    return True


def check_outline(markdown: str, citations: Sequence[dict]) -> OutlineFindings:
    """The lecturer's findings on one outline (its markdown and the citations its [n] refer to)."""
    findings = OutlineFindings()
    by_n = {int(c["n"]): str(c.get("text", "")) for c in citations}
    sources = [Document(page_content=by_n.get(n, "")) for n in range(1, max(by_n, default=0) + 1)]
    for raw in (markdown or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        heading = HEADING.match(line)
        if heading:
            text = heading.group(2)
            if len(heading.group(1)) > 1 and text not in FRAME_HEADINGS and is_boilerplate(text):
                findings.boilerplate.append(line)
            continue
        body = MARKER.sub("", BULLET.sub("", line, count=1))
        if is_preamble(body):
            findings.boilerplate.append(line)
        if not list(claims(line)):
            continue  # a line that states nothing about the materials needs no citation
        cited = [int(n) for n in CITE.findall(line)]
        if not cited or any(n not in by_n for n in cited) or verify(line, sources).unsupported:
            findings.unverified.append(line)
        if BULLET.match(line) and is_fragment(line, [by_n[n] for n in cited if n in by_n]):
            findings.fragment.append(line)
    return findings


@dataclass
class TopicResult:
    topic: Topic
    refused: bool
    markdown: str
    findings: OutlineFindings


def check_topics(assistant, topics: Sequence[Topic]) -> list[TopicResult]:
    """Each topic's outline from the assistant (Assistant.outline, the page's and the API's path), checked."""
    results = []
    for t in topics:
        r = assistant.outline(t.topic)
        markdown = "" if r["refused"] else r["answer"]
        findings = check_outline(markdown, r["citations"])
        if t.covered is False and not r["refused"]:
            findings.off_topic.append(t.topic)
        results.append(TopicResult(t, bool(r["refused"]), markdown, findings))
    return results


def totals(results: Sequence[TopicResult]) -> dict[str, int]:
    """Each count summed over the topics."""
    return {name: sum(r.findings.counts()[name] for r in results) for name in COUNTS}


def report(results: Sequence[TopicResult], *, show: bool = False) -> str:
    """The check as a member reads it (Chinese): one line per topic, the offending lines, the totals."""
    lines = []
    for r in results:
        c = r.findings.counts()
        state = (
            "拒绝（资料未涉及）"
            if r.refused
            else f"{sum(1 for x in r.markdown.splitlines() if x.startswith('## '))}个标题"
        )
        lines.append(f"{r.topic.topic}：{state}；" + "，".join(f"{COUNT_LABELS[k]} {c[k]}" for k in COUNTS))
        for name in COUNTS:
            lines += [f"    {COUNT_LABELS[name]}：{x}" for x in getattr(r.findings, name)]
        if show and r.markdown:
            lines += ["    " + x for x in r.markdown.splitlines() if x.strip()]
    total = totals(results)
    lines.append("合计：" + "，".join(f"{COUNT_LABELS[k]} {total[k]}" for k in COUNTS) + "（每项都应为 0）")
    return "\n".join(lines)


def run_check(
    topics_file: Path,
    knowledge_dirs: Optional[Sequence[Path]],
    *,
    kb_dir: Optional[Path] = None,
    progress: bool = True,
) -> list[TopicResult]:
    """Build (or open) the knowledge base and check the outlines of every topic in the file."""
    from bot.pipeline import Assistant
    from eval.knowledge import build_kb, default_kb_dir, open_kb
    from eval.run import make_settings

    topics = load_topics(topics_file)
    if kb_dir is None and knowledge_dirs:
        kb_dir = default_kb_dir(knowledge_dirs)
    settings = make_settings(kb_dir=kb_dir, mode="extractive")
    kb = build_kb(settings, knowledge_dirs, progress=progress) if knowledge_dirs else open_kb(settings)
    return check_topics(Assistant(settings, kb=kb), topics)
