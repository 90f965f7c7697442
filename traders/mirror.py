"""The broker mirror: our copy of what each broker account holds, fed by the broker's reports.

The only source of broker state for the trading core. ``broker_stream`` applies each frame of
a login's user-sync WebSocket here in one transaction (a fill, its order and its position
arrive together, so a reader never sees one without the others); after a reconnect the
stream's snapshot re-syncs everything. REST is used only when the stream is not live for a
login (``mirror_refresh``), never before each order.

Reads for the planner: ``holdings(account, root)`` (every contract month, in-flight orders
counted as if they fill) and ``await_settled`` (the broker's word on what was just sent).

One file for one idea, the broker mirror: every write of broker state and every read the planner
makes of it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.brokers.base import BrokerFill, BrokerOrder, BrokerPosition
from accounts.brokers.factory import broker_for
from accounts.brokers.symbols import UnknownSymbol, contract_from_name
from accounts.models import BrokerAccount, BrokerConnection
from justtrades.timeline import Event
from traders import events, pnl, risk
from traders.models import (
    FINAL,
    IN_FLIGHT,
    WORKING,
    Fill,
    Order,
    OrderStatus,
    Position,
    Trader,
    order_may_move,
)

logger = logging.getLogger(__name__)

S = OrderStatus
Role = Order.Role
PROTECTIVE = (Role.TAKE_PROFIT, Role.STOP_LOSS)
LINK_ROLES = {"takeprofit": Role.TAKE_PROFIT, "target": Role.TAKE_PROFIT, "stoploss": Role.STOP_LOSS,
              "stop": Role.STOP_LOSS}  # fmt: skip


def root_of(symbol: str) -> str:
    try:
        return contract_from_name(symbol).root
    except (UnknownSymbol, ValueError):
        return symbol[:-2] if len(symbol) > 2 else symbol


def point_value_of(symbol: str) -> Decimal:
    try:
        return contract_from_name(symbol).point_value
    except (UnknownSymbol, ValueError):
        return Decimal(1)


# --- freshness ------------------------------------------------------------------------------------


def mirror_is_fresh(connection: BrokerConnection) -> bool:
    """The stream of this login is live and synced: its mirror is the broker's truth."""
    beat = BrokerConnection.objects.filter(pk=connection.pk).values_list(
        "mirror_heartbeat_at", "mirror_synced_at"
    )
    row = beat.first()
    if not row or row[0] is None or row[1] is None:
        return False
    return timezone.now() - row[0] < timedelta(seconds=pnl.mirror_max_age())


def mirror_heartbeat(connection_id: int, *, synced: bool = False) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {"mirror_heartbeat_at": now}
    if synced:
        fields["mirror_synced_at"] = now
    BrokerConnection.objects.filter(pk=connection_id).update(**fields)


def mirror_mark_stale(connection_id: int) -> None:
    BrokerConnection.objects.filter(pk=connection_id).update(mirror_heartbeat_at=None)


# --- writes: one broker report each -------------------------------------------------------------


def _signed(action: str, qty: int) -> int:
    return qty if action == "Buy" else -qty


def _set_status(order: Order, status: str, fields: list[str]) -> None:
    if status and status != order.status and order_may_move(order.status, status):
        order.status = status
        fields.append("status")


