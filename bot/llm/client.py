"""The optional LLM answerer, over any OpenAI-compatible endpoint (Ollama, vLLM, a cloud API).

The LLM only writes: retrieval, the refusal gate (the extractive answerer runs first) and
citation verification stay where they are in bot.pipeline. Three langchain chains
(prompt | ChatOpenAI | StrOutputParser): a cited answer, a follow-up rewrite and a 宣讲提纲.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from bot.llm.errors import CLIENT_ERRORS, LLMError, explain
from bot.llm.prompts import (
    ANSWER_HUMAN,
    ANSWER_SYSTEM,
    OUTLINE_HUMAN,
    OUTLINE_SYSTEM,
    REWRITE_HUMAN,
    REWRITE_SYSTEM,
    defuse,
    format_history,
    format_sources,
)
from bot.llm.replies import clean_rewrite
from bot.rewrite import needs_context
from bot.rewrite import rewrite as rule_rewrite
from core.settings import Settings

log = logging.getLogger(__name__)

MAX_RETRIES = 1  # one retry smooths a dropped connection without doubling a slow timeout twice over


class LLM:
    """Cited answers, follow-up rewrites and outlines from an OpenAI-compatible chat model."""

    def __init__(self, settings: Settings):
        if not settings.llm.base_url:
            raise LLMError(
                "未配置大模型服务地址。请设置 DONGXUN_LLM_BASE_URL（例如 http://127.0.0.1:11434/v1），"
                "或使用 DONGXUN_MODE=extractive 不使用大模型。"
            )
        from langchain_openai import ChatOpenAI  # imported here: only the llm mode needs it

        self.settings = settings
        self.model = ChatOpenAI(
            base_url=settings.llm.base_url,
            api_key=settings.llm.api_key,
            model=settings.llm.model,
            temperature=settings.llm.temperature,
            timeout=settings.llm.timeout,
            streaming=True,
            max_retries=MAX_RETRIES,
        )
        parser = StrOutputParser()
        self.answer_chain = (
            ChatPromptTemplate.from_messages([("system", ANSWER_SYSTEM), ("human", ANSWER_HUMAN)]) | self.model | parser
        )
        self.rewrite_chain = (
            ChatPromptTemplate.from_messages([("system", REWRITE_SYSTEM), ("human", REWRITE_HUMAN)])
            | self.model
            | parser
        )
        self.outline_chain = (
            ChatPromptTemplate.from_messages([("system", OUTLINE_SYSTEM), ("human", OUTLINE_HUMAN)])
            | self.model
            | parser
        )

    def _call(self, chain, inputs: dict) -> str:
        try:
            return chain.invoke(inputs)
        except CLIENT_ERRORS as e:  # transport and HTTP errors become one Chinese message; bugs stay tracebacks
            raise explain(e, self.settings) from e

    def stream_answer(self, question: str, sources: list[Document]) -> Iterator[str]:
        """Text pieces of a brief answer citing [n] after every claim, or exactly REFUSAL."""
        inputs = {"sources": format_sources(sources), "question": defuse(question)}
        try:
            for piece in self.answer_chain.stream(inputs):
                if piece:
                    yield piece
        except CLIENT_ERRORS as e:
            raise explain(e, self.settings) from e

    def rewrite(self, question: str, history: list[dict]) -> str:
        """A standalone form of a follow-up; the rule-based rewrite when the LLM fails or says nothing.
        A question that stands alone (bot.rewrite.needs_context) is not sent: it comes through unchanged."""
        if not history or not needs_context(question):
            return question.strip()
        try:
            out = clean_rewrite(
                self._call(
                    self.rewrite_chain, {"history": format_history(history), "question": defuse(question.strip())}
                )
            )
        except Exception as e:  # a rewrite is an aid: any failure falls back to the rules
            log.warning("LLM rewrite failed, using rules: %s", e)
            out = ""
        return out or rule_rewrite(question, history)

    def outline(self, topic: str, sources: list[Document]) -> str:
        """A markdown 宣讲提纲 (# title, 3–6 ## points, 1–3 cited - sub-points each)."""
        text = self._call(self.outline_chain, {"sources": format_sources(sources), "topic": defuse(topic.strip())})
        return text.strip() + "\n"
