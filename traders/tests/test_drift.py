"""Drift is judged only once the product has settled on the account (traders/drift.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import BrokerConnection
from traders import drift
from traders.models import Order, OrderStatus, Position, Trader
from traders.services import traders_reconcile
from traders.tests.factories import BrokerAccountFactory, StrategyFactory, TraderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(alice):
    account = BrokerAccountFactory(connection__user=alice)
    now = timezone.now()
    BrokerConnection.objects.filter(pk=account.connection_id).update(
        mirror_heartbeat_at=now, mirror_synced_at=now
    )
    return TraderFactory(strategy=StrategyFactory(user=alice), broker_account=account)


def broker_holds(trader: Trader, net_pos: int) -> None:
    Position.objects.create(
        user=trader.user, broker_account=trader.broker_account, symbol="MNQZ6", root="MNQ",
        net_pos=net_pos, net_price=Decimal("21000"),
    )  # fmt: skip


def filled_order(trader: Trader, *, fills_in: int) -> Order:
    return Order.objects.create(
        user=trader.user, trader=trader, broker_account=trader.broker_account, action="Buy",
        symbol="MNQZ6", root="MNQ", quantity=1, status=OrderStatus.FILLED, filled_qty=fills_in,
    )  # fmt: skip


def drifting(trader: Trader) -> bool:
    return Trader.objects.get(pk=trader.pk).drift


def test_a_difference_with_nothing_on_its_way_is_drift(trader):
    broker_holds(trader, 1)
    assert traders_reconcile() == 1
    assert Trader.objects.get(pk=trader.pk).drift_message == "expected +0 MNQ, the broker holds +1"


def test_no_drift_while_a_filled_orders_fills_have_not_arrived(trader):
    broker_holds(trader, 1)
    filled_order(trader, fills_in=0)
    assert traders_reconcile() == 0
    assert not drifting(trader)


def test_an_order_filled_long_ago_whose_fills_never_came_no_longer_hides_a_drift(trader):
    broker_holds(trader, 1)
    order = filled_order(trader, fills_in=0)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert traders_reconcile() == 1


def test_a_trade_by_hand_moves_what_the_products_trader_expects(trader):
    drift.owner_expect_move(account=trader.broker_account, root="MNQ", delta=1)
    broker_holds(trader, 1)
    assert Trader.objects.get(pk=trader.pk).expected_positions == {"MNQ": 1}
    assert traders_reconcile() == 0


def test_a_resolved_drift_clears_when_the_accounts_executions_have_run(trader):
    broker_holds(trader, 1)
    traders_reconcile()
    assert drifting(trader)
    Position.objects.filter(broker_account=trader.broker_account).update(net_pos=0)
    drift.product_drift_judge(account_id=trader.broker_account_id, root="MNQ")
    assert not drifting(trader)


def test_a_trader_told_from_a_stale_copy_is_told_as_the_database_holds_it(
    trader, django_capture_on_commit_callbacks
):
    """A process that read the trader before another changed it tells the pages the committed
    row, and each payload says when it was read so a page keeps the latest."""
    from justtrades import realtime
    from traders import events
    from traders.models import Trader

    told = []

    def listener(user_id, event_type, data):
        if event_type == "trader":
            told.append(data)

    stale = Trader.objects.get(pk=trader.pk)
    Trader.objects.filter(pk=trader.pk).update(expected_positions={"MNQ": 2})
    realtime.add_listener(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events.publish_trader(stale)
            events.publish_trader(stale)
    finally:
        realtime._listeners.remove(listener)
    assert [t["positions"] for t in told] == [{"MNQ": 2}, {"MNQ": 2}]
    assert told[0]["as_of"] <= told[1]["as_of"]
