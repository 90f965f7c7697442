"""CME Globex hours and holidays (``accounts.brokers.sessions``) and the simulator's use of them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from accounts.brokers.sessions import session_state, trade_date
from accounts.brokers.symbols import PRODUCTS, UnknownSymbol

CT = ZoneInfo("America/Chicago")


def ct(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CT)


# --- the pure functions -------------------------------------------------------------------------


@pytest.mark.parametrize("root", sorted(PRODUCTS))
def test_every_product_opens_sunday_at_five_pm_central(root):
    assert not session_state(root, ct("2026-12-06 16:59")).open
    state = session_state(root, ct("2026-12-06 17:00"))
    assert state.open and state.closes_at == ct("2026-12-07 16:00")


def test_a_closed_session_says_why_and_when_it_reopens():
    state = session_state("MNQ", ct("2026-12-05 12:00"))  # Saturday
    assert (state.open, state.reason) == (False, "closed for the weekend")
    assert state.opens_at == ct("2026-12-06 17:00") and state.opens_at.tzinfo is UTC


def test_the_daily_break_is_closed():
    assert session_state("ES", ct("2026-12-01 15:59")).open
    state = session_state("ES", ct("2026-12-01 16:00"))
    assert (state.open, state.reason) == (False, "daily break (16:00–17:00 CT)")
    assert state.opens_at == ct("2026-12-01 17:00")
    assert session_state("ES", ct("2026-12-01 17:00")).open


def test_christmas_day_is_closed_until_sunday_evening():
    state = session_state("NQ", ct("2026-12-25 10:00"))
    assert (state.open, state.reason) == (False, "closed for Christmas")
    assert state.opens_at == ct("2026-12-27 17:00")


def test_new_years_day_and_good_friday_are_closed():
    assert session_state("CL", ct("2027-01-01 10:00")).reason == "closed for New Year's Day"
    assert session_state("GC", ct("2026-04-03 10:00")).reason == "closed for Good Friday"


def test_thanksgiving_closes_early_and_reopens_in_the_evening():
    before = session_state("MES", ct("2026-11-26 11:59"))
    assert before.open and before.closes_at == ct("2026-11-26 12:00")
    assert "closes early" in before.reason
    after = session_state("MES", ct("2026-11-26 12:00"))
    assert (after.open, after.reason) == (False, "closed early for Thanksgiving Day")
    assert after.opens_at == ct("2026-11-26 17:00")
    assert session_state("MES", ct("2026-11-27 11:59")).open  # Black Friday, a short day
    assert not session_state("MES", ct("2026-11-27 12:00")).open


def test_juneteenth_closes_early():
    assert session_state("MNQ", ct("2026-06-19 11:59")).open
    assert "Juneteenth" in session_state("MNQ", ct("2026-06-19 12:00")).reason


@pytest.mark.parametrize(
    ("sunday", "utc_hour"),
    [("2026-03-08", 22), ("2026-03-01", 23), ("2026-11-01", 23), ("2026-10-25", 22)],
)
def test_the_open_follows_daylight_saving_time(sunday, utc_hour):
    state = session_state("MNQ", ct(f"{sunday} 17:00"))
    assert state.open and state.opens_at.hour == utc_hour
    assert not session_state("MNQ", ct(f"{sunday} 16:59")).open


@pytest.mark.parametrize(
    ("at", "day"),
    [
        ("2026-12-02 16:59", date(2026, 12, 2)),
        ("2026-12-02 17:00", date(2026, 12, 3)),
        ("2026-12-04 17:00", date(2026, 12, 7)),  # Friday → Monday
        ("2026-12-05 10:00", date(2026, 12, 7)),  # Saturday
        ("2026-12-24 17:00", date(2026, 12, 28)),  # over Christmas
        ("2026-03-09 17:00", date(2026, 3, 10)),
        ("2026-11-02 17:00", date(2026, 11, 3)),
    ],
)
def test_the_trade_date_rolls_at_five_pm_central(at, day):
    assert trade_date(ct(at)) == day


def test_unknown_products_and_naive_times_are_refused():
    with pytest.raises(UnknownSymbol):
        session_state("ZZ", ct("2026-12-01 10:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        session_state("ES", datetime(2026, 12, 1, 10))


# --- the simulator refuses orders outside the session --------------------------------------------


@pytest.fixture
def sessions_on(tradovate_sim):
    tradovate_sim.clock(ct("2026-12-02 10:00"))
    assert tradovate_sim.config(enforce_sessions=True)["enforce_sessions"] is True
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    return api, api.accounts()[0]


def market(account, **extra):
    return {
        "accountId": account["id"],
        "action": "Buy",
        "symbol": "MNQZ5",
        "orderQty": 1,
        "orderType": "Market",
        "isAutomated": True,
        **extra,
    }


def test_an_order_is_refused_sunday_at_four_fifty_nine_and_accepted_at_five(
    sessions_on, tradovate_sim
):
    api, account = sessions_on
    tradovate_sim.clock(ct("2026-12-06 16:59"))
    api = tradovate_sim.login()
    refused = api.post("order/placeorder", market(account))
    assert refused["failureReason"] == "SessionClosed"
    assert refused["failureText"] == (
        "MNQZ5 is not trading: closed for the weekend; it reopens at 2026-12-06 17:00 CT."
    )
    assert api.get("order/list") == []
    tradovate_sim.clock(ct("2026-12-06 17:00"))
    assert "orderId" in api.post("order/placeorder", market(account))


def test_christmas_day_refuses_orders(sessions_on, tradovate_sim):
    api, account = sessions_on
    tradovate_sim.clock(ct("2026-12-25 09:30"))
    api = tradovate_sim.login()
    refused = api.post("order/placeorder", market(account))
    assert refused["failureReason"] == "SessionClosed" and "Christmas" in refused["failureText"]


def test_the_daily_break_refuses_oso_oco_and_strategies_but_not_cancels(sessions_on, tradovate_sim):
    api, account = sessions_on
    resting = api.post(
        "order/placeorder", market(account, orderType="Limit", price=20900, orderQty=2)
    )
    tradovate_sim.clock(ct("2026-12-02 16:30"))
    api = tradovate_sim.login()  # hours later: a new token
    oso = {**market(account), "bracket1": {"action": "Sell", "orderType": "Limit", "price": 21050}}
    assert api.post("order/placeoso", oso)["failureReason"] == "SessionClosed"
    oco = {
        **market(account, action="Sell", orderType="Limit", price=21050),
        "other": {"action": "Sell", "orderType": "Stop", "stopPrice": 20950},
    }
    assert api.post("order/placeoco", oco)["failureReason"] == "SessionClosed"
    strategy = {
        "accountId": account["id"],
        "symbol": "MNQZ5",
        "action": "Buy",
        "orderStrategyTypeId": 2,
        "params": json.dumps(
            {
                "entryVersion": {"orderQty": 1, "orderType": "Market"},
                "brackets": [{"qty": 1, "profitTarget": 10, "stopLoss": -5, "trailingStop": False}],
            }
        ),
    }
    answer = api.post("orderStrategy/startOrderStrategy", strategy)
    assert answer["failureReason"] == "SessionClosed" and "daily break" in answer["errorText"]
    modify = {"orderId": resting["orderId"], "orderQty": 1, "orderType": "Limit", "price": 20910}
    assert "commandId" in api.post("order/modifyorder", modify)
    assert "commandId" in api.post("order/cancelorder", {"orderId": resting["orderId"]})


def test_an_early_close_refuses_orders_after_noon(sessions_on, tradovate_sim):
    api, account = sessions_on
    tradovate_sim.clock(ct("2026-11-27 11:59"))  # Black Friday
    api = tradovate_sim.login()
    assert "orderId" in api.post("order/placeorder", market(account))
    tradovate_sim.clock(ct("2026-11-27 12:01"))
    refused = api.post("order/placeorder", market(account))
    assert refused["failureReason"] == "SessionClosed"
    assert "reopens at 2026-11-29 17:00 CT" in refused["failureText"]


@pytest.mark.parametrize(
    ("before", "after"),
    [("2026-03-08 16:59", "2026-03-08 17:00"), ("2026-11-01 16:59", "2026-11-01 17:00")],
)
def test_the_simulator_follows_daylight_saving_time(sessions_on, tradovate_sim, before, after):
    api, account = sessions_on
    tradovate_sim.clock(ct(before))
    api = tradovate_sim.login()
    assert api.post("order/placeorder", market(account))["failureReason"] == "SessionClosed"
    tradovate_sim.clock(ct(after))
    assert "orderId" in api.post("order/placeorder", market(account))


def test_sessions_are_off_in_the_test_fixture_unless_turned_on(tradovate_sim):
    assert tradovate_sim.config()["enforce_sessions"] is False
    tradovate_sim.clock(ct("2026-12-25 10:00"))
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    assert "orderId" in api.post("order/placeorder", market(api.accounts()[0]))
