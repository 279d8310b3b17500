"""The web page: server (FastAPI app, Gradio mounted), headers (CSP and co.), limits (request size, uploads),
layout (the Blocks and their events), handlers (ask, outline, export), conversations and history (the
conversation list kept in the browser), feedback and feedback_log (👍/👎 per answer), admin (+ throttle),
session (what a session keeps), render (HTML), messages (Chinese), static/."""
