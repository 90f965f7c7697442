"""Rows of the strategies app.

strategy = StrategyFactory(user=alice, name="NQ breakout")  # no recorder: strategy_create
signal = SignalFactory(strategy=strategy)                     # makes one through the service
"""

import factory

from accounts.tests.factories import UserFactory
from strategies.models import Signal, Strategy


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy
        # One name per user (a constraint): asking twice for the same name is the same strategy.
        django_get_or_create = ("user", "name")
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Strategy {n}")
    default_symbol = "MNQ1!"
    sizing = Strategy.Sizing.FIXED  # what most tests were written against


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    strategy = factory.SubFactory(StrategyFactory)
    raw_body = "buy"
    intent = factory.LazyFunction(
        lambda: {"action": "buy", "kind": "delta", "side": 1, "source": "text"}
    )
    action = "buy"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
