"""The committed weights load and rank; a retrain on a small slice runs in seconds (bot/answering/model.py, train.py)."""

import json
from collections import Counter

import numpy as np
import pytest
from langchain_core.documents import Document

from bot.answering.features import CANDIDATE_FEATURES
from bot.answering.model import (
    CASCADE,
    GATE_INPUTS,
    LEARNED,
    RULE_VERDICT,
    RULES,
    RUNNER_UP_SHARE,
    UNION,
    WEIGHTS_FILE,
    AnswerModel,
    ShownRule,
)
from bot.answering.train import (
    ANSWERABLE,
    CROSS_SUFFIX,
    HARD,
    REMOVED,
    SWAPPED,
    Example,
    GateData,
    cascade_from,
    choose_answer_above,
    choose_threshold,
    decider_threshold,
    featurize,
    fit,
    fold_probs,
    gate_data,
    genre_kb_dir,
    served_items,
    hash_fold,
    holds,
    load_cache,
    open_dev_kb,
    operating_points,
    out_of_fold,
    save_cache,
    swap_word,
    tune,
    with_shown_checks,
)

# Unit tests, but for the four that train a model (seconds of CPU), which are integration tests.


class Stats:
    n_docs = 200
    df = Counter({"补贴": 3, "冬训": 40, "学员": 10, "宣讲": 20, "党费": 4, "会议": 30})


def _doc(text, dense=0.9, i="a"):
    return Document(page_content=text, metadata={"id": i, "title": "冬训通知", "section": "", "dense": dense})


NUMBER_PASSAGE = (
    "冬训期间参训学员按规定享受误工补贴。误工补贴标准为每人每天80元，由街道统一发放。宣讲活动由区委宣传部负责组织。"
)


@pytest.mark.unit
def test_committed_weights_load_with_provenance():
    model = AnswerModel.load()
    meta = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["meta"]
    assert meta["command"].startswith("python -m bot.answering.train")
    assert "CMRC" in meta["data"]
    assert 0.0 < model.threshold < 1.0


@pytest.mark.unit
def test_committed_weights_prefer_the_sentence_holding_the_asked_number():
    model = AnswerModel.load()
    d = model.decide("误工补贴每天发多少钱？", [(_doc(NUMBER_PASSAGE), 1.0)], Stats())
    assert "80元" in d.shown[0].text
    texts = [c.text for c in d.candidates]
    holding = texts.index("误工补贴标准为每人每天80元，由街道统一发放。")
    lacking = texts.index("冬训期间参训学员按规定享受误工补贴。")
    assert d.probs[holding] > d.probs[lacking]


@pytest.mark.unit
def test_committed_gate_trusts_a_present_answer_more_than_an_unrelated_passage():
    model = AnswerModel.load()
    good = model.decide("误工补贴每天发多少钱？", [(_doc(NUMBER_PASSAGE), 1.0)], Stats())
    bad = model.decide(
        "误工补贴每天发多少钱？", [(_doc("党费按月缴纳。会议每季度召开一次。", dense=0.8), 1.0)], Stats()
    )
    assert good.answerable > bad.answerable


FACTS = [
    ("误工补贴每天多少钱？", "误工补贴标准为每人每天{n}元。", "{n}元"),
    ("冬训共举办多少场宣讲？", "全区共举办宣讲{n}场。", "{n}场"),
    ("参训学员有多少人？", "参训学员共{n}人。", "{n}人"),
    ("党费每月交多少？", "党员每月交纳党费{n}元。", "{n}元"),
]
FILLER = ["冬训工作由区委统一部署。", "各单位要高度重视。", "学习形式包括集中学习和自学。"]


def _slice(n=40):
    out = []
    for i in range(n):
        q, fact, ans = FACTS[i % len(FACTS)]
        num = str(10 + i)
        text = FILLER[i % 3] + fact.format(n=num) + FILLER[(i + 1) % 3]
        out.append(Example(f"q{i}", q, [(_doc(text), 1.0)], [ans.format(n=num)], ANSWERABLE))
        out.append(Example(f"q{i}", q, [(_doc("".join(FILLER), dense=0.8), 1.0)], [], HARD))
    return out


