"""W2: webhook in → order accepted by the Tradovate simulator, p50/p99.

    .venv/bin/python bench/latency.py [--alerts 200] [--rate 10] [--json out.json]

The whole system as `make run` starts it (PostgreSQL, Redis, production settings, the paper
broker = our Tradovate simulator). Ten strategies, each with one enabled trader on its own
simulator account; alerts (buy 1, then sell 1, …) are sent at a steady 2 a second (`--rate`) from a second
process. For each alert the figure is

    the simulator's own timestamp of the order it accepted  −  the moment the alert was sent

(one clock: everything runs on this machine). Baselines measured in the same run: the round
trip of ``GET /ping`` and of one ``place_order`` from our Tradovate client straight to the
simulator — the floor under the webhook → worker → broker path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import RunningSystem  # noqa: E402
from bench.support import (  # noqa: E402
    Report,
    parse_ts,
    ping_plan,
    provision_paper,
    run_load,
    sim_orders,
    summary,
    system_kwargs,
    wait_for,
)

STRATEGIES = 10


def main() -> int:
    parser = argparse.ArgumentParser(description="W2: webhook → order accepted")
    parser.add_argument("--alerts", type=int, default=80)
    parser.add_argument("--rate", type=float, default=2.0, help="alerts per second")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    report = Report("W2", "webhook in → order accepted by the Tradovate simulator")
    with RunningSystem(**system_kwargs()) as system:
        system.setup_django()
        from accounts.brokers.factory import broker_for
        from bench.support import make_strategy, make_user
        from traders.models import Order
        from traders.services import trader_create

        sim_root = f"http://127.0.0.1:{system.sim_port}"
        wait_for(lambda: _up(f"{sim_root}/sim/health"), 30, what="the paper broker")
        user = make_user("bench-w2")
        connection, accounts, password = provision_paper(
            sim_root, user=user, accounts=STRATEGIES + 1
        )
        strategies = []
        for i in range(STRATEGIES):
            strategy = make_strategy(user, f"W2 strategy {i}")
            trader_create(
                user=user,
                strategy=strategy,
                broker_account=accounts[i],
                enabled=True,
                max_contracts=5,
            )
            strategies.append(strategy)

        # Baselines: /ping, and our Tradovate client placing straight on the simulator.
        ping = run_load(ping_plan(system.url, mode="open", rate=args.rate, max_requests=100))
        broker = broker_for(connection)
        spare = accounts[-1].external_id
        broker.accounts()  # log in once, as a worker would have done long before
        direct = []
        for i in range(60):
            t0 = time.perf_counter()
            broker.place_order(
                account_id=spare, symbol="MNQ1!", action="Buy" if i % 2 == 0 else "Sell", qty=1
            )
            direct.append((time.perf_counter() - t0) * 1000)
        direct = direct[10:]  # the first calls warm connections and caches

        requests_ = []
        for i in range(args.alerts):
            strategy = strategies[i % STRATEGIES]
            leg = i // STRATEGIES
            body = {"ticker": "MNQ1!", "action": "buy" if leg % 2 == 0 else "sell", "quantity": 1}
            body["id"] = f"w2-{i}"
            requests_.append(
                {
                    "url": f"{system.url}/webhooks/{strategy.webhook_token}/",
                    "body": json.dumps(body),
                    "content_type": "application/json",
                }
            )
        # Warm the path (web, worker, broker tokens) with alerts that are not measured.
        warm_n = 2 * STRATEGIES
        warm = run_load(
            {
                "mode": "open",
                "rate": args.rate,
                "requests": requests_[:warm_n],
                "timeout": 10,
                "duration": warm_n / args.rate + 5,
            }
        )
        measured_requests = requests_[warm_n:]
        result = run_load(
            {
                "mode": "open",
                "rate": args.rate,
                "requests": measured_requests,
                "timeout": 10,
                "duration": len(measured_requests) / args.rate + 5,
            }
        )
        sent = {r[4]: r[1] for r in result["results"] if r[3] == 200 and r[4]}
        bad = [r for r in result["results"] if r[3] != 200]
        warm_ids = {r[4] for r in warm["results"] if r[4]}

        def settled() -> bool:
            placed = (
                Order.objects.filter(signal_id__in=list(sent), broker_order_id__isnull=False)
                .values("signal_id")
                .distinct()
                .count()
            )
            return (
                placed >= len(sent)
                and not Order.objects.filter(
                    signal_id__in=list(sent) + list(warm_ids), status__in=["Planned", "Sending"]
                ).exists()
            )

        try:
            wait_for(settled, 60, 0.5, "every order placed")
        except TimeoutError as exc:
            report.notes.append(str(exc))
        sim = sim_orders(f"{sim_root}/v1", connection.username, password)
        samples, internal, missing = [], [], 0
        orders = Order.objects.filter(signal_id__in=list(sent), parent__isnull=True)
        by_signal = {}
        for order in orders.select_related("signal"):
            by_signal.setdefault(order.signal_id, []).append(order)
        for signal_id, t_sent in sent.items():
            placed = [o for o in by_signal.get(signal_id, []) if o.broker_order_id in sim]
            if not placed:
                missing += 1
                continue
            first = min(placed, key=lambda o: parse_ts(sim[o.broker_order_id]["timestamp"]))
            samples.append((parse_ts(sim[first.broker_order_id]["timestamp"]) - t_sent) * 1000)
            if first.accepted_at:
                internal.append(
                    (first.accepted_at - first.signal.received_at).total_seconds() * 1000
                )
        s, d, n = summary(samples), summary(direct), summary(internal)
        p = summary([r[2] for r in ping["results"] if r[3] == 200])
        report.add(
            f"webhook → order accepted p50 ({len(samples)} alerts at {args.rate:.0f}/s)",
            s["p50"],
            "ms",
            "< 25 ms",
            s["p50"] < 25,
            f"place_order alone p50 {d['p50']:.1f} ms; /ping p50 {p['p50']:.1f} ms",
        )
        report.add(
            "webhook → order accepted p99",
            s["p99"],
            "ms",
            "< 100 ms",
            s["p99"] < 100,
            f"place_order alone p99 {d['p99']:.1f} ms; /ping p99 {p['p99']:.1f} ms",
        )
        report.add(
            "signal stored → order accepted recorded, p50 (server side)",
            n["p50"],
            "ms",
            "",
            None,
            f"p99 {n['p99']:.1f} ms",
        )
        report.notes.append(
            f"{len(sent)} alerts acknowledged, {len(bad)} not; "
            f"{missing} without an order accepted by the simulator"
        )
        if missing or bad:
            report.rows[0].ok = False
            report.rows[1].ok = False
    report.print()
    report.write(args.json)
    return 0


def _up(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code < 500  # 403 without the admin token
    except requests.RequestException:
        return False


if __name__ == "__main__":
    sys.exit(main())
