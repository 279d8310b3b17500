"""How an answer is written before it is verified: the refusal wording (naming the question's key
entity the materials lack) and its labelled related passage, sentences trimmed to the clause window
that holds their evidence, a table row as labelled pairs (课程：…；授课人：…), the [n] citation placed
before the closing mark, the Draft that carries text and sources, and one draft merged from the
answers to a compound question's parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import jieba
from langchain_core.documents import Document

from bot.answering.evidence import Candidate, missing_ordinals, sentence_score
from bot.answering.question import Query, content_nouns, focus_noun, is_chinese
from bot.verify import CITE
from core.grammar import compact, holds_number

REFUSAL = "资料中没有找到能回答这个问题的内容。"
REFUSAL_ABOUT = "资料中没有找到关于“{topic}”的内容。"
# One sentence that starts like every refusal: the verifier takes it as frame, the LLM path as a refusal.
NOT_CHINESE_REFUSAL = "资料中没有找到能回答这个问题的内容：学习材料都是中文的，请用中文提问，例如“冬训什么时候开始”。"
INJECTION_REFUSAL = "这个问题试图改变问答规则，无法处理，请直接提问冬训学习材料中的内容。"
RELATED_LABEL = "相关内容（仅供参考，并非对问题的回答）："
PART_LEAD = "问“{part}”："  # before a compound question's refused part, so the refusal says which part it is

LONG_SENTENCE = 60  # characters; longer sentences are trimmed to their best clause window
MIN_WINDOW = 12  # shortest clause window worth showing on its own
WINDOW_KEEP = 0.9  # a window must keep this share of its sentence's score
CLAUSE_SPLIT = re.compile(r"(?<=[，：])")  # not ASCII ":" — it sits inside times like 9:00
LEAD_CLAUSES = 2  # clauses a long list item keeps as its lead-in
# A markdown heading's marks ("### （一）动员部署阶段（…）"): an answer quoting the heading says its words, not its
# markup, which the page would render as a heading and the verifier would skip as a frame line.
HEADING_MARKS = re.compile(r"^\s*#{1,6}\s+")

# One piece of an answer: (index of its source, its text, whether it was cut at its start).
Part = tuple[int, str, bool]


@dataclass
class Draft:
    """An answer before verification: text with [n] markers indexing `sources` (1-based)."""

    text: str
    sources: list[Document]
    refused: bool = False
    reason: str = ""
    evidence: list[Candidate] = field(default_factory=list)


def refusal_text(query: Query, passages: str) -> str:
    """The refusal for a question the passages do not answer: naming its key entity when the passages
    lack it, else saying plainly that they do not answer it; for a question not in Chinese, asking
    for one in Chinese."""
    if not is_chinese(query.text):
        return NOT_CHINESE_REFUSAL
    topic = refusal_topic(query, passages)
    return REFUSAL_ABOUT.format(topic=topic) if topic else REFUSAL


def refusal_topic(query: Query, passages: str) -> str:
    """What a refusal names: a year the question names that the passages lack, else the content noun
    phrase they lack (the asked-about noun first, then the rarest), else ""."""
    text = compact(passages)
    years = [f"{n}年" for n in query.numbers if not holds_number(n, passages)]
    if years:
        return years[0]
    ordinals = missing_ordinals(query, passages)
    if ordinals:
        return ordinals[0]

    def absent(word: str) -> bool:
        forms = (word,) + query.variants.get(word, ())
        return not any(compact(f) in text for f in forms)

    focus = focus_noun(query.text)
    lacking: list[tuple[bool, float, str]] = []  # (holds the focus noun, weight of what it lacks, phrase)
    for phrase in content_nouns(query.text):
        if _cut_across(query.text, phrase, text):
            continue  # 啥时候交心得: jieba's 交心 is 交 + 心得, which the passages hold; naming 交心 would mislead
        # 误工补贴 is lacking when 误工 or 补贴 is; with both present apart, naming it would mislead.
        # 培训费 (培训 + 费) must occur whole: a lone character says nothing on its own.
        parts = jieba.lcut(phrase)
        words = parts if len(parts) > 1 and all(len(w) >= 2 for w in parts) else [phrase]
        missing = [w for w in words if absent(w)]
        if missing:
            weight = max(query.weights.get(w, 0.0) for w in missing)
            lacking.append((bool(focus) and focus in phrase, weight, phrase))
    if not lacking:
        return ""
    lacking.sort(key=lambda x: (not x[0], -x[1]))  # stable: ties keep the question's order
    return lacking[0][2]


def _cut_across(question: str, phrase: str, passages: str) -> bool:
    """Whether the phrase's last character and the question's next one, or its first and the one before, make a
    two-character word the passages hold: then the phrase was cut across that word (交心 in 交心得), and is no
    topic the question names."""
    at = question.find(phrase)
    if at < 0:
        return False
    end = at + len(phrase)
    pairs = [question[end - 1 : end + 1]] if end < len(question) else []
    if at > 0:
        pairs.append(question[at - 1 : at + 1])
    return any(len(p) == 2 and compact(p) == p and p in passages for p in pairs)


def related_passage(query: Query, best: Candidate) -> str:
    """The labelled related passage a refusal shows: the best sentence's clause window, cited."""
    window, cut_start, _ = clause_window(query, best.text)
    return RELATED_LABEL + cite(labelled_row(window, table_header(best.passage)), best.ctx + 1, cut_start)


