"""An operator's bad day: every worker process killed, or Redis killed and restarted empty, in
the middle of trading — nothing lost, nothing doubled, nothing out of order.

Eight strategies, each with one trader on its own account of one Tradovate demo login (our
simulator). To each strategy in turn, a round every ~3 s: ``buy 1``, ``buy 1``, ``exit``,
``buy 2``. Right after rounds 1 and 3 the crash happens (SIGKILL, as a host crash would) and
the supervisor brings the process back 1–2 s later. Every account must end +2 having bought 4
and sold 2, within 30 s of the last alert, and still so 150 s later (past Celery's default
visibility timeout of 120 s, when a lost message would come back). Three runs each.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import requests

from e2e.test_faults import PrivateRedis, _up
from justtrades.testing.fixtures import (
    WorkerProcess,
    free_port,
    start_beat,
    start_broker_stream,
    start_process,
    stop_process,
    wait_until,
)
from strategies.models import Signal, Strategy
from traders.models import Execution, Trader
from traders.tests.conftest import front, held, sim_connection

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROUNDS = ("buy 1", "buy 1", "exit", "buy 2")
RUNS = 3
STILL_RIGHT_AFTER = 150


class Plant:
    """The processes of `make run` around this test's database: web, two workers, beat and the
    broker stream, all on one Redis (a private one, so that it can be killed)."""

    def __init__(self, sim, tmp_path, redis_url: str):
        self.tmp = tmp_path
        self.port = free_port()
        # The production defaults of Celery's redelivery: the point is that nothing waits on it.
        self.env = {**sim.env(), "REDIS_URL": redis_url, "CELERY_VISIBILITY_TIMEOUT": "120"}
        self.web = self.beat = self.stream = None
        self.workers: list[WorkerProcess] = []
        self.generation = 0
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Plant:
        self.web = start_process(
            ["-m", "uvicorn", "justtrades.asgi:application", "--port", str(self.port)]
            + ["--lifespan", "off", "--log-level", "warning"],
            self.tmp / "web.log",
            **self.env,
        )
        wait_until(lambda: _up(f"{self.url}/ping"), timeout=30, message="the web server")
        self.start_workers()
        self.stream = start_broker_stream(self.tmp / "stream.log", **self.env)
        self.beat = start_beat(self.tmp / "beat.log", **self.env)
        self._supervisor.start()
        return self

    def _supervise(self) -> None:
        """What `make run` does for its processes: one that died is started again at once."""
        while not self._stop.wait(0.5):
            for n, w in enumerate(self.workers):
                if w.proc is not None and w.proc.poll() is not None:
                    self.generation += 1
                    fresh = WorkerProcess(
                        self.tmp / f"worker-{self.generation}-{n}.log", concurrency=2
                    )
                    self.workers[n] = fresh
                    try:
                        fresh.start(**self.env)
                    except Exception:  # noqa: BLE001, S112 - Redis may still be down: next round
                        continue
            if self.beat is not None and self.beat.poll() is not None:
                self.beat = start_beat(self.tmp / f"beat-{self.generation}.log", **self.env)
            if self.stream is not None and self.stream.poll() is not None:
                self.stream = start_broker_stream(
                    self.tmp / f"stream-{self.generation}.log", **self.env
                )

    def start_workers(self) -> None:
        self.generation += 1
        self.workers = [
            WorkerProcess(self.tmp / f"worker-{self.generation}-{n}.log", concurrency=2)
            for n in range(2)
        ]
        for w in self.workers:
            w.start(**self.env)

    def kill_workers(self) -> None:
        """SIGKILL every worker process, main and pool alike, as a host crash would."""
        for w in self.workers:
            w.kill()

    def stop(self) -> None:
        self._stop.set()
        self._supervisor.join(timeout=60)
        for proc in (self.beat, self.stream, self.web):
            stop_process(proc)
        for w in self.workers:
            w.stop()


def _kill_redis(redis_) -> None:
    redis_.proc.send_signal(signal.SIGKILL)
    redis_.proc.wait(timeout=10)


def _post(plant, strategy, body: str, n: int) -> None:
    action, _, qty = body.partition(" ")
    payload = {"action": action, "ticker": "MNQ1!", "id": f"{strategy.pk}-{n}"}
    if qty:
        payload["quantity"] = int(qty)
    r = requests.post(
        f"{plant.url}/webhooks/{strategy.webhook_token}/",
        data=json.dumps(payload),
        headers={"Content-Type": "application/json"},
        timeout=15,
    )
    assert r.status_code == 200, r.text


def _traded(sim, account) -> tuple[int, int, int]:
    fills = sim.fills(account.external_id)
    bought = sum(f["qty"] for f in fills if f["action"] == "Buy")
    sold = sum(f["qty"] for f in fills if f["action"] == "Sell")
    return sum(held(sim, account).values()), bought, sold


def _run(sim, alice, plant, crash, recover, n_run: int) -> list:
    connection = sim_connection(sim, alice, accounts=8, kind="tradovate_demo", label=f"Run{n_run}")
    accounts = list(connection.accounts.order_by("id"))
    strategies = []
    for i, account in enumerate(accounts):
        strategy = Strategy.objects.create(
            user=alice, name=f"Day {n_run}-{i}", quantity=1, sizing="signal"
        )
        Trader.objects.create(
            user=alice, strategy=strategy, broker_account=account, enabled=True, max_contracts=10
        )
        strategies.append(strategy)
    time.sleep(2)  # the broker stream opens this login's socket
    for n, body in enumerate(ROUNDS):
        started = time.monotonic()
        for strategy in strategies:
            _post(plant, strategy, body, n)
        if n in (0, 2):
            crash()  # the supervisor brings what died back
            time.sleep(1.5)
            recover()
        time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
    last_alert = time.monotonic()

    def all_right() -> bool:
        return all(_traded(sim, a) == (2, 4, 2) for a in accounts)

    try:
        wait_until(
            all_right, timeout=30, interval=0.5, message="every account +2, 4 bought, 2 sold"
        )
    except AssertionError:
        report = {a.name: _traded(sim, a) for a in accounts}
        waiting = list(
            Execution.objects.exclude(status__in=Execution.FINAL).values_list("id", "status")
        )
        raise AssertionError(
            f"run {n_run}: {report}; unfinished {waiting}; what each signal became:\n"
            + "\n".join(_signal_outcomes(strategies))
        ) from None
    assert time.monotonic() - last_alert < 30
    return accounts


def _signal_outcomes(strategies) -> list[str]:
    """Each signal and its executions, as the signal page shows them (what a failure means)."""
    lines = []
    for sig in Signal.objects.filter(strategy__in=strategies).order_by("strategy_id", "id"):
        executions = [
            f"{e.status} ({e.reason})" if e.reason else e.status
            for e in Execution.objects.filter(signal=sig).order_by("id")
        ]
        lines.append(
            f"{sig.strategy.name} #{sig.pk} {sig.action} {sig.status}"
            f"{' (' + sig.reason + ')' if sig.reason else ''}: {executions or 'no execution'}"
        )
    return lines


def _still_right(sim, runs: list) -> None:
    wrong = {
        a.name: _traded(sim, a)
        for accounts in runs
        for a in accounts
        if _traded(sim, a) != (2, 4, 2)
    }
    assert not wrong, f"changed after {STILL_RIGHT_AFTER} s: {wrong}"
    for accounts in runs:
        for a in accounts:
            assert held(sim, a) == {front(): 2}


@pytest.fixture
def plant(sim, tmp_path):
    redis_ = PrivateRedis(tmp_path).start()
    running = Plant(sim, tmp_path, redis_.url).start()
    running.redis = redis_
    yield running
    running.stop()
    redis_.stop()


def test_every_worker_killed_twice_in_a_trading_burst_leaves_every_account_right(sim, alice, plant):
    runs = [_run(sim, alice, plant, plant.kill_workers, lambda: None, n) for n in range(RUNS)]
    time.sleep(STILL_RIGHT_AFTER)
    _still_right(sim, runs)


def test_redis_killed_and_restarted_empty_twice_leaves_every_account_right(sim, alice, plant):
    def crash():
        _kill_redis(plant.redis)

    def recover():
        plant.redis.start()  # a new, empty Redis on the same port

    runs = [_run(sim, alice, plant, crash, recover, n) for n in range(RUNS)]
    time.sleep(STILL_RIGHT_AFTER)
    _still_right(sim, runs)


def test_the_crash_helpers_really_kill(plant):
    """The test above is only as good as its crash: the workers and Redis do die."""
    pids = [w.proc.pid for w in plant.workers]
    plant.kill_workers()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    _kill_redis(plant.redis)
    assert plant.redis.proc.poll() == -signal.SIGKILL
