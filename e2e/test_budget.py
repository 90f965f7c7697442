"""Tradovate's request budget, counted by the simulator per login while the processes of
`make run` (worker, beat, broker stream, recorder quotes) run against two logins whose traders
have daily limits and open positions: idle, a login costs at most 300 requests an hour; a
signal costs each account exactly one order request and no broker read."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection as db_connection

from justtrades.testing.fixtures import (
    WorkerProcess,
    start_beat,
    start_broker_stream,
    start_process,
    stop_process,
    wait_until,
)
from strategies.models import Strategy
from traders import mirror
from traders.models import Execution, Trader
from traders.tests.conftest import held, sim_connection

pytestmark = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "sqlite" in db_connection.vendor, reason="measured once, on PostgreSQL + Redis"
    ),
]

WARM_UP = 20  # seconds: logins, snapshots and first subscriptions are not idle
WINDOW = 120  # seconds measured, then scaled to an hour
IDLE_LIMIT_PER_HOUR = 300
ORDER_ENDPOINTS = {"order/placeorder", "order/placeoso", "orderStrategy/startOrderStrategy"}


def _count(sim, login: str, since: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in sim.requests_of(login, since=since):
        counts[r["endpoint"]] = counts.get(r["endpoint"], 0) + 1
    return counts


def test_two_logins_stay_within_tradovates_budget_idle_and_per_signal(sim, alice, tmp_path):
    logins = [sim_connection(sim, alice, accounts=2) for _ in range(2)]
    strategy = Strategy.objects.create(
        user=alice, name="Budget", quantity=1, sizing="fixed", stop_loss=40
    )
    for connection in logins:
        for account in connection.accounts.all():
            Trader.objects.create(
                user=alice,
                strategy=strategy,
                broker_account=account,
                enabled=True,
                daily_loss_limit=Decimal("5000"),
                daily_profit_target=Decimal("5000"),
            )
    env = {**sim.env(), "CELERY_VISIBILITY_TIMEOUT": "30"}
    worker = WorkerProcess(tmp_path / "worker.log", concurrency=2).start(**env)
    procs = [
        start_broker_stream(tmp_path / "stream.log", **env),
        start_beat(tmp_path / "beat.log", **env),
        start_process(["manage.py", "recorder_quotes"], tmp_path / "quotes.log", **env),
    ]
    try:
        for connection in logins:
            wait_until(lambda c=connection: mirror.mirror_is_fresh(c), timeout=30)
        # A position on every account: quotes, open P&L and the daily limits all at work.
        from strategies.services import signal_create_internal

        opened = signal_create_internal(strategy=strategy, body="buy", origin="test")
        signal_id = opened.body["signal_id"]
        wait_until(
            lambda: Execution.objects.filter(signal_id=signal_id, status="done").count() == 4,
            timeout=60,
        )
        for connection in logins:
            for account in connection.accounts.all():
                assert sum(held(sim, account).values()) == 1
        time.sleep(WARM_UP)
        since = datetime.now(UTC).isoformat()
        time.sleep(WINDOW)
        idle = {c.username: _count(sim, c.username, since) for c in logins}
        # One more signal: what it costs each login, and nothing else in that moment.
        since = datetime.now(UTC).isoformat()
        more = signal_create_internal(strategy=strategy, body="sell", origin="test")
        wait_until(
            lambda: (
                Execution.objects.filter(signal_id=more.body["signal_id"], status="done").count()
                == 4
            ),
            timeout=60,
        )
        per_signal = {c.username: _count(sim, c.username, since) for c in logins}
    finally:
        for proc in procs:
            stop_process(proc)
        worker.stop()
    for login, counts in idle.items():
        per_hour = sum(counts.values()) * 3600 / WINDOW
        assert per_hour <= IDLE_LIMIT_PER_HOUR, (login, per_hour, counts)
    for login, counts in per_signal.items():
        orders = {k: v for k, v in counts.items() if k in ORDER_ENDPOINTS or k.startswith("order/")}
        # A sell from long 1: each account's position is closed, then the short opened: the
        # liquidation and the entry, one of each per account, two accounts per login.
        assert orders == {"order/liquidateposition": 2, "orderStrategy/startOrderStrategy": 2}, (
            login,
            counts,
        )
        reads = {k for k in counts if k.startswith(("position/", "cashBalance/", "fill/"))}
        assert not reads, (login, counts)
