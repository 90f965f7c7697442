"""Signals fanned out through a real Celery worker to the simulator; a worker killed mid-order."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.db import connection, transaction

from justtrades.testing.fixtures import WorkerProcess, wait_until
from strategies.models import Strategy
from traders.models import Order, Trader
from traders.services import traders_execute_signal
from traders.tests.conftest import front, make_signal, sim_connection

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_worker(tmp_path, sim, name="worker", purge=True, **env):
    if purge:
        # Messages left by earlier tests (their rows are gone) must not reach this worker.
        from celery_app import app

        app.control.purge()
    return WorkerProcess(tmp_path / f"{name}.log").start(**sim.env(), **env)


def sim_orders(sim, account_ids):
    return [o for o in sim.simulator.engine.orders.values() if o.account_id in account_ids]


def test_one_signal_reaches_every_enabled_trader_once(sim, alice, tmp_path):
    connection = sim_connection(sim, alice, accounts=3)
    strategy = Strategy.objects.create(user=alice, name="Copy", quantity=1)
    accounts = list(connection.accounts.all())
    for i, account in enumerate(accounts):
        Trader.objects.create(
            user=alice, strategy=strategy, broker_account=account, enabled=True, multiplier=i + 1
        )
    off = sim_connection(sim, alice).accounts.get()
    Trader.objects.create(user=alice, strategy=strategy, broker_account=off, enabled=False)
    worker = start_worker(tmp_path, sim)
    try:
        signal = make_signal(strategy, "buy")
        traders_execute_signal(signal=signal)
        ids = {a.external_id for a in accounts}
        wait_until(
            lambda: Order.objects.filter(signal=signal, broker_order_id__isnull=False).count() == 3,
            timeout=20,
            message="three orders accepted",
        )
        placed = sorted((o.account_id, o.qty) for o in sim_orders(sim, ids))
        assert placed == sorted((a.external_id, i + 1) for i, a in enumerate(accounts))
        assert not sim_orders(sim, {off.external_id})
        # The same signal handed over again (a redelivered process_signal) places nothing more.
        traders_execute_signal(signal=signal)
        wait_until(
            lambda: worker.log_text().count("execute_signal_for_trader") >= 12,
            timeout=20,
            message="second round of tasks done",
        )  # each task logs "received" and "succeeded"
        assert len(sim_orders(sim, ids)) == 3
        assert Order.objects.filter(signal=signal).count() == 3
    finally:
        worker.stop()


def test_a_worker_killed_after_the_broker_accepted_the_order_is_redelivered_once(
    sim, alice, tmp_path
):
    account = sim_connection(sim, alice).accounts.get()
    strategy = Strategy.objects.create(user=alice, name="Kill", quantity=1)
    Trader.objects.create(user=alice, strategy=strategy, broker_account=account, enabled=True)
    env = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    worker = start_worker(tmp_path, sim, "first", **env)
    try:
        # The broker takes a moment to answer: the worker is inside the placement call.
        sim.fault("delay", path="order/placeorder", delay=4)
        signal = make_signal(strategy, "buy")
        traders_execute_signal(signal=signal)
        wait_until(
            lambda: Order.objects.filter(signal=signal, status="Sending").exists(),
            timeout=20,
            message="placement under way",
        )
        order = Order.objects.get(signal=signal)
        with transaction.atomic():
            # Hold the order row: the worker cannot record the broker's answer...
            Order.objects.select_for_update().get(pk=order.pk)
            # ...while the broker accepts the order; then the worker dies.
            wait_until(
                lambda: sim_orders(sim, {account.external_id}),
                timeout=10,
                message="order at the broker",
            )
            worker.kill()
            if connection.vendor == "postgresql":
                # The killed worker's UPDATE still waits in its server backend, which would
                # finish it once the lock goes (PostgreSQL notices a dead client only later).
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                        "AND pid <> pg_backend_pid()"
                    )
        assert Order.objects.get(pk=order.pk).broker_order_id is None
        worker = start_worker(tmp_path, sim, "second", purge=False, **env)
        wait_until(
            lambda: Order.objects.get(pk=order.pk).broker_order_id is not None,
            timeout=60,
            message="redelivered task resolved the order",
        )
    finally:
        worker.stop()
    (at_broker,) = sim_orders(sim, {account.external_id})
    order.refresh_from_db()
    assert order.broker_order_id == at_broker.id
    assert Order.objects.filter(signal=signal).count() == 1


def test_an_alert_posted_to_the_webhook_becomes_the_exact_order(sim, alice, asgi_server, tmp_path):
    account = sim_connection(sim, alice).accounts.get()
    strategy = Strategy.objects.create(
        user=alice,
        name="Hook",
        quantity=2,
        take_profit=20,
        take_profit_unit="ticks",
        stop_loss=10,
        stop_loss_unit="ticks",
    )
    Trader.objects.create(user=alice, strategy=strategy, broker_account=account, enabled=True)
    worker = start_worker(tmp_path, sim)
    try:
        r = requests.post(
            f"{asgi_server.url}/webhooks/{strategy.webhook_token}/",
            data='{"ticker": "MNQ1!", "action": "buy", "price": 21000.50}',
            headers={"Content-Type": "text/plain"},
            timeout=5,
        )
        assert r.status_code == 200, r.text
        wait_until(
            lambda: Order.objects.filter(role="entry", broker_order_id__isnull=False).exists(),
            timeout=20,
            message="order accepted",
        )
    finally:
        worker.stop()
    entry, tp, sl = sorted(sim_orders(sim, {account.external_id}), key=lambda o: o.id)
    assert (entry.action, entry.qty, entry.order_type) == ("Buy", 2, "Market")
    assert sim.simulator.engine.contract(entry.contract_id)[1].name == front()
    assert (tp.order_type, tp.price) == ("Limit", Decimal("21005.50"))
    assert (sl.order_type, sl.stop_price) == ("Stop", Decimal("20998.00"))