def order_apply(*, order: Order, broker_order: BrokerOrder) -> bool:
    """Our order brought up to the broker's view (status, ids, rejection text)."""
    fields: list[str] = []
    if order.role == Role.FLATTEN and order.status == S.COMPLETED:
        return False
    _set_status(order, broker_order.status, fields)
    if order.broker_order_id is None and broker_order.id:
        order.broker_order_id = broker_order.id
        fields.append("broker_order_id")
    if broker_order.reject_reason and not order.reject_reason:
        order.reject_reason = broker_order.reject_reason[:60]
        order.text = broker_order.text or order.text
        fields += ["reject_reason", "text"]
    for name in ("price", "stop_price"):
        value = getattr(broker_order, name)
        movable = order.role in PROTECTIVE or (
            order.trader_id is None and order.role == Role.MANUAL
        )
        if value is not None and getattr(order, name) != value and movable:
            setattr(order, name, value)  # a trailing stop moves, a break-even modify lands
            fields.append(name)
    if order.role in PROTECTIVE and broker_order.qty:  # the version is known: so is its type
        role = _role_for_child(broker_order.order_type)
        if role != order.role:
            order.role = role
            fields.append("role")
        if broker_order.order_type and broker_order.order_type != order.order_type:
            order.order_type = broker_order.order_type
            fields.append("order_type")
    external = order.trader_id is None and order.role == Role.MANUAL
    if (
        broker_order.qty
        and (order.role in PROTECTIVE or external)
        and broker_order.qty != order.quantity
    ):
        order.quantity = broker_order.qty
        fields.append("quantity")
    if external and broker_order.order_type and broker_order.order_type != order.order_type:
        order.order_type = broker_order.order_type
        fields.append("order_type")
    if not fields:
        return False
    order.save(update_fields=sorted(set(fields)) + ["updated_at"])
    events.publish_order(order)
    return True


def mirror_lock(*, connection_id: int | None = None, account_id: int | None = None) -> None:
    """Hold the login's mirror until the transaction ends: the stream and a worker's REST read
    may mirror the same broker order at once; one of them waits instead of writing it twice.
    Taken first, before any order row, by every writer (so no two wait on each other)."""
    if connection_id is None:
        connection_id = (
            BrokerAccount.objects.filter(pk=account_id)
            .values_list("connection_id", flat=True)
            .first()
        )
    list(
        BrokerConnection.objects.select_for_update()
        .filter(pk=connection_id)
        .values_list("pk", flat=True)
    )


def order_take_broker_id(*, order: Order, broker_order_id: int, **fields: Any) -> None:
    """Give our row the broker's id (with ``fields``). Should the mirror already hold a row of
    that broker order (the stream told of it before the placement answer or the strategy link
    came, and mirrored it as someone else's or as an untied leg), that row is folded into ours:
    its fills, its legs and, when it is further along, its status. One row per broker order,
    which the database enforces."""
    with transaction.atomic():
        mirror_lock(account_id=order.broker_account_id)
        order = Order.objects.select_for_update().get(pk=order.pk)
        status = fields.get("status", order.status)
        twin = (
            Order.objects.select_for_update()
            .filter(broker_account_id=order.broker_account_id, broker_order_id=broker_order_id)
            .exclude(pk=order.pk)
            .first()
        )
        if twin is not None:
            Fill.objects.filter(order=twin).update(order=order, trader=order.trader)
            Order.objects.filter(parent=twin).update(parent=order)
            if twin.status != status and order_may_move(status, twin.status):
                fields["status"] = twin.status
            twin.delete()
        Order.objects.filter(pk=order.pk).update(broker_order_id=broker_order_id, **fields)
    order.refresh_from_db()
    order_refresh_fill_state(order)


def _role_for_child(order_type: str, label: str = "") -> str:
    key = label.replace("_", "").replace(" ", "").lower()
    if key in LINK_ROLES:
        return LINK_ROLES[key]
    return Role.TAKE_PROFIT if order_type in ("Limit", "MIT") else Role.STOP_LOSS


def order_record_child(*, parent: Order, broker_order: BrokerOrder, label: str = "") -> Order:
    """An exit the broker placed for our entry (an OSO bracket, an order strategy's leg)."""
    order, _ = Order.objects.get_or_create(
        broker_account_id=parent.broker_account_id,
        broker_order_id=broker_order.id,
        defaults=dict(
            user_id=parent.user_id,
            trader_id=parent.trader_id,
            execution_id=parent.execution_id,
            signal_id=parent.signal_id,
            parent=parent,
            role=_role_for_child(broker_order.order_type, label),
            action=broker_order.action,
            symbol=broker_order.symbol,
            root=parent.root,
            quantity=max(1, broker_order.qty or parent.quantity),
            order_type=broker_order.order_type or "Stop",
            price=broker_order.price,
            stop_price=broker_order.stop_price,
            status=broker_order.status or S.WORKING,
            accepted_at=timezone.now(),
        ),
    )
    return order


