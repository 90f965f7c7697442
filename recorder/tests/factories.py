"""Rows of the recorder app: recorders, closed paper trades, timeline lines.

    trade = RecordedTradeFactory(recorder__strategy__user=alice, net="300.00", exit_time=t)

A trade is built MNQ-style from its net P&L: one contract, $2 a point, gross = net +
commission, the exit price on the right side of the entry for ``side``.
"""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from recorder.models import RecordedTrade, Recorder, StrategyLog
from strategies.tests.factories import StrategyFactory


class RecorderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recorder
        django_get_or_create = ("strategy",)

    strategy = factory.SubFactory(StrategyFactory)
    user = factory.LazyAttribute(lambda r: r.strategy.user)


def _gross(t) -> Decimal:
    return Decimal(t.net) + Decimal(t.commission)


class RecordedTradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecordedTrade
        exclude = ("net", "minutes", "entry")

    class Params:
        net = "10.00"
        minutes = 15
        entry = Decimal("21000.00")

    recorder = factory.SubFactory(RecorderFactory)
    symbol = "MNQZ5"
    side = "long"
    quantity = 1
    exit_time = factory.LazyFunction(timezone.now)
    entry_time = factory.LazyAttribute(lambda t: t.exit_time - timedelta(minutes=t.minutes))
    commission = Decimal("1.24")
    pnl = factory.LazyAttribute(_gross)
    net_pnl = factory.LazyAttribute(lambda t: Decimal(t.net))
    points = factory.LazyAttribute(lambda t: _gross(t) / 2)
    ticks = factory.LazyAttribute(lambda t: _gross(t) / 2 * 4)
    entry_price = factory.LazyAttribute(lambda t: t.entry)
    exit_price = factory.LazyAttribute(
        lambda t: t.entry + _gross(t) / 2 if t.side == "long" else t.entry - _gross(t) / 2
    )
    exit_reason = "target"


class StrategyLogFactory(factory.django.DjangoModelFactory):
    """A timeline row written directly (no live event): ``timeline_write`` is the real writer."""

    class Meta:
        model = StrategyLog

    strategy = factory.SubFactory(StrategyFactory)
    user = factory.LazyAttribute(lambda log: log.strategy.user)
    kind = StrategyLog.Kind.INFO
    message = factory.Sequence(lambda n: f"Line {n}")
    data = factory.LazyFunction(dict)
