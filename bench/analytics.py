"""W4: the statistics of a strategy with 100,000 trades, and the dashboard API.

    .venv/bin/python bench/analytics.py [--trades 100000] [--repeat 20]

Builds a throw-away database (SQLite file under ``$JT_VAR_DIR``, or ``<name>_bench_analytics``
on the server of ``DATABASE_URL``), fills one strategy's recorder with N recorded trades, then
times, in the same run:

* baseline: ``SELECT COUNT(*)`` over the strategy's trades (the floor any figure pays);
* the full statistics of the strategy (`analytics.selectors.analytics_statistics`, cache off);
* the dashboard summary selector, cache off (cold) and on (warm: the trades did not change);
* ``GET /api/dashboard/summary/`` and ``GET /api/analytics/strategy/<id>/`` through Django's
  test client (whole request path: middleware, session auth, DRF, JSON), warm.

Targets (DESIGN §7): statistics < 250 ms; dashboard API p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics as pystats
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "justtrades.settings")
os.environ.setdefault("JT_VAR_DIR", str(ROOT / "var" / "bench-analytics"))


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


timings: dict[str, list[float]] = {}


def _p(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, int(round(q * (len(ms) - 1))))]


def _report(args, vendor: str, t: dict[str, list[float]]):
    from bench.support import Report

    report = Report("W4", f"statistics of a strategy with {args.trades:,} trades ({vendor})")
    base = f"COUNT(*) p50 {_p(t['baseline'], 0.5):.1f} ms"
    stats_p50 = _p(t["stats"], 0.5)
    report.add("statistics, cold (p50)", stats_p50, "ms", "< 250 ms", stats_p50 < 250, base)
    api = max(_p(v, 0.95) for k, v in t.items() if k.startswith("api "))
    report.add("dashboard API, warm (worst p95)", api, "ms", "< 100 ms", api < 100, base)
    cold = _p(t["cold summary"], 0.95)
    report.add("GET /api/dashboard/summary/, cold (p95)", cold, "ms", "", None, base)
    report.notes.append(
        "cold = computed from the trades; warm = the trades did not change since the last "
        "request (cached figures checked by COUNT/MAX(id) of the trades)"
    )
    report.print()
    return report


def _fmt(name: str, ms: list[float], key: str = "") -> str:
    timings[key or name] = ms
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"{name:<48} p50 {pystats.median(ms):8.1f} ms   p95 {p95:8.1f} ms   min {ms[0]:8.1f} ms"


def populate(user, n: int, seed: int = 7):
    """One strategy + recorder with `n` MNQ/ES/NQ trades over the last ~2 years."""
    from recorder.models import RecordedTrade, Recorder
    from strategies.models import Strategy

    strategy = Strategy.objects.create(user=user, name="Bench strategy")
    recorder = Recorder.objects.create(user=user, strategy=strategy)
    rng = random.Random(seed)
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=730)
    step = (end - start) / n
    specs = [("MNQZ5", Decimal("2")), ("ESZ5", Decimal("50")), ("NQZ5", Decimal("20"))]
    batch = []
    for i in range(n):
        symbol, pv = specs[i % 3]
        entry_time = start + step * i
        exit_time = entry_time + timedelta(seconds=rng.randint(30, 3600))
        side = "long" if rng.random() < 0.5 else "short"
        ticks = rng.choice([40, 40, 40, -24, -24, -24, 8, -8, 0, 60])
        points = Decimal(ticks) / 4
        entry = Decimal("21000.25")
        exit_ = entry + points if side == "long" else entry - points
        pnl = points * pv
        commission = Decimal("1.24")
        batch.append(
            RecordedTrade(
                recorder=recorder,
                symbol=symbol,
                side=side,
                quantity=1,
                entry_time=entry_time,
                exit_time=exit_time,
                entry_price=entry,
                exit_price=exit_,
                points=points,
                ticks=Decimal(ticks),
                pnl=pnl,
                commission=commission,
                net_pnl=pnl - commission,
                exit_reason="target",
            )
        )
        if len(batch) == 5000:
            RecordedTrade.objects.bulk_create(batch)
            batch = []
    RecordedTrade.objects.bulk_create(batch)
    return strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keepdb", action="store_true", help="keep and reuse the bench database")
    parser.add_argument("--json", help="write the figures to this file (bench/run_all.py format)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    from accounts.tests.factories import UserFactory
    from analytics import selectors as sel
    from recorder.models import RecordedTrade

    setup_test_environment()
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = f"{db['NAME']}_bench_analytics"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        user = UserFactory(username="bench", email="bench@example.com")
        t0 = time.perf_counter()
        strategy = populate(user, args.trades)
        print(
            f"{connection.vendor}: {args.trades} trades written in {time.perf_counter() - t0:.1f} s"
        )
        filters = sel.TradeFilters(source=sel.RECORDED, strategy_id=strategy.pk)
        qs = RecordedTrade.objects.filter(recorder__strategy=strategy)
        results = [
            _fmt(
                "baseline: COUNT(*) of the strategy's trades",
                _timed(qs.count, args.repeat),
                "baseline",
            )
        ]

        with override_settings(ANALYTICS_CACHE_SECONDS=0):
            load = _timed(lambda: sel.trade_series(user=user, filters=filters), args.repeat)
            stats = _timed(
                lambda: sel.analytics_statistics(user=user, filters=filters), args.repeat
            )
            summary_cold = _timed(
                lambda: sel.dashboard_summary(user=user, source=sel.RECORDED), args.repeat
            )
        results.append(_fmt("load the trades as columns (1 query)", load))
        results.append(_fmt("W4 statistics of the strategy (cold, no cache)", stats, "stats"))
        results.append(_fmt("dashboard summary selector (cold, no cache)", summary_cold))
        summary_warm = _timed(
            lambda: sel.dashboard_summary(user=user, source=sel.RECORDED), args.repeat
        )
        results.append(_fmt("dashboard summary selector (warm cache)", summary_warm))

        client = Client()
        client.force_login(user)
        urls = {
            "GET /api/dashboard/summary/ (warm)": "/api/dashboard/summary/",
            "GET /api/analytics/strategy/<id>/ (warm)": f"/api/analytics/strategy/{strategy.pk}/",
            "GET /api/analytics/chart-data/ (warm)": "/api/analytics/chart-data/",
            "GET /api/dashboard/trade-history/ (page 1)": "/api/dashboard/trade-history/",
        }
        for name, url in urls.items():
            assert client.get(url).status_code == 200, url

            def hit(url=url):
                response = client.get(url)
                assert response.status_code == 200, response.content[:200]

            results.append(_fmt(name, _timed(hit, args.repeat), f"api {url}"))
        with override_settings(ANALYTICS_CACHE_SECONDS=0):
            results.append(
                _fmt(
                    "GET /api/dashboard/summary/ (cold, no cache)",
                    _timed(lambda: client.get("/api/dashboard/summary/"), args.repeat),
                    "cold summary",
                )
            )
        print(f"W4 on {connection.vendor}, {args.trades} trades, {args.repeat} runs each")
        for line in results:
            print("  " + line)
        _report(args, connection.vendor, timings).write(args.json)
    finally:
        if not args.keepdb:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
