"""My Recorders and the recorder detail page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from recorder.models import RecordedTrade
from recorder.tests.helpers import make_strategy, send
from recorder.views import sparkline_points

pytestmark = pytest.mark.django_db


def test_my_recorders_shows_status_position_and_figures(alice, alice_client):
    strategy = make_strategy(alice, name="Breakout", sizing="signal")
    send(strategy, "buy 2 @ 21000.00")
    send(strategy, "exit @ 21012.50")  # +12.5 points × $2 × 2 = $50.00
    send(strategy, "sell @ 21010.00")  # open short
    make_strategy(alice, name="Idle")
    r = alice_client.get("/recorders/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Breakout" in html and "Idle" in html
    assert "$50.00" in html
    assert "short 1 MNQ" in html
    assert "100.0%" in html
    assert 'src="/static/js/recorder.js"' in html
    assert "<script>" not in html  # CSP: no inline code


def test_detail_page_lists_trades_and_log(alice, alice_client):
    strategy = make_strategy(alice, name="Scalper")
    send(strategy, "buy @ 21000.00")
    send(strategy, "exit @ 20995.00")
    recorder = strategy.recorder
    r = alice_client.get(f"/recorders/{recorder.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "-$10.00" in html  # 5 points × $2
    assert "Recorded entry" in html and "Recorded exit" in html
    assert 'data-action="stop"' in html


def test_trades_page_through_fifty_at_a_time(alice, alice_client):
    recorder = make_strategy(alice).recorder
    now = timezone.now()
    RecordedTrade.objects.bulk_create(
        RecordedTrade(
            recorder=recorder,
            symbol="MNQZ6",
            side="long",
            quantity=1,
            entry_time=now - timedelta(minutes=i + 1),
            exit_time=now - timedelta(minutes=i),
            entry_price=D("1"),
            exit_price=D("1"),
            points=0,
            ticks=0,
            pnl=0,
            net_pnl=0,
            exit_reason="signal",
        )
        for i in range(60)
    )
    html = alice_client.get(f"/recorders/{recorder.pk}/?page=2").content.decode()
    assert "page 2 of 2" in html


def test_bob_gets_404_on_alices_recorder_page(alice, bob_client):
    recorder = make_strategy(alice).recorder
    assert bob_client.get(f"/recorders/{recorder.pk}/").status_code == 404
    assert "Trend" not in bob_client.get("/recorders/").content.decode()


def test_pages_need_a_login(client):
    r = client.get("/recorders/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_sparkline_scales_the_curve_into_the_box():
    points = sparkline_points(["0", "10", "5"], width=120, height=32)
    assert points == "0.0,30.0 60.0,2.0 120.0,16.0"
    assert sparkline_points(["3"]) == ""
