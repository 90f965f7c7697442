"""Prices from the market data stream: next-quote fills, and the long-running quote process
closing paper positions on the live feed (a real `manage.py recorder_quotes` process)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D

import pytest

from accounts.brokers.factory import broker_for
from justtrades.testing.fixtures import ROOT, child_env, wait_until
from recorder import services
from recorder.models import RecordedPosition, RecordedTrade, Recorder
from recorder.tests.helpers import front, make_strategy, send
from traders.tests.conftest import sim_connection

MNQ = front("MNQ1!")


@pytest.mark.django_db
def test_next_bid_ask_fills_a_buy_at_the_ask(tradovate_sim, alice):
    sim_connection(tradovate_sim, alice, kind="tradovate_demo")  # its market data, no paper
    strategy = make_strategy(alice)
    services.recorder_update(recorder=strategy.recorder, fill_mode=Recorder.FillMode.NEXT_QUOTE)
    tradovate_sim.set_price(MNQ, "21000.00")  # bid 21000.00, ask 21000.25
    ask = D(str(tradovate_sim.quote(MNQ)["entries"]["Offer"]["price"]))
    send(strategy, "buy @ 20000")  # the alert's price is ignored in this mode
    pos = RecordedPosition.objects.get(recorder=strategy.recorder, symbol=MNQ)
    assert pos.net_pos == 1 and pos.avg_price == ask == D("21000.25")


@pytest.mark.django_db
def test_an_alert_without_a_price_buys_at_the_paper_market_s_ask(tradovate_sim, alice):
    tradovate_sim.connect(alice)
    strategy = make_strategy(alice)
    tradovate_sim.set_price(MNQ, "21000.50")  # bid 21000.50, ask 21000.75; no alert moved it
    send(strategy, "buy")
    pos = RecordedPosition.objects.get(recorder=strategy.recorder, symbol=MNQ)
    assert pos.avg_price == D("21000.75")  # where the Paper account's market buy fills


@pytest.mark.django_db
def test_the_auto_flatten_exit_is_recorded_as_session_end(tradovate_sim, alice):
    login = tradovate_sim.connect(alice).username
    strategy = make_strategy(alice)
    send(strategy, "sell @ 21010.00")
    tradovate_sim.set_price(MNQ, "21000.00", user=login)  # alice's paper market
    send(strategy, "exit", origin="auto_flatten")
    [trade] = RecordedTrade.objects.filter(recorder=strategy.recorder)
    assert trade.exit_reason == "session_end"
    assert trade.pnl == D("10") * 2


@pytest.mark.django_db
def test_no_quote_is_a_visible_error(alice):
    strategy = make_strategy(alice)  # alice has no broker connection to read prices from
    signal = send(strategy, "buy")
    assert signal.status == "processed"  # the traders still get the signal
    recorder = Recorder.objects.get(pk=strategy.recorder.pk)
    assert "no price" in recorder.last_error
    assert strategy.logs.filter(kind="error").exists()


@pytest.mark.django_db(transaction=True)
def test_the_quote_process_closes_a_position_on_the_live_feed(tradovate_sim, alice, tmp_path):
    login = tradovate_sim.connect(alice).username
    strategy = make_strategy(
        alice,
        take_profit=D("8"),
        take_profit_unit="ticks",
        stop_loss=D("20"),
        stop_loss_unit="ticks",
    )
    tradovate_sim.set_price(MNQ, "21000.00")
    send(strategy, "buy @ 21000.00")
    log = open(tmp_path / "quotes.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "recorder_quotes", "--refresh", "0.3"],
        cwd=ROOT,
        env=child_env(**tradovate_sim.env()),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def streamed():
            tradovate_sim.set_price(MNQ, "21001.00", user=login)
            pos = RecordedPosition.objects.get(recorder=strategy.recorder, symbol=MNQ)
            return pos.last_price == D("21001.00")

        wait_until(streamed, timeout=20, interval=0.3, message="the first streamed quote")
        pos = RecordedPosition.objects.get(recorder=strategy.recorder, symbol=MNQ)
        assert pos.open_pnl == D("1.00") * 2
        tradovate_sim.set_price(MNQ, "21002.00", user=login)  # the 8-tick target
        trade = wait_until(
            lambda: RecordedTrade.objects.filter(recorder=strategy.recorder).first(),
            timeout=15,
            message="the target exit",
        )
        assert trade.exit_reason == "target"
        assert trade.exit_price == D("21002.00")
        assert trade.pnl == D("2.00") * 2
        assert trade.mfe == D("4.00")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert "Traceback" not in (tmp_path / "quotes.log").read_text()


@pytest.mark.django_db
def test_flatten_closes_the_paper_position_at_the_market(tradovate_sim, alice, api_client_for):
    login = tradovate_sim.connect(alice).username
    strategy = make_strategy(alice, sizing="signal")
    send(strategy, "buy 2 @ 21000.00")
    tradovate_sim.set_price(MNQ, "21003.00", user=login)
    r = api_client_for(alice).post(f"/api/recorders/{strategy.recorder.pk}/flatten/")
    assert r.status_code == 200 and r.json()["positions"] == []
    [trade] = RecordedTrade.objects.filter(recorder=strategy.recorder)
    assert trade.exit_reason == "flatten"
    assert trade.exit_price == D("21003.00")  # alice's paper market
    assert trade.pnl == D("3") * 2 * 2


@pytest.mark.django_db(transaction=True)
def test_the_process_records_a_followed_accounts_fills_from_its_event_stream(
    tradovate_sim, alice, tmp_path
):
    connection = tradovate_sim.connect(alice)
    account = connection.accounts.order_by("id").first()
    strategy = make_strategy(alice)
    recorder = services.recorder_update(
        recorder=strategy.recorder,
        source=Recorder.Source.ACCOUNT,
        broker_account=account,
        poll_interval_seconds=86_400,  # no beat poll would come in time: only the stream can
    )
    log = open(tmp_path / "quotes.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "recorder_quotes", "--refresh", "0.3"],
        cwd=ROOT,
        env=child_env(**tradovate_sim.env()),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # The first (re)sync of the stream polls once; wait for it before trading.
        wait_until(
            lambda: Recorder.objects.get(pk=recorder.pk).last_polled_at is not None,
            timeout=20,
            message="the account stream's first sync",
        )
        client = broker_for(connection)
        tradovate_sim.set_price(MNQ, "21000.00")
        client.place_order(account_id=account.external_id, symbol=MNQ, action="Buy", qty=1)
        tradovate_sim.set_price(MNQ, "21005.00")
        client.place_order(account_id=account.external_id, symbol=MNQ, action="Sell", qty=1)
        trade = wait_until(
            lambda: RecordedTrade.objects.filter(recorder=recorder).first(),
            timeout=20,
            message="the account's round trip recorded",
        )
        fills = sorted(client.fills(account.external_id), key=lambda f: f.id)
        assert trade.pnl == (fills[1].price - fills[0].price) * 2
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert "Traceback" not in (tmp_path / "quotes.log").read_text()
