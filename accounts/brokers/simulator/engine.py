"""The simulator's state and matching engine (no I/O: the server drives it from one thread).

One cohesive idea, so one file: the simulated exchange and broker behind Tradovate's API. It
owns logins, accounts and money (the day P&L rolling at 17:00 Central), the books (a shared
market, and for paper a market per login that follows its alerts), orders and their matching
(as strict as Tradovate: stops already reached are refused, released bracket stops on the
wrong side rejected; fills as on an exchange: resting limits at their price, marketable ones at
the touch, stops at the gap price, markets at the touch plus a slippage, in lots when
``MarketRules.partial_fills`` is on), positions, fills and the state file. Beside it:
``clock.py`` (the time it reads), ``strategies.py`` (order strategies on top of its orders),
``accounts.brokers.sessions`` (trading hours), and ``server.py`` (the protocol).

Entities are kept as Tradovate-shaped dicts (camelCase, the fields of API.md) so the server can
return them as they are; prices are Decimals inside and become JSON numbers on the way out.
Every change is reported through ``Engine.listener(user_id, entity_type, event_type, entity)``
and every quote change through ``Engine.quote_listener(contract_id, quote_entity, user_id)``
(``user_id`` None for the shared book, a login's id for the book that follows its alerts).

One file for one idea, the matching engine: orders, fills, positions and cash change together
and must be read together.
"""

from __future__ import annotations

import dataclasses
import json
import random
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from accounts.brokers import sessions
from accounts.brokers.simulator.clock import Clock
from accounts.brokers.simulator.orders import FINAL, NotFound, OrderState, Reject, iso, now  # noqa: F401 - the engine's public names too
from accounts.brokers.simulator.strategies import OrderStrategies
from accounts.brokers.symbols import (
    MONTH_CODES,
    PRODUCTS,
    Contract,
    UnknownSymbol,
    front_contract,
    resolve_symbol,
)

ORDER_TYPES = {
    "Market",
    "Limit",
    "Stop",
    "StopLimit",
    "TrailingStop",
    "TrailingStopLimit",
    "MIT",
    "QTS",
}
LIMIT_TYPES = {"Limit", "StopLimit", "TrailingStopLimit"}
STOP_TYPES = {"Stop", "StopLimit"}
TIME_IN_FORCE = {"Day", "FOK", "GTC", "GTD", "IOC"}
PRODUCT_IDS = {root: i + 1 for i, root in enumerate(PRODUCTS)}
ZERO = Decimal(0)


def trade_date(ts: datetime) -> dict:
    """Tradovate's ``tradeDate`` of an instant: CME's, rolling at 17:00 Central."""
    d = sessions.trade_date(ts)
    return {"year": d.year, "month": d.month, "day": d.day}


def contract_id_for(c: Contract) -> int:
    """Stable ids, so state files and cached names survive restarts."""
    return PRODUCT_IDS[c.root] * 1_000_000 + c.year * 100 + c.month


def contract_from_id(contract_id: int) -> Contract | None:
    product_index, rest = divmod(int(contract_id), 1_000_000)
    year, month = divmod(rest, 100)
    roots = list(PRODUCTS)
    if not 1 <= product_index <= len(roots) or not 1 <= month <= 12 or year < 2000:
        return None
    root = roots[product_index - 1]
    try:
        return resolve_symbol(f"{root}{MONTH_CODES[month - 1]}{year}")
    except UnknownSymbol:
        return None


@dataclass
class Book:
    """Top of book of one contract."""

    contract: Contract
    last: Decimal
    bid: Decimal
    ask: Decimal
    bid_size: int = 10
    ask_size: int = 10
    volume: int = 0
    timestamp: datetime = field(default_factory=now)
    source: str = "random walk"  # what moved it last: random walk | replay | manual | alerts

    def entity(self, contract_id: int) -> dict:
        return {
            "timestamp": iso(self.timestamp),
            "contractId": contract_id,
            "entries": {
                "Bid": {"price": self.bid, "size": self.bid_size},
                "Offer": {"price": self.ask, "size": self.ask_size},
                "Trade": {"price": self.last, "size": 1},
                "TotalTradeVolume": {"size": self.volume},
            },
        }


@dataclass
class OrderSpec:
    """A validated order request: what ``Engine.create`` turns into an order."""

    account_id: int
    contract_id: int
    contract: Contract
    action: str
    qty: int
    order_type: str
    tif: str
    price: Decimal | None
    stop_price: Decimal | None
    peg: Decimal | None
    cl_ord_id: str | None
    text: str = ""
    admin: bool = False
    automated: bool = False
    expire_time: Any = None


@dataclass
class MarketRules:
    """How the simulated exchange fills and when it trades (``/sim/config``)."""

    slippage_ticks: int = 0  # market orders fill this many ticks beyond the touch
    partial_fills: bool = False  # fill in lots of ``book_size`` per price level
    book_size: int = 10  # contracts shown at each price level
    enforce_sessions: bool = False  # refuse new orders outside CME Globex hours


def wrong_side_text(action: str, order_type: str, stop: Decimal | None, book: Book) -> str:
    """Why a stop is already reached (it would fill at once), or "" when it is not."""
    if order_type not in STOP_TYPES or stop is None:
        return ""
    market = f"bid {book.bid}, ask {book.ask}, last {book.last}"
    if action == "Buy" and stop <= book.ask:
        return (
            f"Buy {order_type} at {stop} is at or below the best ask {book.ask} ({market}): "
            "a buy stop must be above the market."
        )
    if action == "Sell" and stop >= book.bid:
        return (
            f"Sell {order_type} at {stop} is at or above the best bid {book.bid} ({market}): "
            "a sell stop must be below the market."
        )
    return ""


def _whole_qty(qty: Any) -> int:
    if isinstance(qty, bool) or not isinstance(qty, int | float) or qty <= 0 or int(qty) != qty:
        raise Reject("UnknownReason", f"Invalid orderQty {qty!r}: a positive whole number.")
    return int(qty)


def _check_prices(order_type: str, price, stop_price, peg) -> None:
    if order_type in LIMIT_TYPES | {"MIT"} and price is None:
        raise Reject("InvalidPrice", f"{order_type} orders need a price.")
    if order_type in STOP_TYPES and stop_price is None:
        raise Reject("InvalidPrice", f"{order_type} orders need a stopPrice.")
    if order_type in ("TrailingStop", "TrailingStopLimit") and stop_price is None and peg is None:
        raise Reject("InvalidPrice", "Trailing stops need a stopPrice or a pegDifference.")


