"""Fixtures of the traders tests: Alice with a simulator login, a strategy and a trader."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.crypto import encrypt
from accounts.models import BrokerAccount, BrokerConnection
from strategies.models import Signal, Strategy
from strategies.parsing import parse_alert
from traders.models import Trader

_n = itertools.count(1)


def sim_connection(sim, user, *, accounts: int = 1, label: str = "Paper", kind: str = "paper"):
    """A connection of ``user`` (Paper, or a Tradovate demo/live login: all reach the
    simulator in tests) to a fresh simulator login with ``accounts`` sub-accounts."""
    name = f"{user.username}-{next(_n)}"
    login = sim.create_user(name, "sim-pw", accounts=accounts)
    connection = BrokerConnection.objects.create(
        user=user,
        kind=kind,
        label=f"{label} {name}",
        username=name,
        password_encrypted=encrypt("sim-pw"),
        app_id="JustTrades",
        status="connected",
        broker_user_id=login["userId"],
    )
    for acc in login["accounts"]:
        BrokerAccount.objects.create(
            connection=connection, external_id=acc["id"], name=acc["name"], balance=Decimal(50000)
        )
    return connection


def make_signal(strategy: Strategy, body: str, **fields) -> Signal:
    intent = parse_alert(body)
    return Signal.objects.create(
        strategy=strategy,
        raw_body=body,
        intent=intent.to_dict(),
        action=intent.action,
        symbol=intent.symbol or strategy.default_symbol,
        price=intent.price,
        dedupe_key=f"k{next(_n)}",
        **{"status": Signal.Status.ACCEPTED, **fields},
    )


def decide(strategy: Strategy, body: str, **fields) -> Signal:
    """A stored alert, decided and executed now (as the worker would): the signal after."""
    from strategies.processing import signal_process

    signal = make_signal(strategy, body, **fields)
    signal_process(signal_id=signal.pk)
    run_pending()
    signal.refresh_from_db()
    return signal


def front(symbol: str = "MNQ1!") -> str:
    from accounts.brokers.symbols import resolve_symbol

    return resolve_symbol(symbol).name


@pytest.fixture
def sim(tradovate_sim):
    tradovate_sim.set_price(front(), "21000.00")
    return tradovate_sim


@pytest.fixture
def paper(sim, alice):
    return sim_connection(sim, alice)


@pytest.fixture
def account(paper):
    return paper.accounts.get()


@pytest.fixture
def strategy(alice):
    return Strategy.objects.create(
        user=alice, name="NQ breakout", default_symbol="MNQ1!", quantity=1, sizing="fixed"
    )


@pytest.fixture
def trader(alice, strategy, account):
    return Trader.objects.create(
        user=alice, strategy=strategy, broker_account=account, enabled=True
    )


# --- driving the real path in-process ---------------------------------------------------------


def run_pending(timeout: float = 20.0) -> int:
    """Run every pending execution now, each in its account's turn, as a worker would (the very
    function the Celery task calls), until none is left. Returns how many ran."""
    import time

    from traders.execution import execution_run
    from traders.models import Execution

    ran = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = list(Execution.objects.filter(status__in=["pending", "running"]).order_by("id"))
        due = [e for e in waiting if e.not_before is None or e.not_before <= timezone.now()]
        if not waiting:
            return ran
        if not due:
            time.sleep(0.1)
            continue
        for ex in due:
            execution_run(execution_id=ex.pk)
            ran += 1
    raise AssertionError("executions still pending after the timeout")


def alert(client, strategy: Strategy, body: str, *, run: bool = True):
    """POST an alert to the strategy's webhook URL (the real view), decide it and run its
    executions; returns the webhook's JSON answer."""
    from strategies.processing import signal_process

    resp = client.post(f"/webhooks/{strategy.webhook_token}/", data=body, content_type="text/plain")
    assert resp.status_code < 500, resp.content
    data = resp.json()
    if run and data.get("status") == "accepted":
        signal_process(signal_id=data["signal_id"])
        run_pending()
    return data


def held(sim, account) -> dict[str, int]:
    """The simulator's own positions of the account, every contract month."""
    return sim.positions(account.external_id)


def working(sim, account) -> list[dict]:
    """The simulator's own working orders of the account."""
    return sim.working_orders(account.external_id)
