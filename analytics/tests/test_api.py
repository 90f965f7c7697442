"""The dashboard and analytics API: the numbers, the filters, the owner, the query budget."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import BrokerAccountFactory
from analytics.tests.helpers import live_round_trip, strategy_with_recorder
from recorder.tests.factories import RecordedTradeFactory
from strategies.tests.factories import StrategyFactory
from traders.models import Position, Trader

pytestmark = pytest.mark.django_db


def day(d: int, hour: int = 15) -> datetime:
    return datetime(2025, 1, d, hour, tzinfo=UTC)


@pytest.fixture
def alice_book(alice):
    """Alice: two strategies with a known paper record (hand-checked figures below)."""
    breakout = strategy_with_recorder(alice, "Breakout")
    fade = strategy_with_recorder(alice, "Fade")
    RecordedTradeFactory(recorder=breakout.recorder, net="300.00", exit_time=day(6, 10))
    RecordedTradeFactory(
        recorder=breakout.recorder,
        net="-100.00",
        exit_time=day(6, 14),
        side="short",
        exit_reason="stop",
    )
    RecordedTradeFactory(
        recorder=breakout.recorder, net="-200.00", exit_time=day(7), exit_reason="stop"
    )
    RecordedTradeFactory(recorder=fade.recorder, net="500.00", exit_time=day(8), symbol="ESH5")
    RecordedTradeFactory(
        recorder=fade.recorder, net="-150.00", exit_time=day(10), symbol="ESH5", side="short"
    )
    return {"breakout": breakout, "fade": fade}


def test_strategy_statistics_match_the_hand_computed_figures(alice, api_client_for, alice_book):
    client = api_client_for(alice)
    strategy = alice_book["breakout"]
    response = client.get(f"/api/analytics/strategy/{strategy.pk}/?capital=10000")
    assert response.status_code == 200
    body = response.json()
    s = body["statistics"]
    assert body["strategy"] == {"id": strategy.pk, "name": "Breakout"}
    assert (s["trades"], s["wins"], s["losses"]) == (3, 1, 2)
    assert s["net_pnl"] == "0.00" and s["gross_profit"] == "300.00" and s["gross_loss"] == "300.00"
    assert s["profit_factor"] == 1.0 and s["win_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # 10000 → 10300 (peak) → 10200 → 10000: a 300 drawdown, 2.91% of the peak, not recovered.
    assert s["max_drawdown"] == "300.00"
    assert s["max_drawdown_percent"] == pytest.approx(300 / 10300, abs=1e-6)
    assert s["max_drawdown_recovered_at"] is None
    assert s["starting_capital"] == "10000.00" and "√252" in s["sharpe_formula"]
    assert [(d["date"], d["pnl"]) for d in body["daily"]] == [
        ("2025-01-06", "200.00"), ("2025-01-07", "-200.00"),
    ]  # fmt: skip
    assert [g["label"] for g in body["by_symbol"]] == ["MNQZ5"]
    assert [p["value"] for p in body["charts"]["equity"]] == ["10200.00", "10000.00"]
    assert [p["value"] for p in body["charts"]["drawdown"]] == ["0.00", "-200.00"]


def test_dashboard_summary_counts_today_week_month_and_all_time(alice, api_client_for, alice_book):
    now = timezone.now()
    strategy = alice_book["breakout"]
    RecordedTradeFactory(
        recorder=strategy.recorder, net="40.00", exit_time=now - timedelta(minutes=1)
    )
    response = api_client_for(alice).get("/api/dashboard/summary/")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "recorded"
    assert body["today_pnl"] == "40.00" and body["today_trades"] == 1
    assert body["week_pnl"] == "40.00" and body["month_pnl"] == "40.00"
    assert body["all_time_pnl"] == "390.00" and body["trades"] == 6
    assert body["profit_factor"] == pytest.approx(840 / 450, abs=1e-4)
    assert body["open_positions"] == 0


def test_paper_and_live_are_never_mixed(alice, api_client_for, alice_book):
    account = BrokerAccountFactory(connection__user=alice, connection__paper=True, name="DEMO001")
    trader = Trader.objects.create(
        user=alice, strategy=alice_book["breakout"], broker_account=account
    )
    # Long 2 MNQ from 21000 to 21010: 10 points × $2 × 2 = $40.
    live_round_trip(trader=trader, entry="21000", exit="21010", at=day(9), qty=2, fill_id=100)
    client = api_client_for(alice)
    live = client.get("/api/dashboard/summary/?source=live").json()
    paper = client.get("/api/dashboard/summary/?source=paper").json()
    assert live["all_time_pnl"] == "40.00" and live["trades"] == 1
    assert paper["all_time_pnl"] == "350.00" and paper["trades"] == 5
    rows = client.get("/api/dashboard/trade-history/?source=live").json()["results"]
    assert len(rows) == 1
    assert rows[0]["strategy"] == "Breakout" and rows[0]["account"] == "DEMO001"
    assert rows[0]["quantity"] == 2 and rows[0]["net_pnl"] == "40.00"
    assert rows[0]["side"] == "long" and rows[0]["source"] == "live"


def test_live_trades_pair_fills_first_in_first_out_and_reverse(alice, api_client_for, alice_book):
    account = BrokerAccountFactory(connection__user=alice, connection__paper=True, name="DEMO001")
    trader = Trader.objects.create(
        user=alice, strategy=alice_book["breakout"], broker_account=account
    )
    from traders.models import Fill

    def fill(fid, action, qty, price, minute):
        Fill.objects.create(
            user=alice, broker_account=account, broker_fill_id=fid, action=action,
            symbol="ESH5", quantity=qty, price=Decimal(price), timestamp=day(13, 14) +
            timedelta(minutes=minute),
        )  # fmt: skip

    fill(1, "Buy", 1, "6000.00", 0)
    fill(2, "Buy", 1, "6002.00", 1)
    fill(3, "Sell", 3, "6004.00", 2)  # closes both longs (+4 and +2 points), opens 1 short
    fill(4, "Buy", 1, "6001.00", 3)  # closes the short: +3 points
    assert trader.pk
    rows = api_client_for(alice).get("/api/dashboard/trade-history/?source=live").json()
    pnl = sorted(r["net_pnl"] for r in rows["results"])
    # ES is $50 a point: 4 → 200, 2 → 100, 3 → 150.
    assert pnl == ["100.00", "150.00", "200.00"]
    sides = sorted(r["side"] for r in rows["results"])
    assert sides == ["long", "long", "short"]


def test_trade_history_filters_and_paginates(alice, api_client_for, alice_book):
    client = api_client_for(alice)
    fade = alice_book["fade"]
    body = client.get(f"/api/dashboard/trade-history/?strategy={fade.pk}").json()
    assert body["count"] == 2 and {r["strategy"] for r in body["results"]} == {"Fade"}
    assert client.get("/api/dashboard/trade-history/?side=short").json()["count"] == 2
    assert client.get("/api/dashboard/trade-history/?symbol=esh5").json()["count"] == 2
    ranged = client.get("/api/dashboard/trade-history/?start=2025-01-07&end=2025-01-08").json()
    assert [r["net_pnl"] for r in ranged["results"]] == ["500.00", "-200.00"]  # newest first
    page = client.get("/api/dashboard/trade-history/?page_size=2&page=3").json()
    assert page["count"] == 5 and len(page["results"]) == 1 and page["next"] is None


def test_date_ranges_are_the_traders_local_days(alice, api_client_for, alice_book):
    alice.timezone = "America/New_York"
    alice.save(update_fields=["timezone"])
    strategy = alice_book["breakout"]
    # 02:00 UTC on the 15th is the evening of the 14th in New York.
    RecordedTradeFactory(
        recorder=strategy.recorder, net="70.00", exit_time=datetime(2025, 1, 15, 2, tzinfo=UTC)
    )
    client = api_client_for(alice)
    rows = client.get("/api/dashboard/trade-history/?start=2025-01-14&end=2025-01-14").json()
    assert [r["net_pnl"] for r in rows["results"]] == ["70.00"]
    assert rows["results"][0]["exit_time"].startswith("2025-01-14T21:00:00-05:00")
    charts = client.get(f"/api/analytics/chart-data/?strategy={strategy.pk}").json()
    assert charts["daily_pnl"][-1] == {"time": "2025-01-14", "value": "70.00"}


def test_trade_history_exports_the_whole_selection_as_csv(alice, api_client_for, alice_book):
    response = api_client_for(alice).get("/api/dashboard/trade-history/?format=csv&side=long")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 and {r["side"] for r in rows} == {"long"}
    assert sorted(r["net_pnl"] for r in rows) == ["-200.00", "300.00", "500.00"]
    assert rows[0]["strategy"] in ("Breakout", "Fade") and rows[0]["commission"] == "1.24"
    assert {r["entry_price"] for r in rows} == {"21000"}  # plain numbers, never 2.1E+4


def test_performance_rolls_up_by_week_and_month(alice, api_client_for, alice_book):
    client = api_client_for(alice)
    weeks = client.get("/api/dashboard/performance/?period=week").json()
    assert [(p["date"], p["pnl"]) for p in weeks["periods"]] == [("2025-01-06", "350.00")]
    months = client.get("/api/dashboard/performance/?period=month").json()
    assert months["periods"][0]["trades"] == 5
    assert {r["label"]: r["net_pnl"] for r in months["by_strategy"]} == {
        "Fade": "350.00", "Breakout": "0.00",
    }  # fmt: skip


def test_compare_puts_strategies_side_by_side(alice, api_client_for, alice_book):
    body = api_client_for(alice).get("/api/analytics/compare/").json()
    by_name = {r["strategy"]: r["statistics"] for r in body["results"]}
    assert by_name["Fade"]["net_pnl"] == "350.00" and by_name["Breakout"]["net_pnl"] == "0.00"
    assert by_name["Fade"]["max_drawdown"] == "150.00"


def test_open_positions_show_their_live_open_pnl(alice, api_client_for, alice_book):
    from recorder.models import RecordedPosition

    RecordedPosition.objects.create(
        recorder=alice_book["breakout"].recorder, symbol="MNQZ5", net_pos=2,
        avg_price=Decimal("21000"), last_price=Decimal("21005.5"), open_pnl=Decimal("22.00"),
    )  # fmt: skip
    account = BrokerAccountFactory(connection__user=alice, connection__paper=True, name="DEMO001")
    Position.objects.create(
        user=alice, broker_account=account, symbol="ESH5", net_pos=-1,
        net_price=Decimal("6000"), last_price=Decimal("6000.75"),
    )  # fmt: skip
    client = api_client_for(alice)
    paper = client.get("/api/dashboard/positions/").json()["results"]
    assert [(p["strategy"], p["side"], p["net_pos"], p["open_pnl"]) for p in paper] == [
        ("Breakout", "long", 2, "22.00")
    ]
    live = client.get("/api/dashboard/positions/?source=live").json()["results"]
    assert [(p["account"], p["side"], p["open_pnl"]) for p in live] == [
        ("DEMO001", "short", "-37.50")
    ]
    summary = client.get("/api/dashboard/summary/?source=live").json()
    assert summary["open_positions"] == 1 and summary["open_pnl"] == "-37.50"


def test_a_new_trade_shows_at_once_despite_the_cache(alice, api_client_for, alice_book):
    client = api_client_for(alice)
    url = f"/api/analytics/strategy/{alice_book['fade'].pk}/"
    assert client.get(url).json()["statistics"]["trades"] == 2
    RecordedTradeFactory(recorder=alice_book["fade"].recorder, net="25.00", exit_time=day(14))
    assert client.get(url).json()["statistics"]["trades"] == 3


def test_bad_input_is_a_clear_400(alice, api_client_for):
    client = api_client_for(alice)
    for url in [
        "/api/dashboard/summary/?source=both",
        "/api/dashboard/summary/?capital=-5",
        "/api/dashboard/trade-history/?start=2025-02-01&end=2025-01-01",
        "/api/dashboard/trade-history/?start=yesterday",
        "/api/dashboard/trade-history/?side=up",
        "/api/dashboard/performance/?period=year",
        "/api/analytics/compare/?strategies=1,x",
    ]:
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.json()["message"], url


def test_anonymous_users_get_nothing(client):
    for url in [
        "/api/dashboard/summary/",
        "/api/analytics/dashboard/",
        "/api/analytics/strategy/1/",
    ]:
        assert client.get(url).status_code in (401, 403)


def test_bob_gets_404_on_alices_ids_and_sees_none_of_her_numbers(
    alice, bob, api_client_for, alice_book
):
    client = api_client_for(bob)
    strategy = alice_book["breakout"]
    account = BrokerAccountFactory(connection__user=alice, connection__paper=True, name="DEMO001")
    assert client.get(f"/api/analytics/strategy/{strategy.pk}/").status_code == 404
    assert client.get(f"/api/dashboard/trade-history/?strategy={strategy.pk}").status_code == 404
    assert client.get(f"/api/dashboard/trade-history/?account={account.pk}").status_code == 404
    assert client.get(f"/api/analytics/chart-data/?strategy={strategy.pk}").status_code == 404
    assert client.get(f"/api/analytics/compare/?strategies={strategy.pk}").status_code == 404
    summary = client.get("/api/dashboard/summary/").json()
    assert summary["trades"] == 0 and summary["all_time_pnl"] == "0.00"
    assert client.get("/api/dashboard/trade-history/").json()["count"] == 0
    assert client.get("/api/analytics/compare/").json()["results"] == []
    dashboard = client.get("/api/analytics/dashboard/").json()
    assert dashboard["filters"]["strategies"] == [] and dashboard["charts"]["equity"] == []


QUERY_BUDGET = 20  # session + user + fingerprints + one load of the trades per figure set


def _query_counts(alice, api_client_for, trades: int) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    strategies = [strategy_with_recorder(alice, f"S{trades}-{i}") for i in range(3)]
    account = BrokerAccountFactory(
        connection__user=alice, connection__paper=True, name=f"ACC{trades}"
    )
    trader = Trader.objects.create(user=alice, strategy=strategies[0], broker_account=account)
    for i in range(trades):
        RecordedTradeFactory(
            recorder=strategies[i % 3].recorder,
            net=str(i - 20),
            exit_time=day(6) + timedelta(hours=i),
        )
        if i % 3 == 0:
            live_round_trip(
                trader=trader, entry="21000", exit=str(21000 + i), at=day(6) + timedelta(hours=i),
                fill_id=10 * trades + 2 * i,
            )  # fmt: skip
    client = api_client_for(alice)
    urls = [
        "/api/dashboard/summary/", "/api/dashboard/positions/", "/api/dashboard/trade-history/",
        "/api/dashboard/performance/", f"/api/analytics/strategy/{strategies[0].pk}/",
        "/api/analytics/dashboard/", "/api/analytics/chart-data/", "/api/analytics/compare/",
        "/api/dashboard/trade-history/?format=csv",
    ]  # fmt: skip
    counts = {}
    for source in ("paper", "live"):
        for url in urls:
            sep = "&" if "?" in url else "?"
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(f"{url}{sep}source={source}")
                if url.endswith("csv"):
                    b"".join(response.streaming_content)
            assert response.status_code == 200, url
            counts[f"{source} {url.split('?')[0].replace(str(strategies[0].pk), 'ID')}"] = len(ctx)
    return counts


def test_the_dashboard_api_makes_a_bounded_number_of_queries(alice, bob, api_client_for):
    few = _query_counts(bob, api_client_for, 3)
    many = _query_counts(alice, api_client_for, 60)
    assert few == many  # 30× the trades, not one query more
    assert max(many.values()) <= QUERY_BUDGET, many


def test_the_dashboards_today_is_the_trading_day_the_control_center_speaks_of(
    alice, api_client_for
):
    """A trade closed just after 17:00 Chicago belongs to today's trading day (even if that was
    yesterday's calendar date), one closed just before it to the day before: the dashboard's
    Today card and the Control Center's realized P&L count the same trades."""
    from traders.risk import trading_day_start

    account = BrokerAccountFactory(connection__user=alice, name="DEMO001")
    trader = Trader.objects.create(
        user=alice, strategy=StrategyFactory(user=alice), broker_account=account
    )
    now = timezone.now()
    start = trading_day_start(now)
    # Long 1 MNQ +10 points ($20) in today's trading day; +50 points ($100) in the one before.
    # (A minute into the trading day is yesterday evening on the calendar in New York.)
    soon_after = start + min(timedelta(minutes=1), (now - start) / 2)
    live_round_trip(trader=trader, entry="21000", exit="21010", at=soon_after, fill_id=10)
    live_round_trip(trader=trader, entry="21000", exit="21050", at=start - timedelta(minutes=1),
                    fill_id=20)  # fmt: skip
    client = api_client_for(alice)
    summary = client.get("/api/dashboard/summary/?source=live").json()
    assert (summary["today_pnl"], summary["today_trades"]) == ("20.00", 1)
    cards = client.get("/api/control-center/").json()
    assert [t["realized_pnl_today"] for t in cards["traders"]] == ["20.00"]
