"""Request bodies of /api/ask and /api/outline, which answer with the JSON contract of the command line
(`python -m bot ask --json`, `outline --json`). Unknown fields are refused, so a misspelt one is not
silently ignored; a history turn may carry more (a whole earlier answer can be passed back)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class HistoryTurn(BaseModel):
    """An earlier question and its answer, as in `ask --history 对话.json`."""

    model_config = ConfigDict(extra="ignore")

    question: str
    answer: str = ""


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    history: list[HistoryTurn] = []


class OutlineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str
