"""The second blind genre set (eval/blind2/): its items validate over its own corpus, all of them are test items,
and it shares no document, place or id with the project's other sets."""

from __future__ import annotations

import pytest

from tests.eval.genre_sets import ROOT, check_blind_set, check_shares_nothing

pytestmark = pytest.mark.unit

BLIND2 = ROOT / "eval" / "blind2"
PLACE = "石桥镇"


def test_blind2_set_validates_is_all_test_and_cites_every_document():
    check_blind_set(BLIND2, "b2-", PLACE)


def test_blind2_set_shares_nothing_with_the_other_sets():
    check_shares_nothing(BLIND2, PLACE)
