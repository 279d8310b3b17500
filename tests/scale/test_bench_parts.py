"""The benchmark's pure parts: deterministic corpora, derived vectors, stage bookkeeping and the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.bench import corpus, querying, report
from eval.bench.vectors import DerivedEmbeddings, copy_cosines, unit

pytestmark = pytest.mark.unit

TEXT = "云岭县2024年开展宣讲215场，松林镇吸引2.6万人次观看。\n1. 第一项要求\n2. 第二项要求"


class TestVary:
    def test_copy_zero_is_the_text(self):
        assert corpus.vary(TEXT, 0) == TEXT

    def test_a_copy_shifts_numbers_and_renames_places_but_keeps_list_numbering(self):
        copy = corpus.vary(TEXT, 3)
        assert "2027年" in copy and "218场" in copy
        assert "云岭" not in copy and "松林" not in copy
        assert "\n1. 第一项要求\n2. 第二项要求" in copy

    def test_copies_differ_from_each_other_and_are_deterministic(self):
        copies = [corpus.vary(TEXT, v) for v in range(1, 30)]
        assert len(set(copies)) == len(copies)
        assert copies == [corpus.vary(TEXT, v) for v in range(1, 30)]

    def test_every_copy_has_the_same_skeleton(self):
        assert {corpus.skeleton(corpus.vary(TEXT, v)) for v in range(0, 50)} == {corpus.skeleton(TEXT)}

    @pytest.mark.parametrize("stem", corpus.PLACE_STEMS)
    def test_a_place_is_never_renamed_to_itself(self, stem):
        assert all(corpus.place_name(stem, v) != stem for v in range(1, 500))


def test_a_corpus_reaches_its_target_and_is_the_same_every_time(tmp_path):
    materials = corpus.load_materials([corpus.MATERIAL_DIRS[0]])
    first = corpus.build_corpus(tmp_path / "a", materials, 100)
    again = corpus.build_corpus(tmp_path / "b", materials, 100)
    assert first.chunks >= 100 and first.chunks - materials[0].chunks < 100
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in again.files]
    assert first.files[0].read_bytes() == materials[0].path.read_bytes()  # copy 0 is the file itself
    assert len({p.name for p in first.files}) == first.documents


def test_small_documents_are_many_short_distinct_files(tmp_path):
    materials = corpus.load_materials([corpus.MATERIAL_DIRS[1]])
    small = corpus.build_small_documents(tmp_path / "s", materials, 40)
    assert small.documents == 40
    texts = [p.read_text(encoding="utf-8") for p in small.files]
    assert len(set(texts)) == 40 and max(map(len, texts)) < 1000


class TestDerivedEmbeddings:
    @pytest.fixture
    def pool(self):
        rng = np.random.default_rng(0)
        texts = [corpus.vary(TEXT, 0), "冬训工作要坚持正确方向。", "理论宣讲进村入户。"]
        vectors = np.stack([unit(rng.standard_normal(8)) for _ in texts])
        return texts, vectors

    def test_a_pool_text_gets_its_real_vector(self, pool):
        texts, vectors = pool
        derived = DerivedEmbeddings(texts, vectors, query_model=None)
        assert np.allclose(derived.embed_documents([texts[1]])[0], vectors[1])
        assert derived.real == 1 and derived.derived == 0

    def test_a_copy_gets_a_unit_vector_close_to_its_source_and_always_the_same(self, pool):
        texts, vectors = pool
        derived = DerivedEmbeddings(texts, vectors, query_model=None)
        copy = corpus.vary(TEXT, 5)
        v = np.asarray(derived.embed_documents([copy])[0])
        assert abs(np.linalg.norm(v) - 1) < 1e-5
        assert float(v @ vectors[0]) > 0.98
        assert np.array_equal(v, derived.embed_documents([copy])[0])
        other = np.asarray(derived.embed_documents([corpus.vary(TEXT, 6)])[0])
        assert not np.array_equal(v, other)

    def test_an_unknown_text_still_gets_a_unit_vector(self, pool):
        texts, vectors = pool
        derived = DerivedEmbeddings(texts, vectors, query_model=None)
        v = np.asarray(derived.embed_documents(["完全无关的一句话"])[0])
        assert abs(np.linalg.norm(v) - 1) < 1e-5

    def test_copy_cosines_pair_the_same_chunk_in_two_copies(self, pool):
        texts, vectors = pool
        texts = texts + [corpus.vary(texts[0], 2)]
        vectors = np.vstack([vectors, vectors[0]])
        assert copy_cosines(texts, vectors) == [pytest.approx(1.0)]


class TestStages:
    def test_retrieval_is_split_and_the_rest_is_rerank(self):
        timings = {"rewrite": 1.0, "retrieve": 50.0, "answer": 7.0, "verify": 1.0, "total": 60.0}
        clocked = {"embed": 20.0, "dense": 5.0, "bm25": 3.0, "fusion": 0.5}
        stages = querying.stages_of(timings, clocked)
        assert "retrieve" not in stages
        assert stages["rerank"] == pytest.approx(21.5)
        assert stages["answer"] == 7.0 and stages["embed"] == 20.0

    def test_summaries_keep_the_stage_order_and_unknown_stages(self):
        rows = [{"total": float(i), "embed": 1.0, "llm": 2.0} for i in range(1, 101)]
        summary = querying.summarise(rows)
        assert list(summary)[:2] == ["embed", "total"] and "llm" in summary
        assert summary["total"]["p50"] == pytest.approx(50.5, abs=1)
        assert summary["total"]["p95"] == pytest.approx(95, abs=1.5)

    def test_dense_recall_is_the_share_of_the_exact_top_k_the_index_returns_by_chunk_and_by_source(self):
        class Collection:
            vectors = {"a": [1.0, 0.0], "b": [0.9, 0.1], "c": [0.0, 1.0], "d": [-1.0, 0.0]}
            # "b" is a copy of "a" (the same text but its number); "c" and "d" are other texts
            documents = {"a": "会议在12号召开", "b": "会议在13号召开", "c": "学习强国", "d": "三会一课"}
            returned = ["a", "c"]  # an approximate index that missed "b"

            def count(self):
                return len(self.vectors)

            def get(self, include, limit, offset):
                assert sorted(include) == ["documents", "embeddings"]
                ids = list(self.vectors)[offset : offset + limit]
                return {
                    "ids": ids,
                    "embeddings": [self.vectors[i] for i in ids],
                    "documents": [self.documents[i] for i in ids],
                }

            def query(self, query_embeddings, n_results, include):
                assert n_results == 2 and list(query_embeddings[0]) == [1.0, 0.0]
                return {"ids": [self.returned]}

        class Embeddings:
            def embed_query(self, text):
                return [1.0, 0.0]

        class Kb:
            collection, embeddings, batch = Collection(), Embeddings(), 3  # two reads of the vectors

        got = querying.dense_recall(Kb(), ["问题一", "问题二"], 2)
        # the exact top 2 are a and b: one of them returned, and a copy of their one source text
        assert got == {"chunks": pytest.approx(0.5), "sources": pytest.approx(1.0)}
        Kb.collection.returned = ["c", "d"]  # nothing of that source
        assert querying.dense_recall(Kb(), ["问题一"], 2) == {"chunks": 0.0, "sources": 0.0}
        # without a copy structure (each text its own source) the two agree
        Kb.collection.returned = ["a", "c"]
        assert querying.dense_recall(Kb(), ["问题一"], 2, source_of=lambda t: t) == {"chunks": 0.5, "sources": 0.5}
        assert querying.dense_recall(Kb(), [], 2) is None


def _results() -> dict:
    stages = {"total": {"p50": 40.0, "p95": 90.0, "mean": 50.0}, "embed": {"p50": 20.0, "p95": 30.0, "mean": 21.0}}
    ingest = {"chars": 1000, "chunks": 10, "ingest_s": 1.0, "chars_per_s": 1000.0, "model_s": 0.8, "other_s": 0.2}
    return {
        "machine": {"started": "now", "cpus": 2, "load_average": [1.0, 1.0, 1.0], "versions": {"python": "3.11"}},
        "options": {"real_copies": 1},
        "materials": {"files": 1, "chars": 1000, "chunks": 10, "folders": ["knowledge"]},
        "ingest": {"corpus": {"documents": 1, "chars": 1000}, "ours": ingest, "naive": ingest | {"chars_per_s": 800.0}},
        "compare": {"ours": {"stages": stages, "hit@5": 0.9}, "naive": {"p50_ms": 20.0, "p95_ms": 30.0, "hit@5": 0.6}},
    }


def test_ratios_put_ours_over_naive():
    r = report.ratios(_results())
    assert r["ingest_chars_per_s"] == pytest.approx(1.25)
    assert r["query_p50"] == pytest.approx(2.0)
    assert r["hit@5"] == pytest.approx(1.5)


def test_the_markdown_names_every_measured_part(tmp_path):
    results = _results()
    results["ratios"] = report.ratios(results)
    written = report.write(tmp_path, results)
    md = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "入库速度" in md and "朴素 langchain" in md and "1.25×" in md
    assert (tmp_path / "ingest_speed.png").read_bytes()[:4] == b"\x89PNG"
    assert tmp_path / "bench.md" in written


def test_every_table_row_has_one_cell_per_header():
    results = _results()
    rounds = [{"clients": c, "answers": 10, "errors": 0, "wall_s": 1.0, "answers_per_s": 10.0, "p50_ms": 1.0,
               "p95_ms": 2.0, "app_cpu_ms_per_answer": 50.0, "client_cpu_ms_per_answer": 3.0,
               "app_peak_rss_mb": 400.0} for c in (1, 8)]  # fmt: skip
    results["throughput"] = {"size": 10, "rounds": rounds + [rounds[0] | {"driver": "gradio_client"}]}
    build = {"documents": 2, "chunks": 20, "chars": 900, "real_vectors": 10, "derived_vectors": 10, "ingest_s": 1.0,
             "other_chars_per_s": 900.0, "noop_s": 0.1, "noop_documents": 2, "peak_rss_mb": 300.0, "disk_mb": 1.0}  # fmt: skip
    query = {"chunks": 20, "open_s": 0.5, "bm25_rebuild_s": 0.1, "first_answer_s": 1.0, "cpu_ms_per_answer": 40.0,
             "peak_rss_mb": 300.0, "hit@5": 0.5, "hit@5_items": 4, "stages": _results()["compare"]["ours"]["stages"]}  # fmt: skip
    results["sizes"] = {
        "20": {"build": build, "embedded": query, "server": query, "seconds": 9.0},
        "99": {"error": "x"},
    }
    results["noop"] = {"documents": 2, "chunks": 2, "seconds": 0.1, "ms_per_document": 50.0, "skipped": 2, "added": 0,
                       "first_s": 0.2, "first_ms_per_document": 100.0}  # fmt: skip
    results["ratios"] = report.ratios(results)
    tables = (report.scale_table, report.query_table, report.open_table, report.noop_table)
    for table in (report.ingest_table, report.compare_table, report.throughput_table, *tables):
        headers, rows = table(results)
        assert rows and all(len(row) == len(headers) for row in rows), table.__name__


def test_an_api_client_carries_its_conversation_and_reports_failures():
    import httpx

    from eval.bench.throughput import ApiSession

    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if body["question"] == "坏":
            return httpx.Response(400, json={"error": "不行"})
        return httpx.Response(200, json={"answer": "答" + body["question"], "citations": [], "refused": False})

    session = ApiSession("http://app/", http=httpx.Client(transport=httpx.MockTransport(answer)))
    session.ask("一")
    session.ask("二")
    assert seen[1]["history"] == [{"question": "一", "answer": "答一"}]
    session.new_visitor()
    session.ask("三")
    assert seen[2]["history"] == []
    with pytest.raises(RuntimeError, match="400"):
        session.ask("坏")
    session.close()


def test_api_first_token_waits_for_content_and_the_report_shows_it(tmp_path):
    import httpx

    from eval.bench.throughput import api_first_token

    chunks = [
        {"choices": [{"delta": {"role": "assistant"}}]},
        {"choices": [{"delta": {"content": "冬训"}}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    ]
    sse = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, text=sse)))
    assert api_first_token("http://app/", "问", http) >= 0
    empty = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="data: [DONE]\n\n")))
    with pytest.raises(RuntimeError):
        api_first_token("http://app/", "问", empty)

    results = _results()
    results["first_token"] = {
        "questions": 3,
        "api_p50_ms": 61.0,
        "api_p95_ms": 90.0,
        "page_p50_ms": 120.0,
        "page_p95_ms": 150.0,
        "size": 10,
    }
    report.write(tmp_path, results)
    md = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "首字时间" in md and "| 61 | 90 |" in md


def test_the_page_first_token_skips_the_placeholder():
    from eval.bench.throughput import PLACEHOLDER_MARK

    placeholder = {
        "msg": "process_generating",
        "output": {"data": [{"text": '<span class="thinking">正在查找资料……</span>'}]},
    }
    answer = {"msg": "process_generating", "output": {"data": [[["replace", [1], "开展了215场"]]]}}
    assert PLACEHOLDER_MARK in json.dumps(placeholder["output"], ensure_ascii=False)
    assert PLACEHOLDER_MARK not in json.dumps(answer["output"], ensure_ascii=False)


def test_a_page_client_sends_what_a_browser_sends():
    """Gradio leaves `.then` events and the page's load events to the browser: the benchmark's page client sends
    them as the page does (server events only, in order, chains followed), so an answer and a visit cost the app
    what a browser's cost."""
    import httpx

    from eval.bench.throughput import Endpoint, HttpSession, chained

    deps = [
        (0, {"api_name": "restore", "inputs": [1, 2], "targets": [[0, "load"]]}),  # run when the page loads
        (1, {"api_name": None, "inputs": [], "targets": [[0, "load"]], "backend_fn": False}),  # script only
        (2, {"api_name": "rename", "inputs": [1], "targets": [[5, "submit"]]}),
        (3, {"api_name": "ask", "inputs": [1, 2]}),
        (4, {"api_name": None, "inputs": [1, 2, 3], "trigger_after": 3}),  # save, after the answer
        (5, {"api_name": None, "inputs": [], "trigger_after": 4, "backend_fn": False}),  # script only
        (6, {"api_name": None, "inputs": [1], "trigger_after": 5}),  # after the script one
        (7, {"api_name": None, "inputs": [1], "trigger_after": 3, "trigger_only_on_failure": True}),
    ]
    assert chained(deps, 3) == ((4, 3), (6, 1))
    config = {"api_prefix": "/gradio_api", "dependencies": [{"id": i, **d} for i, d in deps]}
    joined: list[dict] = []

    pages: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/config":
            return httpx.Response(200, json=config)
        if request.url.path == "/":
            pages.append(request.method)
            return httpx.Response(200, text="<html>the page</html>")
        if request.url.path.endswith("/queue/join"):
            joined.append(json.loads(request.content))
            return httpx.Response(200, json={"event_id": "e"})
        done = {"msg": "process_completed", "success": True, "output": {"data": [f"out{joined[-1]['fn_index']}"]}}
        return httpx.Response(200, text=f"data: {json.dumps(done)}\n\n")

    transport = httpx.MockTransport(serve)
    with httpx.Client(transport=transport) as http:
        endpoint = Endpoint.find("http://app/", http=http)
    assert endpoint.then == ((4, 3), (6, 1)) and endpoint.on_load == ((0, 2),)
    session = HttpSession(endpoint)
    session.http = httpx.Client(transport=transport)
    assert session.ask("问") == ["out3"]  # the answer's outputs
    assert [j["fn_index"] for j in joined] == [3, 4, 6]
    assert [j["data"] for j in joined] == [["问", None], [None, None, None], [None]]
    assert len({j["session_hash"] for j in joined}) == 1  # one visitor
    session.new_visitor()  # a new visitor opens the page: the page itself, then its load events, in a new session
    assert pages == ["GET"] and joined[-1]["fn_index"] == 0 and joined[-1]["data"] == [None, None]
    assert joined[-1]["session_hash"] != joined[0]["session_hash"]
    session.close()