def order_record_unknown(*, account: BrokerAccount, broker_order: BrokerOrder) -> Order:
    """An order we did not place (another platform, the broker's liquidation): mirrored so
    the control center shows everything that touched the account."""
    order, _ = Order.objects.get_or_create(
        broker_account=account,
        broker_order_id=broker_order.id,
        defaults=dict(
            user_id=account.connection.user_id,
            role=Role.MANUAL,
            action=broker_order.action,
            symbol=broker_order.symbol,
            root=root_of(broker_order.symbol),
            quantity=max(1, broker_order.qty or broker_order.filled_qty or 1),
            order_type=broker_order.order_type or "Market",
            price=broker_order.price,
            stop_price=broker_order.stop_price,
            status=broker_order.status,
            filled_qty=broker_order.filled_qty or 0,
            avg_fill_price=broker_order.avg_price,
            text=(broker_order.text or "")[:500],
        ),
    )
    return order


def order_refresh_fill_state(order: Order) -> bool:
    """Filled quantity and average price from the fills we hold (only an increase counts).
    A take profit or stop loss that fills moves the trader's expected position with it."""
    agg = Fill.objects.filter(order=order).aggregate(
        q=Sum("quantity"), v=Sum(F("quantity") * F("price"))
    )
    qty = int(agg["q"] or 0)
    if qty <= order.filled_qty:
        return False
    avg = (agg["v"] / qty).quantize(Decimal("0.000001"))
    newly = qty - order.filled_qty
    Order.objects.filter(pk=order.pk).update(filled_qty=qty, avg_fill_price=avg)
    order.filled_qty, order.avg_fill_price = qty, avg
    if order.trader_id and order.role in PROTECTIVE:
        _protective_filled(order, newly)
    events.publish_order(order)
    return True


def _protective_filled(order: Order, qty: int) -> None:
    trader = Trader.objects.select_related("strategy", "broker_account").get(pk=order.trader_id)
    trader_expect_move(trader, order.root or root_of(order.symbol), _signed(order.action, qty))
    target = order.role == Role.TAKE_PROFIT
    events.trader_line(
        trader,
        events.Kind.TARGET if target else events.Kind.STOP,
        f"{order.get_role_display()} filled: {order.action} {qty} {order.symbol}"
        + (f" @ {order.avg_fill_price.normalize():f}" if order.avg_fill_price is not None else ""),
        event=Event.TARGET_FILLED if target else Event.STOP_FILLED,
        signal=order.signal_id,
        data={"order_id": order.pk, "price": order.avg_fill_price, "qty": qty},
    )
    events.publish_trader(trader)


def trader_expect_move(trader: Trader, root: str, delta: int) -> None:
    """A bracket closed (part of) the trade: the trader expects that, it is no drift."""
    with transaction.atomic():
        locked = Trader.objects.select_for_update().get(pk=trader.pk)
        expected = dict(locked.expected_positions or {})
        current = int(expected.get(root, 0))
        new = current + delta
        if current and (new > 0) != (current > 0):
            new = 0  # a bracket never crosses zero: it closes what the entry opened
        expected[root] = new
        Trader.objects.filter(pk=trader.pk).update(expected_positions=expected)
        trader.expected_positions = expected


def fill_record(*, account: BrokerAccount, broker_fill: BrokerFill) -> Fill | None:
    """Store one broker fill once (unique per account and broker fill id)."""
    order = (
        Order.objects.filter(broker_account=account, broker_order_id=broker_fill.order_id)
        .order_by("-trader_id")
        .first()
    )
    try:
        with transaction.atomic():
            fill = Fill.objects.create(
                user_id=account.connection.user_id,
                order=order,
                trader_id=order.trader_id if order else None,
                broker_account=account,
                broker_fill_id=broker_fill.id,
                action=broker_fill.action,
                symbol=broker_fill.symbol,
                quantity=broker_fill.qty,
                price=broker_fill.price,
                timestamp=broker_fill.timestamp or timezone.now(),
            )
    except IntegrityError:
        return None
    if order is not None:
        order_refresh_fill_state(order)
    events.emit(fill.user_id, "fill", events.fill_payload(fill, account))
    return fill