# ---------------------------------------------------------------- table rows
# A column that only numbers the rows says nothing about the row's content.
ROW_NUMBER_LABELS = frozenset({"序号", "编号", "No.", "No", "#"})
EMPTY_CELLS = frozenset({"", "-", "—", "/"})
PAIR_SEP = "；"  # between the labelled pairs of one row (bot.verify reads them as one claim)


def table_header(passage: str) -> str:
    """The first table row of a passage (its header, which the chunker repeats on every split), or ""."""
    for line in passage.split("\n"):
        if line.startswith("|"):
            return line
    return ""


def table_cells(row: str) -> list[str]:
    """The cells of a markdown table row: | a | b | -> ["a", "b"]."""
    return [c.strip() for c in row.strip().strip("|").split("|")]


def labelled_row(row: str, header: str) -> str:
    """A table row as the labelled pairs of its header (课程：乡村振兴政策解读；授课人：…；学时：2), without
    the row-number column and empty cells; any other text, or a row its header does not fit, unchanged."""
    if not row.startswith("|") or not header or row.strip() == header.strip():
        return row
    labels, cells = table_cells(header), table_cells(row)
    if len(labels) != len(cells):
        return row
    pairs = [
        f"{label}：{cell}" if label else cell
        for label, cell in zip(labels, cells)
        if cell not in EMPTY_CELLS and label not in ROW_NUMBER_LABELS
    ]
    return PAIR_SEP.join(pairs) or row


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, each ending at its ，or ：."""
    return [c for c in CLAUSE_SPLIT.split(sentence) if c]


def clause_window(query: Query, sentence: str) -> tuple[str, bool, bool]:
    """The shortest clause window of a long sentence that keeps its evidence.

    Returns (window, cut_at_start, cut_at_end)."""
    if len(sentence) <= LONG_SENTENCE or sentence.startswith("|"):
        return sentence, False, False  # a table row is one fact; never cut it
    full = sentence_score(query, sentence)
    parts = clauses(sentence)
    best: Optional[tuple[int, int, int]] = None  # (length, i, j)
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            window = "".join(parts[i:j])
            if len(window) < MIN_WINDOW:
                continue
            if sentence_score(query, window) >= WINDOW_KEEP * full and (best is None or len(window) < best[0]):
                best = (len(window), i, j)
    if best is None:
        return sentence, False, False
    _, i, j = best
    return "".join(parts[i:j]), i > 0, j < len(parts)


def item_lead(sentence: str) -> str:
    """An enumeration item's lead-in: up to its first full stop, or its first clauses when long."""
    if len(sentence) > LONG_SENTENCE:
        return "".join(clauses(sentence)[:LEAD_CLAUSES])
    return sentence


STOP_INSIDE_CLOSER = re.compile(r"[。！？!?]+[”’」』）)】》]+$")


