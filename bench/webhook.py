"""W1: webhook acknowledgement under sustained load, beside a bare Django JSON view.

    .venv/bin/python bench/webhook.py [--rate 500] [--duration 15] [--json out.json]

Starts the whole system as `make run` does, on PostgreSQL and Redis with production settings
(``bench.harness.RunningSystem``), then drives it from a second process (``bench/loadgen.py``)
on loopback, in one run:

1. ``GET /ping`` (a bare Django JSON view: routing, middleware, JSON) at the offered rate — the
   baseline;
2. ``POST /webhooks/<token>/`` with distinct TradingView alerts at the same offered rate
   (open loop: latency counts from each alert's scheduled time, so a stall shows);
3. both again in a closed loop (``--concurrency`` clients back to back): the most each sustains.

Then it checks the database: every acknowledged alert is one stored Signal, no alert is stored
twice, and it reports how long the workers took to process the backlog.

Alerts are spread over many strategies (each gets fewer than the per-strategy rate limit of
120 a minute), as the alerts of many traders would be.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import RunningSystem  # noqa: E402
from bench.support import (  # noqa: E402
    Report,
    latencies,
    ping_plan,
    run_load,
    summary,
    system_kwargs,
)

PER_STRATEGY = 100  # below WEBHOOK_RATE_LIMIT_PER_MINUTE (120) even within one minute


def alert_requests(system, strategies, n: int, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        strategy = strategies[(i // PER_STRATEGY) % len(strategies)]
        body = {
            "ticker": "MNQ1!",
            "action": "buy" if (i % 2 == 0) else "sell",
            "quantity": 1,
            "price": 21000.25,
            "id": f"{tag}-{i}",
        }
        out.append(
            {
                "url": f"{system.url}/webhooks/{strategy.webhook_token}/",
                "body": json.dumps(body),
                "content_type": "application/json",
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="W1: webhook acknowledgement under load")
    parser.add_argument("--rate", type=float, default=500.0, help="offered alerts per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per open phase")
    parser.add_argument("--max-duration", type=float, default=8.0, help="seconds per max phase")
    parser.add_argument("--max-requests", type=int, default=12000, help="cap of a max phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    report = Report("W1", "webhook acknowledgement, sustained")
    with RunningSystem(**system_kwargs()) as system:
        system.setup_django()
        from bench.support import make_strategy, make_user
        from strategies.models import Signal

        open_n = int(args.rate * args.duration)
        max_n = args.max_requests
        warm_n = 300
        user = make_user("bench-w1")
        needed = math.ceil(open_n / PER_STRATEGY) + math.ceil(max_n / PER_STRATEGY) + 4
        t0 = time.perf_counter()
        strategies = [make_strategy(user, f"W1 strategy {i}") for i in range(needed)]
        print(f"{len(strategies)} strategies created in {time.perf_counter() - t0:.1f} s")
        split = math.ceil(open_n / PER_STRATEGY)
        warm_s, open_s, max_s = strategies[:3], strategies[3 : 3 + split], strategies[3 + split :]

        # Warm both paths (connections, imports, caches) before anything is measured.
        run_load(ping_plan(system.url, mode="closed", concurrency=8, max_requests=warm_n))
        run_load(
            {
                "mode": "closed",
                "concurrency": 8,
                "requests": alert_requests(system, warm_s, warm_n, "warm"),
            }
        )

        common = {"mode": "open", "rate": args.rate, "duration": args.duration}
        ping_open = run_load(ping_plan(system.url, max_requests=open_n, **common))
        hook_open = run_load({**common, "requests": alert_requests(system, open_s, open_n, "open")})
        closed = {"mode": "closed", "concurrency": args.concurrency, "duration": args.max_duration}
        ping_max = run_load(ping_plan(system.url, max_requests=max_n, **closed))
        hook_max = run_load(
            {
                **closed,
                "max_requests": max_n,
                "requests": alert_requests(system, max_s, max_n, "max"),
            }
        )

        def rate_of(result) -> float:
            ok = sum(1 for r in result["results"] if r[3] == 200)
            return ok / result["elapsed"]

        ping_s, hook_s = summary(latencies(ping_open)), summary(latencies(hook_open))
        offered = f"at {args.rate:.0f}/s offered"
        report.add(
            f"alerts/s sustained ({args.rate:.0f}/s offered, {args.duration:.0f} s)",
            rate_of(hook_open),
            "/s",
            f"≥ {args.rate:.0f}/s",
            rate_of(hook_open) >= 0.98 * args.rate
            and all(r[3] == 200 for r in hook_open["results"]),
            f"/ping {rate_of(ping_open):.0f}/s",
        )
        report.add(
            f"ack latency p50 {offered}",
            hook_s["p50"],
            "ms",
            "",
            None,
            f"/ping p50 {ping_s['p50']:.1f} ms",
        )
        report.add(
            f"ack latency p99 {offered}",
            hook_s["p99"],
            "ms",
            "< 50 ms",
            hook_s["p99"] < 50,
            f"/ping p99 {ping_s['p99']:.1f} ms",
        )
        hook_max_rate, ping_max_rate = rate_of(hook_max), rate_of(ping_max)
        hm, pm = summary(latencies(hook_max)), summary(latencies(ping_max))
        report.add(
            f"alerts/s at most ({args.concurrency} clients back to back)",
            hook_max_rate,
            "/s",
            "≥ 500/s",
            hook_max_rate >= 500,
            f"/ping {ping_max_rate:.0f}/s",
        )
        report.add(
            "ack latency p99 at most",
            hm["p99"],
            "ms",
            "",
            None,
            f"/ping p99 {pm['p99']:.1f} ms",
        )

        # Every acknowledged alert stored once, and nothing stored that was not acknowledged.
        failures = 0
        for label, result, group in (("open", hook_open, open_s), ("max", hook_max, max_s)):
            acked = [r for r in result["results"] if r[3] == 200]
            ids = [r[4] for r in acked]
            stored = Signal.objects.filter(strategy__in=group)
            stored_ids = set(stored.values_list("id", flat=True))
            keys = stored.values_list("dedupe_key", flat=True)
            statuses = {}
            for r in result["results"]:
                statuses[r[3]] = statuses.get(r[3], 0) + 1
            problems = []
            if len(set(ids)) != len(ids):
                problems.append(f"{len(ids) - len(set(ids))} acknowledgements share a signal id")
            if set(ids) != stored_ids:
                problems.append(
                    f"{len(set(ids) - stored_ids)} acknowledged but not stored, "
                    f"{len(stored_ids - set(ids))} stored but not acknowledged"
                )
            if len(set(keys)) != len(keys):
                problems.append("an alert was stored twice")
            failures += bool(problems)
            report.notes.append(
                f"{label} phase: {len(result['results'])} alerts sent, responses {statuses}, "
                f"{len(stored_ids)} signals stored"
                + (" — " + "; ".join(problems) if problems else " — every alert stored once")
            )
        report.add(
            "alerts stored once (acknowledged = stored rows, no duplicate)",
            0 if failures else 1,
            "ok",
            "every alert stored once",
            not failures,
        )

        # How long the workers take to process what was received (not part of the target).
        total = Signal.objects.filter(strategy__in=open_s + max_s).count()
        start = time.monotonic()
        done = 0
        while time.monotonic() - start < args.drain_timeout:
            done = (
                Signal.objects.filter(strategy__in=open_s + max_s)
                .exclude(status__in=[Signal.Status.ACCEPTED, Signal.Status.PROCESSING])
                .count()
            )
            if done >= total:
                break
            time.sleep(1)
        waited = time.monotonic() - start
        report.notes.append(
            f"after the load, {done}/{total} signals processed by the workers {waited:.0f} s later"
        )
    report.print()
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
