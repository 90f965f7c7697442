"""One of everything a user can own, for alice, each named with a marker string that must never
appear in anything bob sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

MARK = "zq7alicemark"
BROKER_PASSWORD = "Pw-alice-broker-9f2d7c1e"  # noqa: S105 - a test credential
BROKER_SEC = "Sec-alice-api-6b0e4a8d"  # noqa: S105


@dataclass
class World:
    user: object
    objects: dict[str, object] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)

    def id_of(self, key: str) -> int:
        return self.objects[key].pk


def build_world(user) -> World:
    from accounts.crypto import encrypt
    from accounts.models import BrokerAccount, BrokerConnection
    from notifications.models import Notification, PushSubscription
    from recorder.models import RecordedPosition, RecordedTrade, Recorder, StrategyLog
    from strategies.models import Signal
    from strategies.services import strategy_create
    from traders.models import Fill, Order, Position, Trader

    w = World(user=user)
    now = timezone.now()
    connection = BrokerConnection.objects.create(
        user=user,
        kind=BrokerConnection.Kind.TRADOVATE_DEMO,
        label=f"conn-{MARK}",
        username=f"login-{MARK}",
        password_encrypted=encrypt(BROKER_PASSWORD),
        sec_encrypted=encrypt(BROKER_SEC),
        status=BrokerConnection.Status.CONNECTED,
    )
    account = BrokerAccount.objects.create(
        connection=connection, external_id=987654, name=f"ACC-{MARK}", balance=Decimal(50000)
    )
    strategy = strategy_create(user=user, name=f"strategy-{MARK}")
    recorder = Recorder.objects.filter(strategy=strategy).first() or Recorder.objects.create(
        user=user, strategy=strategy
    )
    signal = Signal.objects.create(
        strategy=strategy,
        raw_body=f'{{"action": "buy", "comment": "{MARK}"}}',
        action="buy",
        symbol="MNQ1!",
        contract="MNQZ5",
        quantity=1,
        dedupe_key=f"id:{MARK}",
        status=Signal.Status.PROCESSED,
        reason=f"reason-{MARK}",
        processed_at=now,
    )
    RecordedPosition.objects.create(recorder=recorder, symbol="MNQZ5", net_pos=1)
    RecordedTrade.objects.create(
        recorder=recorder,
        symbol="MNQZ5",
        side="long",
        quantity=1,
        entry_time=now - timedelta(minutes=5),
        exit_time=now - timedelta(minutes=1),
        entry_price=Decimal("21000.25"),
        exit_price=Decimal("21010.25"),
        points=Decimal(10),
        ticks=Decimal(40),
        pnl=Decimal(20),
        net_pnl=Decimal("18.76"),
        exit_reason=RecordedTrade._meta.get_field("exit_reason").choices[0][0],
        signal=signal,
    )
    log = StrategyLog.objects.create(
        user=user, strategy=strategy, signal=signal, kind="signal", message=f"log-{MARK}"
    )
    trader = Trader.objects.create(
        user=user, strategy=strategy, broker_account=account, enabled=False
    )
    order = Order.objects.create(
        user=user,
        trader=trader,
        broker_account=account,
        signal=signal,
        cl_ord_id=f"cl-{MARK}",
        broker_order_id=4242,
        action="Buy",
        symbol="MNQZ5",
        quantity=1,
        status="Filled",
        text=f"order-{MARK}",
    )
    fill = Fill.objects.create(
        user=user,
        order=order,
        trader=trader,
        broker_account=account,
        broker_fill_id=5151,
        action="Buy",
        symbol="MNQZ5",
        quantity=1,
        price=Decimal("21000.25"),
        timestamp=now,
    )
    position = Position.objects.create(
        user=user, broker_account=account, symbol="MNQZ5", net_pos=1, net_price=Decimal(21000)
    )
    notification = Notification.objects.create(
        user=user, channel=Notification._meta.get_field("channel").choices[0][0],
        kind="fill", dedupe_key=f"n-{MARK}",
        **({"title": f"note-{MARK}"} if _has(Notification, "title") else {}),
        **({"body": f"note-{MARK}"} if _has(Notification, "body") else {}),
    )  # fmt: skip
    push = PushSubscription.objects.create(
        user=user, endpoint=f"https://push.example.com/{MARK}", p256dh="p" * 20, auth="a" * 10
    )
    w.objects = {
        "connection": connection,
        "account": account,
        "strategy": strategy,
        "recorder": recorder,
        "signal": signal,
        "log": log,
        "trader": trader,
        "order": order,
        "fill": fill,
        "position": position,
        "notification": notification,
        "push": push,
    }
    w.markers = [
        f"strategy-{MARK}",
        f"ACC-{MARK}",
        f"conn-{MARK}",
        f"login-{MARK}",
        f"log-{MARK}",
        f"cl-{MARK}",
        strategy.webhook_token,
    ]
    return w


def _has(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())