def position_record(
    *, account: BrokerAccount, broker_position: BrokerPosition, last_price: Decimal | None = None
) -> Position:
    """Upsert the account's position in one contract from the broker's view."""
    bp = broker_position
    position = Position.objects.filter(broker_account=account, symbol=bp.symbol).first()
    last = last_price if last_price is not None else (position.last_price if position else None)
    values = {
        "user_id": account.connection.user_id,
        "root": root_of(bp.symbol),
        "net_pos": bp.net_pos,
        "net_price": bp.net_price if bp.net_pos else None,
        "contract_id": bp.contract_id,
        "last_price": last,
    }
    values["open_pnl"] = _stored_open_pnl(symbol=bp.symbol, **values)
    if position is None:
        try:
            with transaction.atomic():
                position = Position.objects.create(
                    broker_account=account, symbol=bp.symbol, **values
                )
        except IntegrityError:
            position = Position.objects.get(broker_account=account, symbol=bp.symbol)
    changed = [k for k, v in values.items() if getattr(position, k) != v]
    if changed:
        for k in changed:
            setattr(position, k, values[k])
        position.save(update_fields=changed + ["updated_at"])
    if changed or position.pk is None:
        events.publish_position(position, account)
    return position


def _stored_open_pnl(*, symbol: str, net_pos: int, net_price, last_price, **_) -> Decimal:
    """The open P&L kept on the position row (0 while no last price is known)."""
    position = Position(symbol=symbol, net_pos=net_pos, net_price=net_price, last_price=last_price)
    return pnl.position_open_pnl(position) or Decimal("0.00")


def position_mark(*, account: BrokerAccount, symbol: str, last: Decimal) -> Position | None:
    """A new last price for a held contract: its open P&L."""
    position = Position.objects.filter(broker_account=account, symbol=symbol).first()
    if position is None:
        return None
    pnl = _stored_open_pnl(
        symbol=symbol, net_pos=position.net_pos, net_price=position.net_price, last_price=last
    )
    if position.last_price == last and position.open_pnl == pnl:
        return position
    position.last_price, position.open_pnl = last, pnl
    position.save(update_fields=["last_price", "open_pnl", "updated_at"])
    events.publish_position(position, account)
    return position


def account_cash_record(*, account: BrokerAccount, realized: Decimal, balance: Decimal | None):
    fields = {"realized_pnl": Decimal(realized).quantize(risk.CENT), "refreshed_at": timezone.now()}
    if balance is not None:
        fields["balance"] = Decimal(balance).quantize(risk.CENT)
    BrokerAccount.objects.filter(pk=account.pk).update(**fields)
    for name, value in fields.items():
        setattr(account, name, value)


# --- a frame of the user-sync stream ------------------------------------------------------------


@dataclass
class Frame:
    """The entities of one stream frame (or one snapshot), typed where the client types them."""

    commands: list[dict] = field(default_factory=list)
    strategies: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    orders: list[BrokerOrder] = field(default_factory=list)
    fills: list[BrokerFill] = field(default_factory=list)
    positions: list[BrokerPosition] = field(default_factory=list)
    cash: list[Any] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(
            (self.commands, self.strategies, self.links, self.orders, self.fills, self.positions,
             self.cash)
        )  # fmt: skip


@dataclass
class FrameResult:
    accounts_touched: set[int] = field(default_factory=set)  # BrokerAccount pks (cash/positions)
    protective_lost: list[int] = field(default_factory=list)  # Order pks


