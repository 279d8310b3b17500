"""Running command-line tools as real subprocesses in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def finish(procs: dict[str, subprocess.Popen], timeout: float) -> dict[str, subprocess.CompletedProcess]:
    """Wait for every process (each at most `timeout` seconds); kill any left running so none outlives the test."""
    out = {}
    try:
        for name, p in procs.items():
            stdout, stderr = p.communicate(timeout=timeout)
            out[name] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    finally:
        for p in procs.values():  # only on a timeout: leave no process of ours behind
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


def python_probe(code: str, *args: str, timeout: float) -> Any:
    """Run code in a fresh interpreter at the repository root (as an entry point starts) and return the JSON value
    its last output line holds; a failing probe fails the test with its output."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
