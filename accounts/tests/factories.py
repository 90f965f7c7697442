"""Rows of the accounts app: users, broker connections and their sub-accounts.

    alice = UserFactory(username="alice")                     # password PASSWORD
    account = BrokerAccountFactory(connection__user=alice)     # a stored Tradovate demo login
    paper = BrokerConnectionFactory(user=alice, paper=True)
    old = BrokerConnectionFactory(user=alice, archived=True)

These are rows only: a connection with a broker behind it comes from ``tradovate_sim.connect``.
"""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

PASSWORD = "correct-horse-battery-staple"


def _encrypt(value: str) -> str:
    from accounts.crypto import encrypt

    return encrypt(value)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"trader{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class BrokerConnectionFactory(factory.django.DjangoModelFactory):
    """A stored connection (no broker behind it; use ``tradovate_sim.connect`` for a live one)."""

    class Meta:
        model = "accounts.BrokerConnection"

    class Params:
        paper = factory.Trait(
            kind="paper",
            label=factory.Sequence(lambda n: f"Paper {n}"),
            username=factory.Sequence(lambda n: f"jt-paper-{n}"),
        )
        archived = factory.Trait(archived_at=factory.LazyFunction(timezone.now))

    user = factory.SubFactory(UserFactory)
    kind = "tradovate_demo"
    label = factory.Sequence(lambda n: f"Connection {n}")
    username = factory.Sequence(lambda n: f"tv-user-{n}")
    password_encrypted = factory.LazyFunction(lambda: _encrypt("tv-password"))
    app_id = "JustTrades"
    status = "connected"


class BrokerAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.BrokerAccount"

    connection = factory.SubFactory(BrokerConnectionFactory)
    external_id = factory.Sequence(lambda n: 900_000 + n)
    name = factory.Sequence(lambda n: f"ACCT{n:04d}")
    balance = 50000
