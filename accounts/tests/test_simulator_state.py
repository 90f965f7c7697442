"""The paper broker's state file carries order strategies and per-login books across a restart."""

from __future__ import annotations

import json

from accounts.brokers.simulator.server import SimConfig, SimServer
from justtrades.testing.tradovate import SimHandle


def start(path):
    server = SimServer(SimConfig(port=0, feed=False, state_path=path)).start_in_thread()
    return server, SimHandle(server)


def test_strategies_links_and_alert_books_survive_a_restart(tmp_path):
    path = tmp_path / "state.json"
    server, sim = start(path)
    try:
        sim.set_price("MNQZ5", "21000")
        sim.set_price("MNQZ5", "21040", user="demo")  # demo's own market, from its alerts
        api = sim.login()
        account = api.accounts()[0]
        params = {
            "entryVersion": {"orderQty": 1, "orderType": "Market"},
            "brackets": [{"qty": 1, "profitTarget": 10, "stopLoss": -5, "trailingStop": False}],
        }
        started = api.post(
            "orderStrategy/startOrderStrategy",
            {
                "accountId": account["id"],
                "symbol": "MNQZ5",
                "action": "Buy",
                "orderStrategyTypeId": 2,
                "params": json.dumps(params),
                "uuid": "keep-me",
            },
        )["orderStrategy"]
        links_before = api.get("orderStrategyLink/deps", masterid=started["id"])
    finally:
        server.stop()
    assert path.exists()
    server, sim = start(path)
    try:
        mine = sim.quote("MNQZ5", user="demo")
        assert (mine["source"], mine["entries"]["Trade"]["price"]) == ("alerts", 21040)
        assert sim.quote("MNQZ5")["entries"]["Trade"]["price"] == 21000
        api = sim.login()
        [strategy] = api.get("orderStrategy/list")
        assert (strategy["id"], strategy["uuid"], strategy["status"]) == (
            started["id"],
            "keep-me",
            "ActiveStrategy",
        )
        assert api.get("orderStrategyLink/deps", masterid=started["id"]) == links_before
        # The restored strategy still follows its exits: the target fills, it finishes.
        sim.set_price("MNQZ5", "21050", user="demo")  # entry 21040, target 21050
        assert api.get("orderStrategy/item", id=started["id"])["status"] == "ExecutionFinished"
        assert sim.positions(account["id"]) == {}
    finally:
        server.stop()


def test_the_trade_day_survives_a_restart(tmp_path):
    path = tmp_path / "state.json"
    server, sim = start(path)
    try:
        sim.clock("2026-12-02T16:00:00Z")
        sim.set_price("MNQZ5", "21000")
        api = sim.login()
        account_id = api.accounts()[0]["id"]
        for action in ("Buy", "Sell"):
            body = {
                "accountId": account_id,
                "action": action,
                "symbol": "MNQZ5",
                "orderQty": 1,
                "orderType": "Market",
            }
            api.post("order/placeorder", body)
        day = server.call(lambda: server.sim.engine.trade_day)
    finally:
        server.stop()
    server, sim = start(path)
    try:
        # Restarted before the clock is set again: the day P&L still belongs to that day.
        assert server.call(lambda: server.sim.engine.trade_day) == day
    finally:
        server.stop()
