"""The dashboard's first-steps checklist, each step read from what the user has done (not
from flags): a broker account, a strategy, an alert from TradingView, a test alert sent from
the strategy page, a trader switched on."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from accounts.models import BrokerAccount
from strategies.models import Signal, Strategy
from traders.models import Trader


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    href: str
    action: str


def _strategy_page(strategy: Strategy | None, anchor: str) -> str:
    if strategy is None:
        return reverse("strategies:create")
    return reverse("strategies:detail", args=[strategy.pk]) + anchor


def first_steps(*, user) -> list[Step]:
    signals = Signal.objects.filter(strategy__user=user)
    strategy = Strategy.objects.filter(user=user).order_by("id").first()
    return [
        Step(
            "broker",
            "Connect a broker account",
            BrokerAccount.objects.filter(connection__user=user, active=True).exists(),
            reverse("broker-account-add"),
            "Add account",
        ),
        Step(
            "strategy",
            "Create a strategy",
            strategy is not None,
            reverse("strategies:create"),
            "Create strategy",
        ),
        Step(
            "tradingview",
            "Paste its webhook URL into a TradingView alert (done when an alert arrives)",
            signals.filter(origin=Signal.Origin.WEBHOOK).exists(),
            _strategy_page(strategy, "#webhook-panel"),
            "Copy the URL",
        ),
        Step(
            "test_alert",
            "Send a test alert from the strategy page",
            signals.filter(origin=Signal.Origin.TEST).exists(),
            _strategy_page(strategy, "#test-signal-card"),
            "Send a test alert",
        ),
        Step(
            "trader",
            "Switch a trader on (a strategy linked to an account)",
            Trader.objects.filter(user=user, enabled=True).exists(),
            reverse("traders:list"),
            "My Trader",
        ),
    ]


def first_steps_left(*, user) -> list[Step] | None:
    """The checklist while any step is open; None once every step is done."""
    steps = first_steps(user=user)
    return None if all(step.done for step in steps) else steps
