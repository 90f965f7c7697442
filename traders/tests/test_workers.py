"""The signal path with real processes: Celery workers (several, several threads each), beat,
the broker stream and the ASGI server, on this test's database and Redis, against the
simulator. Ordering across processes, crashes in the middle, and nothing lost or doubled."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import requests
from django.db import connection as db_connection

from justtrades.testing.fixtures import (
    WorkerProcess,
    start_beat,
    start_broker_stream,
    stop_process,
    wait_until,
)
from recorder.models import RecordedPosition, Recorder
from strategies.models import Signal, Strategy
from traders.models import Execution, Order, Trader
from traders.tests.conftest import front, held, sim_connection

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SETTLED = ("processed", "filtered", "rejected", "failed")


class Cluster:
    """The processes `make run` starts (web in this process, the rest as children)."""

    def __init__(self, sim, server, tmp_path):
        self.sim, self.server, self.tmp = sim, server, tmp_path
        self.env = {**sim.env(), "CELERY_VISIBILITY_TIMEOUT": "8"}
        self.workers: list[WorkerProcess] = []
        self.others = []

    def worker(self, concurrency: int = 4, **env) -> WorkerProcess:
        n = len(self.workers)
        w = WorkerProcess(self.tmp / f"worker-{n}.log", concurrency=concurrency)
        self.workers.append(w.start(**self.env, **env))
        return w

    def stream_and_beat(self):
        self.others.append(start_broker_stream(self.tmp / "stream.log", **self.env))
        self.others.append(start_beat(self.tmp / "beat.log", **self.env))
        return self

    def stop(self):
        for proc in self.others:
            stop_process(proc)
        for w in self.workers:
            w.stop()

    def logs(self) -> str:
        return "\n".join(w.log_text()[-3000:] for w in self.workers)


@pytest.fixture
def cluster(sim, asgi_server, tmp_path, settings):
    from celery_app import app

    # Messages of earlier tests (their rows are gone, their ids reused) must not reach these
    # workers: the queues, and the unacknowledged ones a killed worker left for redelivery.
    app.control.purge()
    with app.connection_for_write() as conn:
        client = conn.channel().client
        client.delete("unacked", "unacked_index", "unacked_mutex")
    running = Cluster(sim, asgi_server, tmp_path)
    yield running
    running.stop()


def post(server, strategy, body: str) -> dict:
    r = requests.post(
        f"{server.url}/webhooks/{strategy.webhook_token}/",
        data=body,
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def all_settled(strategy) -> bool:
    db_connection.close()  # another process wrote: read fresh
    open_signals = Signal.objects.filter(strategy=strategy).exclude(status__in=SETTLED)
    open_work = Execution.objects.filter(status__in=["pending", "running"])
    return not open_signals.exists() and not open_work.exists()


def recorded(strategy) -> int:
    recorder = Recorder.objects.get(strategy=strategy)
    return sum(RecordedPosition.objects.filter(recorder=recorder).values_list("net_pos", flat=True))


def replay_order_log(account) -> int:
    """The account's position rebuilt from our order log, in order (entries and exits by
    their fills, a flatten to zero)."""
    position = 0
    for order in Order.objects.filter(broker_account=account, parent__isnull=True).order_by("id"):
        if order.role == "flatten":
            if order.status in ("Filled", "Completed"):
                position = 0
        elif order.role in ("entry", "exit", "manual") and order.trader_id:
            position += order.filled_qty if order.action == "Buy" else -order.filled_qty
    return position


def test_sixty_concurrent_alerts_apply_in_order_on_three_accounts(sim, alice, cluster):
    connection = sim_connection(sim, alice, accounts=3)
    # Order is what is tested here: no entry may be dropped for its age on a slow machine (the
    # age rule has its own test in test_invariants).
    strategy = Strategy.objects.create(
        user=alice, name="Burst", quantity=1, sizing="fixed", max_signal_age_seconds=0
    )
    Recorder.objects.create(user=alice, strategy=strategy)
    accounts = list(connection.accounts.order_by("id"))
    for multiplier, account in enumerate(accounts, start=1):
        Trader.objects.create(
            user=alice,
            strategy=strategy,
            broker_account=account,
            enabled=True,
            multiplier=multiplier,
            max_contracts=1000,
        )
    cluster.worker(concurrency=4)
    cluster.worker(concurrency=4)
    cluster.stream_and_beat()
    rng = random.Random(13)
    kinds = ["buy", "sell", "exit", "target"]
    bodies = []
    for n in range(60):
        kind = rng.choice(kinds)
        if kind == "target":
            side = rng.choice(["long", "short"])
            size = rng.randint(1, 3)
            action = "buy" if side == "long" else "sell"
            body = {"action": action, "market_position": side, "position_size": size}
        elif kind == "exit":
            body = {"action": "exit"}
        else:
            body = {"action": kind, "quantity": rng.randint(1, 2)}
        bodies.append(json.dumps({**body, "ticker": "MNQ1!", "id": f"burst-{n}"}))
    barrier = threading.Barrier(len(bodies))

    def fire(body):
        barrier.wait()
        post(cluster.server, strategy, body)

    threads = [threading.Thread(target=fire, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        wait_until(lambda: all_settled(strategy), timeout=150, interval=0.5, message="60 alerts")
    except AssertionError:
        states = list(Signal.objects.filter(strategy=strategy).values_list("status", flat=True))
        work = list(Execution.objects.values_list("status", "reason"))
        raise AssertionError(f"signals {states}\nexecutions {work}\n{cluster.logs()}") from None
    strategy_position = recorded(strategy)
    from strategies.models import StrategyPosition

    decided = StrategyPosition.objects.get(strategy=strategy).net_pos
    report = [(a.name, held(sim, a), replay_order_log(a)) for a in accounts]
    assert strategy_position == decided, (strategy_position, decided, report)
    for multiplier, account in enumerate(accounts, start=1):
        at_broker = sum(held(sim, account).values())
        assert at_broker == strategy_position * multiplier, (
            account.name,
            at_broker,
            list(
                Execution.objects.filter(broker_account=account)
                .exclude(status="done")
                .values_list("id", "status", "reason")
            ),
        )
        assert replay_order_log(account) == at_broker
    for order in Order.objects.filter(execution__signal__isnull=False, parent__isnull=True):
        decision = order.execution.instruction["decision"]
        if decision["kind"] == "entry" and order.role == "entry":
            assert order.action == ("Buy" if decision["side"] > 0 else "Sell"), order
    assert Signal.objects.filter(strategy=strategy).count() == 60


def test_a_worker_killed_holding_an_accounts_turn_hands_it_on_within_seconds(sim, alice, cluster):
    account = sim_connection(sim, alice).accounts.get()
    strategy = Strategy.objects.create(user=alice, name="Killed", quantity=1, sizing="fixed")
    Trader.objects.create(user=alice, strategy=strategy, broker_account=account, enabled=True)
    # A worker that waits a long time for the broker's answer (it never comes)...
    first = cluster.worker(concurrency=1, TRADOVATE_TIMEOUT="60")
    cluster.stream_and_beat()
    sim.fault("lost_answer", path="order/placeorder", delay=60)
    one = post(cluster.server, strategy, '{"action": "buy", "id": "one"}')["signal_id"]
    wait_until(lambda: held(sim, account), timeout=30, message="the broker took the first order")
    assert Execution.objects.get(signal_id=one).status == "running"  # its worker still waits
    cluster.worker(concurrency=2)  # the rest of the pool, already running
    sim.clear_faults()
    # ...is killed while it holds the account's turn; the next signal comes right after.
    first.kill()
    killed_at = time.monotonic()
    two = post(cluster.server, strategy, '{"action": "buy", "id": "two"}')["signal_id"]
    wait_until(
        lambda: Execution.objects.filter(signal_id=two, status="done").exists(),
        timeout=20,
        message="the next signal executed",
    )
    assert time.monotonic() - killed_at < 10
    wait_until(lambda: all_settled(strategy), timeout=30)
    assert held(sim, account) == {front(): 2}  # both signals, each exactly once
    entries = [o for o in sim.working_orders(account.external_id)]
    assert entries == []
    assert len(sim.fills(account.external_id)) == 2
    assert Order.objects.filter(signal_id__in=[one, two]).count() == 2


def test_a_worker_killed_between_the_decision_and_the_fan_out_loses_no_execution(
    sim, alice, cluster
):
    connection = sim_connection(sim, alice, accounts=3)
    strategy = Strategy.objects.create(user=alice, name="Fan-out", quantity=1, sizing="fixed")
    accounts = list(connection.accounts.all())
    for account in accounts:
        Trader.objects.create(user=alice, strategy=strategy, broker_account=account, enabled=True)
    doomed = cluster.worker(concurrency=1, JT_TEST_FAULT="kill_before_fan_out")
    signal_id = post(cluster.server, strategy, "buy")["signal_id"]
    wait_until(
        lambda: Execution.objects.filter(signal_id=signal_id).count() == 3,
        timeout=30,
        message="the decision committed with its executions",
    )
    doomed.kill()
    assert not Order.objects.filter(signal_id=signal_id).exists()  # nothing was enqueued
    cluster.stream_and_beat()
    cluster.worker(concurrency=2)  # returns once the worker answers
    up_at = time.monotonic()
    wait_until(
        lambda: Execution.objects.filter(signal_id=signal_id, status="done").count() == 3,
        timeout=20,
        message="every trader executed",
    )
    assert time.monotonic() - up_at < 10
    for account in accounts:
        assert held(sim, account) == {front(): 1}
