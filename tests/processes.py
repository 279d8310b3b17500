"""Running command-line tools as real subprocesses in tests."""

from __future__ import annotations

import subprocess


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
