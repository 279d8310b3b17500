"""The blind genre set (eval/blind/): its items validate over its own corpus, all of them are test items, and it
shares no document, place or id with the project's other sets."""

from __future__ import annotations

import pytest

from tests.eval.genre_sets import ROOT, check_blind_set, check_shares_nothing

pytestmark = pytest.mark.unit

BLIND = ROOT / "eval" / "blind"
PLACE = "柳河镇"


def test_blind_set_validates_is_all_test_and_cites_every_document():
    check_blind_set(BLIND, "bl-", PLACE)


def test_blind_set_shares_nothing_with_the_other_sets():
    check_shares_nothing(BLIND, PLACE)