def cite(sentence: str, n: int, cut_start: bool = False) -> str:
    """Place [n] before the sentence's closing punctuation: …215场[1]。"""
    s = sentence.rstrip()
    s = re.sub(r"[，,：:；;、]+$", "", s)
    lead = "……" if cut_start else ""
    # A stop inside a closing quote or bracket (他说：“要讲好第一课。”, （示例材料…。）): the mark goes before the stop.
    # After the closer it would stand alone, since a sentence ends at the stop and its closers ([1]。 unsupported).
    if inner := STOP_INSIDE_CLOSER.search(s):
        return lead + s[: inner.start()] + f"[{n}]" + inner.group(0)
    closing = ""
    m = re.search(r"[。！？!?]+[”’」』）)]*$|[。！？!?]*[”’」』]$", s)
    if m and m.group(0).strip("。！？!?"):
        closing = ""  # a quote closes the sentence: keep it, put the mark after
    elif m:
        s, closing = s[: m.start()], m.group(0)
    s = re.sub(r"[。；;]+$", "", s)
    return lead + s + f"[{n}]" + (closing if closing in ("？", "！") else "。")


def write(parts: list[Part], sources: Optional[list[Document]] = None) -> str:
    """The answer text of its parts, each cited, a sentence repeated by overlapping chunks said once, a quoted
    markdown heading without its marks, a table row as labelled pairs under the header of its source passage
    and the header row itself left out (when `sources` are given)."""
    unique: dict[str, Part] = {}
    for part in parts:
        unique.setdefault(compact(part[1]), part)

    def header(ctx: int) -> str:
        return table_header(sources[ctx].page_content) if sources and ctx < len(sources) else ""

    def shown(ctx: int, text: str) -> str:
        return labelled_row(HEADING_MARKS.sub("", text), header(ctx))

    # A table's header row names its columns and says nothing; the rows it labels say it.
    kept = [p for p in unique.values() if not (p[1].startswith("|") and p[1].strip() == header(p[0]).strip())]
    return "".join(cite(shown(ctx, t), ctx + 1, cut) for ctx, t, cut in kept or unique.values())


def source_index(sources: list[Document], doc: Document) -> int:
    """Index of doc in sources, appending it when it is not there yet (so it can be cited)."""
    for i, d in enumerate(sources):
        if d.metadata.get("id") == doc.metadata.get("id"):
            return i
    sources.append(doc)
    return len(sources) - 1


def _renumber(text: str, remap: dict[int, int]) -> str:
    """text with each [n] replaced by [remap[n]] (markers without a new number kept)."""
    return CITE.sub(lambda m: f"[{remap.get(int(m.group(1)), m.group(1))}]", text)


def part_lead(part: str) -> str:
    """问“…”： before a compound question's refused part. Its question and full stops become commas, so that the
    lead and the refusal after it are one sentence, which bot.verify reads as frame (verify.FRAME)."""
    return PART_LEAD.format(part=re.sub(r"[？?。！!]+", "，", part.strip()).strip("，"))


def merge_drafts(drafts: list[Draft], parts: Optional[list[str]] = None) -> Draft:
    """One answer from the answers to the parts of a compound question (parts: their questions, in order),
    markers renumbered over the union of their sources. Refused only when every part is refused."""
    answered = [d for d in drafts if not d.refused]
    if not answered:
        return drafts[0]
    sources: list[Document] = []
    texts = []
    for i, d in enumerate(drafts):
        if d.refused:
            # Say plainly which part the materials do not answer; no related passage here.
            lead = part_lead(parts[i]) if parts and i < len(parts) else ""
            texts.append(lead + d.text.split(RELATED_LABEL)[0])
            continue
        remap = {i + 1: source_index(sources, doc) + 1 for i, doc in enumerate(d.sources)}
        text = _renumber(d.text, remap)
        # Two parts may find the same sentence, or one a clause of the other's sentence; say it once.
        said = compact(CITE.sub("", "".join(texts)))
        texts.append(
            "".join(x for x in re.findall(r"[^。！？]+[。！？]", text) if compact(CITE.sub("", x)) not in said)
        )
    return Draft("".join(texts), sources, evidence=[c for d in answered for c in d.evidence])
