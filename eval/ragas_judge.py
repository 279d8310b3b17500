"""Optional ragas metrics (faithfulness, context recall) with the configured LLM as judge; skipped offline, with the reason."""

from __future__ import annotations

from collections.abc import Sequence

from core.settings import Settings


def ragas_status(settings: Settings) -> dict:
    """Whether ragas faithfulness/context_recall can run (needs an LLM judge and the ragas package), and why not."""
    if not settings.llm.base_url:
        return {
            "enabled": False,
            "reason": "未配置 LLM 评审（DONGXUN_LLM_BASE_URL 未设置），离线运行时跳过 ragas 指标。",
        }
    try:
        import ragas  # noqa: F401
    except ImportError:
        return {"enabled": False, "reason": "未安装 ragas，跳过 ragas 指标；如需计算请安装 ragas 并重新运行。"}
    return {"enabled": True, "reason": ""}


def run_ragas(rows: Sequence[dict], settings: Settings) -> dict:
    """ragas faithfulness and context_recall with the configured LLM as judge; skipped (with the reason) offline."""
    status = ragas_status(settings)
    if not status["enabled"]:
        return status
    try:  # pragma: no cover - needs ragas and a live LLM endpoint
        from langchain_openai import ChatOpenAI
        from ragas import EvaluationDataset
        from ragas import evaluate as ragas_evaluate
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import Faithfulness, LLMContextRecall

        samples = [
            {
                "user_input": r["question"],
                "response": r["answer"],
                "retrieved_contexts": [c["text"] for c in r["contexts"]],
                "reference": r["reference_answer"],
            }
            for r in rows
            if r["answerable"] and r["reference_answer"] and not r["error"]
        ]
        judge = LangchainLLMWrapper(
            ChatOpenAI(
                base_url=settings.llm.base_url,
                api_key=settings.llm.api_key,
                model=settings.llm.model,
                temperature=0,
                timeout=settings.llm.timeout,
            )
        )
        scores = ragas_evaluate(
            EvaluationDataset.from_list(samples), metrics=[Faithfulness(), LLMContextRecall()], llm=judge
        ).to_pandas()
        return {
            "enabled": True,
            "reason": "",
            "items": len(samples),
            "faithfulness": float(scores["faithfulness"].mean()),
            "context_recall": float(scores["context_recall"].mean()),
        }
    except Exception as e:  # pragma: no cover
        return {"enabled": False, "reason": f"ragas 运行失败（{type(e).__name__}: {e}），已跳过。"}
