"""The web page's entry point: `python -m bot.app [--host H] [--port P] [--kb DIR]` (or `make run`).

Reads the settings (flags override them), ingests the knowledge folder when the knowledge base is
empty, and serves the page with uvicorn on one port: `bot.web.server` mounts the Gradio page on a
FastAPI app with the security headers and request limits.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

from pydantic_settings import BaseSettings

import core.environment  # noqa: F401  # before gradio and the models: no telemetry, no hub look-ups
from bot.web import messages
from core.settings import Settings, SettingsError, StoreSettings, WebSettings, env_name

USAGE_ERROR = 2  # exit status for a bad flag or setting, as argparse uses


class _ChineseHelp(argparse.HelpFormatter):
    def add_usage(self, usage: Optional[str], actions: Any, groups: Any, prefix: Optional[str] = None) -> None:
        super().add_usage(usage, actions, groups, prefix if prefix is not None else "用法：")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}：参数错误：{message}\n")


def _configured(group: type[BaseSettings], field: str) -> str:
    """Help text naming where a flag's value comes from when it is left out."""
    return f"默认取配置 {env_name(group, field)}，未配置时为 {group.model_fields[field].default}"


def parser() -> argparse.ArgumentParser:
    """The command line; a flag left out keeps the value from the settings (DONGXUN_* variables, .env)."""
    p = _Parser(
        prog="python -m bot.app",
        description=messages.CLI_DESCRIPTION.format(
            knowledge=_configured(StoreSettings, "knowledge_dir"), title=messages.TITLE
        ),
        formatter_class=_ChineseHelp,
        add_help=False,
    )
    options = p.add_argument_group("选项")
    options.add_argument("-h", "--help", action="help", help="显示本帮助并退出（不启动网页）")
    options.add_argument(
        "--host", help=f"监听地址（{_configured(WebSettings, 'host')}；设为 0.0.0.0 时局域网内的其他电脑也能访问）"
    )
    options.add_argument("--port", help=f"端口（{_configured(WebSettings, 'port')}）")
    options.add_argument("--kb", type=Path, metavar="DIR", help=f"知识库目录（{_configured(StoreSettings, 'kb_dir')}）")
    return p


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings with the flags given on the command line applied; SettingsError (Chinese) when out of range."""
    flags = {"host": args.host, "port": args.port, "kb_dir": args.kb}
    return Settings.load(**{name: value for name, value in flags.items() if value is not None})


def main(argv: Optional[list[str]] = None) -> int:
    """Serve the page; ingest the knowledge folder first when the knowledge base is empty."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except SettingsError as e:  # flags are checked with the settings, so the message names the range
        print(e, file=sys.stderr)
        return USAGE_ERROR
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio polls itself at start-up

    # Imported here, not at the top, so that --help and a bad flag answer at once without loading Gradio or the models.
    from bot.web import gradio_patches
    from core import grammar

    gradio_patches.install()  # before anything imports Gradio
    grammar.load_dictionary(settings.store.kb_dir)  # now, in 0.3 s, rather than 0.9 s in the first answer
    from bot.pipeline import Assistant
    from bot.web.server import serve
    from ingest.admin import reindex
    from ingest.errors import KnowledgeBaseError
    from ingest.index import KnowledgeBase

    try:
        kb = KnowledgeBase(settings)
        if not kb.documents():
            print(messages.FIRST_RUN_INGEST.format(folder=settings.store.knowledge_dir), file=sys.stderr)
            report = reindex(kb, settings, progress=True)
            print(report.summary(), file=sys.stderr)
            for source, message in report.errors:
                print(f"  {source}：{message}", file=sys.stderr)
    except KnowledgeBaseError as e:  # Chroma server down, another embedder, the store in another process's use
        print(e, file=sys.stderr)
        return USAGE_ERROR
    assistant = Assistant(settings, kb=kb)
    url = f"http://{settings.web.host}:{settings.web.port}{settings.web.root_path or ''}/"
    print(messages.STARTED.format(title=messages.TITLE, url=url), file=sys.stderr)
    serve(settings, assistant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
