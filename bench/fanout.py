"""W3: one signal fanned out to 100 traders on 100 simulator accounts.

    .venv/bin/python bench/fanout.py [--traders 100] [--rounds 6] [--json out.json]

The whole system as `make run` starts it (PostgreSQL, Redis, production settings, the paper
broker). One strategy with 100 enabled traders, each on its own simulator account, and a
second strategy with a single trader (the baseline, measured in the same run). Each round posts
one alert (buy 1, then sell 1, …) and measures

    the simulator's timestamp of the LAST of the 100 orders  −  the moment the alert was sent

and checks that every trader got exactly one order for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import RunningSystem  # noqa: E402
from bench.support import (  # noqa: E402
    Report,
    parse_ts,
    provision_paper,
    sim_orders,
    summary,
    system_kwargs,
    wait_for,
)


def post_alert(system, strategy, body: dict) -> tuple[float, int]:
    sent = time.time()
    response = requests.post(
        f"{system.url}/webhooks/{strategy.webhook_token}/",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    response.raise_for_status()
    return sent, response.json()["signal_id"]


def main() -> int:
    parser = argparse.ArgumentParser(description="W3: one signal to 100 accounts")
    parser.add_argument("--traders", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    report = Report("W3", f"one signal fanned out to {args.traders} accounts")
    with RunningSystem(**system_kwargs()) as system:
        system.setup_django()
        from bench.support import make_strategy, make_user
        from traders.models import Order
        from traders.services import trader_create

        sim_root = f"http://127.0.0.1:{system.sim_port}"
        wait_for(lambda: _up(f"{sim_root}/sim/health"), 30, what="the paper broker")
        user = make_user("bench-w3")
        connection, accounts, password = provision_paper(
            sim_root, user=user, accounts=args.traders + 1
        )
        fan = make_strategy(user, "W3 fan-out")
        single = make_strategy(user, "W3 single")
        for account in accounts[: args.traders]:
            trader_create(
                user=user, strategy=fan, broker_account=account, enabled=True, max_contracts=5
            )
        trader_create(
            user=user,
            strategy=single,
            broker_account=accounts[args.traders],
            enabled=True,
            max_contracts=5,
        )

        def run_round(strategy, n_traders: int, i: int, tag: str) -> tuple[float, int, int]:
            body = {"ticker": "MNQ1!", "action": "buy" if i % 2 == 0 else "sell", "quantity": 1}
            body["id"] = f"w3-{tag}-{i}"
            sent, signal_id = post_alert(system, strategy, body)

            def done():
                # A reversal is two legs per trader (close, then open): count traders, not rows.
                orders = Order.objects.filter(signal_id=signal_id, parent__isnull=True)
                open_ = orders.filter(status__in=["Planned", "Sending"]).exists()
                entered = orders.filter(role="entry").values("trader_id").distinct().count()
                return entered >= n_traders and not open_

            try:
                wait_for(done, 60, 0.05, f"{n_traders} orders of signal {signal_id}")
            except TimeoutError as exc:
                report.notes.append(str(exc))
            return sent, signal_id, n_traders

        from traders.mirror import mirror_is_fresh

        # The system streams a new login within seconds; measured on the stream, as it runs.
        wait_for(lambda: mirror_is_fresh(connection), 60, 0.2, "the login's stream")
        fan_rounds, single_rounds = [], []
        run_round(single, 1, 0, "warm")  # warm the web, the worker and broker tokens
        run_round(single, 1, 1, "warm")
        for i in range(args.rounds):
            single_rounds.append(run_round(single, 1, i, "single"))
            fan_rounds.append(run_round(fan, args.traders, i, "fan"))
            time.sleep(0.5)

        sim = sim_orders(f"{sim_root}/v1", connection.username, password)
        report.notes.append(_where_the_time_went(sim_root, connection.username, fan))

        def last_accepted(sent: float, signal_id: int, n_traders: int) -> tuple[float, str]:
            orders = list(Order.objects.filter(signal_id=signal_id, parent__isnull=True))
            # Each trader: exactly one entry; a reversal adds a closing leg before it (a
            # liquidation has no order id of its own, so only legs with one are timed).
            entries = {}
            for o in orders:
                if o.role == "entry":
                    entries.setdefault(o.trader_id, []).append(o)
            placed = [o for o in orders if o.broker_order_id]
            stamps = [
                parse_ts(sim[o.broker_order_id]["timestamp"])
                for o in placed
                if o.broker_order_id in sim
            ]
            entries_accepted = sum(
                1 for legs in entries.values() for o in legs if o.broker_order_id in sim
            )
            problem = ""
            if (
                len(entries) != n_traders
                or any(len(legs) != 1 for legs in entries.values())
                or entries_accepted != n_traders
                or len(stamps) != len(placed)
            ):
                problem = (
                    f"signal {signal_id}: {len(entries)}/{n_traders} traders with one entry, "
                    f"{entries_accepted} entries and {len(stamps)}/{len(placed)} placed orders "
                    "accepted by the simulator"
                )
            cl_ids = [o.cl_ord_id for o in orders]
            if len(set(cl_ids)) != len(cl_ids):
                problem += f" signal {signal_id}: a client order id was used twice"
            return ((max(stamps) - sent) * 1000 if stamps else float("nan")), problem

        fan_ms, single_ms, problems = [], [], []
        for rounds, out in ((fan_rounds, fan_ms), (single_rounds, single_ms)):
            for sent, signal_id, n in rounds:
                ms, problem = last_accepted(sent, signal_id, n)
                out.append(ms)
                if problem:
                    problems.append(problem)
        f, s = summary(fan_ms), summary(single_ms)
        report.add(
            f"webhook → last of {args.traders} orders accepted, median of {len(fan_ms)}",
            f["p50"],
            "ms",
            "< 1000 ms",
            f["p50"] < 1000 and not problems,
            f"one trader: median {s['p50']:.0f} ms",
        )
        report.add(
            "webhook → last order accepted, worst round",
            f["max"],
            "ms",
            "< 1000 ms",
            f["max"] < 1000 and not problems,
            f"one trader: worst {s['max']:.0f} ms",
        )
        report.notes.append(
            "rounds (ms): "
            + ", ".join(f"{v:.0f}" for v in fan_ms)
            + "; every trader got exactly one order per signal"
            if not problems
            else "PROBLEMS: " + "; ".join(problems)
        )
    report.print()
    report.write(args.json)
    return 0


def _where_the_time_went(sim_root: str, username: str, strategy) -> str:
    """The fan-out executions' run times and the login's request mix at the broker (429s
    included): what a miss is made of."""
    from bench.support import sim_admin_headers
    from traders.models import Execution

    runs = [
        (ex.finished_at - ex.started_at).total_seconds() * 1000
        for ex in Execution.objects.filter(signal__strategy=strategy, finished_at__isnull=False)
        if ex.started_at
    ]
    attempts = Execution.objects.filter(signal__strategy=strategy, attempts__gt=1).count()
    stats = requests.get(f"{sim_root}/sim/stats", headers=sim_admin_headers(), timeout=10).json()
    mine = stats.get("by_user", {}).get(username, {})
    top = sorted((mine.get("endpoints") or {}).items(), key=lambda kv: -kv[1])[:6]
    run = summary(runs) if runs else {"p50": float("nan"), "max": float("nan")}
    return (
        f"execution run time p50 {run['p50']:.0f} ms, max {run['max']:.0f} ms, "
        f"{attempts} run more than once; the login's requests: {mine.get('total', 0)} "
        f"({', '.join(f'{k} {v}' for k, v in top)}); 429s: {stats.get('rate_limited', 0)}"
    )


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500  # 403 without the admin token
    except requests.RequestException:
        return False


if __name__ == "__main__":
    sys.exit(main())