@pytest.mark.integration
def test_retrain_on_a_small_slice_is_loadable(tmp_path):
    model = fit(_slice(), Stats(), seed=0)
    path = tmp_path / "w.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    again = AnswerModel.load(path)
    d = again.decide("参训学员有多少人？", [(_doc("冬训工作由区委统一部署。参训学员共77人。"), 1.0)], Stats())
    assert "77人" in d.shown[0].text
    X = np.random.default_rng(0).random((5, len(model.selector.names)))
    np.testing.assert_allclose(again.selector.prob(X), model.selector.prob(X))


@pytest.mark.integration
def test_a_kept_selector_is_returned_and_the_gate_matrix_does_not_depend_on_it():
    examples = _slice(16)
    feats = [featurize(ex, Stats()) for ex in examples]
    kept = AnswerModel.load().selector
    given, with_kept = gate_data(examples, Stats(), feats, selector=kept)
    trained, own = gate_data(examples, Stats(), feats)
    assert given is kept and trained is not kept
    np.testing.assert_array_equal(with_kept.G, own.G)  # the gate reads cross-fitted selectors either way


def test_the_selector_of_weights_whose_gate_read_other_features_loads_alone(tmp_path):
    d = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    d["gate"]["names"] = d["gate"]["names"][:-1]  # a gate from before a question-level feature was added
    path = tmp_path / "w.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ValueError):
        AnswerModel.load(path)
    selector, rule = AnswerModel.load_selector(path)
    X = np.random.default_rng(0).random((5, len(CANDIDATE_FEATURES)))
    np.testing.assert_allclose(selector.prob(X), AnswerModel.load().selector.prob(X))
    assert rule == (d["length_cost"], d["second_within"], d["max_shown_chars"])
    d["selector"]["names"] = d["selector"]["names"][:-1]
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ValueError):
        AnswerModel.load_selector(path)


@pytest.mark.integration
def test_a_gate_only_retrain_keeps_the_shown_answer_rule_it_is_given():
    model = fit(_slice(16), Stats(), seed=0)
    kept = ShownRule(0.07, 0.2, 120)
    chosen, _ = tune(model, _slice(8), Stats(), kept=kept)
    assert (chosen["length_cost"], chosen["second_within"], chosen["max_shown_chars"]) == kept
    assert (model.length_cost, model.second_within, model.max_shown_chars) == kept
    searched, _ = tune(fit(_slice(16), Stats(), seed=0), _slice(8), Stats())
    assert (searched["length_cost"], searched["second_within"], searched["max_shown_chars"]) != kept


@pytest.mark.integration
def test_retrain_is_reproducible():
    a, b = fit(_slice(16), Stats(), seed=0), fit(_slice(16), Stats(), seed=0)
    assert a.gate.to_json() == b.gate.to_json()


@pytest.mark.integration
def test_a_genre_knowledge_base_holds_one_copy_of_the_corpus_whichever_checkout_trains(tmp_path):
    # The same files in two checkouts are two paths, hence two documents: training from a second checkout
    # used to add a second copy, and a question's top passages became copies of one passage.
    for checkout in ("one", "two"):
        folder = tmp_path / checkout / "knowledge"
        folder.mkdir(parents=True)
        (folder / "通知.txt").write_text(
            "冬训误工补贴标准为每人每天80元。\n宣讲活动由区委宣传部负责组织。", encoding="utf-8"
        )
    open_dev_kb(tmp_path / "kb", (tmp_path / "one" / "knowledge",))
    _, kb = open_dev_kb(tmp_path / "kb", (tmp_path / "two" / "knowledge",))
    docs = kb.documents()
    assert len(docs) == 1 and docs[0]["path"].startswith(str((tmp_path / "two").resolve()))
    hits = kb.bm25_search("误工补贴", 5)
    assert len(hits) == 1


@pytest.mark.unit
def test_the_served_knowledge_base_is_asked_what_it_can_answer_and_the_unanswerable(tmp_path):
    (tmp_path / "讲话.txt").write_text("去年开展宣讲215场。", encoding="utf-8")
    items = [
        {"id": "a", "answerable": True, "evidence": [{"source": "讲话.txt", "quote": "215场"}]},
        {"id": "b", "answerable": True, "evidence": [{"source": "通知.txt", "quote": "80元"}]},
        {"id": "c", "answerable": True, "evidence": [{"source": "讲话.txt"}, {"source": "通知.txt"}]},
        {"id": "d", "answerable": False, "evidence": []},
        {"id": "e", "answerable": True, "evidence": []},
    ]
    assert [it["id"] for it in served_items(items, (tmp_path,))] == ["a", "d"]


