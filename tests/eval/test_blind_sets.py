"""The blind genre sets (eval/blind/, eval/blind2/): each validates over its own corpus, all its items are test
items, and it shares no document, place or id with the project's other sets."""

from __future__ import annotations

import pytest

from tests.eval.genre_sets import ROOT, check_blind_set, check_shares_nothing

pytestmark = pytest.mark.unit

BLIND_SETS = [  # folder, id prefix, the place its documents are about
    (ROOT / "eval" / "blind", "bl-", "柳河镇"),
    (ROOT / "eval" / "blind2", "b2-", "石桥镇"),
]


@pytest.mark.parametrize(("folder", "prefix", "place"), BLIND_SETS)
def test_a_blind_set_validates_is_all_test_and_cites_every_document(folder, prefix, place):
    check_blind_set(folder, prefix, place)


@pytest.mark.parametrize(("folder", "prefix", "place"), BLIND_SETS)
def test_a_blind_set_shares_nothing_with_the_other_sets(folder, prefix, place):
    check_shares_nothing(folder, place)
