"""Paper that matches the market: the alerts (or a Tradovate login's quotes) move the user's
paper market, a Paper account fills there, and the strategy's recorder books the same trades
to the cent, on the whole path (webhook intent → decision → executions → the simulator)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.urls import reverse

from accounts import paper as paper_market
from accounts.brokers.symbols import product_spec
from recorder import services as recorder_services
from recorder.marketdata import to_ledger_quote
from recorder.models import RecordedTrade, StrategyLog
from strategies.models import Strategy
from traders.models import Trader
from traders.tests.conftest import decide, front, held, run_pending, sim_connection, working

pytestmark = pytest.mark.django_db(transaction=True)


def recorder_of(strategy):
    return recorder_services.recorder_create(strategy=strategy)


def recorded_fills(strategy) -> list[tuple[str, int, D]]:
    """The recorder's own fills, oldest first, from the strategy's log: (action, qty, price)."""
    rows = StrategyLog.objects.filter(
        strategy=strategy, trader__isnull=True, data__recorder_id__isnull=False
    ).order_by("created_at", "id")
    return [
        (r.data["action"], int(r.data["quantity"]), D(str(r.data["price"])))
        for r in rows
        if r.data.get("action") and r.data.get("quantity")
    ]


def paper_fills(sim, account) -> list[tuple[str, int, D]]:
    return [(f["action"], f["qty"], D(str(f["price"]))) for f in sim.fills(account.external_id)]


def realized(sim, account) -> D:
    return D(str(sim.cash(account.external_id)["realizedPnL"])).quantize(D("0.01"))


def recorded_pnl(strategy) -> D:
    return sum((t.pnl for t in RecordedTrade.objects.filter(recorder__strategy=strategy)), D(0))


def market_moves(sim, connection, symbol: str, price) -> None:
    """The paper market moves (as a quote would move it); the recorder sees the same book
    through that login's own market, as the quote process delivers it."""
    sim.set_price(symbol, str(price), user=connection.username)
    quote, _ = paper_market.paper_quote(connection=connection, symbol=symbol)
    recorder_services.recorder_apply_quote(symbol=symbol, quote=to_ledger_quote(quote))
    run_pending()


@pytest.mark.parametrize("slippage", [0, 1])
def test_alerts_move_the_paper_market_and_paper_and_recorder_fill_alike(
    sim, settings, paper, account, trader, strategy, slippage
):
    settings.PAPER_SLIPPAGE_TICKS = slippage
    strategy.sizing = "signal"
    strategy.save()
    recorder_of(strategy)
    mnq, tick = front(), D("0.25")
    decide(strategy, "buy 1 @ 21000")
    assert sim.quote(mnq, user=paper.username)["source"] == "alerts"
    decide(strategy, "buy 1 @ 21010")
    decide(strategy, "exit @ 20990")
    slip = slippage * tick
    assert paper_fills(sim, account) == [
        ("Buy", 1, D("21000") + slip),
        ("Buy", 1, D("21010") + slip),
        ("Sell", 2, D("20990") - slip),
    ]
    assert recorded_fills(strategy) == paper_fills(sim, account)
    # (20990 − 21000 + 20990 − 21010) × $2 = −$60, less 2 ticks of slippage a side per contract.
    expected = (D("-30") - 4 * slip) * 2
    assert recorded_pnl(strategy) == realized(sim, account) == expected
    assert held(sim, account) == {}


PRODUCTS = {"ES": D("6000.00"), "MNQ": D("21000.00"), "CL": D("70.00"), "GC": D("2650.0")}


