"""The whole answering path in one place: rewrite → retrieve (dense + BM25, fused, reranked) → answer →
verify citations. Answering is itself a pipeline of parts, one module each: candidates (sentences and short
windows of the top passages) → features → the learned model (selector, then the refusal gate) → rendering
(the extractive draft, or the LLM's) → verification. Everything else is a part it calls.

`Assistant.ask_stream` is that path; `ask` and `outline` return the JSON contract of
`python -m bot ask --json` / `outline --json`, which the evaluation and the web page use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from bot.answering.drafts import REFUSAL, Draft, merge_drafts
from bot.answering.drop_gain import kb_drop_gain
from bot.answering.extractive import ExtractiveAnswerer, injection_refusal, not_chinese_refusal
from bot.answering.model import AnswerModel, Decision
from bot.answering.question import Query, analyse, is_chinese, is_injection
from bot.outline import build_outline, topic_covered
from bot.retrieval.hybrid import HybridRetriever
from bot.retrieval.rerank import load_cross_encoder
from bot.rewrite import needs_context, question_parts, rewrite
from bot.verify import CITE, verify
from core.settings import Settings

OUTLINE_K = 12  # passages considered for talking points
STREAM_PIECE = 4  # characters per streamed piece of an extractive answer


def _contexts_json(contexts) -> list[dict]:
    return [
        {
            "source": d.metadata.get("source", ""),
            "section": d.metadata.get("section", ""),
            "text": d.page_content,
            "score": round(float(s), 4),
        }
        for d, s in contexts
    ]


def cited_first(contexts: list, draft: Draft) -> list:
    """Contexts re-ordered so the passages the draft cites come first, in the order it cites them."""
    order = [int(n) for n in dict.fromkeys(CITE.findall(draft.text))]
    cited = [draft.sources[n - 1].metadata.get("id") for n in order if 0 < n <= len(draft.sources)]
    by_id = {d.metadata.get("id"): (d, s) for d, s in contexts}
    head = [by_id[c] for c in cited if c in by_id]
    return head + [c for c in contexts if c[0].metadata.get("id") not in set(cited)]


def interleave(rankings: list[list]) -> list:
    """Several rankings as one: first of each, then second of each…, without repeats."""
    out, seen = [], set()
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank][0].metadata.get("id") not in seen:
                seen.add(ranking[rank][0].metadata.get("id"))
                out.append(ranking[rank])
    return out


class QuestionError(ValueError):
    """A question that cannot be taken; str(e) is a Chinese message saying what to do."""


class Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self.t0 = time.perf_counter()

    @contextmanager
    def stage(self, name: str):
        t = time.perf_counter()
        yield
        self.ms[name] = round(self.ms.get(name, 0.0) + (time.perf_counter() - t) * 1000, 1)

    def total(self) -> dict[str, float]:
        return {**self.ms, "total": round((time.perf_counter() - self.t0) * 1000, 1)}


def check_question(question: str, settings: Settings) -> str:
    """The question stripped, or QuestionError for an empty or overlong one, or one of marks alone (？？？)."""
    q = (question or "").strip()
    if not q:
        raise QuestionError("问题不能为空，请输入您想了解的内容。")
    if not re.search(r"\w", q):
        raise QuestionError("问题里没有文字，请输入您想了解的内容，例如“冬训什么时候开始”。")
    if len(q) > settings.answering.max_question_chars:
        raise QuestionError(f"问题太长（{len(q)}字），请精简到{settings.answering.max_question_chars}字以内。")
    return q


class Assistant:
    """Answers questions and drafts talking points over one knowledge base."""

    def __init__(self, settings: Settings, kb=None, llm=None):
        from ingest.index import KnowledgeBase

        self.settings = settings
        self.kb = kb if kb is not None else KnowledgeBase(settings)
        self.retriever = HybridRetriever.from_settings(
            self.kb, settings, cross_encoder=load_cross_encoder(settings.retrieval.reranker_model_path)
        )
        a = settings.answering
        model = AnswerModel.load().at(
            threshold=a.gate_threshold,
            second_within=a.second_within,
            length_cost=a.length_cost,
            max_shown_chars=a.max_shown_chars,
            decider=a.gate,
            answer_above=a.gate_answer_above,
        )
        self.extractive = ExtractiveAnswerer(
            model,
            self.retriever.stats,
            sibling_lookup=lambda d: self.kb.document_chunks(d.metadata.get("source", "")),
            max_sentences=a.max_answer_sentences,
            min_related=a.min_related,
            drop_gain=kb_drop_gain(self.kb),
        )
        if llm is None and settings.answering.mode == "llm":
            from bot.llm.client import LLM

            llm = LLM(settings)
        self.llm = llm

    # ------------------------------------------------------------------ the path
    def ask_stream(self, question: str, history: Optional[list[dict]] = None) -> Iterator[dict]:
        """Events {"type": "token", "text"} while the answer is written, then {"type": "final", "result",
        "answerable", "rule_ok"}: the JSON result, the refusal gate's probability that the passages hold the
        answer and the rule judge's verdict (None when neither ran: an injection, a question not in Chinese)."""
        timer = Timer()
        question = check_question(question, self.settings)
        history = history or []
        with timer.stage("rewrite"):
            rewritten = self.llm.rewrite(question, history) if (self.llm and history) else rewrite(question, history)
        parts = question_parts(rewritten)  # "X是谁？Y有几个？" is answered part by part: (asked, written)
        contexts: list = []
        answerable: list[float] = []
        rule_ok: list[bool] = []
        if is_injection(rewritten):
            draft = injection_refusal()  # a question that tries to change the rules is not searched for
        elif not is_chinese(rewritten):
            draft = not_chinese_refusal()  # the materials are Chinese: ask in Chinese
        else:
            with timer.stage("retrieve"):
                queries = [analyse(asked, self.retriever.stats()) for asked, _ in parts]
                found = [self.retriever.search(q.text, q) for q in queries]  # dense + BM25, fused, reranked, expanded
            with timer.stage("answer"):
                drafts: list[Draft] = []
                for i, (q, (asked, written)) in enumerate(zip(queries, parts)):
                    decision, part_draft = self._answer_part(q, found[i])
                    if decision.refuse and written != asked:
                        # Not answered with the first part's subject carried in: the part as written, which is
                        # kept when answered or when it stands alone (its refusal then names its own words).
                        q_written = analyse(written, self.retriever.stats())
                        passages = self.retriever.search(q_written.text, q_written)
                        as_written = self._answer_part(q_written, passages)
                        if not as_written[0].refuse or not needs_context(written):
                            (decision, part_draft), found[i] = as_written, passages
                    answerable.append(decision.answerable)
                    rule_ok.append(decision.rule_ok)
                    drafts.append(part_draft)
                contexts = interleave(found)
                draft = merge_drafts(drafts, [written for _, written in parts])
                if not draft.refused:
                    # The passages the answer's sentences come from are the best evidence: they rank first.
                    contexts = cited_first(contexts, draft)
        if self.llm is not None and not draft.refused:
            draft = yield from self._llm_answer(rewritten, contexts, draft, timer)
        else:
            for i in range(0, len(draft.text), STREAM_PIECE):
                yield {"type": "token", "text": draft.text[i : i + STREAM_PIECE]}
        with timer.stage("verify"):
            checked = verify(draft.text, draft.sources, self.settings.answering.support_threshold)
        yield {
            "type": "final",
            "result": {
                "question": question,
                "rewritten_question": rewritten,
                "answer": checked.text,
                "refused": draft.refused,
                "citations": checked.citations,
                "contexts": _contexts_json(contexts),
                "unsupported": checked.unsupported,
                "timings_ms": timer.total(),
            },
            # The gate's probability and the rule judge's verdict (a compound question stands while any part
            # does), for the refusal curve.
            "answerable": max(answerable, default=None),
            "rule_ok": any(rule_ok) if rule_ok else None,
        }

    def _answer_part(self, q: Query, passages: list) -> tuple[Decision, Draft]:
        """One question's decision and draft over its passages: candidates → features → selector → refusal gate
        (the gate decides for the LLM too), then the refusal, the items of a list, or the chosen sentences, each
        cited. An ordinal follow-up ("第二个阶段呢？") is answered from that section's passages."""
        section = self.extractive.focus(q, passages)
        decision = self.extractive.decide(q, passages, section)
        return decision, self.extractive.render(q, section or passages, decision)

    def _llm_answer(self, question: str, contexts, draft: Draft, timer: Timer):
        sources = [d for d, _ in contexts]
        pieces = []
        with timer.stage("llm"):
            for piece in self.llm.stream_answer(question, sources):
                pieces.append(piece)
                yield {"type": "token", "text": piece}
        text = "".join(pieces).strip()
        refused = text.startswith(REFUSAL[:6])
        return Draft(text, sources, refused=refused, reason="llm refused" if refused else "")

    def ask(self, question: str, history: Optional[list[dict]] = None) -> dict:
        """The answer as the JSON contract of `python -m bot ask --json`."""
        result = {}
        for event in self.ask_stream(question, history):
            if event["type"] == "final":
                result = event["result"]
        return result

    def _outline_refusal(self, topic: str, contexts, timer: Timer) -> dict:
        return {
            "question": topic,
            "rewritten_question": topic,
            "answer": REFUSAL,
            "refused": True,
            "citations": [],
            "contexts": _contexts_json(contexts),
            "unsupported": [],
            "outline": None,
            "timings_ms": timer.total(),
        }

    def outline(self, topic: str) -> dict:
        """A 宣讲提纲 on a topic, in the same JSON shape plus an "outline" object."""
        timer = Timer()
        topic = check_question(topic, self.settings)
        with timer.stage("retrieve"):
            query = analyse(topic, self.retriever.stats())
            contexts = self.retriever.search(topic, query, k=OUTLINE_K, rerank_candidates=OUTLINE_K)
        with timer.stage("answer"):
            # An outline needs material on its topic: the gate that refuses a question refuses the topic.
            if not topic_covered(self.extractive, query, contexts):
                return self._outline_refusal(topic, contexts, timer)
            if self.llm is not None:
                text, sources = self.llm.outline(topic, [d for d, _ in contexts]), [d for d, _ in contexts]
                outline = None
            else:
                outline = build_outline(topic, query, contexts)
                text, sources = outline.markdown(), outline.sources
        with timer.stage("verify"):
            checked = verify(text, sources, self.settings.answering.support_threshold)
        refused = not checked.citations
        return {
            "question": topic,
            "rewritten_question": topic,
            "answer": checked.text if not refused else REFUSAL,
            "refused": refused,
            "citations": checked.citations,
            "contexts": _contexts_json(contexts),
            "unsupported": checked.unsupported,
            "outline": None
            if outline is None
            else {
                "title": outline.title,
                "opening": outline.opening,
                "points": [{"title": p.title, "subpoints": p.subpoints} for p in outline.points],
                "closing": outline.closing,
            },
            "timings_ms": timer.total(),
        }