def frame_apply(*, connection: BrokerConnection, frame: Frame) -> FrameResult:
    """Apply one frame atomically, in dependency order: commands and order strategies (who
    placed what) first, then orders, fills, positions and cash."""
    accounts = {a.external_id: a for a in connection.accounts.select_related("connection")}
    result = FrameResult()
    with transaction.atomic():
        mirror_lock(connection_id=connection.pk)
        cl_ids = _apply_commands(connection, frame.commands)
        _apply_strategies(connection, frame.strategies)
        labels = _apply_links(connection, frame.links)
        for bo in frame.orders:
            account = accounts.get(bo.account_id)
            if account is None:
                continue
            order = _order_for(account, bo, cl_ids, labels)
            before = order.status
            order_apply(order=order, broker_order=bo)
            if _protection_lost(order, before):
                result.protective_lost.append(order.pk)
        for bf in frame.fills:
            account = accounts.get(bf.account_id) if bf.account_id else None
            account = account or _account_of_order(connection, bf.order_id)
            if account is not None:
                fill_record(account=account, broker_fill=bf)
        for bp in frame.positions:
            account = accounts.get(bp.account_id)
            if account is not None:
                position_record(account=account, broker_position=bp)
                result.accounts_touched.add(account.pk)
        for cash in frame.cash:
            account = accounts.get(cash.account_id)
            if account is not None:
                account_cash_record(
                    account=account, realized=cash.realized_pnl, balance=cash.total_cash_value
                )
                result.accounts_touched.add(account.pk)
    return result


def _apply_commands(connection, commands: list[dict]) -> dict[int, str]:
    """clOrdId of each order a command placed; our order learns its broker id from it."""
    found: dict[int, str] = {}
    for c in commands:
        cl, oid = c.get("clOrdId"), c.get("orderId")
        if cl and oid:
            found[int(oid)] = cl
            ours = Order.objects.filter(
                broker_account__connection=connection, cl_ord_id=cl, broker_order_id__isnull=True
            ).first()
            if ours is not None:
                order_take_broker_id(order=ours, broker_order_id=int(oid))
    return found


def _apply_strategies(connection, strategies: list[dict]) -> None:
    for s in strategies:
        if s.get("uuid") and s.get("id"):
            Order.objects.filter(
                broker_account__connection=connection,
                cl_ord_id=s["uuid"],
                broker_strategy_id__isnull=True,
            ).update(broker_strategy_id=int(s["id"]))


def _apply_links(connection, links: list[dict]) -> dict[int, tuple[int, str]]:
    """orderId → (orderStrategyId, label); an entry learns its broker id, an exit that was
    mirrored before its link arrived becomes our entry's child."""
    found: dict[int, tuple[int, str]] = {}
    for link in links:
        oid, sid = link.get("orderId"), link.get("orderStrategyId")
        if not oid or not sid:
            continue
        label = str(link.get("label") or "")
        found[int(oid)] = (int(sid), label)
        entry = Order.objects.filter(
            broker_account__connection=connection, broker_strategy_id=int(sid), parent__isnull=True
        ).first()
        if entry is None:
            continue
        if label.lower() == "entry":
            if entry.broker_order_id is None:
                order_take_broker_id(order=entry, broker_order_id=int(oid))
            continue
        Order.objects.filter(
            broker_account_id=entry.broker_account_id, broker_order_id=int(oid), trader__isnull=True
        ).exclude(pk=entry.pk).update(
            trader_id=entry.trader_id,
            execution_id=entry.execution_id,
            signal_id=entry.signal_id,
            parent_id=entry.pk,
            role=_role_for_child("", label),
            root=entry.root,
        )
    return found


def _order_for(account, bo: BrokerOrder, cl_ids: dict[int, str], labels) -> Order:
    order = (
        Order.objects.filter(broker_account=account, broker_order_id=bo.id)
        .order_by("-trader_id")
        .first()
    )
    if order is not None:
        return order
    cl = bo.cl_ord_id or cl_ids.get(bo.id)
    if cl:
        order = Order.objects.filter(broker_account=account, cl_ord_id=cl).first()
        if order is not None:
            return order
    parent = None
    label = labels.get(bo.id, (0, ""))[1]
    if bo.parent_id:
        parent = Order.objects.filter(broker_account=account, broker_order_id=bo.parent_id).first()
    elif bo.id in labels:
        strategy_id, label = labels[bo.id]
        parent = Order.objects.filter(
            broker_account=account, broker_strategy_id=strategy_id, parent__isnull=True
        ).first()
        if parent is not None and label.lower() == "entry":
            order_take_broker_id(order=parent, broker_order_id=bo.id)
            return parent
    if parent is not None:
        return order_record_child(parent=parent, broker_order=bo, label=label)
    return order_record_unknown(account=account, broker_order=bo)