@pytest.mark.parametrize("slippage", [0, 1])
@pytest.mark.parametrize("root", sorted(PRODUCTS))
def test_a_scripted_session_books_the_same_trades_on_paper_and_in_the_recorder(
    sim, settings, alice, root, slippage
):
    """Entries, an add, a partial exit, a target the market jumps past, a short, a reversal, a
    stop at its level and a gap through a stop: fill by fill, and the P&L to the cent."""
    settings.PAPER_SLIPPAGE_TICKS = slippage
    tick = product_spec(root).tick_size
    base = PRODUCTS[root]
    connection = sim_connection(sim, alice)
    account = connection.accounts.get()
    strategy = Strategy.objects.create(
        user=alice,
        name=f"{root} script",
        default_symbol=f"{root}1!",
        sizing="signal",
        take_profit=D(20),
        take_profit_unit="ticks",
        stop_loss=D(10),
        stop_loss_unit="ticks",
    )
    Trader.objects.create(user=alice, strategy=strategy, broker_account=account, enabled=True)
    recorder_of(strategy)
    symbol = front(f"{root}1!")

    def at(ticks: int) -> D:
        return base + ticks * tick

    decide(strategy, f"buy 1 @ {at(0)}")  # lot A
    decide(strategy, f"buy 2 @ {at(2)}")  # lot B, its own target and stop
    decide(  # a partial exit (TradingView strategy sizing): the oldest lot goes
        strategy,
        f'{{"action": "sell", "price": {at(4)}, "market_position": "long", "position_size": 2}}',
    )
    assert held(sim, account) == {symbol: 2}
    market_moves(sim, connection, symbol, at(30))  # past B's target: it fills at its limit
    assert held(sim, account) == {}
    decide(strategy, f"sell 1 @ {at(30)}")  # short
    decide(strategy, f"buy 2 @ {at(28)}")  # reversal into long 2
    assert held(sim, account) == {symbol: 2}
    market_moves(sim, connection, symbol, at(18))  # down to the stop
    assert held(sim, account) == {} and working(sim, account) == []
    decide(strategy, f"buy 1 @ {at(20)}")
    market_moves(sim, connection, symbol, at(5))  # a gap through the stop
    assert held(sim, account) == {}

    paper = paper_fills(sim, account)
    assert recorded_fills(strategy) == paper
    assert len(paper) == 10
    reasons = list(
        RecordedTrade.objects.filter(recorder__strategy=strategy)
        .order_by("exit_time", "id")
        .values_list("exit_reason", flat=True)
    )
    assert reasons == ["signal", "target", "reversal", "stop", "stop"]
    target = RecordedTrade.objects.get(recorder__strategy=strategy, exit_reason="target")
    assert target.exit_price == at(2) + slippage * tick + 20 * tick  # its limit, never 30 ticks
    gap = RecordedTrade.objects.filter(recorder__strategy=strategy).order_by("-exit_time").first()
    assert gap.exit_price == at(5)  # the gap's price, not the stop's level
    assert recorded_pnl(strategy) == realized(sim, account)


def test_with_partial_fills_paper_and_recorder_fill_in_the_same_lots(
    sim, settings, paper, account, trader, strategy
):
    """The fault suite's setting: orders fill in lots of the book's size (4 a price here)."""
    settings.PAPER_PARTIAL_FILLS = True
    sim.config(book_size=4)
    strategy.sizing = "signal"
    strategy.take_profit, strategy.take_profit_unit = D(20), "ticks"
    strategy.stop_loss, strategy.stop_loss_unit = D(40), "ticks"
    strategy.save()
    recorder_of(strategy)
    mnq = front()
    decide(strategy, "buy 10 @ 21000")
    assert sim.config()["partial_fills"] is True  # our setting reached the paper broker
    # 4 @ 21000.00, 4 @ 21000.25, 2 @ 21000.50: one entry (avg 21000.20) with one bracket.
    assert paper_fills(sim, account) == [
        ("Buy", 4, D("21000.00")),
        ("Buy", 4, D("21000.25")),
        ("Buy", 2, D("21000.50")),
    ]
    for price in ("21006.00", "21007.00", "21006.50"):  # the 21005.25 target, 4 a print
        market_moves(sim, paper, mnq, price)
    sells = [f for f in paper_fills(sim, account) if f[0] == "Sell"]
    assert sells == [
        ("Sell", 4, D("21005.25")),
        ("Sell", 4, D("21005.25")),
        ("Sell", 2, D("21005.25")),
    ]
    assert held(sim, account) == {}
    recorded = recorded_fills(strategy)
    assert recorded[0] == ("Buy", 10, D("21000.20"))  # the lot at its average fill
    assert recorded[1:] == sells
    assert recorded_pnl(strategy) == realized(sim, account)


@pytest.fixture
def recording(sim, paper, strategy):
    """The strategy sized by its alerts, its recorder running, the paper market at 21,000."""
    strategy.sizing = "signal"
    strategy.save()
    recorder = recorder_of(strategy)
    market_moves(sim, paper, front(), "21000.00")
    return recorder


def recorded_working(strategy) -> list[dict]:
    from recorder.models import RecordedPosition

    rows = RecordedPosition.objects.filter(recorder__strategy=strategy)
    return [entry for row in rows for entry in (row.state or {}).get("working", [])]


