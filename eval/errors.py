"""The evaluation's one error type."""

from __future__ import annotations


class EvalError(RuntimeError):
    """An evaluation that cannot run; str(e) is a Chinese message saying what to do."""
