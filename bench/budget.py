"""W6: Tradovate requests per login, idle and per signal.

    .venv/bin/python bench/budget.py [--idle 300] [--json out.json]

The whole system as `make run` starts it (web, workers, beat, the broker stream, the recorder's
quote process, the paper broker = our Tradovate simulator, which counts every request of each
login, REST and WebSocket alike). Two logins with two accounts each; every account has a trader
with a daily loss limit and a profit target and an open position (quotes, open P&L and the
limits all at work). Measured: the requests each login makes while nothing happens, scaled to an
hour (target ≤ 300, Tradovate allows about 5,000), then what one signal costs each account (target:
exactly one order request, no position read). Baseline in the same run: the requests of logging
in and syncing once (what a reconnect costs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import RunningSystem  # noqa: E402
from bench.support import Report, provision_paper, sim_admin_headers, system_kwargs, wait_for  # noqa: E402

ORDER_PREFIXES = ("order/", "orderStrategy/")
READ_PREFIXES = ("position/", "cashBalance/", "fill/", "order/list", "order/item")


def _requests_of(sim_root: str, login: str, since: str) -> dict[str, int]:
    r = requests.get(
        f"{sim_root}/sim/requests",
        params={"user": login, "since": since},
        headers=sim_admin_headers(),
        timeout=10,
    )
    r.raise_for_status()
    counts: dict[str, int] = {}
    for row in r.json()["requests"]:
        counts[row["endpoint"]] = counts.get(row["endpoint"], 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description="W6: Tradovate requests per login")
    parser.add_argument("--idle", type=float, default=300, help="seconds of idle measured")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    report = Report("W6", "Tradovate requests per login, idle and per signal")
    with RunningSystem(**system_kwargs()) as system:
        system.setup_django()
        from bench.support import make_strategy, make_user
        from traders.models import Execution
        from traders.services import trader_create

        sim_root = f"http://127.0.0.1:{system.sim_port}"
        wait_for(lambda: requests.get(f"{sim_root}/sim/health", timeout=2).ok, 30, what="sim")
        user = make_user("bench-w6")
        strategy = make_strategy(user, "W6 budget", quantity=1, stop_loss=40)
        logins = []
        for n in range(2):
            connection, accounts, _ = provision_paper(
                sim_root, user=user, accounts=2, label=f"P{n}"
            )
            logins.append(connection.username)
            for account in accounts:
                trader_create(
                    user=user,
                    strategy=strategy,
                    broker_account=account,
                    enabled=True,
                    daily_loss_limit=5000,
                    daily_profit_target=5000,
                )
        hook = f"{system.url}/webhooks/{strategy.webhook_token}/"
        connect_since = datetime.now(UTC).isoformat()
        time.sleep(20)  # the broker stream finds the new logins, logs in and syncs
        baseline = {login: _requests_of(sim_root, login, connect_since) for login in logins}

        def settled(signal_id: int) -> bool:
            return Execution.objects.filter(signal_id=signal_id, status="done").count() == 4

        opened = requests.post(hook, data='{"action": "buy", "id": "w6-open"}', timeout=10).json()
        wait_for(lambda: settled(opened["signal_id"]), 60, what="positions opened")
        time.sleep(20)
        since = datetime.now(UTC).isoformat()
        time.sleep(args.idle)
        idle = {login: _requests_of(sim_root, login, since) for login in logins}
        since = datetime.now(UTC).isoformat()
        added = requests.post(
            hook, data='{"action": "buy", "quantity": 1, "id": "w6-add"}', timeout=10
        ).json()
        wait_for(lambda: settled(added["signal_id"]), 60, what="the add executed")
        time.sleep(2)
        per_signal = {login: _requests_of(sim_root, login, since) for login in logins}

    for login in logins:
        hourly = sum(idle[login].values()) * 3600 / args.idle
        report.add(
            f"idle requests per hour, {login[-12:]} (2 accounts, limits, open positions)",
            hourly,
            "/h",
            "≤ 300 /h",
            hourly <= 300,
            baseline=f"a login and its first sync: {sum(baseline[login].values())} requests",
        )
        report.notes.append(
            f"{login[-12:]} idle, by endpoint: {json.dumps(idle[login], sort_keys=True)}"
        )
        orders = {k: v for k, v in per_signal[login].items() if k.startswith(ORDER_PREFIXES)}
        reads = {k: v for k, v in per_signal[login].items() if k.startswith(READ_PREFIXES)}
        per_account = sum(orders.values()) / 2
        report.add(
            f"order requests per account for one signal, {login[-12:]}",
            per_account,
            "",
            "exactly 1, no position read",
            per_account == 1 and not reads,
            baseline="",
        )
        report.notes.append(
            f"{login[-12:]} one signal, by endpoint: {json.dumps(per_signal[login], sort_keys=True)}"
        )
    report.print()
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