class Engine:
    def __init__(self, *, seed: int = 7, volatility_ticks: int = 2):
        self.rng = random.Random(seed)
        self.seed = seed
        self.volatility_ticks = volatility_ticks
        self.next_id = 1_000
        self.users: dict[int, dict] = {}
        self.users_by_name: dict[str, int] = {}
        self.accounts: dict[int, dict] = {}
        self.account_money: dict[int, dict] = {}  # balance, realized today/week, maxPos
        self.cash_entities: dict[int, dict] = {}
        self.positions: dict[tuple[int, int], dict] = {}
        self.orders: dict[int, OrderState] = {}
        self.order_entities: dict[int, dict] = {}
        self.versions: dict[int, dict] = {}  # by order id: the latest version
        self.commands: dict[int, dict] = {}
        self.reports: dict[int, dict] = {}
        self.fills: dict[int, dict] = {}
        self.fill_account: dict[int, int] = {}
        self.working_by_contract: dict[int, set[int]] = defaultdict(set)
        # Indexes, so a placement costs the same with 10 or 100,000 orders in the day.
        self.children: dict[int, list[int]] = defaultdict(list)
        self.oco_members: dict[int, list[int]] = defaultdict(list)
        self.user_order_ids: dict[int, list[int]] = defaultdict(list)
        self.user_fill_list: dict[int, list[dict]] = defaultdict(list)
        self.user_report_list: dict[int, list[dict]] = defaultdict(list)
        self.user_command_list: dict[int, list[dict]] = defaultdict(list)
        self.books: dict[int, Book] = {}  # the shared market
        self.user_books: dict[tuple[int, int], Book] = {}  # (user, contract): alerts' market
        self.listener: Callable[[int, str, str, dict], None] = lambda *a: None
        self.quote_listener: Callable[[int, dict, int | None], None] = lambda *a: None
        self.rules = MarketRules()
        self.clock = Clock()
        self.trade_day: date | None = sessions.trade_date(self.clock.now())  # of the day P&L
        self.strategies = OrderStrategies(self)
        self.dirty = False

    # --- time and the trading day ------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def trade_date_entity(self, ts: datetime) -> dict:
        return trade_date(ts)

    def roll_day(self) -> bool:
        """At a new trade date (17:00 Central) each account's day realized P&L goes into its
        balance and restarts at 0, the week's at the first trade date of a week; a
        ``cashBalance`` event tells every account. True when it rolled."""
        ts = self.now()
        today = sessions.trade_date(ts)
        previous = self.trade_day
        if previous == today:
            return False
        self.trade_day = today
        if previous is None:
            return False
        new_week = today.isocalendar()[:2] != previous.isocalendar()[:2]
        for account_id, money in self.account_money.items():
            money["balance"] += money["realized"]
            money["realized"] = ZERO
            if new_week:
                money["week"] = ZERO
            cash = self.cash_entities[account_id]
            cash.update(
                amount=money["balance"],
                realizedPnL=ZERO,
                weekRealizedPnL=money["week"],
                tradeDate=trade_date(ts),
                timestamp=iso(ts),
            )
            self.emit(self.accounts[account_id]["userId"], "cashBalance", "Updated", cash)
        self.dirty = True
        return True

    # --- ids and events ----------------------------------------------------------------------
    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def emit(self, user_id: int, entity_type: str, event_type: str, entity: dict) -> None:
        self.dirty = True
        self.listener(user_id, entity_type, event_type, entity)

    # --- users and accounts ------------------------------------------------------------------
    def create_user(
        self,
        name: str,
        password: str,
        *,
        accounts: int | list[str] = 2,
        balance: Decimal = Decimal("50000"),
        email: str = "",
    ) -> dict:
        """Create (or return, when the password matches) a simulator login with accounts."""
        if name in self.users_by_name:
            user = self.users[self.users_by_name[name]]
            if user["password"] != password:
                raise Reject("Conflict", f"User {name!r} already exists with another password.")
            return user
        user_id = self.new_id()
        user = {
            "id": user_id,
            "name": name,
            "password": password,
            "email": email or f"{name}@paper.local",
            "fullName": name,
            "accountIds": [],
        }
        self.users[user_id] = user
        self.users_by_name[name] = user_id
        names = accounts if isinstance(accounts, list) else [None] * int(accounts)
        for i, account_name in enumerate(names, start=1):
            self.create_account(user_id, account_name or f"{name.upper()[:12]}{i:02d}", balance)
        self.dirty = True
        return user

    def create_account(self, user_id: int, name: str, balance: Decimal) -> dict:
        account_id = self.new_id()
        ts = self.now()
        account = {
            "id": account_id,
            "name": name,
            "userId": user_id,
            "accountType": "Customer",
            "active": True,
            "clearingHouseId": 2,
            "riskCategoryId": 2,
            "autoLiqProfileId": 2,
            "marginAccountType": "Speculator",
            "legalStatus": "Individual",
            "archived": False,
            "timestamp": iso(ts),
        }
        self.accounts[account_id] = account
        self.users[user_id]["accountIds"].append(account_id)
        self.account_money[account_id] = {
            "balance": Decimal(balance),
            "realized": ZERO,
            "week": ZERO,
            "maxPos": None,
        }
        self.cash_entities[account_id] = {
            "id": self.new_id(),
            "accountId": account_id,
            "timestamp": iso(ts),
            "tradeDate": trade_date(ts),
            "currencyId": 1,
            "amount": Decimal(balance),
            "realizedPnL": ZERO,
            "weekRealizedPnL": ZERO,
        }
        self.dirty = True
        return account

    def authenticate(self, name: str, password: str) -> dict | None:
        user_id = self.users_by_name.get(name)
        if user_id is None or self.users[user_id]["password"] != password:
            return None
        return self.users[user_id]

    def user_accounts(self, user_id: int) -> list[dict]:
        return [self.accounts[a] for a in self.users[user_id]["accountIds"]]

    def owned_account(self, user_id: int, account_id: Any) -> dict:
        try:
            account = self.accounts.get(int(account_id))
        except (TypeError, ValueError):
            account = None
        if account is None or account["userId"] != user_id:
            raise Reject("Unauthorized", f"Access is denied to account {account_id}.")
        return account

    # --- contracts and quotes ----------------------------------------------------------------
    def contract(self, symbol: Any) -> tuple[int, Contract]:
        if isinstance(symbol, int) or (isinstance(symbol, str) and symbol.isdigit()):
            c = contract_from_id(int(symbol))
            if c is None:
                raise Reject("InvalidContract", f"Unknown contract id {symbol}.")
            return int(symbol), c
        try:
            c = resolve_symbol(str(symbol or ""))
        except UnknownSymbol as exc:
            raise Reject("InvalidContract", str(exc)) from exc
        return contract_id_for(c), c

    def contract_entity(self, contract_id: int, c: Contract) -> dict:
        return {
            "id": contract_id,
            "name": c.name,
            "contractMaturityId": contract_id,
            "status": "DefinitionChecked",
            "providerTickSize": float(c.tick_size),
        }

    def product_entity(self, root: str) -> dict:
        spec = PRODUCTS[root]
        return {
            "id": PRODUCT_IDS[root],
            "name": root,
            "currencyId": 1,
            "productType": "Futures",
            "description": spec.description,
            "exchangeId": 1,
            "exchangeChannelId": 1,
            "contractGroupId": 1,
            "riskDiscountContractGroupId": 1,
            "status": "Verified",
            "months": spec.months,
            "isSecured": False,
            "valuePerPoint": spec.point_value,
            "priceFormatType": "Decimal",
            "priceFormat": -len(str(spec.tick_size).split(".")[1])
            if "." in str(spec.tick_size)
            else 0,
            "tickSize": spec.tick_size,
            "isMicro": spec.is_micro,
        }

    def maturity_entity(self, contract_id: int, c: Contract, today: date | None = None) -> dict:
        front = front_contract(c.root, today)
        return {
            "id": contract_id,
            "productId": PRODUCT_IDS[c.root],
            "expirationMonth": c.year * 100 + c.month,
            "expirationDate": f"{c.expiration.isoformat()}T21:00:00.000Z" if c.expiration else None,
            "firstIntercommodityDate": None,
            "archived": False,
            "seqNo": 1,
            "isFront": front.name == c.name,
        }

    def book(self, contract_id: int, c: Contract | None = None) -> Book:
        book = self.books.get(contract_id)
        if book is None:
            c = c or contract_from_id(contract_id)
            spec = PRODUCTS[c.root]
            # Later months trade a little higher (carry); deterministic per contract.
            months_out = (c.year - 2025) * 12 + c.month
            price = c.round_to_tick(spec.base_price * (1 + Decimal(months_out) / 2000))
            size = self.rules.book_size
            book = Book(
                contract=c,
                last=price,
                bid=price,
                ask=price + c.tick_size,
                bid_size=size,
                ask_size=size,
            )
            self.books[contract_id] = book
        return book

    def all_books(self) -> list[Book]:
        return list(self.books.values()) + list(self.user_books.values())

    def book_for(self, user_id: int, contract_id: int) -> Book:
        """The book ``user_id``'s orders match against: its own if its alerts moved one."""
        return self.user_books.get((user_id, contract_id)) or self.book(contract_id)

    def own_book(self, user_id: int, contract_id: int) -> Book:
        """``user_id``'s own book of a contract, seeded from the shared one the first time."""
        book = self.user_books.get((user_id, contract_id))
        if book is None:
            shared = self.book(contract_id)
            book = dataclasses.replace(shared, source="alerts")
            self.user_books[(user_id, contract_id)] = book
        return book

    def set_price(
        self,
        contract_id: int,
        price: Decimal | None = None,
        *,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
        user_id: int | None = None,
        source: str = "manual",
    ) -> Book:
        """Move a book and match what rests on it.

        The shared book (every login without its own): ``price`` sets bid = last = price and
        ask one tick above. A login's own book (``user_id``, the paper market that follows
        that user's alerts): ``price`` sets bid = ask = last = price, the price the chart saw."""
        if user_id is not None:
            book, source = self.own_book(user_id, contract_id), "alerts"
        else:
            book = self.book(contract_id)
        c = book.contract
        if price is not None:
            price = c.round_to_tick(Decimal(price))
            ask_price = price if user_id is not None else price + c.tick_size
            book.last, book.bid, book.ask = price, price, ask_price
        if bid is not None:
            book.bid = c.round_to_tick(Decimal(bid))
        if ask is not None:
            book.ask = c.round_to_tick(Decimal(ask))
        if book.ask < book.bid or (book.ask == book.bid and user_id is None):
            book.ask = book.bid + c.tick_size
        book.source = source
        book.volume += 1
        book.timestamp = self.now()
        self.quote_listener(contract_id, book.entity(contract_id), user_id)
        self.match(contract_id, user_id)
        return book

    def random_walk(self, contract_ids: list[int]) -> None:
        """One random step of each shared book (never a book that follows alerts)."""
        for contract_id in contract_ids:
            book = self.book(contract_id)
            if book.source == "alerts":
                continue
            step = self.rng.randint(-self.volatility_ticks, self.volatility_ticks)
            price = book.last + step * book.contract.tick_size
            if price <= 0:
                price = book.contract.tick_size
            book.volume += self.rng.randint(1, 25)
            self.set_price(contract_id, price, source="random walk")

    def active_contracts(self) -> set[int]:
        active = {cid for cid, ids in self.working_by_contract.items() if ids}
        active.update(cid for (_, cid), p in self.positions.items() if p["netPos"])
        return active

    # --- orders ------------------------------------------------------------------------------
    def place(
        self,
        user_id: int,
        body: dict,
        *,
        parent: OrderState | None = None,
        oco_id: int | None = None,
    ) -> OrderState:
        """Validate and create one order (PendingNew, or Suspended under a parent); the caller
        activates it. No market check here: see ``refuse_wrong_side``."""
        spec = self.validate(user_id, body, bracket=parent is not None)
        return self.create(user_id, spec, parent=parent, oco_id=oco_id)

    def validate(self, user_id: int, body: dict, *, bracket: bool = False) -> OrderSpec:
        """Everything Tradovate checks in the request itself, before any order exists."""
        account = self.owned_account(
            user_id, body.get("accountId") or self._account_by_spec(user_id, body)
        )
        if not account["active"]:
            raise Reject("AccountClosed", f"Account {account['name']} is closed.")
        contract_id, c = self.contract(body.get("symbol") or body.get("contractId"))
        action = body.get("action")
        if action not in ("Buy", "Sell"):
            raise Reject("UnknownReason", f"Invalid action {action!r}: expected Buy or Sell.")
        qty = _whole_qty(body.get("orderQty"))
        order_type = body.get("orderType", "Market")
        if order_type not in ORDER_TYPES:
            raise Reject("Unsupported", f"Unsupported orderType {order_type!r}.")
        tif = body.get("timeInForce") or "Day"
        if tif not in TIME_IN_FORCE:
            raise Reject("Unsupported", f"Unsupported timeInForce {tif!r}.")
        price = self._price(body.get("price"), c, "price")
        stop_price = self._price(body.get("stopPrice"), c, "stopPrice")
        peg = self._price(body.get("pegDifference"), c, "pegDifference", allow_negative=True)
        _check_prices(order_type, price, stop_price, peg)
        if not bracket:
            self._check_max_position(account, contract_id, c, action, qty)
        return OrderSpec(
            account_id=account["id"],
            contract_id=contract_id,
            contract=c,
            action=action,
            qty=qty,
            order_type=order_type,
            tif=tif,
            price=price,
            stop_price=stop_price,
            peg=abs(peg) if peg is not None else None,
            cl_ord_id=str(body["clOrdId"])[:64] if body.get("clOrdId") else None,
            text=str(body.get("text") or "")[:64],
            admin=bool(body.get("admin", False)),
            automated=bool(body.get("isAutomated")),
            expire_time=body.get("expireTime"),
        )

    def _check_max_position(self, account: dict, contract_id: int, c, action: str, qty: int):
        limit = self.account_money[account["id"]]["maxPos"]
        if limit is None:
            return
        pos = self.positions.get((account["id"], contract_id), {}).get("netPos", 0)
        after = pos + (qty if action == "Buy" else -qty)
        if abs(after) > limit and abs(after) > abs(pos):
            raise Reject(
                "MaxPosLimitReached",
                f"Max position limit of {limit} contracts reached for {c.name}.",
            )

    def refuse_trading_closed(self, c: Contract) -> None:
        """Outside CME Globex hours new orders are refused (SessionClosed), when enforced."""
        if not self.rules.enforce_sessions:
            return
        state = sessions.session_state(c.root, self.now())
        if state.open:
            return
        reopens = f"; it reopens at {sessions.local(state.opens_at)}" if state.opens_at else ""
        raise Reject("SessionClosed", f"{c.name} is not trading: {state.reason}{reopens}.")

    def refuse_wrong_side(self, user_id: int, spec: OrderSpec) -> None:
        """A stop already reached would fill at once: Tradovate refuses it (InvalidPrice)."""
        book = self.book_for(user_id, spec.contract_id)
        self.check_wrong_side(spec.action, spec.order_type, spec.stop_price, book)

    @staticmethod
    def check_wrong_side(action: str, order_type: str, stop: Decimal | None, book: Book) -> None:
        text = wrong_side_text(action, order_type, stop, book)
        if text:
            raise Reject("InvalidPrice", text)

    def create(
        self,
        user_id: int,
        spec: OrderSpec,
        *,
        parent: OrderState | None = None,
        oco_id: int | None = None,
        strategy_id: int | None = None,
    ) -> OrderState:
        order = OrderState(
            id=self.new_id(),
            user_id=user_id,
            account_id=spec.account_id,
            contract_id=spec.contract_id,
            action=spec.action,
            qty=spec.qty,
            order_type=spec.order_type,
            price=spec.price,
            stop_price=spec.stop_price,
            tif=spec.tif,
            cl_ord_id=spec.cl_ord_id,
            parent_id=parent.id if parent else None,
            oco_id=oco_id,
            text=spec.text,
            peg=spec.peg,
            strategy_id=strategy_id,
            created=self.now(),
        )
        self._index(order)
        self.book(spec.contract_id, spec.contract)
        order.status = "Suspended" if parent is not None else "PendingNew"
        self._publish_new(order, spec)
        return order

    def _index(self, order: OrderState) -> None:
        self.orders[order.id] = order
        self.user_order_ids[order.user_id].append(order.id)
        if order.parent_id:
            self.children[order.parent_id].append(order.id)
        if order.oco_id:
            self.oco_members[order.oco_id].append(order.id)

    def activate(self, order: OrderState) -> None:
        """Make a just-placed (or released bracket) order work: fill or rest on the book.

        A stop that is already reached when it starts working (a bracket released by its
        entry's fill) is rejected, as the exchange does; its OCO sibling keeps working."""
        book = self.book_for(order.user_id, order.contract_id)
        text = wrong_side_text(order.action, order.order_type, order.stop_price, book)
        if text:
            self._reject(order, "InvalidPrice", text)
            return
        order.status = "Working"
        if order.order_type in ("TrailingStop", "TrailingStopLimit"):
            ref = book.bid if order.action == "Sell" else book.ask
            if order.peg is None:
                order.peg = abs(ref - order.stop_price)
            order.stop_price = ref - order.peg if order.action == "Sell" else ref + order.peg
            self._set_version_stop(order)
        self._report(order, "New")
        self._update_order(order)
        self.working_by_contract[order.contract_id].add(order.id)
        self._try_fill(order, book, arriving=True)

    def place_order(self, user_id: int, body: dict) -> dict:
        spec = self.validate(user_id, body)
        self.refuse_trading_closed(spec.contract)
        self.refuse_wrong_side(user_id, spec)
        order = self.create(user_id, spec)
        self.activate(order)
        return {"orderId": order.id}

    def place_oso(self, user_id: int, body: dict) -> dict:
        brackets = [b for b in (body.get("bracket1"), body.get("bracket2")) if b]
        if not brackets:
            raise Reject("UnknownReason", "placeOSO needs bracket1.")
        spec = self.validate(user_id, body)
        self.refuse_trading_closed(spec.contract)
        self.refuse_wrong_side(user_id, spec)
        bracket_specs = []
        for bracket in brackets:
            if not isinstance(bracket, dict):
                raise Reject("UnknownReason", "A bracket must be an object.")
            child_body = {
                "accountId": spec.account_id,
                "symbol": spec.contract_id,
                "orderQty": bracket.get("orderQty", spec.qty),
                **bracket,
            }
            bracket_specs.append(self.validate(user_id, child_body, bracket=True))
        entry = self.create(user_id, spec)
        oco_id = self.new_id() if len(bracket_specs) == 2 else None
        result = {"orderId": entry.id}
        children = [self.create(user_id, s, parent=entry, oco_id=oco_id) for s in bracket_specs]
        for i, child in enumerate(children, start=1):
            result[f"oso{i}Id"] = child.id
        if oco_id:
            children[0].linked_id, children[1].linked_id = children[1].id, children[0].id
        self.activate(entry)
        return result

    def place_oco(self, user_id: int, body: dict) -> dict:
        other_body = body.get("other")
        if not other_body or not isinstance(other_body, dict):
            raise Reject("UnknownReason", "placeOCO needs other.")
        first_spec = self.validate(user_id, body)
        second_body = {
            "accountId": first_spec.account_id,
            "symbol": first_spec.contract_id,
            "orderQty": other_body.get("orderQty", first_spec.qty),
            **other_body,
        }
        second_spec = self.validate(user_id, second_body)
        self.refuse_trading_closed(first_spec.contract)
        self.refuse_wrong_side(user_id, first_spec)
        self.refuse_wrong_side(user_id, second_spec)
        oco_id = self.new_id()
        first = self.create(user_id, first_spec, oco_id=oco_id)
        second = self.create(user_id, second_spec, oco_id=oco_id)
        first.linked_id, second.linked_id = second.id, first.id
        self.activate(first)
        if second.status not in FINAL:
            self.activate(second)
        return {"orderId": first.id, "ocoId": second.id}

    def cancel_order(self, user_id: int, order_id: Any) -> dict:
        order = self._owned_order(user_id, order_id)
        if order.status in FINAL:
            raise Reject("TooLate", f"Order {order.id} is already {order.status}.")
        command = self._command(order, "Cancel")
        self._cancel(order, "Canceled")
        return {"commandId": command["id"]}

    def modify_order(self, user_id: int, body: dict) -> dict:
        """Change a working order. Tradovate requires ``orderQty`` and ``orderType``; a change
        that fails any check leaves the order exactly as it was."""
        order = self._owned_order(user_id, body.get("orderId"))
        if order.status in FINAL:
            raise Reject("TooLate", f"Order {order.id} is already {order.status}.")
        c = self.book(order.contract_id).contract
        if body.get("orderQty") is None or not body.get("orderType"):
            raise Reject("UnknownReason", "modifyOrder needs orderQty and orderType.")
        qty = body["orderQty"]
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= order.filled:
            raise Reject("UnknownReason", f"Invalid orderQty {qty!r}.")
        order_type = body["orderType"]
        if order_type not in ORDER_TYPES:
            raise Reject("Unsupported", f"Unsupported orderType {order_type!r}.")
        tif = body.get("timeInForce") or order.tif
        if tif not in TIME_IN_FORCE:
            raise Reject("Unsupported", f"Unsupported timeInForce {tif!r}.")
        price = order.price if body.get("price") is None else self._price(body["price"], c, "price")
        stop_price = (
            order.stop_price
            if body.get("stopPrice") is None
            else self._price(body["stopPrice"], c, "stopPrice")
        )
        _check_prices(order_type, price, stop_price, order.peg)
        book = self.book_for(user_id, order.contract_id)
        if order.status == "Working" and not order.triggered:
            self.check_wrong_side(order.action, order_type, stop_price, book)
        order.qty, order.order_type, order.tif, order.price = qty, order_type, tif, price
        if stop_price != order.stop_price and order_type in ("TrailingStop", "TrailingStopLimit"):
            ref = book.bid if order.action == "Sell" else book.ask
            order.peg = abs(ref - stop_price)
        order.stop_price = stop_price
        command = self._command(order, "Modify")
        self._new_version(order, expire_time=body.get("expireTime"))
        self._report(order, "Replaced")
        self._update_order(order)
        if order.status == "Working":
            self._try_fill(order, book, arriving=True)
        return {"commandId": command["id"]}

    def liquidate(self, user_id: int, body: dict) -> dict:
        account = self.owned_account(user_id, body.get("accountId"))
        contract_id, c = self.contract(body.get("contractId") or body.get("symbol"))
        self.strategies.interrupt_for(account["id"], contract_id)
        for oid in sorted(self.working_by_contract.get(contract_id, set()).copy()):
            order = self.orders[oid]
            if order.account_id == account["id"]:
                self._cancel(order, "Canceled")
        for oid in list(self.user_order_ids[user_id]):  # suspended bracket legs too
            order = self.orders[oid]
            if (
                order.account_id == account["id"]
                and order.contract_id == contract_id
                and order.status == "Suspended"
            ):
                self._cancel(order, "Canceled")
        pos = self.positions.get((account["id"], contract_id))
        if not pos or pos["netPos"] == 0:
            return {"orderId": None}
        self.refuse_trading_closed(c)  # the cancels stand; the closing order cannot trade
        body = {
            "accountId": account["id"],
            "symbol": contract_id,
            "action": "Sell" if pos["netPos"] > 0 else "Buy",
            "orderQty": abs(pos["netPos"]),
            "orderType": "Market",
            "text": "Liquidate",
        }
        order = self.place(user_id, body)
        self.activate(order)
        return {"orderId": order.id}

    # --- internal order machinery ------------------------------------------------------------
    def _account_by_spec(self, user_id: int, body: dict):
        spec = body.get("accountSpec")
        for account in self.user_accounts(user_id):
            if spec and account["name"] == spec:
                return account["id"]
        return None

    def _owned_order(self, user_id: int, order_id: Any) -> OrderState:
        try:
            order = self.orders.get(int(order_id))
        except (TypeError, ValueError):
            order = None
        if order is None or order.user_id != user_id:
            raise Reject("UnknownReason", f"Order {order_id} not found.")
        return order

    def _price(self, value: Any, c: Contract, name: str, allow_negative=False) -> Decimal | None:
        if value is None or value == "":
            return None
        try:
            price = Decimal(str(value))
        except (InvalidOperation, ValueError) as exc:
            raise Reject("InvalidPrice", f"Invalid {name} {value!r}.") from exc
        if not price.is_finite() or (price <= 0 and not allow_negative):
            raise Reject("InvalidPrice", f"Invalid {name} {value!r}.")
        if price % c.tick_size != 0:
            raise Reject(
                "InvalidPrice", f"{name} {value} is not a multiple of the tick size {c.tick_size}."
            )
        return price

    def _publish_new(self, order: OrderState, spec: OrderSpec) -> None:
        entity = {
            "id": order.id,
            "accountId": order.account_id,
            "contractId": order.contract_id,
            "timestamp": iso(self.now()),
            "action": order.action,
            "ordStatus": order.status,
            "executionProviderId": 1,
            "ocoId": order.oco_id,
            "parentId": order.parent_id,
            "linkedId": order.linked_id,
            "admin": spec.admin,
        }
        self.order_entities[order.id] = entity
        self.emit(order.user_id, "order", "Created", entity)
        command = self._command(order, "New", automated=spec.automated)
        command["clOrdId"] = order.cl_ord_id
        self._new_version(order, expire_time=spec.expire_time)

    def _new_version(self, order: OrderState, expire_time: Any = None) -> None:
        version = {
            "id": self.new_id(),
            "orderId": order.id,
            "orderQty": order.qty,
            "orderType": order.order_type,
            "price": order.price,
            "stopPrice": order.stop_price,
            "maxShow": None,
            "pegDifference": (order.peg * (-1 if order.action == "Sell" else 1))
            if order.peg is not None
            else None,
            "timeInForce": order.tif,
            "expireTime": expire_time,
            "text": order.text,
        }
        created = order.id not in self.versions
        self.versions[order.id] = version
        self.emit(order.user_id, "orderVersion", "Created" if created else "Updated", version)

    def _set_version_stop(self, order: OrderState) -> None:
        version = self.versions.get(order.id)
        if version is not None and version["stopPrice"] != order.stop_price:
            version["stopPrice"] = order.stop_price
            self.emit(order.user_id, "orderVersion", "Updated", version)

    def _command(self, order: OrderState, command_type: str, automated: bool = True) -> dict:
        command = {
            "id": self.new_id(),
            "orderId": order.id,
            "timestamp": iso(self.now()),
            "clOrdId": order.cl_ord_id if command_type == "New" else None,
            "commandType": command_type,
            "commandStatus": "RiskPassed",
            "activationTime": None,
            "text": order.text,
            "isAutomated": automated,
        }
        self.commands[command["id"]] = command
        self.user_command_list[order.user_id].append(command)
        self.emit(order.user_id, "command", "Created", command)
        return command

    def _report(
        self, order: OrderState, exec_type: str, last_qty=0, last_px=None, reason=None, text=None
    ):
        ts = self.now()
        report = {
            "id": self.new_id(),
            "commandId": None,
            "name": "",
            "accountId": order.account_id,
            "contractId": order.contract_id,
            "timestamp": iso(ts),
            "tradeDate": self.trade_date_entity(ts),
            "orderId": order.id,
            "execType": exec_type,
            "execRefId": None,
            "ordStatus": order.status,
            "action": order.action,
            "cumQty": order.filled,
            "avgPx": order.avg_px,
            "lastQty": last_qty or None,
            "lastPx": last_px,
            "rejectReason": reason,
            "text": text or order.text or None,
            "exchangeOrderId": str(order.id),
        }
        self.reports[report["id"]] = report
        self.user_report_list[order.user_id].append(report)
        self.emit(order.user_id, "executionReport", "Created", report)

    def _update_order(self, order: OrderState) -> None:
        entity = self.order_entities[order.id]
        entity.update(ordStatus=order.status, ocoId=order.oco_id, linkedId=order.linked_id)
        self.emit(order.user_id, "order", "Updated", entity)

    def _reject(self, order: OrderState, reason: str, text: str) -> None:
        """An order the exchange refused after it was accepted (pushed like any change)."""
        order.status = "Rejected"
        self.working_by_contract[order.contract_id].discard(order.id)
        self._report(order, "Rejected", reason=reason, text=text)
        self._update_order(order)
        self._after_final(order)

    def _cancel(self, order: OrderState, status: str, text: str = "") -> None:
        if order.status in FINAL:
            return
        order.status = status
        if text:
            order.text = text
        self.working_by_contract[order.contract_id].discard(order.id)
        self._report(order, "Canceled" if status == "Canceled" else status)
        self._update_order(order)
        # Children of a canceled entry never start working.
        for child_id in self.children.get(order.id, ()):
            child = self.orders[child_id]
            if child.status == "Suspended":
                self._cancel(child, "Canceled")
        self._after_final(order)

    def _after_final(self, order: OrderState) -> None:
        """An order reached a final status: the order strategy that placed it follows."""
        if order.strategy_id:
            self.strategies.order_final(order)

    def _try_fill(
        self,
        order: OrderState,
        book: Book,
        *,
        arriving: bool = False,
        liquidity: dict | None = None,
    ) -> None:
        """Fill what the market gives ``order`` now. ``arriving``: the order has just started
        working (placed, released or modified), so a marketable limit takes the touch.
        ``liquidity``: what is left at each price in this pass of the book (partial fills)."""
        if order.status != "Working":
            return
        px = self._execution_price(order, book, arriving)
        if px is None:
            if order.tif in ("IOC", "FOK"):
                self._cancel(order, "Canceled", text="Not marketable")
            return
        remaining = order.qty - order.filled
        if not self.rules.partial_fills:
            self._fill(order, remaining, px)
            return
        lots = self._lots(order, book, px, arriving, remaining, liquidity)
        if order.tif == "FOK" and sum(q for q, _ in lots) < remaining:
            self._cancel(order, "Canceled", text="Not enough quantity to fill or kill")
            return
        for qty, level_px in lots:
            self._fill(order, qty, level_px)
            if order.status != "Working":
                return
        if order.tif == "IOC":
            self._cancel(order, "Canceled", text="Rest of an immediate-or-cancel order")

    def _lots(self, order, book, px, arriving, remaining, liquidity) -> list[tuple[int, Decimal]]:
        """The fills of ``remaining`` against a book showing ``book_size`` at each level.

        An order that takes liquidity (market, triggered stop, marketable limit) walks one tick
        per level from ``px``, a limit no further than its price; a resting limit gets at most
        what is left at its price in this pass (``liquidity``), and works on for the rest."""
        size = self.rules.book_size
        resting = order.order_type in LIMIT_TYPES and not arriving and px == order.price
        if resting:
            left = size if liquidity is None else liquidity.get(px, size)
            take = min(left, remaining)
            if liquidity is not None:
                liquidity[px] = left - take
            return [(take, px)] if take else []
        step = book.contract.tick_size * (1 if order.action == "Buy" else -1)
        bound = order.price if order.order_type in LIMIT_TYPES else None
        lots = []
        level = px
        while remaining > 0 and level > 0:
            if bound is not None and (level > bound if step > 0 else level < bound):
                break
            take = min(size, remaining)
            lots.append((take, level))
            remaining -= take
            level += step
        return lots

    def _execution_price(self, order: OrderState, book: Book, arriving: bool) -> Decimal | None:
        """The price ``order`` trades at against ``book`` now, or None while it rests.

        Market: the touch plus the slippage. Limit: marketable on arrival → the touch (never
        beyond the limit); resting and reached → its limit, never better, even through a gap.
        Stop: reached → the touch, i.e. the first price at or through it (the gap price)."""
        buy = order.action == "Buy"
        touch = book.ask if buy else book.bid
        t = order.order_type
        if t in ("Market", "QTS"):
            slip = self.rules.slippage_ticks * book.contract.tick_size
            return touch + slip if buy else max(touch - slip, book.contract.tick_size)
        if t == "Limit" or (t in ("StopLimit", "TrailingStopLimit") and order.triggered):
            if (buy and book.ask <= order.price) or (not buy and book.bid >= order.price):
                return touch if arriving else order.price
            return None
        if t == "MIT":
            if (buy and book.ask <= order.price) or (not buy and book.bid >= order.price):
                return touch
            return None
        if t in ("TrailingStop", "TrailingStopLimit"):
            # Ratchet the stop behind the market, never away from it.
            before = order.stop_price
            if buy:
                order.stop_price = min(order.stop_price, book.ask + order.peg)
            else:
                order.stop_price = max(order.stop_price, book.bid - order.peg)
            if order.stop_price != before:
                self._set_version_stop(order)
        if t in ("Stop", "StopLimit", "TrailingStop", "TrailingStopLimit"):
            hit = book.ask >= order.stop_price if buy else book.bid <= order.stop_price
            if not hit:
                return None
            if t in ("Stop", "TrailingStop"):
                return touch
            order.triggered = True  # now a limit that has just arrived
            return self._execution_price(order, book, arriving=True)
        return None

    def _fill(self, order: OrderState, qty: int, px: Decimal) -> None:
        self.roll_day()  # a fill after 17:00 Central belongs to the new day's P&L
        ts = self.now()
        prev_filled = order.filled
        order.filled += qty
        order.avg_px = (
            px if order.avg_px is None else (order.avg_px * prev_filled + px * qty) / order.filled
        )
        order.status = "Filled" if order.filled >= order.qty else "Working"
        if order.status == "Filled":
            self.working_by_contract[order.contract_id].discard(order.id)
        fill = {
            "id": self.new_id(),
            "orderId": order.id,
            "contractId": order.contract_id,
            "timestamp": iso(ts),
            "tradeDate": self.trade_date_entity(ts),
            "action": order.action,
            "qty": qty,
            "price": px,
            "active": True,
            "finallyPaired": 0,
        }
        self.fills[fill["id"]] = fill
        self.fill_account[fill["id"]] = order.account_id
        self.user_fill_list[order.user_id].append(fill)
        self.emit(order.user_id, "fill", "Created", fill)
        self._report(order, "Trade", last_qty=qty, last_px=px)
        self._update_order(order)
        self._apply_to_position(order, qty, px, ts)
        if order.status == "Filled":
            self._after_filled(order)

    def _after_filled(self, order: OrderState) -> None:
        # OCO: the sibling is canceled. OSO: the brackets start working.
        if order.oco_id:
            for other_id in self.oco_members.get(order.oco_id, ()):
                if other_id != order.id:
                    self._cancel(self.orders[other_id], "Canceled")
        children = [self.orders[i] for i in self.children.get(order.id, ())]
        for child in children:
            if child.status == "Suspended":
                self.activate(child)
        self._after_final(order)

    def _apply_to_position(self, order: OrderState, qty: int, px: Decimal, ts: datetime) -> None:
        key = (order.account_id, order.contract_id)
        pos = self.positions.get(key)
        created = pos is None
        if created:
            pos = {
                "id": self.new_id(),
                "accountId": order.account_id,
                "contractId": order.contract_id,
                "timestamp": iso(ts),
                "tradeDate": self.trade_date_entity(ts),
                "netPos": 0,
                "netPrice": None,
                "bought": 0,
                "boughtValue": ZERO,
                "sold": 0,
                "soldValue": ZERO,
                "prevPos": 0,
                "prevPrice": None,
            }
            self.positions[key] = pos
        c = self.book(order.contract_id).contract
        signed = qty * order.sign
        net, net_price = pos["netPos"], pos["netPrice"]
        realized = ZERO
        if order.sign > 0:
            pos["bought"] += qty
            pos["boughtValue"] += px * qty
        else:
            pos["sold"] += qty
            pos["soldValue"] += px * qty
        if net == 0 or (net > 0) == (signed > 0):
            total = abs(net) + qty
            pos["netPrice"] = ((net_price or ZERO) * abs(net) + px * qty) / total
            pos["netPos"] = net + signed
        else:
            closing = min(abs(net), qty)
            direction = 1 if net > 0 else -1
            realized = (px - net_price) * closing * direction * c.point_value
            pos["netPos"] = net + signed
            if pos["netPos"] == 0:
                pos["netPrice"] = None
            elif (pos["netPos"] > 0) != (net > 0):  # reversed through zero
                pos["netPrice"] = px
        if pos["netPrice"] is not None:
            pos["netPrice"] = pos["netPrice"].quantize(Decimal("0.000001")).normalize()
        pos["timestamp"] = iso(ts)
        self.emit(order.user_id, "position", "Created" if created else "Updated", pos)
        if realized:
            money = self.account_money[order.account_id]
            money["realized"] += realized
            money["week"] += realized
            cash = self.cash_entities[order.account_id]
            cash.update(
                realizedPnL=money["realized"],
                weekRealizedPnL=money["week"],
                timestamp=iso(ts),
            )
            self.emit(order.user_id, "cashBalance", "Updated", cash)

    def match(self, contract_id: int, user_id: int | None = None) -> None:
        """The resting orders on a book that moved meet its new price, oldest first: the
        shared book's (logins without their own book), or one login's own book's."""
        book = self.user_books[(user_id, contract_id)] if user_id else self.books[contract_id]
        liquidity: dict[Decimal, int] = {}
        for oid in sorted(self.working_by_contract.get(contract_id, ())):
            order = self.orders.get(oid)
            if order is None or order.status != "Working":
                continue
            if user_id is not None and order.user_id != user_id:
                continue
            if user_id is None and (order.user_id, contract_id) in self.user_books:
                continue
            self._try_fill(order, book, liquidity=liquidity)

    # --- reads -------------------------------------------------------------------------------
    def cash_snapshot(self, user_id: int, account_id: Any) -> dict:
        account = self.owned_account(user_id, account_id)
        self.roll_day()
        money = self.account_money[account["id"]]
        open_pnl = ZERO
        for (acc, cid), pos in self.positions.items():
            if acc == account["id"] and pos["netPos"]:
                book = self.book_for(user_id, cid)
                open_pnl += (
                    (book.last - pos["netPrice"]) * pos["netPos"] * book.contract.point_value
                )
        total_cash = money["balance"] + money["realized"]
        margin = sum(
            (Decimal(abs(p["netPos"])) * self._margin(cid))
            for (acc, cid), p in self.positions.items()
            if acc == account["id"]
        )
        return {
            "totalCashValue": total_cash,
            "totalPnL": money["realized"] + open_pnl,
            "initialMargin": margin,
            "maintenanceMargin": margin * Decimal("0.9"),
            "netLiq": total_cash + open_pnl,
            "openPnL": open_pnl,
            "realizedPnL": money["realized"],
            "weekRealizedPnL": money["week"],
        }

    def _margin(self, contract_id: int) -> Decimal:
        c = self.book(contract_id).contract
        return Decimal(50) if PRODUCTS[c.root].is_micro else Decimal(500)

    def user_orders(self, user_id: int) -> list[dict]:
        return [self.order_entities[oid] for oid in self.user_order_ids.get(user_id, ())]

    def user_versions(self, user_id: int) -> list[dict]:
        return [self.versions[oid] for oid in self.user_order_ids.get(user_id, ())]

    def user_fills(self, user_id: int) -> list[dict]:
        return list(self.user_fill_list.get(user_id, ()))

    def user_positions(self, user_id: int) -> list[dict]:
        accounts = set(self.users[user_id]["accountIds"])
        return [p for (acc, _), p in self.positions.items() if acc in accounts]

    def user_reports(self, user_id: int) -> list[dict]:
        return list(self.user_report_list.get(user_id, ()))

    def user_commands(self, user_id: int) -> list[dict]:
        return list(self.user_command_list.get(user_id, ()))

    def user_cash(self, user_id: int) -> list[dict]:
        return [self.cash_entities[a] for a in self.users[user_id]["accountIds"]]

    def new_token(self) -> str:
        return secrets.token_urlsafe(32)


