"""Rows of the notifications app, and the allauth Discord link they depend on.

DiscordAccountFactory(user=alice, uid="42")          # linked, as after allauth's OAuth
PushSubscriptionFactory(user=alice, endpoint=...)    # one browser or phone
NotificationFactory(user=alice, kind="drift")
"""

import factory
from allauth.socialaccount.models import SocialAccount

from accounts.tests.factories import BrokerAccountFactory, UserFactory
from notifications.models import Notification, NotificationPreference, PushSubscription
from strategies.tests.factories import StrategyFactory
from traders.tests import factories as traders_factories


class NotificationPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationPreference
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class DiscordAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SocialAccount

    user = factory.SubFactory(UserFactory)
    provider = "discord"
    uid = factory.Sequence(lambda n: str(412_345_678_901_000_000 + n))
    extra_data = factory.LazyAttribute(
        lambda a: {
            "id": a.uid,
            "username": f"{a.user.username}_dc",
            "global_name": a.user.username.title(),
            "discriminator": "0",
        }
    )


class PushSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PushSubscription

    user = factory.SubFactory(UserFactory)
    endpoint = factory.Sequence(lambda n: f"https://push.example.net/send/{n}")
    p256dh = (
        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    )
    auth = "tBHItJI5svbpez7KI4CCXg"
    user_agent = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    channel = Notification.Channel.DISCORD
    kind = "drift"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    payload = factory.LazyAttribute(lambda n: {"title": f"{n.kind} notification"})


class TraderFactory(traders_factories.TraderFactory):
    """A trader of ``strategy__user`` on a sub-account named DEMO-1 (what the embeds show)."""

    strategy = factory.SubFactory(StrategyFactory, name="NQ Breakout")
    broker_account = factory.SubFactory(
        BrokerAccountFactory,
        name="DEMO-1",
        connection__user=factory.SelfAttribute("...strategy.user"),
    )
