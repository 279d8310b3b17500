"""The OpenAI chat-completions protocol as this assistant speaks it: request and response bodies (pydantic).

A request's `messages` are the conversation: the last one is the question (it must be the user's), and
the user/assistant messages before it become the history turns {"question", "answer"} the Assistant
takes. System and developer messages are accepted and ignored: the assistant's rules (answer from the
materials only, cite every sentence, refuse otherwise) are not the caller's to change, and many clients
send a generic system prompt of their own. Sampling options (temperature, max_tokens, …) are ignored too.

Responses add two fields to OpenAI's: `citations` (the objects of `python -m bot ask --json`: n, source,
title, section, text, start, end, page; the answer's [n] refer to them) and `refused`. A stream sends
them on its final chunk.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from bot.web.api import messages

MODEL_ID = "dongxun-assistant"  # the one model /v1/models lists
OWNER = "dongxun"
HISTORY_ROLES = ("user", "assistant")  # the roles that make up the conversation; the others are ignored


class ChatMessage(BaseModel):
    """One message; `content` is text, or a list of text parts that are joined."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: Optional[str] = None
    name: Optional[str] = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, value: Any) -> Any:
        """[{"type": "text", "text": …}, …] -> their texts joined; other part types are refused."""
        if not isinstance(value, list):
            return value
        texts = []
        for part in value:
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            if kind != "text" or not isinstance(part.get("text"), str):
                raise ValueError(messages.TEXT_ONLY.format(kind=kind))
            texts.append(part["text"])
        return "".join(texts)


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions. Options this assistant has no use for are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def conversation(chat: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """(question, history): the last message's text, and the turns before it in the Assistant's form.

    A user message starts a turn and the assistant message after it is that turn's answer; a user message
    followed by another user message is a turn without an answer. Raises ValueError when the last
    message of the conversation is not the user's."""
    talk = [m for m in chat if m.role in HISTORY_ROLES]
    if not talk or talk[-1].role != "user":
        raise ValueError(messages.NO_QUESTION)
    history: list[dict[str, str]] = []
    for m in talk[:-1]:
        if m.role == "user":
            history.append({"question": m.content or "", "answer": ""})
        elif history and not history[-1]["answer"]:
            history[-1]["answer"] = m.content or ""
        # an assistant message that answers no question (a greeting) says nothing the rewrite can use
    return talk[-1].content or "", history


# ---------------------------------------------------------------------------------------- responses
class _OmitNone(BaseModel):
    """A model whose fields listed in OMIT_WHEN_NONE are left out of its JSON while they are None."""

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if not (k in self.OMIT_WHEN_NONE and v is None)}


class Citation(BaseModel):
    """A cited passage, as `python -m bot ask --json` gives it (further fields of that contract pass through)."""

    model_config = ConfigDict(extra="allow")

    n: int
    source: str
    title: str = ""
    section: str
    text: str
    start: int
    end: int
    page: Optional[int]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """The answer to a request without `stream`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: None = None  # this assistant counts no tokens
    citations: list[Citation]
    refused: bool


class Delta(_OmitNone):
    OMIT_WHEN_NONE = ("role", "content")

    role: Optional[Literal["assistant"]] = None
    content: Optional[str] = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Optional[Literal["stop"]] = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One event of a stream: the role first, then pieces of the answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]


class FinalChunk(ChatCompletionChunk, _OmitNone):
    """The stream's last chunk: finish_reason "stop", the citations and whether the question was refused.

    `answer` is there only when verification changed text already streamed (an LLM citing a passage it
    was not given): then it holds the verified answer, which is the text the citations refer to."""

    OMIT_WHEN_NONE = ("answer",)

    citations: list[Citation]
    refused: bool
    answer: Optional[str] = None


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = OWNER


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
