"""Drift: what a trader expects to hold against what the mirror says its account holds.

Judged only once the product has settled on the account (the mirror's own word, not a timer):
no execution waiting or running, no order sent without the broker's answer, no order the broker
filled whose fills the stream has not brought yet. A trade by hand on the account moves the
expectation of the trader who owns the product: it is the user's doing, never drift.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.brokers.symbols import UnknownSymbol, resolve_symbol
from accounts.models import BrokerAccount
from justtrades.timeline import Event
from traders import events, mirror
from traders.models import IN_FLIGHT, Execution, Order, OrderStatus, Trader

Kind = events.Kind
# The stream brings a fill with its order's status, or moments after it: an order said filled
# longer ago than this whose fills never came is a real difference, for drift to show.
FILLS_ARRIVE_WITHIN = timedelta(seconds=60)


def trader_product(trader_or_strategy) -> str:
    """The product root a trader (or strategy) trades: its strategy's default symbol's."""
    strategy = getattr(trader_or_strategy, "strategy", trader_or_strategy)
    try:
        return resolve_symbol(strategy.default_symbol).root
    except UnknownSymbol:
        return ""


def product_settled(*, account: BrokerAccount, root: str) -> bool:
    """Nothing of the product is on its way on the account: the mirror is final for it."""
    busy = Execution.objects.filter(
        broker_account=account,
        root=root,
        status__in=[Execution.Status.PENDING, Execution.Status.RUNNING],
    )
    in_flight = Order.objects.filter(broker_account=account, root=root, status__in=IN_FLIGHT)
    fills_missing = Order.objects.filter(
        broker_account=account,
        root=root,
        status=OrderStatus.FILLED,
        filled_qty__lt=F("quantity"),
        updated_at__gte=timezone.now() - FILLS_ARRIVE_WITHIN,
    )
    return not (busy.exists() or in_flight.exists() or fills_missing.exists())


def trader_drift_judge(trader: Trader) -> bool:
    """Flag (or clear) the trader's drift when its product has settled on a live mirror.
    True when it is newly drifting."""
    root = trader_product(trader)
    account = trader.broker_account
    if not root or not mirror.mirror_is_fresh(account.connection):
        return False
    if not product_settled(account=account, root=root):
        return False
    want = int((trader.expected_positions or {}).get(root, 0))
    have = mirror.holdings(account=account, root=root).total
    return _verdict(trader, root, want, have)


def product_drift_judge(*, account_id: int, root: str) -> None:
    """Judge every trader of the product on the account (after its executions ran): a drift
    the last one resolved is cleared at once, on the page too."""
    traders = Trader.objects.filter(broker_account_id=account_id).select_related(
        "strategy", "broker_account__connection"
    )
    for trader in traders:
        if trader_product(trader) == root and (trader.enabled or trader.drift):
            trader_drift_judge(trader)


def _verdict(trader: Trader, root: str, want: int, have: int) -> bool:
    if want != have and not trader.drift:
        message = f"expected {want:+d} {root}, the broker holds {have:+d}"
        Trader.objects.filter(pk=trader.pk).update(drift=True, drift_message=message)
        trader.drift, trader.drift_message = True, message
        events.trader_line(
            trader,
            Kind.DRIFT,
            f"Position drift on {trader.broker_account.name}: {message}.",
            event=Event.DRIFT,
            data={"mismatches": [{"symbol": root, "expected": want, "broker": have}]},
        )
        events.publish_trader(trader)
        return True
    if want == have and trader.drift:
        Trader.objects.filter(pk=trader.pk).update(drift=False, drift_message="")
        trader.drift, trader.drift_message = False, ""
        events.trader_line(trader, Kind.INFO, "Position back in line with the broker.")
        events.publish_trader(trader)
    return False


def owner_expect_move(*, account: BrokerAccount, root: str, delta: int) -> Trader | None:
    """A trade by hand moved the account's position in the product by ``delta``: the enabled
    trader who owns the product expects it too."""
    if not delta:
        return None
    candidates = Trader.objects.filter(broker_account=account, enabled=True).select_related(
        "strategy", "broker_account"
    )
    owner = next((t for t in candidates if trader_product(t) == root), None)
    if owner is None:
        return None
    with transaction.atomic():
        locked = Trader.objects.select_for_update().get(pk=owner.pk)
        expected = dict(locked.expected_positions or {})
        expected[root] = int(expected.get(root, 0)) + delta
        Trader.objects.filter(pk=owner.pk).update(expected_positions=expected)
    owner.expected_positions = expected
    events.publish_trader(owner)
    return owner
