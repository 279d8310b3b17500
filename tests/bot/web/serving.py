"""Serve the page for a test as `python -m bot.app` does (bot.web.server on uvicorn), in a thread on a free port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Optional

import uvicorn
from fastapi import FastAPI

from bot.pipeline import Assistant
from bot.web.layout import DongxunApp
from bot.web.server import create_server
from core.settings import Settings

START_SECONDS = 30
STOP_SECONDS = 10
POLL_SECONDS = 0.01


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    """A running server: its URL (with a trailing slash), the FastAPI app and the page's Blocks."""

    url: str
    app: FastAPI
    blocks: DongxunApp
    server: uvicorn.Server
    thread: threading.Thread

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=STOP_SECONDS)


def serve_app(settings: Settings, assistant: Assistant, *, port: Optional[int] = None) -> Served:
    """Start the page's server over `assistant`; close() stops it."""
    app = create_server(settings, assistant)
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not start on port {port}")
        time.sleep(POLL_SECONDS)
    return Served(f"http://127.0.0.1:{port}/", app, app.state.blocks, server, thread)