@pytest.mark.unit
def test_each_checkout_trains_on_a_genre_knowledge_base_of_its_own(tmp_path):
    one = genre_kb_dir(tmp_path, "dev", (tmp_path / "one" / "knowledge", tmp_path / "one" / "eval"))
    assert one == genre_kb_dir(tmp_path, "dev", (tmp_path / "one" / "knowledge", tmp_path / "one" / "eval"))
    assert one != genre_kb_dir(tmp_path, "dev", (tmp_path / "two" / "knowledge", tmp_path / "two" / "eval"))
    assert one.parent == tmp_path and one.name.startswith("dev-")


@pytest.mark.unit
def test_answer_above_overrules_no_refusal_of_a_negative():
    rows = [
        {"kind": HARD, "rule_ok": False, "p": 0.42},  # the rule judge refuses it: the cascade must too
        {"kind": SWAPPED, "rule_ok": True, "p": 0.9},  # the judge answers it anyway: not the cascade's doing
        {"kind": ANSWERABLE, "rule_ok": False, "p": 0.8},
    ]
    assert choose_answer_above(rows, grid=(0.3, 0.4, 0.45, 0.5)) == 0.45
    assert choose_answer_above(rows, grid=(0.3, 0.4)) == 1.0


@pytest.mark.integration
def test_cascade_from_a_training_cache_writes_answer_above_into_the_weights(tmp_path):
    model = fit(_slice(), Stats(), seed=0)
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps(model.to_json()), encoding="utf-8")
    rng = np.random.default_rng(0)
    n = 120
    G = rng.random((n, len(GATE_INPUTS)))
    kinds = [ANSWERABLE if i % 2 else HARD for i in range(n)]
    G[:, RULE_VERDICT] = [k == ANSWERABLE for k in kinds]
    examples = [Example(f"q{i}", "", [], [], k, group="dev") for i, k in enumerate(kinds)]
    cache = tmp_path / "gate.npz"
    save_cache(
        cache, examples, GateData(G, np.array([k == ANSWERABLE for k in kinds], dtype=int), np.ones(n), list(range(n)))
    )
    loaded, data = load_cache(cache)
    assert [e.qid for e in loaded] == [e.qid for e in examples] and np.array_equal(data.G, G)
    above = cascade_from(cache, weights)
    again = AnswerModel.load(weights)
    assert again.answer_above == above == again.meta["calib"]["answer_above"]
    np.testing.assert_allclose(again.gate.prob(G[:5]), model.gate.prob(G[:5]))


@pytest.mark.integration
def test_out_of_fold_probabilities_are_the_mean_over_fold_assignments():
    rng = np.random.default_rng(1)
    n, genre = 240, 60
    G = rng.random((n, len(GATE_INPUTS)))
    y = (G[:, 0] + 0.3 * rng.random(n) > 0.6).astype(int)
    # the genre's first 60 rows; a cross-corpus negative shares its item's fold
    examples = [
        Example(f"g{i // 2}" + (CROSS_SUFFIX * (i % 2)), "", [], [], ANSWERABLE if y[i] else HARD, group="dev")
        for i in range(genre)
    ]
    examples += [Example(f"c{i}", "", [], [], ANSWERABLE if y[i] else HARD) for i in range(genre, n)]
    data = GateData(G, y, np.ones(n), list(range(n)))
    assert hash_fold("g1", 5, salt=0) == hash_fold("g1", 5)  # salt 0: the assignment before repeats
    assert any(hash_fold(f"g{i}", 5, salt=1) != hash_fold(f"g{i}", 5) for i in range(30))
    single = [fold_probs(examples, data, salt) for salt in range(3)]
    assert not np.allclose(single[0], single[1])  # another assignment: other gates scored the rows
    rows = out_of_fold(examples, data, repeats=3)
    assert [r["qid"] for r in rows] == [e.qid for e in examples[:genre]]
    np.testing.assert_allclose([r["p"] for r in rows], np.mean(single, axis=0))
    assert [r["rule_ok"] for r in rows] == [bool(v) for v in G[:genre, RULE_VERDICT]]


