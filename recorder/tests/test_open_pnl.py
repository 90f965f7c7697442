"""A recorder's open P&L is one figure (recorder.selectors.recorded_open_pnl) on its page, the
recorders list, its API, its live event and the dashboard."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from recorder.models import RecordedPosition
from recorder.services import position_event_data
from recorder.tests.helpers import make_strategy

pytestmark = pytest.mark.django_db


def open_pnl_shown(alice, client, recorder) -> dict[str, object]:
    detail = client.get(f"/recorders/{recorder.pk}/").content.decode()
    listing = client.get("/recorders/").content.decode()
    api = client.get(f"/api/recorders/{recorder.pk}/").json()["positions"][0]
    dashboard = client.get("/api/dashboard/positions/").json()["results"][0]
    row = RecordedPosition.objects.get(recorder=recorder)
    cell = re.compile(r'data-field="open_pnl">(?:<div[^>]*>)?([^<]+)<')
    return {
        "page": cell.search(detail).group(1),
        "list": cell.search(listing).group(1),
        "api": api["open_pnl"],
        "event": position_event_data(row, recorder)["open_pnl"],
        "dashboard": dashboard["open_pnl"],
    }


def test_an_es_position_shows_one_open_pnl_everywhere(alice, api_client_for):
    recorder = make_strategy(alice, name="ES", default_symbol="ES1!").recorder
    RecordedPosition.objects.create(
        recorder=recorder, symbol="ESZ6", net_pos=2, avg_price=Decimal("6000"),
        last_price=Decimal("6036"), open_pnl=Decimal("3600.00"),
    )  # fmt: skip
    seen = open_pnl_shown(alice, api_client_for(alice), recorder)
    assert seen == {
        "page": "$3,600.00",
        "list": "$3,600.00",
        "api": "3600.00",
        "event": Decimal("3600.00"),
        "dashboard": "3600.00",
    }


def test_before_a_first_price_the_open_pnl_is_unknown_everywhere(alice, api_client_for):
    recorder = make_strategy(alice, name="ES", default_symbol="ES1!").recorder
    RecordedPosition.objects.create(
        recorder=recorder, symbol="ESZ6", net_pos=1, avg_price=Decimal("6000"), last_price=None
    )
    seen = open_pnl_shown(alice, api_client_for(alice), recorder)
    assert seen == {"page": "—", "list": "—", "api": None, "event": None, "dashboard": None}