def _account_of_order(connection, broker_order_id: int) -> BrokerAccount | None:
    order = (
        Order.objects.filter(broker_account__connection=connection, broker_order_id=broker_order_id)
        .select_related("broker_account__connection")
        .first()
    )
    return order.broker_account if order else None


def _protection_lost(order: Order, before: str) -> bool:
    """A protective leg of ours went away without filling while it was meant to work."""
    return (
        order.trader_id is not None
        and order.role == Role.STOP_LOSS
        and before != order.status
        and order.status in (S.REJECTED, S.CANCELED, S.EXPIRED)
        and order.filled_qty == 0
    )


# --- snapshots and REST re-syncs --------------------------------------------------------------


def frame_from_snapshot(client, snapshot: dict) -> Frame:
    """A snapshot (``user/syncrequest``) as one frame: everything the broker holds now."""
    client.remember_contracts(snapshot.get("contracts") or [])
    versions = {v["orderId"]: v for v in snapshot.get("orderVersions") or []}
    reports: dict[int, dict] = {}
    for r in snapshot.get("executionReports") or []:
        reports[r["orderId"]] = r
    fills_by_order: dict[int, list] = {}
    for f in snapshot.get("fills") or []:
        fills_by_order.setdefault(f["orderId"], []).append(f)
    cl_ids = {
        c["orderId"]: c.get("clOrdId") for c in snapshot.get("commands") or [] if c.get("orderId")
    }
    orders = [
        client.order_from(
            o, versions.get(o["id"]), fills_by_order.get(o["id"]), cl_ids.get(o["id"]),
            reports.get(o["id"]),
        )
        for o in snapshot.get("orders") or []
    ]  # fmt: skip
    account_of = {o.id: o.account_id for o in orders}
    return Frame(
        commands=list(snapshot.get("commands") or []),
        strategies=list(snapshot.get("orderStrategies") or []),
        links=list(snapshot.get("orderStrategyLinks") or []),
        orders=orders,
        fills=[
            client.fill_from(f, account_of.get(f["orderId"])) for f in snapshot.get("fills") or []
        ],
        positions=[client.position_from(p) for p in snapshot.get("positions") or []],
        cash=[client.cash_from_entity(c) for c in snapshot.get("cashBalances") or []],
    )


def mirror_refresh(*, connection: BrokerConnection, account_id: int | None = None) -> Frame:
    """Re-read a login's orders, fills and positions over REST and apply them (the stream is
    down, or an operator asked). Costs a handful of requests: never per order."""
    client = broker_for(connection)
    orders = client.orders(account_id)
    fills = client.fills(account_id)
    strategies = _safe(lambda: client.order_strategies(account_id))
    frame = Frame(
        orders=orders,
        fills=fills,
        positions=client.positions(account_id),
        strategies=[{"id": s.id, "uuid": s.uuid} for s in strategies],
        links=_links_of_ours(connection, client, strategies),
    )
    frame_apply(connection=connection, frame=frame)
    return frame


def _links_of_ours(connection, client, strategies) -> list[dict]:
    """The orders of our order strategies whose orders we do not all know yet (one read each,
    only on this REST path: the stream pushes links as they are made)."""
    ours = {s.id for s in strategies if s.uuid and s.status in ("ActiveStrategy", "")} | set(
        Order.objects.filter(
            broker_account__connection=connection,
            broker_strategy_id__isnull=False,
            broker_order_id__isnull=True,
        ).values_list("broker_strategy_id", flat=True)
    )
    links: list[dict] = []
    for strategy_id in sorted(ours):
        links.extend(_safe(lambda sid=strategy_id: client.order_strategy_links(sid)))
    return links


