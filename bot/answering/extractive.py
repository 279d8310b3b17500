"""The extractive answerer: the learned model's decision written as a draft, from sentences taken verbatim
from the retrieved passages, each followed by its citation, or a refusal.

No language model is involved, so every sentence is faithful by construction; the verifier checks it all
the same. A question moves through it once, stage by stage (bot/pipeline.py shows the same stages):
focus (an ordinal follow-up answers from the section it points at) → decide (candidates → features →
selector → refusal gate, bot/answering/model.py) → render (the refusal, the items of a list, or the chosen
sentences). It is a langchain Runnable so it can be swapped with the LLM answerer: input
{"query": Query, "contexts": [(Document, score)]}, output Draft.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Optional

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from bot.answering.candidates import CLAUSE, PAIR, SENTENCE, Candidate
from bot.answering.corpus_stats import CorpusStats
from bot.answering.drafts import (
    INJECTION_REFUSAL,
    NOT_CHINESE_REFUSAL,
    REFUSAL,
    RELATED_LABEL,
    Draft,
    Part,
    cite,
    labelled_row,
    refusal_text,
    table_header,
    write,
)
from bot.answering.evidence import is_label, term_coverage
from bot.answering.features import DropGainOf, Stats
from bot.answering.lists import (
    Siblings,
    asks_only_for_item,
    enumeration,
    heading_items,
    ordinal_beyond,
    ordinal_section,
)
from bot.answering.model import AnswerModel, Decision
from bot.answering.question import Query, is_chinese, is_injection
from core.grammar import split_sentences
from ingest.fusion import Scored

TOP_K = 5  # passages whose sentences become candidates (as in training: bot.answering.train.TOP_K)


class ExtractiveAnswerer(Runnable):
    """Answers from the passages' own sentences as the learned model chooses them; refuses when its gate
    says the answer is not among the passages."""

    def __init__(
        self,
        model: Optional[AnswerModel] = None,
        stats: Optional[Callable[[], Stats]] = None,
        sibling_lookup: Optional[Siblings] = None,
        *,
        max_sentences: int = 3,
        min_related: float = 0.25,
        top_k: int = TOP_K,
        lists: bool = True,
        ordinals: bool = True,
        drop_gain: Optional[DropGainOf] = None,
    ):
        self.model = model or AnswerModel.load()
        """The selector and refusal gate (AnswerModel.load() and the settings' operating point)."""
        self.stats = stats
        """The knowledge base's token statistics (for IDF weights), read when a question is answered; without
        them, those of the passages at hand."""
        self.sibling_lookup = sibling_lookup
        """Given a passage, the other passages of its document (for lists and sections that span chunks)."""
        self.max_sentences = max_sentences
        """Most sentences in an answer, lists aside."""
        self.min_related = min_related
        """Coverage above which a refused question still gets a labelled related passage."""
        self.top_k = top_k
        """Passages whose sentences become candidates."""
        self.lists = lists
        """Whether a chosen sentence that announces or is an item of a list brings the list's items."""
        self.ordinals = ordinals
        """Whether "第二个阶段呢？" answers from that item's own section."""
        self.drop_gain = drop_gain
        """The knowledge base's drop gain (bot/answering/drop_gain.py), which the gate reads; without it 0.0."""

    def invoke(self, input: dict, config: Optional[RunnableConfig] = None, **kwargs: Any) -> Draft:
        return self.answer(input["query"], input["contexts"])

    def answer(self, query: Query, contexts: list[Scored]) -> Draft:
        """A cited answer from the contexts' sentences, or a refusal saying what the materials lack."""
        if is_injection(query.text):
            return injection_refusal()
        if not is_chinese(query.text):
            return not_chinese_refusal()
        section = self.focus(query, contexts)
        return self.render(query, section or contexts, self.decide(query, contexts, section))

    # ------------------------------------------------------------------ the stages
    def focus(self, query: Query, contexts: list[Scored]) -> list[Scored]:
        """The passages of the section an ordinal follow-up points at ("第二个阶段呢？"), or []."""
        if not (self.ordinals and self.sibling_lookup):
            return []
        return ordinal_section(query, contexts, self.sibling_lookup)

    def decide(self, query: Query, contexts: list[Scored], section: Optional[list[Scored]] = None) -> Decision:
        """Candidates, their features, the selector's choice and the refusal gate (bot/answering/model.py).

        An ordinal follow-up's section (found by the document's structure, not by search) is where the
        answer is chosen; the gate still judges what search found, unless the question asks for that item and
        nothing else ("第三点意见是什么？"): then the structure answers it. An ordinal past the end of every such
        list ("第五点意见" of three) is refused."""
        stats = self.stats() if self.stats else CorpusStats.from_texts(d.page_content for d, _ in contexts)
        # A section's own gate is replaced by the search's below, so it skips the drop gain's query embeddings.
        gain = None if section else self.drop_gain
        decision = self.model.decide(query.text, section or contexts, stats, drop_gain=gain, top_k=self.top_k)
        if section:
            gate = self.model.decide(query.text, contexts, stats, drop_gain=self.drop_gain, top_k=self.top_k)
            refuse = gate.refuse and not asks_only_for_item(query, section)
            decision = replace(decision, answerable=gate.answerable, refuse=refuse)
        elif self.ordinals and self.sibling_lookup and ordinal_beyond(query, contexts, self.sibling_lookup):
            decision = replace(decision, refuse=True)  # 第五点意见 of a speech that gives three
        return decision

    def render(self, query: Query, contexts: list[Scored], decision: Decision) -> Draft:
        """The draft the decision stands for: a refusal, the items of a list, or the chosen sentences."""
        sources = [d for d, _ in contexts]
        if not decision.candidates:
            return Draft(REFUSAL, [], refused=True, reason="no passages")
        if decision.refuse:
            return self.refuse(query, sources, decision)
        best = decision.shown[0]
        parts = self.list_items(query, best, contexts, sources) or self.sentences(decision.shown, sources)
        return Draft(write(parts, sources), sources, reason=f"answerable {decision.answerable:.3f}")

    def candidates(self, query: Query, contexts: list[Scored]) -> list[Candidate]:
        """The candidates the model chooses among, best first."""
        return self.decide(query, contexts).candidates

    # ------------------------------------------------------------------ writing
    def refuse(self, query: Query, sources: list[Document], decision: Decision) -> Draft:
        """The refusal naming the question's key entity the passages lack (or saying plainly that they do not
        answer it), with the best candidate's sentence as a labelled related passage when it touches the question."""
        where = " ".join(
            f"{d.metadata.get('title', '')} {d.metadata.get('section', '')} {d.page_content}" for d in sources
        )
        text = refusal_text(query, where)
        reason = f"answerable {decision.answerable:.3f} < {self.model.threshold}"
        best = decision.shown[0]
        related = self.sentences([best], sources)[:1]
        if related and term_coverage(query, related[0][1], best.title + " " + best.section) >= self.min_related:
            passage, sentence, cut = related[0]
            row = labelled_row(sentence, table_header(sources[passage].page_content))
            return Draft(text + RELATED_LABEL + cite(row, passage + 1, cut), sources, refused=True, reason=reason)
        return Draft(text, [], refused=True, reason=reason)

    def list_items(self, query: Query, best: Candidate, contexts: list[Scored], sources: list[Document]) -> list[Part]:
        """The items of the list the answer is, or [] when it is not one."""
        if not (self.lists and self.sibling_lookup) or best.text.startswith("|"):
            return []  # a table row that answers a list question is one item
        headed = heading_items(query, contexts, sources, self.sibling_lookup)
        if headed:
            return headed
        # A pair's first sentence says whether it is, or announces, an item; failing that its second may be the
        # first item ("…存在的不足。一是…；二是…").
        return next(
            (
                items
                for c in sentences_of(best, sources)
                if (items := enumeration(query, c, sources, self.sibling_lookup))
            ),
            [],
        )

    def sentences(self, shown: list[Candidate], sources: list[Document]) -> list[Part]:
        """The shown candidates as cited parts, one per sentence (so each carries its own marker), in the
        order of their passage and place in it. At most max_sentences of them state something: a label (is_label:
        （一）报名阶段。) comes with the sentence it heads and does not count, so that a runner-up is not cut to its
        label."""
        parts: list[Part] = []
        stated = 0
        for c in sorted(shown, key=lambda c: (c.passage != shown[0].passage, c.passage, c.start)):
            text = sources[c.passage].page_content
            for s, e in split_sentences(text, c.start, c.end):
                if stated >= self.max_sentences:
                    return parts
                cut = c.kind == CLAUSE and s == c.start and not _starts_sentence(text, s)
                parts.append((c.passage, text[s:e], cut))
                stated += not is_label(text[s:e], c.section)
        return parts


def sentences_of(c: Candidate, sources: list[Document]) -> list[Candidate]:
    """A two-sentence candidate's sentences ("三、比赛分组" above "大赛设…"), each of which may be, or announce, an
    item of a list; another candidate as it is."""
    if c.kind != PAIR:
        return [c]
    text = sources[c.passage].page_content
    return [
        replace(c, text=text[s:e], start=s, end=e, kind=SENTENCE, n_sentences=c.n_sentences)
        for s, e in split_sentences(text, c.start, c.end)
    ] or [c]


def injection_refusal() -> Draft:
    """The refusal of a question that tries to change the assistant's rules."""
    return Draft(INJECTION_REFUSAL, [], refused=True, reason="injection")


def not_chinese_refusal() -> Draft:
    """The reply to a question not in Chinese: the materials are Chinese, ask in Chinese."""
    return Draft(NOT_CHINESE_REFUSAL, [], refused=True, reason="not chinese")


def _starts_sentence(text: str, at: int) -> bool:
    """Whether a sentence of text starts at offset at."""
    return any(s == at for s, _ in split_sentences(text))
