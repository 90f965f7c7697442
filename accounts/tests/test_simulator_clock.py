"""The simulator's clock (``/sim/clock``) and the trading day it drives."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from justtrades.testing.fixtures import wait_until

CT = ZoneInfo("America/Chicago")


def ct(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CT)


def trade(api, account_id, action):
    return api.post(
        "order/placeorder",
        {
            "accountId": account_id,
            "action": action,
            "symbol": "MNQZ5",
            "orderQty": 1,
            "orderType": "Market",
            "isAutomated": True,
        },
    )


def test_the_clock_can_be_frozen_offset_and_real(tradovate_sim):
    frozen = tradovate_sim.clock(ct("2026-12-02 10:00"))
    assert (frozen["mode"], frozen["now"]) == ("frozen", "2026-12-02T16:00:00Z")
    api = tradovate_sim.login()
    tradovate_sim.set_price("MNQZ5", "21000")
    account_id = api.accounts()[0]["id"]
    placed = trade(api, account_id, "Buy")
    [fill] = api.get("fill/deps", masterid=placed["orderId"])
    assert fill["timestamp"] == "2026-12-02T16:00:00.000Z"
    assert fill["tradeDate"] == {"year": 2026, "month": 12, "day": 2}
    assert api.get("order/item", id=placed["orderId"])["timestamp"].startswith("2026-12-02T16:00")
    ahead = tradovate_sim.clock(offset_seconds=3600)
    assert ahead["mode"] == "offset" and ahead["offset_seconds"] == 3600
    assert tradovate_sim.clock(real=True)["mode"] == "real"


@pytest.mark.parametrize(
    ("at", "day"),
    [
        ("2026-12-02 16:59", "2026-12-02"),
        ("2026-12-02 17:00", "2026-12-03"),
        ("2026-12-04 17:00", "2026-12-07"),  # Friday evening belongs to Monday
        ("2026-03-09 17:30", "2026-03-10"),  # the week DST starts (CDT)
        ("2026-11-02 17:30", "2026-11-03"),  # the week it ends (CST)
    ],
)
def test_fills_carry_the_trade_date_that_rolls_at_five_pm_central(tradovate_sim, at, day):
    tradovate_sim.clock(ct(at))
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    placed = trade(api, api.accounts()[0]["id"], "Buy")
    [fill] = api.get("fill/deps", masterid=placed["orderId"])
    y, m, d = (int(p) for p in day.split("-"))
    assert fill["tradeDate"] == {"year": y, "month": m, "day": d}


def test_tokens_expire_by_the_simulator_clock(tradovate_sim):
    tradovate_sim.clock(ct("2026-12-02 10:00"))
    api = tradovate_sim.login()
    assert api.accounts() is not None
    tradovate_sim.clock(ct("2026-12-02 10:00") + timedelta(minutes=81))
    api.accounts()
    assert api.last.status_code == 401


def test_the_day_realized_pnl_resets_at_five_pm_central(tradovate_sim):
    tradovate_sim.clock(ct("2026-12-02 16:59:58"))  # Wednesday
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    account_id = api.accounts()[0]["id"]
    trade(api, account_id, "Buy")  # at 21000.25
    tradovate_sim.set_price("MNQZ5", "21010.25")
    trade(api, account_id, "Sell")  # at 21010.25: +10 points × $2
    cash = api.post("cashBalance/getcashbalancesnapshot", {"accountId": account_id})
    assert (cash["realizedPnL"], cash["weekRealizedPnL"], cash["totalCashValue"]) == (
        20,
        20,
        50020,
    )
    sock = api.ws(sync=True)
    try:
        tradovate_sim.clock(ct("2026-12-02 17:00:01"))
        # The background check notices the roll within about a second and tells the stream.
        sock.wait_for(
            lambda: any(
                e["entity"]["accountId"] == account_id and e["entity"]["realizedPnL"] == 0
                for e in sock.props("cashBalance")
            ),
            timeout=5,
        )
    finally:
        sock.close()
    cash = api.post("cashBalance/getcashbalancesnapshot", {"accountId": account_id})
    assert (cash["realizedPnL"], cash["weekRealizedPnL"], cash["totalCashValue"]) == (
        0,
        20,
        50020,
    )


def test_the_week_realized_pnl_resets_on_the_first_trade_date_of_a_week(tradovate_sim):
    tradovate_sim.clock(ct("2026-12-04 15:00"))  # Friday
    tradovate_sim.set_price("MNQZ5", "21000")
    api = tradovate_sim.login()
    account_id = api.accounts()[0]["id"]
    trade(api, account_id, "Buy")
    tradovate_sim.set_price("MNQZ5", "20990.25")
    trade(api, account_id, "Sell")  # -10 points × $2
    assert tradovate_sim.cash(account_id)["weekRealizedPnL"] == Decimal(-20)
    tradovate_sim.clock(ct("2026-12-06 17:01"))  # Sunday evening: Monday's trade date
    wait_until(lambda: tradovate_sim.cash(account_id)["weekRealizedPnL"] == 0, timeout=5)
    cash = tradovate_sim.cash(account_id)
    assert (cash["realizedPnL"], cash["totalCashValue"]) == (0, Decimal("49980"))
