import factory

from accounts.tests.factories import UserFactory
from strategies.models import Signal, Strategy


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Strategy {n}")
    default_symbol = "MNQ1!"


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
