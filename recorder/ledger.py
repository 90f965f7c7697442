"""The paper ledger: one position of one contract, its fills, exits and closed trades.

Pure Python with ``Decimal`` arithmetic and no database, so every number a recorder shows can be
checked by hand. A :class:`Position` takes signed fills (entries, adds, partial and full exits,
reversals, flatten) and quotes (take profit, stop loss, trailing stop, break-even move), and
returns the round trips it closed as :class:`ClosedTrade` rows.

Money rules
- The open cost is kept in dollars (``Σ qty × price × point value``). A partial exit takes its
  share of the cost rounded to the cent and leaves the rest, so the P&L of every round trip adds
  up exactly to the dollars sold minus the dollars bought, however it was split.
- Average entry = cost / (qty × point value); exit levels are computed from it.
- Commission is per contract per side: a closed trade of ``q`` contracts pays ``2 × q × rate``.
- MAE / MFE are the worst and best open P&L of the whole position in dollars while it was open
  (quotes, adds and the exit price included); a partial exit takes its share of them.

Exit rules
- Levels come from the average entry: long target ``avg + tp``, long stop ``avg − sl``;
  a trailing stop follows the best price seen since entry and only ever ratchets; once the open
  profit reaches the break-even trigger, the stop moves to the entry and stays there.
- A quote triggers a level when its closing-side price (see :class:`Quote`) reaches it. The exit
  is at the level when the quote still quotes that level (the level lies within the quote's
  prices), and at the quote when the market gapped past it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.000001")
TICK_PLACES = Decimal("0.01")
ZERO = Decimal(0)


class Reason:
    """Why a position (or part of it) was closed. Values match ``RecordedTrade.ExitReason``."""

    SIGNAL = "signal"
    TARGET = "target"
    STOP = "stop"
    TRAILING = "trailing"
    BREAK_EVEN = "break_even"
    FLATTEN = "flatten"
    SESSION_END = "session_end"
    REVERSAL = "reversal"
    ACCOUNT = "account"


class Basis:
    """Which price of a quote a recorder trades at."""

    TRADE = "trade"  # the last trade (what a chart shows); bid/ask when no trade is known
    BID_ASK = "bid_ask"  # buy at the ask, sell at the bid


def D(value: Any) -> Decimal:
    """A Decimal from an int, str or Decimal (floats go through their repr, never binary)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Instrument:
    """What the ledger needs of a contract: its name, tick size and dollars per point."""

    symbol: str
    tick_size: Decimal
    point_value: Decimal

    @classmethod
    def from_contract(cls, contract: Any) -> Instrument:
        """From ``accounts.brokers.symbols.Contract`` (or anything with the same fields)."""
        return cls(
            symbol=contract.name,
            tick_size=D(contract.tick_size),
            point_value=D(contract.point_value),
        )

    def round_to_tick(self, price: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
        ticks = (D(price) / self.tick_size).quantize(Decimal(1), rounding=rounding)
        return ticks * self.tick_size


@dataclass(frozen=True)
class Distance:
    """An exit distance: ``value`` in ``ticks``, ``points``, ``percent`` of the entry or
    ``dollars`` per contract, or an absolute ``price`` level."""

    value: Decimal
    unit: str = "ticks"

    UNITS = ("ticks", "points", "percent", "dollars", "price")

    def __post_init__(self) -> None:
        if self.unit not in self.UNITS:
            raise ValueError(f"unknown distance unit {self.unit!r}")
        object.__setattr__(self, "value", D(self.value))
        if self.value <= 0:
            raise ValueError("an exit distance must be positive")

    def points(self, instrument: Instrument, reference: Decimal) -> Decimal:
        """The distance in points from ``reference`` (the average entry)."""
        if self.unit == "ticks":
            return self.value * instrument.tick_size
        if self.unit == "points":
            return self.value
        if self.unit == "percent":
            return reference * self.value / 100
        if self.unit == "dollars":
            return self.value / instrument.point_value
        raise ValueError("an absolute price level has no distance")

    def to_json(self) -> dict[str, str]:
        return {"value": str(self.value), "unit": self.unit}

    @classmethod
    def from_json(cls, data: dict | None) -> Distance | None:
        if not data:
            return None
        return cls(value=D(data["value"]), unit=data.get("unit", "ticks"))


@dataclass(frozen=True)
class ExitRules:
    take_profit: Distance | None = None
    stop_loss: Distance | None = None
    trailing_stop: Distance | None = None
    break_even: Distance | None = None  # profit that moves the stop to the entry

    def __post_init__(self) -> None:
        for name in ("trailing_stop", "break_even"):
            d = getattr(self, name)
            if d is not None and d.unit == "price":
                raise ValueError(f"{name} takes a distance, not a price level")

    @property
    def empty(self) -> bool:
        return not (self.take_profit or self.stop_loss or self.trailing_stop or self.break_even)

    def to_json(self) -> dict[str, Any]:
        return {
            name: d.to_json()
            for name in ("take_profit", "stop_loss", "trailing_stop", "break_even")
            if (d := getattr(self, name)) is not None
        }

    @classmethod
    def from_json(cls, data: dict | None) -> ExitRules:
        data = data or {}
        return cls(
            **{name: Distance.from_json(data.get(name)) for name in cls.__dataclass_fields__}
        )


@dataclass(frozen=True)
class Quote:
    """One market data update. Any of bid, ask and last trade may be missing."""

    at: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("bid", "ask", "last"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, D(v))

    def prices(self) -> list[Decimal]:
        return [p for p in (self.bid, self.ask, self.last) if p is not None]

    def price_to_close(self, long: bool, basis: str = Basis.TRADE) -> Decimal | None:
        """The price a long (sells) or a short (buys) would get out at."""
        side = self.bid if long else self.ask
        if basis == Basis.BID_ASK:
            return side if side is not None else self.last
        return self.last if self.last is not None else side

    def price_to_open(self, buy: bool, basis: str = Basis.TRADE) -> Decimal | None:
        """The price a buy (at the ask) or a sell (at the bid) would fill at."""
        side = self.ask if buy else self.bid
        if basis == Basis.BID_ASK:
            return side if side is not None else self.last
        return self.last if self.last is not None else side

    def quotes_level(self, level: Decimal) -> bool:
        """True when the level is still on the screen: within the quote's prices."""
        prices = self.prices()
        return bool(prices) and min(prices) <= level <= max(prices)


@dataclass(frozen=True)
class ClosedTrade:
    """One closed round trip (all or part of a position)."""

    symbol: str
    side: str  # "long" | "short"
    quantity: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    points: Decimal
    ticks: Decimal
    pnl: Decimal  # gross dollars
    commission: Decimal
    net_pnl: Decimal
    mae: Decimal  # dollars, >= 0
    mfe: Decimal  # dollars, >= 0
    exit_reason: str


@dataclass(frozen=True)
class Action:
    """Something the position did, for the strategy's log: entry, add, exit (partial or full)."""

    kind: str  # "entry" | "add" | "exit"
    side: str  # side of the position concerned: "long" | "short"
    quantity: int
    price: Decimal
    at: datetime
    reason: str = ""
    net_pos: int = 0  # after the action
    symbol: str = ""


@dataclass
class Result:
    actions: list[Action] = field(default_factory=list)
    trades: list[ClosedTrade] = field(default_factory=list)

    def extend(self, other: Result) -> Result:
        self.actions.extend(other.actions)
        self.trades.extend(other.trades)
        return self

    @property
    def changed(self) -> bool:
        return bool(self.actions or self.trades)


@dataclass
class Position:
    """One contract's paper position. Mutated by :meth:`fill`, :meth:`on_quote`, :meth:`flatten`."""

    instrument: Instrument
    commission_per_side: Decimal = ZERO
    exits: ExitRules = field(default_factory=ExitRules)
    basis: str = Basis.TRADE
    net_pos: int = 0
    cost: Decimal = ZERO  # dollars paid (long) or received (short) for the open contracts
    opened_at: datetime | None = None
    mae: Decimal = ZERO  # whole-position worst open loss so far, dollars >= 0
    mfe: Decimal = ZERO  # whole-position best open profit so far, dollars >= 0
    best_price: Decimal | None = None  # most favourable closing price seen while open
    break_even_armed: bool = False
    last_price: Decimal | None = None
    last_quote_at: datetime | None = None

    def __post_init__(self) -> None:
        self.commission_per_side = D(self.commission_per_side)
        self.cost = D(self.cost)

    # --- read ---------------------------------------------------------------------------------

    @property
    def is_flat(self) -> bool:
        return self.net_pos == 0

    @property
    def is_long(self) -> bool:
        return self.net_pos > 0

    @property
    def side(self) -> str:
        return "long" if self.net_pos > 0 else "short" if self.net_pos < 0 else "flat"

    @property
    def direction(self) -> int:
        return (self.net_pos > 0) - (self.net_pos < 0)

    @property
    def avg_price(self) -> Decimal | None:
        """The exact average entry (may have more places than a tick)."""
        if self.net_pos == 0:
            return None
        return self.cost / (abs(self.net_pos) * self.instrument.point_value)

    def open_pnl(self, price: Decimal | None = None) -> Decimal:
        """Unrealized dollars at ``price`` (default: the last price seen), to the cent."""
        price = self.last_price if price is None else D(price)
        if self.net_pos == 0 or price is None:
            return ZERO
        return cents(self._open_pnl_exact(price))

    def _open_pnl_exact(self, price: Decimal) -> Decimal:
        value = abs(self.net_pos) * price * self.instrument.point_value
        return (value - self.cost) * self.direction

    def levels(self) -> dict[str, Decimal | None]:
        """Current exit levels: target, stop, break_even, trailing (None when not set)."""
        out: dict[str, Decimal | None] = {
            "target": None,
            "stop": None,
            "break_even": None,
            "trailing": None,
        }
        if self.net_pos == 0:
            return out
        inst, avg, d = self.instrument, self.avg_price, self.direction
        tp, sl, tr = self.exits.take_profit, self.exits.stop_loss, self.exits.trailing_stop
        if tp is not None:
            out["target"] = (
                inst.round_to_tick(tp.value)
                if tp.unit == "price"
                else inst.round_to_tick(avg + d * tp.points(inst, avg))
            )
        if sl is not None:
            out["stop"] = (
                inst.round_to_tick(sl.value)
                if sl.unit == "price"
                else inst.round_to_tick(avg - d * sl.points(inst, avg))
            )
        if self.break_even_armed:
            # Never a loss: an entry between two ticks rounds towards profit.
            out["break_even"] = inst.round_to_tick(avg, ROUND_CEILING if d > 0 else ROUND_FLOOR)
        if tr is not None and self.best_price is not None:
            out["trailing"] = inst.round_to_tick(self.best_price - d * tr.points(inst, avg))
        return out

    def summary(self, price: Decimal | None = None) -> dict[str, Any]:
        """A JSON-friendly picture of the open position for pages and live events."""
        avg = self.avg_price
        return {
            "symbol": self.instrument.symbol,
            "side": self.side,
            "net_pos": self.net_pos,
            "avg_price": None if avg is None else str(avg.quantize(PRICE_PLACES)),
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "last_price": None if self.last_price is None else str(self.last_price),
            "open_pnl": str(self.open_pnl(price)),
            "mae": str(cents(self.mae)),
            "mfe": str(cents(self.mfe)),
            "levels": {k: (None if v is None else str(v)) for k, v in self.levels().items()},
        }

    # --- write --------------------------------------------------------------------------------

    def fill(
        self, *, quantity: int, price: Decimal, at: datetime, reason: str = Reason.SIGNAL
    ) -> Result:
        """A virtual fill of ``quantity`` contracts (positive buys, negative sells) at ``price``.

        Same direction (or flat): entry or add. Opposite: closes up to the open size with
        ``reason``; whatever is left opens the other way (a reversal, whose closing part is
        recorded with reason ``reversal`` when the fill came from a signal).
        """
        price = D(price)
        if quantity == 0:
            return Result()
        if price <= 0:
            raise ValueError("a fill price must be positive")
        result = Result()
        if self.net_pos == 0 or (self.net_pos > 0) == (quantity > 0):
            result.actions.append(self._open_or_add(quantity, price, at))
            return result
        closing = min(abs(quantity), abs(self.net_pos))
        remainder = abs(quantity) - closing
        close_reason = Reason.REVERSAL if remainder and reason == Reason.SIGNAL else reason
        result.extend(self._close(closing, price, at, close_reason))
        if remainder:
            sign = 1 if quantity > 0 else -1
            result.actions.append(self._open_or_add(sign * remainder, price, at))
        return result

    def set_target(
        self, *, target: int, price: Decimal, at: datetime, reason: str = Reason.SIGNAL
    ) -> Result:
        """Converge on a target position (``0`` closes, ``-net`` reverses)."""
        return self.fill(quantity=target - self.net_pos, price=price, at=at, reason=reason)

    def flatten(self, *, price: Decimal, at: datetime, reason: str = Reason.FLATTEN) -> Result:
        if self.net_pos == 0:
            return Result()
        return self._close(abs(self.net_pos), D(price), at, reason)

    def on_quote(self, quote: Quote) -> Result:
        """Apply a market quote: track excursions and the trailing stop, fire exits."""
        if self.net_pos == 0:
            return Result()
        px = quote.price_to_close(self.is_long, self.basis)
        if px is None:
            return Result()
        self.last_quote_at = quote.at
        self._observe(px)
        d = self.direction
        if self.exits.break_even is not None and not self.break_even_armed:
            avg = self.avg_price
            trigger = self.exits.break_even.points(self.instrument, avg)
            if (px - avg) * d >= trigger:
                self.break_even_armed = True
        levels = self.levels()

        # Stops first: if one quote could touch both sides, assume the worse happened.
        stops = [
            (levels[name], reason)
            for name, reason in (
                ("stop", Reason.STOP),
                ("break_even", Reason.BREAK_EVEN),
                ("trailing", Reason.TRAILING),
            )
            if levels[name] is not None
        ]
        if stops:
            # The tightest stop is the one working; on a tie the first named wins.
            level, reason = stops[0]
            for lv, rs in stops[1:]:
                if (lv - level) * d > 0:
                    level, reason = lv, rs
            if (px - level) * d <= 0:
                return self._close(
                    abs(self.net_pos), self._exit_price(quote, level, px), quote.at, reason
                )
        target = levels["target"]
        if target is not None and (px - target) * d >= 0:
            return self._close(
                abs(self.net_pos), self._exit_price(quote, target, px), quote.at, Reason.TARGET
            )
        return Result()

    # --- internals ----------------------------------------------------------------------------

    @staticmethod
    def _exit_price(quote: Quote, level: Decimal, px: Decimal) -> Decimal:
        return level if quote.quotes_level(level) else px

    def _observe(self, price: Decimal) -> None:
        """Update last price, best price (trailing) and MAE/MFE with a price seen while open."""
        self.last_price = price
        if self.net_pos == 0:
            return
        d = self.direction
        if self.best_price is None or (price - self.best_price) * d > 0:
            self.best_price = price
        pnl = self._open_pnl_exact(price)
        if pnl > self.mfe:
            self.mfe = pnl
        if -pnl > self.mae:
            self.mae = -pnl

    def _open_or_add(self, quantity: int, price: Decimal, at: datetime) -> Action:
        kind = "entry" if self.net_pos == 0 else "add"
        if kind == "entry":
            self.opened_at = at
            self.mae = self.mfe = ZERO
            self.best_price = None
            self.break_even_armed = False
        self.cost += abs(quantity) * price * self.instrument.point_value
        self.net_pos += quantity
        self._observe(price)
        return Action(
            kind=kind,
            side=self.side,
            quantity=abs(quantity),
            price=price,
            at=at,
            net_pos=self.net_pos,
            symbol=self.instrument.symbol,
        )

    def _close(self, quantity: int, price: Decimal, at: datetime, reason: str) -> Result:
        self._observe(price)
        inst = self.instrument
        open_qty = abs(self.net_pos)
        d = self.direction
        side = self.side
        if quantity == open_qty:
            allocated, mae, mfe = self.cost, self.mae, self.mfe
        else:
            allocated = cents(self.cost * quantity / open_qty)
            mae = cents(self.mae * quantity / open_qty)
            mfe = cents(self.mfe * quantity / open_qty)
        pnl = cents((quantity * price * inst.point_value - allocated) * d)
        entry_price = allocated / (quantity * inst.point_value)
        points = (price - entry_price) * d
        commission = cents(quantity * self.commission_per_side * 2)
        trade = ClosedTrade(
            symbol=inst.symbol,
            side=side,
            quantity=quantity,
            entry_time=self.opened_at or at,
            exit_time=at,
            entry_price=entry_price.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN),
            exit_price=price,
            points=points.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN),
            ticks=(points / inst.tick_size).quantize(TICK_PLACES, rounding=ROUND_HALF_EVEN),
            pnl=pnl,
            commission=commission,
            net_pnl=pnl - commission,
            mae=cents(mae),
            mfe=cents(mfe),
            exit_reason=reason,
        )
        self.cost -= allocated
        self.mae -= mae
        self.mfe -= mfe
        self.net_pos -= d * quantity
        if self.net_pos == 0:
            self.cost = ZERO
            self.opened_at = None
            self.mae = self.mfe = ZERO
            self.best_price = None
            self.break_even_armed = False
        action = Action(
            kind="exit",
            side=side,
            quantity=quantity,
            price=price,
            at=at,
            reason=reason,
            net_pos=self.net_pos,
            symbol=inst.symbol,
        )
        return Result(actions=[action], trades=[trade])

    # --- persistence --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON for ``RecordedPosition.state`` (strings for every Decimal)."""

        def s(v):
            return None if v is None else str(v)

        return {
            "cost": str(self.cost),
            "mae": str(self.mae),
            "mfe": str(self.mfe),
            "best_price": s(self.best_price),
            "break_even_armed": self.break_even_armed,
            "last_price": s(self.last_price),
            "last_quote_at": self.last_quote_at.isoformat() if self.last_quote_at else None,
            "exits": self.exits.to_json(),
            "basis": self.basis,
            "tick_size": str(self.instrument.tick_size),
            "point_value": str(self.instrument.point_value),
        }

    @classmethod
    def from_state(
        cls,
        *,
        instrument: Instrument,
        net_pos: int,
        opened_at: datetime | None,
        state: dict[str, Any],
        commission_per_side: Decimal = ZERO,
    ) -> Position:
        def dec(key):
            v = state.get(key)
            return None if v in (None, "") else D(v)

        last_quote_at = state.get("last_quote_at")
        return cls(
            instrument=instrument,
            commission_per_side=D(commission_per_side),
            exits=ExitRules.from_json(state.get("exits")),
            basis=state.get("basis") or Basis.TRADE,
            net_pos=net_pos,
            cost=dec("cost") or ZERO,
            opened_at=opened_at,
            mae=dec("mae") or ZERO,
            mfe=dec("mfe") or ZERO,
            best_price=dec("best_price"),
            break_even_armed=bool(state.get("break_even_armed")),
            last_price=dec("last_price"),
            last_quote_at=datetime.fromisoformat(last_quote_at) if last_quote_at else None,
        )

    def with_exits(self, exits: ExitRules) -> Position:
        return replace(self, exits=exits)
