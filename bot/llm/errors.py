"""Failures of the LLM endpoint as Chinese messages that say what to check."""

from __future__ import annotations

import httpx
import openai

from core.settings import Settings

# What the OpenAI client raises for an unreachable, slow or failing endpoint.
CLIENT_ERRORS = (openai.OpenAIError, httpx.HTTPError)


class LLMError(Exception):
    """The LLM endpoint could not be used; str(e) is a Chinese message saying what to check."""


def explain(error: Exception, settings: Settings) -> LLMError:
    """A Chinese LLMError for an exception raised by the OpenAI client."""
    url, model = settings.llm.base_url, settings.llm.model
    where = f"请检查 DONGXUN_LLM_BASE_URL（当前为 {url}）"
    if isinstance(error, openai.APITimeoutError):
        msg = (
            f"大模型服务在 {settings.llm.timeout:g} 秒内没有响应。{where}是否正确、服务是否过载；"
            "也可以调大 DONGXUN_LLM_TIMEOUT，或改用 DONGXUN_MODE=extractive。"
        )
    elif isinstance(error, openai.APIConnectionError):
        msg = (
            f"无法连接大模型服务。{where}是否正确、服务是否已启动（例如 ollama serve）；"
            "也可以改用 DONGXUN_MODE=extractive 不使用大模型。"
        )
    elif isinstance(error, openai.AuthenticationError) or isinstance(error, openai.PermissionDeniedError):
        msg = f"大模型服务拒绝了访问（HTTP {error.status_code}）。请检查 DONGXUN_LLM_API_KEY 是否正确。"
    elif isinstance(error, openai.NotFoundError):
        msg = (
            f"大模型服务找不到模型“{model}”或接口地址（HTTP 404）。请检查 DONGXUN_LLM_MODEL 是否为服务上已有的模型名，"
            f"以及 DONGXUN_LLM_BASE_URL（当前为 {url}）是否以 /v1 结尾。"
        )
    elif isinstance(error, openai.RateLimitError):
        msg = "大模型服务请求过多（HTTP 429），请稍后再试。"
    elif isinstance(error, openai.APIStatusError):
        msg = (
            f"大模型服务返回错误（HTTP {error.status_code}）。{where}、DONGXUN_LLM_MODEL（当前为 {model}）"
            "是否正确，并查看模型服务的日志。"
        )
    else:
        msg = f"调用大模型时出错（{type(error).__name__}）。{where}与 DONGXUN_LLM_MODEL（当前为 {model}）。"
    return LLMError(msg)
