"""Fixtures of the traders tests: Alice with a simulator login, a strategy and a trader."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from accounts.crypto import encrypt
from accounts.models import BrokerAccount, BrokerConnection
from strategies.models import Signal, Strategy
from strategies.parsing import parse_alert
from traders.models import Trader

_n = itertools.count(1)


def sim_connection(sim, user, *, accounts: int = 1, label: str = "Paper"):
    """A Paper connection of ``user`` to a fresh simulator login with ``accounts`` sub-accounts."""
    name = f"{user.username}-{next(_n)}"
    login = sim.create_user(name, "sim-pw", accounts=accounts)
    connection = BrokerConnection.objects.create(
        user=user,
        kind=BrokerConnection.Kind.PAPER,
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
        status=Signal.Status.PROCESSING,
        **fields,
    )


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
        user=alice, name="NQ breakout", default_symbol="MNQ1!", quantity=1
    )


@pytest.fixture
def trader(alice, strategy, account):
    return Trader.objects.create(
        user=alice, strategy=strategy, broker_account=account, enabled=True
    )
