"""Factories for traders tests (strategies and broker accounts are created directly: this app
needs only their rows)."""

from __future__ import annotations

import itertools

import factory

from accounts.models import BrokerAccount, BrokerConnection
from strategies.models import Strategy
from traders.models import Trader

_ids = itertools.count(900_001)


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerConnection

    kind = BrokerConnection.Kind.PAPER
    label = factory.Sequence(lambda n: f"Paper {n}")
    username = factory.Sequence(lambda n: f"user{n}")


class BrokerAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerAccount

    connection = factory.SubFactory(ConnectionFactory)
    external_id = factory.LazyFunction(lambda: next(_ids))
    name = factory.Sequence(lambda n: f"SIM{n:05d}")


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy

    name = factory.Sequence(lambda n: f"Strategy {n}")
    default_symbol = "MNQ1!"
    sizing = Strategy.Sizing.FIXED  # what most tests were written against


class TraderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trader

    user = factory.LazyAttribute(lambda t: t.strategy.user)
    strategy = factory.SubFactory(StrategyFactory)
    broker_account = factory.SubFactory(
        BrokerAccountFactory, connection__user=factory.SelfAttribute("...strategy.user")
    )
    enabled = True