# --- persistence: the paper broker's state survives a restart --------------------------------

_ORDER_FIELDS = [f for f in OrderState.__dataclass_fields__ if f != "created"]
# Final orders kept in the state file (working ones are always kept): enough for a trader's
# day on the paper broker, small enough to write every few seconds without stalling orders.
HISTORY_KEPT = 200


def _encode_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    raise TypeError(f"not JSON serializable: {type(value)}")


def _decode_decimal(obj: dict) -> Any:
    if len(obj) == 1 and "$d" in obj:
        return Decimal(obj["$d"])
    return obj


def dumps_state(engine: Engine) -> str:
    """The state as JSON: accounts, money, positions, working orders and recent history, order
    strategies and their links, every book (the shared ones and each login's own), the trade
    date the day P&L belongs to."""
    active = engine.strategies.active_order_ids()
    final = [oid for oid, o in engine.orders.items() if o.status in FINAL and oid not in active]
    dropped = set(final[:-HISTORY_KEPT]) if len(final) > HISTORY_KEPT else set()
    kept = [o for oid, o in engine.orders.items() if oid not in dropped]
    kept_ids = {o.id for o in kept}
    return json.dumps(
        {
            "version": 2,
            "next_id": engine.next_id,
            "users": list(engine.users.values()),
            "accounts": list(engine.accounts.values()),
            "money": [[k, v] for k, v in engine.account_money.items()],
            "cash": list(engine.cash_entities.values()),
            "positions": list(engine.positions.values()),
            "orders": [{f: getattr(o, f) for f in _ORDER_FIELDS} for o in kept],
            "order_entities": [engine.order_entities[o.id] for o in kept],
            "versions": [engine.versions[o.id] for o in kept if o.id in engine.versions],
            "commands": [c for c in engine.commands.values() if c["orderId"] in kept_ids],
            "reports": [r for r in engine.reports.values() if r["orderId"] in kept_ids],
            "fills": [
                [engine.fill_account[f["id"]], f]
                for f in engine.fills.values()
                if f["orderId"] in kept_ids
            ],
            "books": [[cid, _book_state(b)] for cid, b in engine.books.items()],
            "user_books": [[u, cid, _book_state(b)] for (u, cid), b in engine.user_books.items()],
            "trade_day": engine.trade_day.isoformat() if engine.trade_day else None,
            "strategies": engine.strategies.dump(),
        },
        default=_encode_decimal,
        separators=(",", ":"),
    )


