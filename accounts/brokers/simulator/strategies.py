"""Order strategies (``orderStrategy/*``): Tradovate's multibracket, on top of the engine.

A strategy is an entry order plus, once the entry has filled completely, one take-profit Limit
and one Stop (or TrailingStop) per bracket, OCO-linked, GTC, placed at signed point offsets from
the entry's average fill price (rounded to the tick). The exits are ordinary orders: they match,
can be modified with ``order/modifyorder`` and are rejected like any released bracket when they
start on the wrong side of the market (their sibling keeps working).

Entities, pushed on the user-sync stream and listed in the snapshot:
``orderStrategy {id, accountId, timestamp, contractId, action, orderStrategyTypeId, params,
uuid, customTag50, status, failureMessage}`` and ``orderStrategyLink {id, orderStrategyId,
orderId, label}`` with labels ``Entry``, ``TakeProfit`` and ``StopLoss``.

Statuses: ``ActiveStrategy`` → ``ExecutionFinished`` once everything it placed is final (the
exits closed the position, or the entry never filled), or → ``ExecutionInterrupted`` by
``interruptOrderStrategy`` or ``order/liquidateposition`` (its working orders are cancelled,
the position stays).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from accounts.brokers.simulator.orders import FINAL, OrderState, Reject, iso

if TYPE_CHECKING:
    from accounts.brokers.simulator.engine import Engine

MULTIBRACKET = 2
ACTIVE = "ActiveStrategy"
FINISHED = "ExecutionFinished"
INTERRUPTED = "ExecutionInterrupted"
ENTRY_TYPES = {"Market", "Limit", "Stop", "StopLimit", "MIT"}


@dataclass
class Bracket:
    """One exit pair: quantity and signed point offsets from the entry's fill."""

    qty: int
    profit_target: Decimal | None
    stop_loss: Decimal | None
    trailing: bool = False

    def as_params(self) -> dict:
        return {
            "qty": self.qty,
            "profitTarget": _number(self.profit_target),
            "stopLoss": _number(self.stop_loss),
            "trailingStop": self.trailing,
        }


@dataclass
class StrategyState:
    id: int
    user_id: int
    account_id: int
    contract_id: int
    action: str
    entry_id: int
    entry_version: dict
    brackets: list[Bracket]
    exits: list[dict] = field(default_factory=list)  # per bracket: {"TakeProfit": id, ...}

    @property
    def order_ids(self) -> list[int]:
        return [self.entry_id] + [oid for pair in self.exits for oid in pair.values()]