def _safe(read):
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - an optional part of a re-sync
        logger.info("optional broker read failed: %s", exc)
        return []


# --- reads for the planner ----------------------------------------------------------------------


@dataclass
class Holdings:
    """What an account holds in one product, as the planner must see it."""

    by_contract: dict[str, int]  # every month, in-flight orders counted as if they fill
    working: set[str]  # contracts with working orders of this product
    unsettled: list[Order]  # sent, outcome not known: settle before planning on top

    @property
    def total(self) -> int:
        return sum(self.by_contract.values())


def holdings(*, account: BrokerAccount, root: str) -> Holdings:
    by_contract = {
        p.symbol: p.net_pos
        for p in Position.objects.filter(broker_account=account, root=root).exclude(net_pos=0)
    }
    working: set[str] = set()
    unsettled: list[Order] = []
    live = Order.objects.filter(broker_account=account, root=root, status__in=WORKING | IN_FLIGHT)
    for order in live.exclude(status=S.PLANNED):
        working.add(order.symbol)
        if order.status in (S.SENDING, S.UNKNOWN):
            unsettled.append(order)
        if order.role in PROTECTIVE:
            continue
        if order.role == Role.FLATTEN:
            by_contract[order.symbol] = 0  # a liquidation under way: flat once it lands
            continue
        remaining = max(0, order.quantity - order.filled_qty)
        if remaining:
            by_contract[order.symbol] = by_contract.get(order.symbol, 0) + _signed(
                order.action, remaining
            )
    return Holdings({c: q for c, q in by_contract.items() if q}, working, unsettled)


def order_settled(order: Order) -> bool:
    """The broker has said what became of the order (a resting limit counts as settled)."""
    if order.role == Role.FLATTEN and order.status in FINAL:
        return True  # the liquidation's closing order (or nothing to close) is done
    if order.role == Role.FLATTEN:
        held = Position.objects.filter(
            broker_account_id=order.broker_account_id, symbol=order.symbol
        ).values_list("net_pos", flat=True)
        still_working = (
            Order.objects.filter(
                broker_account_id=order.broker_account_id,
                symbol=order.symbol,
                status__in=WORKING,
            )
            .exclude(pk=order.pk)
            .exclude(role=Role.FLATTEN)
            .exists()
        )
        return not any(held) and not still_working
    if order.status in FINAL:
        return True
    return order.status in (S.WORKING, S.SUSPENDED) and order.order_type != "Market"


REST_SETTLE_FIRST_PAUSE = 0.1  # seconds before the first REST read of an order's outcome
REST_SETTLE_MAX_PAUSE = 1.0


def await_settled(
    *, connection: BrokerConnection, orders: list[Order], timeout: float | None = None
) -> bool:
    """Wait for the mirror to report every order's outcome (the stream's fills, not a timer);
    without a live stream, ask over REST once the short wait is over."""
    if not orders:
        return True
    timeout = float(getattr(settings, "SETTLE_TIMEOUT_SECONDS", 5)) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    fresh = mirror_is_fresh(connection)
    pending = list(orders)
    pause = REST_SETTLE_FIRST_PAUSE
    while True:
        for order in pending:
            order.refresh_from_db()
        pending = [o for o in pending if not order_settled(o)]
        if not pending or time.monotonic() > deadline:
            break
        if fresh:
            time.sleep(0.02)
            continue
        # No live stream: ask the broker itself, less often the longer it takes (a fan-out on
        # one login must not spend the login's hourly request budget on polling).
        time.sleep(pause)
        pause = min(pause * 2, REST_SETTLE_MAX_PAUSE)
        mirror_refresh(connection=connection, account_id=pending[0].broker_account.external_id)
    for order in orders:
        if order.role == Role.FLATTEN and order not in pending and order.status not in FINAL:
            Order.objects.filter(pk=order.pk).update(status=S.COMPLETED)
            order.status = S.COMPLETED
    return not pending
