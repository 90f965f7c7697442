"""One name for one thing: "Recorded" is the recorders' virtual record, "Paper" only the paper
broker's accounts, whose trades sit with the other broker accounts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from accounts.tests.factories import BrokerAccountFactory
from analytics.tests.helpers import live_round_trip, strategy_with_recorder
from recorder.tests.factories import RecordedTradeFactory
from traders.models import Trader

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_two_sides(alice):
    strategy = strategy_with_recorder(alice, "Breakout")
    RecordedTradeFactory(recorder=strategy.recorder, net="30.00")
    paper = BrokerAccountFactory(connection__user=alice, connection__paper=True, name="PAPER00001")
    trader = Trader.objects.create(user=alice, strategy=strategy, broker_account=paper)
    live_round_trip(
        trader=trader, entry="21000", exit="21010", at=datetime(2025, 1, 9, 15, tzinfo=UTC),
        fill_id=500,
    )  # fmt: skip
    return {"strategy": strategy, "paper": paper}


def test_the_dashboard_tabs_read_recorded_and_broker(alice, client):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert ">Recorded</button>" in html and ">Broker</button>" in html
    assert ">Paper</button>" not in html


def test_recorded_trades_are_labelled_recorded_in_rows_and_exports(
    alice, api_client_for, alice_two_sides
):
    client = api_client_for(alice)
    rows = client.get("/api/dashboard/trade-history/?source=recorded").json()["results"]
    assert [(r["source"], r["account"]) for r in rows] == [("recorded", "Recorded")]
    exported = client.get("/api/dashboard/trade-history/?source=recorded&format=csv")
    body = b"".join(exported.streaming_content).decode()
    [row] = list(csv.DictReader(io.StringIO(body)))
    assert (row["source"], row["account"]) == ("recorded", "Recorded")
    assert "trades-recorded-" in exported["Content-Disposition"]


def test_the_paper_broker_account_trades_are_on_the_broker_side_and_filter_by_name(
    alice, api_client_for, alice_two_sides
):
    client = api_client_for(alice)
    paper = alice_two_sides["paper"]
    broker = client.get(f"/api/dashboard/trade-history/?source=live&account={paper.pk}").json()
    assert [r["account"] for r in broker["results"]] == ["PAPER00001"]
    choices = client.get("/api/analytics/dashboard/?source=live").json()["filters"]["accounts"]
    assert [a["name"] for a in choices] == ["PAPER00001"]


def test_the_recorded_side_offers_only_accounts_it_holds_trades_of(
    alice, api_client_for, alice_two_sides
):
    choices = api_client_for(alice).get("/api/analytics/dashboard/?source=recorded").json()
    assert choices["filters"]["accounts"] == []


def test_the_old_name_paper_still_reads_the_recorded_record(alice, api_client_for, alice_two_sides):
    client = api_client_for(alice)
    old = client.get("/api/dashboard/summary/?source=paper").json()
    assert old["source"] == "recorded" and old["trades"] == 1
    assert client.get("/api/dashboard/summary/?source=nonsense").status_code == 400