class OrderStrategies:
    """The engine's order strategies: state, requests and the hooks the engine calls."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.states: dict[int, StrategyState] = {}
        self.entities: dict[int, dict] = {}
        self.links: dict[int, dict] = {}

    # --- reads -------------------------------------------------------------------------------
    def user_strategies(self, user_id: int) -> list[dict]:
        return [self.entities[s.id] for s in self.states.values() if s.user_id == user_id]

    def user_links(self, user_id: int) -> list[dict]:
        mine = {s.id for s in self.states.values() if s.user_id == user_id}
        return [link for link in self.links.values() if link["orderStrategyId"] in mine]

    def active_order_ids(self) -> set[int]:
        """Orders of strategies still active (kept in the state file whatever their age)."""
        return {
            oid
            for state in self.states.values()
            if self.entities[state.id]["status"] == ACTIVE
            for oid in state.order_ids
        }

    # --- persistence -------------------------------------------------------------------------
    def dump(self) -> dict:
        return {
            "states": [
                {
                    **{k: v for k, v in dataclasses.asdict(s).items() if k != "brackets"},
                    "brackets": [dataclasses.asdict(b) for b in s.brackets],
                }
                for s in self.states.values()
            ],
            "entities": list(self.entities.values()),
            "links": list(self.links.values()),
        }

    def load(self, data: dict) -> None:
        self.states = {}
        for raw in data.get("states", []):
            brackets = [Bracket(**b) for b in raw.pop("brackets")]
            state = StrategyState(**raw, brackets=brackets)
            self.states[state.id] = state
        self.entities = {e["id"]: e for e in data.get("entities", [])}
        self.links = {link["id"]: link for link in data.get("links", [])}

    # --- requests ----------------------------------------------------------------------------
    def start(self, user_id: int, body: dict) -> dict:
        """``orderStrategy/startOrderStrategy``: validate everything, then place the entry."""
        e = self.engine
        type_id = body.get("orderStrategyTypeId")
        if type_id != MULTIBRACKET or isinstance(type_id, bool):
            raise Reject(
                "UnknownReason",
                f"Unsupported orderStrategyTypeId {type_id!r}: 2 (multibracket) is the only one.",
            )
        action = body.get("action")
        if action not in ("Buy", "Sell"):
            raise Reject("UnknownReason", f"Invalid action {action!r}: expected Buy or Sell.")
        params = _parse_json(body.get("params"), "params")
        entry_version = params.get("entryVersion")
        if not isinstance(entry_version, dict):
            raise Reject("UnknownReason", "params.entryVersion must be an object.")
        order_type = entry_version.get("orderType", "Market")
        if order_type not in ENTRY_TYPES:
            raise Reject("Unsupported", f"Unsupported entry orderType {order_type!r}.")
        entry_body = {
            "accountId": body.get("accountId"),
            "accountSpec": body.get("accountSpec"),
            "symbol": body.get("symbol"),
            "action": action,
            "orderQty": entry_version.get("orderQty"),
            "orderType": order_type,
            "price": entry_version.get("price"),
            "stopPrice": entry_version.get("stopPrice"),
            "timeInForce": entry_version.get("timeInForce"),
            "isAutomated": body.get("isAutomated"),
        }
        spec = e.validate(user_id, entry_body)
        brackets = self._brackets(params.get("brackets"), action, spec.qty, spec.contract)
        e.refuse_trading_closed(spec.contract)
        e.refuse_wrong_side(user_id, spec)
        strategy_id = e.new_id()
        entity = {
            "id": strategy_id,
            "accountId": spec.account_id,
            "timestamp": iso(e.now()),
            "contractId": spec.contract_id,
            "action": action,
            "orderStrategyTypeId": MULTIBRACKET,
            "params": body["params"],
            "uuid": str(body["uuid"])[:64] if body.get("uuid") else None,
            "customTag50": str(body["customTag50"])[:64] if body.get("customTag50") else None,
            "status": ACTIVE,
            "failureMessage": None,
        }
        self.entities[strategy_id] = entity
        e.emit(user_id, "orderStrategy", "Created", entity)
        entry = e.create(user_id, spec, strategy_id=strategy_id)
        self.states[strategy_id] = StrategyState(
            id=strategy_id,
            user_id=user_id,
            account_id=spec.account_id,
            contract_id=spec.contract_id,
            action=action,
            entry_id=entry.id,
            entry_version=entry_version,
            brackets=brackets,
        )
        self._link(strategy_id, entry.id, "Entry")
        e.activate(entry)
        return {"orderStrategy": entity}

    def interrupt(self, user_id: int, body: dict) -> dict:
        """``orderStrategy/interruptOrderStrategy``: cancel what works; the position stays."""
        state = self._owned(user_id, body.get("orderStrategyId"))
        if self.entities[state.id]["status"] != ACTIVE:
            raise Reject(
                "TooLate",
                f"Order strategy {state.id} is already {self.entities[state.id]['status']}.",
            )
        self._stop(state)
        return {"orderStrategy": self.entities[state.id]}

    def interrupt_for(self, account_id: int, contract_id: int) -> None:
        """Liquidation of a position interrupts the strategies trading it."""
        for state in list(self.states.values()):
            if (
                state.account_id == account_id
                and state.contract_id == contract_id
                and self.entities[state.id]["status"] == ACTIVE
            ):
                self._stop(state)

    def modify(self, user_id: int, body: dict) -> dict:
        """``orderStrategy/modifyOrderStrategy``: new brackets, re-applied around the fill.

        ``command`` is a JSON string ``{"brackets": [...]}`` (the shape of ``params``), with an
        optional ``entryVersion`` {price, stopPrice} while the entry still works. A change that
        fails any check (a stop on the wrong side of the market included) changes nothing."""
        e = self.engine
        state = self._owned(user_id, body.get("orderStrategyId"))
        entity = self.entities[state.id]
        if entity["status"] != ACTIVE:
            raise Reject("TooLate", f"Order strategy {state.id} is already {entity['status']}.")
        command = _parse_json(body.get("command"), "command")
        entry = e.orders[state.entry_id]
        c = e.book(state.contract_id).contract
        brackets = state.brackets
        if "brackets" in command:
            brackets = self._brackets(command["brackets"], state.action, entry.qty, c)
        changes = []
        if entry.status == "Filled":
            if len(brackets) != len(state.exits):
                raise Reject(
                    "UnknownReason",
                    f"The strategy has {len(state.exits)} brackets; the change names "
                    f"{len(brackets)}.",
                )
            changes = self._exit_changes(state, entry, brackets)
        new_entry_version = dict(state.entry_version)
        if isinstance(command.get("entryVersion"), dict) and entry.status not in FINAL:
            for key in ("price", "stopPrice"):
                if key in command["entryVersion"]:
                    new_entry_version[key] = command["entryVersion"][key]
            changes.insert(0, self._modify_body(entry, new_entry_version))
        book = e.book_for(user_id, state.contract_id)
        for change in changes:  # every check first: all or nothing
            order = e.orders[change["orderId"]]
            stop = e._price(change.get("stopPrice"), c, "stopPrice")
            if order.status == "Working" and not order.triggered:
                e.check_wrong_side(order.action, change["orderType"], stop, book)
        for change in changes:
            e.modify_order(user_id, change)
        state.brackets, state.entry_version = brackets, new_entry_version
        entity["params"] = json.dumps(
            {"entryVersion": new_entry_version, "brackets": [b.as_params() for b in brackets]}
        )
        if body.get("customTag50"):
            entity["customTag50"] = str(body["customTag50"])[:64]
        entity["timestamp"] = iso(e.now())
        e.emit(user_id, "orderStrategy", "Updated", entity)
        return {"orderStrategy": entity}

    # --- hooks (called by the engine) --------------------------------------------------------
    def order_final(self, order: OrderState) -> None:
        """An order of a strategy reached a final status: exits after the entry, or the end."""
        state = self.states.get(order.strategy_id or 0)
        if state is None or self.entities[state.id]["status"] != ACTIVE:
            return
        if order.id == state.entry_id and order.status == "Filled" and not state.exits:
            self._place_exits(state, order)
        orders = self.engine.orders
        if all(oid not in orders or orders[oid].status in FINAL for oid in state.order_ids):
            self._set_status(state, FINISHED)

    # --- internals ---------------------------------------------------------------------------
    def _place_exits(self, state: StrategyState, entry: OrderState) -> None:
        e = self.engine
        c = e.book(state.contract_id).contract
        exit_action = "Sell" if state.action == "Buy" else "Buy"
        created = []
        for bracket in state.brackets:
            target, stop = _exit_prices(entry.avg_px, bracket, c)
            legs: dict[str, int] = {}
            oco_id = e.new_id() if target is not None and stop is not None else None
            body_base = {
                "accountId": state.account_id,
                "symbol": state.contract_id,
                "action": exit_action,
                "orderQty": bracket.qty,
                "timeInForce": "GTC",
                "isAutomated": True,
            }
            orders = []
            if target is not None:
                spec = e.validate(
                    state.user_id,
                    {**body_base, "orderType": "Limit", "price": target},
                    bracket=True,
                )
                orders.append(("TakeProfit", spec))
            if stop is not None:
                stop_body = {**body_base, "orderType": "Stop", "stopPrice": stop}
                if bracket.trailing:
                    stop_body.update(orderType="TrailingStop", pegDifference=abs(bracket.stop_loss))
                orders.append(("StopLoss", e.validate(state.user_id, stop_body, bracket=True)))
            placed = []
            for label, spec in orders:
                order = e.create(
                    state.user_id, spec, parent=entry, oco_id=oco_id, strategy_id=state.id
                )
                legs[label] = order.id
                placed.append(order)
                self._link(state.id, order.id, label)
            if len(placed) == 2:
                placed[0].linked_id, placed[1].linked_id = placed[1].id, placed[0].id
            state.exits.append(legs)
            created.extend(placed)
        for order in created:
            if order.status == "Suspended":
                e.activate(order)

    def _exit_changes(self, state: StrategyState, entry: OrderState, brackets) -> list[dict]:
        e = self.engine
        c = e.book(state.contract_id).contract
        changes = []
        for legs, bracket in zip(state.exits, brackets, strict=True):
            target, stop = _exit_prices(entry.avg_px, bracket, c)
            for label, price in (("TakeProfit", target), ("StopLoss", stop)):
                order = e.orders.get(legs.get(label, 0))
                if order is None or order.status in FINAL:
                    continue
                if price is None:
                    raise Reject("UnknownReason", f"The {label} of a bracket cannot be removed.")
                version = {"orderQty": bracket.qty}
                version["price" if label == "TakeProfit" else "stopPrice"] = price
                changes.append(self._modify_body(order, version))
        return changes

    @staticmethod
    def _modify_body(order: OrderState, version: dict) -> dict:
        body = {
            "orderId": order.id,
            "orderQty": version.get("orderQty", order.qty),
            "orderType": order.order_type,
            "isAutomated": True,
        }
        for key in ("price", "stopPrice"):
            if version.get(key) is not None:
                body[key] = version[key]
        return body

    def _brackets(self, raw: Any, action: str, entry_qty: int, c) -> list[Bracket]:
        if not isinstance(raw, list) or not raw:
            raise Reject("UnknownReason", "params.brackets must be a non-empty list.")
        sign = 1 if action == "Buy" else -1
        out = []
        for i, b in enumerate(raw, start=1):
            if not isinstance(b, dict):
                raise Reject("UnknownReason", f"Bracket {i} must be an object.")
            qty = b.get("qty")
            if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
                raise Reject("UnknownReason", f"Bracket {i}: invalid qty {qty!r}.")
            target = _offset(b.get("profitTarget"), c, f"Bracket {i} profitTarget")
            stop = _offset(b.get("stopLoss"), c, f"Bracket {i} stopLoss")
            if target is None and stop is None:
                raise Reject("UnknownReason", f"Bracket {i} needs a profitTarget or a stopLoss.")
            if target is not None and target * sign <= 0:
                raise Reject(
                    "InvalidPrice",
                    f"Bracket {i}: profitTarget {target} is on the wrong side for a {action} "
                    f"entry (it must be {'positive' if sign > 0 else 'negative'}).",
                )
            if stop is not None and stop * sign >= 0:
                raise Reject(
                    "InvalidPrice",
                    f"Bracket {i}: stopLoss {stop} is on the wrong side for a {action} "
                    f"entry (it must be {'negative' if sign > 0 else 'positive'}).",
                )
            trailing = b.get("trailingStop", False)
            if not isinstance(trailing, bool):
                raise Reject("UnknownReason", f"Bracket {i}: trailingStop must be true or false.")
            out.append(Bracket(qty, target, stop, trailing))
        total = sum(b.qty for b in out)
        if total != entry_qty:
            raise Reject(
                "UnknownReason",
                f"The brackets add up to {total} contracts; the entry is {entry_qty}.",
            )
        return out

    def _owned(self, user_id: int, strategy_id: Any) -> StrategyState:
        try:
            state = self.states.get(int(strategy_id))
        except (TypeError, ValueError):
            state = None
        if state is None or state.user_id != user_id:
            raise Reject("UnknownReason", f"Order strategy {strategy_id} not found.")
        return state

    def _stop(self, state: StrategyState) -> None:
        e = self.engine
        self._set_status(state, INTERRUPTED)
        for oid in state.order_ids:
            order = e.orders.get(oid)
            if order is not None and order.status not in FINAL:
                e._command(order, "Cancel")
                e._cancel(order, "Canceled")

    def _set_status(self, state: StrategyState, status: str) -> None:
        entity = self.entities[state.id]
        entity.update(status=status, timestamp=iso(self.engine.now()))
        self.engine.emit(state.user_id, "orderStrategy", "Updated", entity)

    def _link(self, strategy_id: int, order_id: int, label: str) -> None:
        link = {
            "id": self.engine.new_id(),
            "orderStrategyId": strategy_id,
            "orderId": order_id,
            "label": label,
        }
        self.links[link["id"]] = link
        self.engine.emit(self.states[strategy_id].user_id, "orderStrategyLink", "Created", link)


def _exit_prices(avg: Decimal, bracket: Bracket, c) -> tuple[Decimal | None, Decimal | None]:
    target = c.round_to_tick(avg + bracket.profit_target) if bracket.profit_target else None
    stop = c.round_to_tick(avg + bracket.stop_loss) if bracket.stop_loss else None
    return target, stop


def _parse_json(raw: Any, name: str) -> dict:
    if not isinstance(raw, str):
        raise Reject("UnknownReason", f"{name} must be a JSON string.")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise Reject("UnknownReason", f"{name} is not valid JSON: {exc}.") from exc
    if not isinstance(value, dict):
        raise Reject("UnknownReason", f"{name} must be a JSON object.")
    return value


def _offset(value: Any, c, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Reject("InvalidPrice", f"{name} {value!r} is not a number.")
    try:
        offset = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise Reject("InvalidPrice", f"{name} {value!r} is not a number.") from exc
    if not offset.is_finite() or offset == 0:
        raise Reject("InvalidPrice", f"{name} {value!r} must be a non-zero number of points.")
    if offset % c.tick_size != 0:
        raise Reject(
            "InvalidPrice", f"{name} {value} is not a multiple of the tick size {c.tick_size}."
        )
    return offset


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)