@pytest.mark.unit
def test_genre_rows_carry_the_shown_answer_checks_of_the_answering_path():
    # The judge passes both (its verdict column says so); only the first one's shown answer holds the day asked.
    model = AnswerModel.load()
    dated = [(_doc("冬训动员部署会于11月20日召开。会议由区委书记主持。"), 1.0)]
    dateless = [(_doc("今天召开这次会议，主要任务是动员部署冬训。会议由区委书记主持。"), 1.0)]
    examples = [
        Example("g1", "动员部署会是哪天召开的？", dated, ["11月20日"], ANSWERABLE, group="dev"),
        Example("g2", "动员部署会是哪天召开的？", dateless, [], HARD, group="dev"),
        Example("c1", "误工补贴每天多少钱？", [(_doc(NUMBER_PASSAGE), 1.0)], ["80元"], ANSWERABLE),
    ]
    G = np.ones((3, len(GATE_INPUTS)))
    data = GateData(G, np.array([1, 0, 1]), np.ones(3), [0, 1, 2])
    rows = [{"qid": e.qid, "kind": e.kind, "p": 0.5, "rule_ok": True} for e in examples[:2]]
    checked = with_shown_checks(rows, model, examples, data, Stats())
    assert [r["rule_ok"] for r in checked] == [True, False]
    assert [r["qid"] for r in checked] == ["g1", "g2"] and all(r["rule_ok"] for r in rows)  # rows not changed
    refused = [{**r, "rule_ok": False} for r in rows]  # a judge refusal stays one
    assert [r["rule_ok"] for r in with_shown_checks(refused, model, examples, data, Stats())] == [False, False]


@pytest.mark.unit
def test_threshold_keeps_false_refusals_at_the_budget():
    rows = [{"kind": ANSWERABLE, "present": True, "p": p} for p in np.linspace(0.01, 1, 100)]
    t = choose_threshold(rows, max_false=0.05)
    assert sum(r["p"] < t for r in rows) <= 5


def _calib_rows():
    """Ten answerable rows (the rule judge refuses the one at p 0.95) and negatives of each kind."""
    rows = [{"kind": ANSWERABLE, "present": True, "p": p, "rule_ok": p < 0.9} for p in np.linspace(0.05, 0.95, 10)]
    rows += [{"kind": HARD, "present": False, "p": 0.02, "rule_ok": True}]
    rows += [{"kind": HARD, "present": True, "p": 0.01, "rule_ok": True}]  # another passage answers it: left out
    rows += [{"kind": SWAPPED, "present": False, "p": 0.3, "rule_ok": False}]
    rows += [{"kind": REMOVED, "present": False, "p": 0.12, "rule_ok": True}]
    return rows


@pytest.mark.unit
def test_the_threshold_of_a_decider_counts_the_rule_judge_refusals_against_the_budget():
    rows = _calib_rows()
    # Gate alone, one false refusal allowed: up to the second answerable probability (0.15).
    assert decider_threshold(rows, LEARNED, 1.0, allowed=1) == pytest.approx(0.15)
    # Union: the rule judge already spends the budget on 0.95, so the gate may refuse nothing more.
    assert decider_threshold(rows, UNION, 1.0, allowed=1) == pytest.approx(0.05)
    # A cascade answering at 0.9 and above overrules the judge's false refusal: the gate gets the budget back.
    assert decider_threshold(rows, CASCADE, 0.9, allowed=1) == pytest.approx(0.15)
    assert decider_threshold(rows, RULES, 1.0, allowed=1) == pytest.approx(0.95)
    assert decider_threshold(rows, RULES, 1.0, allowed=0) == 0.0  # the judge alone is over the budget