def _book_state(b: Book) -> dict:
    return {"last": b.last, "bid": b.bid, "ask": b.ask, "volume": b.volume, "source": b.source}


def _restore_book(book: Book, b: dict) -> None:
    book.last, book.bid, book.ask, book.volume = b["last"], b["bid"], b["ask"], b["volume"]
    book.source = b.get("source", book.source)


def loads_state(engine: Engine, text: str) -> None:
    load_state(engine, json.loads(text, object_hook=_decode_decimal))


def load_state(engine: Engine, state: dict) -> None:
    engine.next_id = state["next_id"]
    engine.users = {u["id"]: u for u in state["users"]}
    engine.users_by_name = {u["name"]: u["id"] for u in state["users"]}
    engine.accounts = {a["id"]: a for a in state["accounts"]}
    engine.account_money = {int(k): v for k, v in state["money"]}
    engine.cash_entities = {c["accountId"]: c for c in state["cash"]}
    engine.positions = {(p["accountId"], p["contractId"]): p for p in state["positions"]}
    engine.orders = {}
    for raw_order in state["orders"]:
        engine._index(OrderState(**raw_order))
    engine.order_entities = {o["id"]: o for o in state["order_entities"]}
    engine.versions = {v["orderId"]: v for v in state["versions"]}
    engine.commands = {c["id"]: c for c in state["commands"]}
    engine.reports = {r["id"]: r for r in state["reports"]}
    engine.fills = {f["id"]: f for _, f in state["fills"]}
    engine.fill_account = {f["id"]: acc for acc, f in state["fills"]}
    account_user = {a["id"]: a["userId"] for a in state["accounts"]}
    for c in engine.commands.values():
        engine.user_command_list[engine.orders[c["orderId"]].user_id].append(c)
    for r in engine.reports.values():
        engine.user_report_list[account_user[r["accountId"]]].append(r)
    for acc, f in state["fills"]:
        engine.user_fill_list[account_user[acc]].append(f)
    engine.working_by_contract = defaultdict(set)
    for o in engine.orders.values():
        if o.status == "Working":
            engine.working_by_contract[o.contract_id].add(o.id)
    for cid, b in state["books"]:
        _restore_book(engine.book(int(cid)), b)
    for user_id, cid, b in state.get("user_books", []):
        _restore_book(engine.own_book(int(user_id), int(cid)), b)
    if state.get("trade_day"):
        engine.trade_day = date.fromisoformat(state["trade_day"])
    engine.strategies.load(state.get("strategies") or {})
    engine.dirty = False