def test_limit_and_stop_entries_work_until_the_market_reaches_them_on_paper_and_in_the_record(
    sim, paper, account, trader, strategy, recording
):
    mnq = front()
    decide(
        strategy,
        '{"action": "buy", "quantity": 1, "order_type": "limit", "limit_price": '
        '20990, "price": 21000}',
    )
    # A stop entry whose only price is its level: that price does not move the paper market.
    decide(strategy, '{"action": "buy", "quantity": 1, "order_type": "stop", "price": 21020}')
    assert sim.quote(mnq, user=paper.username)["entries"]["Trade"]["price"] == 21000
    assert sorted(o["type"] for o in working(sim, account)) == ["Limit", "Stop"]
    assert held(sim, account) == {} and paper_fills(sim, account) == []
    assert sorted(e["order_type"] for e in recorded_working(strategy)) == ["limit", "stop"]
    assert recorded_fills(strategy) == []

    market_moves(sim, paper, mnq, "20985.00")  # through the limit: it fills at its price
    market_moves(sim, paper, mnq, "21025.00")  # a gap through the stop: the gap price
    assert paper_fills(sim, account) == [("Buy", 1, D("20990.00")), ("Buy", 1, D("21025.00"))]
    assert recorded_fills(strategy) == paper_fills(sim, account)
    assert working(sim, account) == [] and recorded_working(strategy) == []

    decide(strategy, "exit @ 21025")
    assert held(sim, account) == {}
    assert recorded_fills(strategy) == paper_fills(sim, account)
    assert recorded_pnl(strategy) == realized(sim, account) == D("70.00")  # (35 + 0) × $2


def test_an_exit_cancels_a_working_entry_on_paper_and_in_the_record(
    sim, client, alice, paper, account, trader, strategy, recording
):
    decide(
        strategy,
        '{"action": "sell", "quantity": 2, "order_type": "limit", "limit_price": '
        '21050, "price": 21000}',
    )
    assert [o["type"] for o in working(sim, account)] == ["Limit"]
    assert [e["quantity"] for e in recorded_working(strategy)] == [-2]
    client.force_login(alice)
    page = client.get(f"/recorders/{recording.pk}/").content.decode()
    assert 'id="working"' in page and f"{front()}: sell limit 2 @ 21050.00" in page
    decide(strategy, "exit")
    market_moves(sim, paper, front(), "21060.00")  # where the limit was: nothing fills now
    assert working(sim, account) == [] and recorded_working(strategy) == []
    assert paper_fills(sim, account) == [] and recorded_fills(strategy) == []
    cancelled = StrategyLog.objects.get(strategy=strategy, data__working_entry="cancelled")
    assert "sell limit 2 @ 21050.00 cancelled" in cancelled.message
    assert 'id="working"' not in client.get(f"/recorders/{recording.pk}/").content.decode()


def test_a_cancel_alert_cancels_the_working_entry_and_keeps_the_position_on_both(
    sim, paper, account, trader, strategy, recording
):
    decide(strategy, "buy 1 @ 21000")
    decide(
        strategy,
        '{"action": "buy", "quantity": 1, "order_type": "limit", "limit_price": 20980, '
        '"price": 21000}',
    )
    assert [o["type"] for o in working(sim, account)] == ["Limit"]
    assert len(recorded_working(strategy)) == 1
    decide(strategy, '{"action": "cancel", "id": "cancel-1"}')
    market_moves(sim, paper, front(), "20975.00")  # through the old limit: nothing fills
    assert working(sim, account) == [] and recorded_working(strategy) == []
    assert held(sim, account) == {front(): 1}
    assert recorded_fills(strategy) == paper_fills(sim, account) == [("Buy", 1, D("21000.00"))]


def test_a_stop_entry_the_market_has_already_reached_is_refused_on_paper_and_in_the_record(
    sim, paper, account, trader, strategy, recording
):
    decide(
        strategy,
        '{"action": "buy", "quantity": 1, "order_type": "stop", "stop_price": '
        '20990, "price": 21000}',
    )
    assert held(sim, account) == {} and working(sim, account) == []
    assert recorded_working(strategy) == [] and recorded_fills(strategy) == []
    refused = StrategyLog.objects.get(strategy=strategy, data__working_entry="refused")
    assert "has already reached the stop" in refused.message