@pytest.mark.unit
def test_operating_points_take_the_lower_of_the_calib_and_genre_thresholds():
    calib = _calib_rows()
    # No false refusal allowed of ten on calib (2%): the gate alone may go up to the lowest answerable probability.
    points = operating_points(calib, [], answer_above=1.0)
    assert points[LEARNED]["threshold"] == pytest.approx(0.05) and points[LEARNED]["false_refusals"] == 0.0
    assert points[LEARNED]["hard_refused"] == 1.0  # the clean hard negative; the one another passage answers is out
    assert points[LEARNED]["removed_refused"] == 0.0 and points[LEARNED]["swapped_refused"] == 0.0
    assert points[RULES]["false_refusals"] == pytest.approx(0.1) and points[RULES]["swapped_refused"] == 1.0
    # On the genre a decider may refuse as many answerable items as the rule judge does there, and no more (1% of
    # two items is none).
    calib = [{**r, "rule_ok": True} for r in calib]
    genre = [
        {"kind": ANSWERABLE, "present": True, "p": 0.015, "rule_ok": False, "group": "dev"},
        {"kind": ANSWERABLE, "present": True, "p": 0.03, "rule_ok": True, "group": "dev"},
        {"kind": HARD, "present": True, "p": 0.02, "rule_ok": True, "group": "dev"},
        {"kind": ANSWERABLE, "present": True, "p": 0.001, "rule_ok": True, "group": "cross"},  # not counted
    ]
    points = operating_points(calib, genre, answer_above=1.0)
    for decider in (LEARNED, UNION):
        assert points[decider]["threshold"] == pytest.approx(0.03)  # the genre's is the lower (calib: 0.05)
        assert points[decider]["genre_false_refusals"] == 0.5 and points[decider]["genre_negatives_refused"] == 1.0
    assert points[RULES]["genre_false_refusals"] == 0.5 and points[RULES]["genre_negatives_refused"] == 0.0


@pytest.mark.unit
def test_holds_compares_compact_forms():
    assert holds("标准为每人每天 80 元。", ["80元"])
    assert not holds("标准为每人每天80元。", ["90元"])


@pytest.mark.unit
def test_swap_word_replaces_one_word_with_one_the_paragraph_lacks():
    import random

    vocab = {"n": ["津贴", "补贴", "工资"], "m": []}
    para = "误工补贴标准为每人每天80元。"
    for seed in range(5):
        swapped = swap_word("误工补贴每天发多少钱？", para, vocab, random.Random(seed))
        assert swapped and swapped != "误工补贴每天发多少钱？"
    year = swap_word("2021年发了多少补贴？", "2021年发放补贴80元。", {}, random.Random(0))
    assert year and "2021" not in year


@pytest.mark.integration
def test_trees_exported_from_sklearn_score_as_sklearn_does():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from bot.answering.model import Trees

    rng = np.random.default_rng(0)
    X = rng.random((400, 4))
    X[::9, 2] = np.nan  # a missing value goes where the node says
    y = (np.nan_to_num(X[:, 0]) + 0.5 * X[:, 1] > 0.7).astype(int)
    gb = HistGradientBoostingClassifier(max_iter=20, max_depth=3, random_state=0).fit(X, y)
    trees = Trees.from_json(json.loads(json.dumps(Trees.from_sklearn(gb, list("abcd")).to_json())))
    np.testing.assert_allclose(trees.prob(X), gb.predict_proba(X)[:, 1], atol=1e-6)
    share = trees.importances()
    assert abs(sum(share.values()) - 1.0) < 1e-3 and share["a"] > share["d"]


@pytest.mark.unit
def test_the_length_cost_prefers_a_shorter_candidate_nearly_as_likely():
    from bot.answering.candidates import SENTENCE, Candidate

    model = AnswerModel.load()
    short = Candidate("补贴每天80元。", 0, 0, 8, SENTENCE, 0, 2, 1.0)
    long = Candidate("补贴每天80元。" + "由街道统一发放" * 10 + "。", 1, 0, 80, SENTENCE, 0, 1, 1.0)
    probs = np.array([0.60, 0.62])
    assert model.at(threshold=0.5, second_within=0.0, length_cost=0.0, max_shown_chars=120).shown(
        [short, long], probs
    ) == [long]
    assert model.at(threshold=0.5, second_within=0.0, length_cost=0.1, max_shown_chars=120).shown(
        [short, long], probs
    ) == [short]
    both = model.at(threshold=0.5, second_within=0.5, length_cost=0.1, max_shown_chars=120)
    assert both.shown([short, long], probs) == [short, long]
    # a runner-up far less probable than the best is not shown, however short (its score is close only because
    # the best's own probability is low)
    clause = Candidate("根据有关规定", 1, 0, 6, SENTENCE, 0, 1, 1.0)
    weak = np.array([0.30, 0.30 * RUNNER_UP_SHARE * 0.9])
    assert both.shown([short, clause], weak) == [short]
    assert both.shown([short, clause], np.array([0.30, 0.30 * RUNNER_UP_SHARE * 1.1])) == [short, clause]
