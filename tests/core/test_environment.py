"""core.environment: the variables are set before the libraries that read them load, and they still read them."""

from __future__ import annotations

import pytest

from tests.processes import python_probe

IMPORT_SECONDS = 120  # importing Gradio on a loaded machine

# A fresh interpreter, as an entry point starts: the environment first, then Gradio's queue.
PROBE = """
import json
import core.environment
import gradio as gr
with gr.Blocks() as blocks:
    gr.Textbox()
blocks.queue()
print(json.dumps({"every": blocks._queue.ANAYLTICS_CACHE_FREQUENCY, "kept": blocks._queue.ANALYTICS_MAX_EVENTS}))
"""


@pytest.mark.integration
def test_gradios_queue_recomputes_its_monitoring_summary_rarely_over_few_events():
    from core.environment import GRADIO_MONITORING_EVENTS

    queue = python_probe(PROBE, timeout=IMPORT_SECONDS)
    assert queue == {"every": int(GRADIO_MONITORING_EVENTS), "kept": int(GRADIO_MONITORING_EVENTS)}