def test_a_tradovate_login_s_quotes_are_the_paper_market_and_the_alert_does_not_move_it(
    sim, alice, paper, account, trader, strategy
):
    from recorder.quotes import QuoteRunner

    sim_connection(sim, alice, kind="tradovate_demo", label="Tradovate")
    recorder_of(strategy)
    mnq = front()
    runner = QuoteRunner()
    try:
        runner.sync()
        sim.set_price(mnq, "21100.00")  # the real market (bid 21100.00, ask 21100.25)

        def relayed():
            while not runner.events.empty():
                runner.handle(runner.events.get())
            return runner.quotes_relayed > 0

        import time

        deadline = time.monotonic() + 10
        while not relayed():
            assert time.monotonic() < deadline, "the quote was never relayed"
            time.sleep(0.05)
        book = sim.quote(mnq, user=paper.username)
        assert (book["source"], book["entries"]["Offer"]["price"]) == ("alerts", 21100.25)
    finally:
        runner.close()
    _, source = paper_market.paper_quote(connection=paper, symbol=mnq)
    assert source == paper_market.MARKET_DATA
    decide(strategy, "buy 1 @ 21000")  # the chart's price is not the market's
    assert paper_fills(sim, account) == [("Buy", 1, D("21100.25"))]
    assert recorded_fills(strategy) == [("Buy", 1, D("21100.25"))]


# --- trading hours and holidays -------------------------------------------------------------------

SATURDAY = "2026-12-05T15:00:00+00:00"
CHRISTMAS = "2026-12-25T15:00:00+00:00"


@pytest.mark.parametrize(
    "when, why, reopens",
    [
        (SATURDAY, "closed for the weekend", "2026-12-06 17:00 CT"),
        (CHRISTMAS, "closed for Christmas", "2026-12-27 17:00 CT"),
    ],
)
def test_an_order_at_a_closed_hour_is_refused_and_the_log_says_why(
    sim, settings, monkeypatch, paper, account, trader, strategy, when, why, reopens
):
    from datetime import datetime

    settings.PAPER_ENFORCE_SESSIONS = True
    sim.clock(when)
    monkeypatch.setattr(recorder_services, "_exchange_now", lambda: datetime.fromisoformat(when))
    recorder_of(strategy)
    decide(strategy, "buy 1 @ 21000")
    assert sim.config()["enforce_sessions"] is True  # our setting reached the paper broker
    assert held(sim, account) == {} and sim.fills(account.external_id) == []
    [failed] = StrategyLog.objects.filter(trader=trader, kind="error")
    # The paper broker's SessionClosed text reaches the strategy's log (the ORDER_FAILED line).
    assert f"is not trading: {why}; it reopens at {reopens}" in failed.message
    assert failed.data["reason"] == "SessionClosed"
    # The recorder books nothing either: no exchange fills at that hour.
    recorded = StrategyLog.objects.get(strategy=strategy, trader__isnull=True, kind="filtered")
    assert f"is not trading: {why}" in recorded.message
    assert not RecordedTrade.objects.exists() and recorded_fills(strategy) == []


@pytest.mark.parametrize(
    "when, why", [(SATURDAY, "closed for the weekend"), (CHRISTMAS, "closed for Christmas")]
)
def test_the_control_center_shows_the_market_closed_with_the_reason_and_next_open(
    sim, client, monkeypatch, alice, paper, account, trader, when, why
):
    from datetime import datetime

    from recorder import marketdata

    monkeypatch.setattr(marketdata, "_now", lambda: datetime.fromisoformat(when))
    client.force_login(alice)
    page = client.get("/control-center/").content.decode()
    assert "Paper markets" in page and front() in page
    assert "Closed" in page and why in page and "opens 20" in page
    [market] = client.get("/api/paper-markets/").json()
    assert (market["symbol"], market["open"], market["session"]) == (front(), False, why)
    assert market["source_label"] == paper_market.SOURCE_LABELS[market["source"]]
    accounts_page = client.get(reverse("broker-accounts")).content.decode()
    assert why in accounts_page


def test_the_paper_market_shows_its_source(sim, client, alice, paper, account, trader, strategy):
    client.force_login(alice)
    [before] = client.get("/api/paper-markets/").json()
    assert before["source"] == "manual"  # the shared book the test set; no alert yet
    decide(strategy, "buy 1 @ 21004.50")
    [after] = client.get("/api/paper-markets/").json()
    assert (after["source"], after["last"]) == ("alerts", "21004.50")
    assert "your alerts" in client.get("/control-center/").content.decode()


def test_markets_of_another_user_are_not_shown(sim, client, bob, paper, account, trader):
    client.force_login(bob)
    assert client.get("/api/paper-markets/").json() == []
