"""Processes the benchmark starts and stops itself, on 127.0.0.1 only: a `chroma run` server and the web app.

Each is a real subprocess in its own process group, waited for with a bounded timeout and always stopped
(terminate, then kill) by the context manager that started it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

from eval.dataset import REPO_ROOT

LOOPBACK = "127.0.0.1"
CHROMA_HEARTBEAT = "/api/v2/heartbeat"
POLL_SECONDS = 0.2
STOP_SECONDS = 10.0
CHROMA_START_SECONDS = 60.0
APP_START_SECONDS = 300.0
HTTP_TIMEOUT = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = 1024  # /proc/PID/status reports kB


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def chroma_binary() -> str:
    """The `chroma` command installed beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else "chroma"


def http_ok(url: str, timeout: float = HTTP_TIMEOUT) -> bool:
    """True when GET url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # loopback only: the caller builds the URL
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Process:
    """A started subprocess, its URL and log file."""

    popen: subprocess.Popen
    url: str
    log: Path
    started: float  # time.perf_counter() when it was started

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the process has used so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def peak_rss_mb(self) -> Optional[float]:
        """The process's peak resident memory so far (VmHWM), in MB; None once it is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * PAGE_KIB / 1e6
        except OSError:
            return None
        return None

    def tail(self, chars: int = 2000) -> str:
        """The end of the process's log, for error messages."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def _start(cmd: list[str], log: Path, env: Optional[Mapping[str, str]], url: str) -> Process:
    log.parent.mkdir(parents=True, exist_ok=True)
    out: IO[bytes] = open(log, "wb")  # noqa: SIM115  # closed by the child's exit; the handle is inherited
    started = time.perf_counter()
    popen = subprocess.Popen(
        cmd,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
        start_new_session=True,  # its own process group, so stopping it stops its children too
    )
    out.close()
    return Process(popen, url, log, started)


def stop(proc: Process, timeout: float = STOP_SECONDS) -> None:
    """Terminate the process group, then kill it if it is still there after `timeout` seconds."""
    if proc.popen.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def wait_until(proc: Process, ready_url: str, timeout: float) -> float:
    """Seconds from the start until GET ready_url answers; RuntimeError when the process dies or time runs out."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"process exited with {proc.popen.returncode}:\n{proc.tail()}")
        if http_ok(ready_url):
            return time.perf_counter() - proc.started
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"not ready after {timeout:.0f} s:\n{proc.tail()}")


@contextmanager
def chroma_server(path: Path, log: Path, *, port: Optional[int] = None) -> Iterator[Process]:
    """`chroma run --path PATH` on 127.0.0.1 (a free port unless given), ready; stopped on exit."""
    port = port or free_port()
    cmd = [chroma_binary(), "run", "--path", str(path), "--host", LOOPBACK, "--port", str(port)]
    proc = _start(cmd, log, None, f"http://{LOOPBACK}:{port}")
    try:
        wait_until(proc, proc.url + CHROMA_HEARTBEAT, CHROMA_START_SECONDS)
        yield proc
    finally:
        stop(proc)


def app_command(kb_dir: Path, port: int, *, derived: bool = False) -> list[str]:
    """The web app's command line, as the README starts it; with derived, the same server over a knowledge
    base of derived vectors (eval.bench.app)."""
    if derived:
        return [sys.executable, "-m", "eval.bench.app", "--port", str(port), "--kb", str(kb_dir)]
    return [sys.executable, "-m", "bot.app", "--host", LOOPBACK, "--port", str(port), "--kb", str(kb_dir)]


@contextmanager
def web_app(
    kb_dir: Path,
    log: Path,
    *,
    env: Optional[Mapping[str, str]] = None,
    port: Optional[int] = None,
    derived: bool = False,
) -> Iterator[Process]:
    """`python -m bot.app --kb DIR` on 127.0.0.1 (eval.bench.app when the vectors are derived), started (not
    yet waited for); stopped on exit."""
    port = port or free_port()
    proc = _start(app_command(kb_dir, port, derived=derived), log, env, f"http://{LOOPBACK}:{port}/")
    try:
        yield proc
    finally:
        stop(proc)


def run_step(step: str, spec: dict, out_dir: Path, *, timeout: float) -> dict:
    """Run one measurement in a fresh Python process (`python -m eval.bench.worker`); its JSON result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / f"{step}.spec.json"
    result_file = out_dir / f"{step}.result.json"
    spec_file.write_text(json.dumps(spec, ensure_ascii=False, default=str), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "eval.bench.worker", step, str(spec_file), str(result_file)]
    with open(out_dir / f"{step}.log", "wb") as log:
        done = subprocess.run(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if done.returncode != 0 or not result_file.exists():
        tail = (out_dir / f"{step}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"benchmark step {step} failed ({done.returncode}):\n{tail}")
    return json.loads(result_file.read_text(encoding="utf-8"))
