"""The web server: one FastAPI app on one port, with the Gradio page mounted at its root.

`create_server(settings, assistant)` returns the FastAPI app (its Blocks at `app.state.blocks`); `serve`
runs it with uvicorn on settings.web.host/port. Every response carries the security headers
(bot.web.headers) and every request passes the limits (bot.web.limits); the page's HTML is rendered once per
kind of request (bot.web.page_cache). Routes of our own (the page's
script, the HTTP API of bot.web.api over the page's Assistant) are added to this app before the page is
mounted: the page, mounted at "/", would answer every path after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.pipeline import Assistant
from bot.web import gradio_patches, messages
from bot.web.admin import admin_token
from bot.web.api import api_body_limit, install_api
from bot.web.handlers import EXPORT_ROOT
from bot.web.headers import SecurityHeaders
from bot.web.layout import DongxunApp, build_app, theme
from bot.web.limits import KB, MB, RequestLimits
from bot.web.page_cache import PageCache, PageStore
from core.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
STYLESHEET = STATIC / "app.css"
STATIC_ROUTE = "/web-static"  # our own static files (the footnote script)
# Loaded as a file, not inline, so the Content-Security-Policy needs no 'unsafe-inline' for it. Relative,
# so it resolves under root_path behind a proxy.
SCRIPT_TAG = f'<script src="{STATIC_ROUTE.lstrip("/")}/app.js"></script>'
LOG_LEVEL = "warning"  # uvicorn's own log; our start-up line and warnings go through `logging`


def pending_uploads(blocks: gr.Blocks) -> tuple[int, int]:
    """Bytes and number of files Gradio has received as uploads and not yet deleted."""
    size = files = 0
    for name in list(blocks.upload_file_set):
        try:
            size += Path(name).stat().st_size
            files += 1
        except OSError:
            continue  # already handled and deleted
    return size, files


def mount_options(settings: Settings) -> dict[str, Any]:
    """How the page is mounted: upload limit, proxy prefix, look and script, what may be downloaded."""
    return {
        "server_name": settings.web.host,
        "server_port": settings.web.port,
        "root_path": settings.web.root_path or None,
        "max_file_size": settings.web.max_upload_mb * MB,
        "theme": theme(),
        "css_paths": [STYLESHEET],
        "head": SCRIPT_TAG,
        "ssr_mode": False,
        "show_error": False,
        "allowed_paths": [str(EXPORT_ROOT)],
    }


def create_server(
    settings: Settings, assistant: Optional[Assistant] = None, *, blocks: Optional[DongxunApp] = None
) -> FastAPI:
    """The FastAPI app serving the page (built from the settings and assistant unless `blocks` is given)."""
    gradio_patches.install()  # the entry points did, before Gradio loaded; a server built in a test is patched here
    blocks = blocks if blocks is not None else build_app(settings, assistant)
    blocks.state_session_capacity = settings.web.max_sessions  # oldest sessions' state is dropped beyond it
    app = FastAPI(title=messages.TITLE, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.blocks = blocks
    app.mount(STATIC_ROUTE, StaticFiles(directory=STATIC), name="web-static")
    install_api(app, settings, blocks.handlers.assistant)
    # Added before mounting: middleware wraps the whole app, the mounted page included; the last added is outermost.
    app.state.page_store = PageStore()
    app.add_middleware(PageCache, store=app.state.page_store, enabled=lambda: blocks.auth is None)
    app.add_middleware(
        RequestLimits,
        max_body=settings.web.max_request_kb * KB,
        upload_quota=settings.web.upload_quota_mb * MB,
        uploads_enabled=admin_token(settings) is not None,
        pending=lambda: pending_uploads(blocks),
        path_limits=[api_body_limit(settings)],
    )
    app.add_middleware(SecurityHeaders)  # outermost, so refusals carry the headers too
    return gr.mount_gradio_app(app, blocks, path="/", **mount_options(settings))


def serve(settings: Settings, assistant: Optional[Assistant] = None) -> None:
    """Serve the page on settings.web.host:port until interrupted."""
    uvicorn.run(create_server(settings, assistant), host=settings.web.host, port=settings.web.port, log_level=LOG_LEVEL)
