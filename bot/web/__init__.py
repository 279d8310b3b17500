"""The web page: server (FastAPI app, Gradio mounted), headers (CSP and co.), limits (request size, uploads),
layout (the Blocks and their events), handlers, admin (+ throttle), session (what a session keeps),
feedback_log, render (HTML), messages (Chinese), static/."""
