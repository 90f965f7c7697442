"""The paper ledger: one position of one contract, its fills, exits and closed trades.

Pure Python with ``Decimal`` arithmetic and no database, so every number a recorder shows can be
checked by hand. A :class:`Position` takes signed fills (entries, adds, partial and full exits,
reversals, flatten) and quotes (take profit, stop loss, trailing stop, break-even move), and
returns the round trips it closed as :class:`ClosedTrade` rows.

Lots: exits per entry, like live brackets
- Every entry and every add is its own :class:`Lot`: its quantity, its cost and its own exits
  around its own fill (a Tradovate order strategy per entry does the same), its own best price
  (trailing) and break-even. A signal that reduces closes the oldest lots first (FIFO, as
  Tradovate pairs fills and as the live side trims the oldest entry's brackets first).
- One close (a signal's exit, a lot's target or stop) is one :class:`ClosedTrade`; when it
  spans lots its entry is their weighted price, its P&L the exact sum.

Money rules
- Costs are dollars (``Σ qty × price × point value``). A partial close of a lot takes its share
  of the lot's cost rounded to the cent and leaves the rest, so the P&L of every round trip adds
  up exactly to the dollars sold minus the dollars bought, however it was split.
- Commission is per contract per side: a closed trade of ``q`` contracts pays ``2 × q × rate``.
- MAE / MFE are each lot's worst and best open P&L in dollars while it was open (quotes, adds
  and the exit price included); a trade adds up those of the lots it closed, a partial close
  takes its share of them.

Fills as an exchange gives them (the paper broker's rules, ``accounts.brokers.simulator``)
- A target is a resting limit: it fills at its price, never better, once the closing-side
  price (see :class:`Quote`) reaches it, even when the market jumped past it.
- A stop fills at the first price at or through it: the level when the market trades there,
  the gap price when it gaps.
- Market orders (signals) fill at the touch plus the slippage (the caller's price, see
  :func:`market_fill`).
- Limit and stop entries work until the market reaches them (:class:`WorkingEntry`): a limit
  marketable on arrival takes the touch (never beyond its limit), a resting one fills at its
  limit; a stop fills at the first price at or through it; a stop already reached on arrival
  is refused, as the broker refuses it.
- With ``partial_fills`` on, a book shows ``size`` contracts per price: a resting target gets
  at most the size at its price per quote (shared by the lots resting there) and works on; a
  stop or a market order walks one tick per ``size`` contracts.

One file for one idea, the paper ledger: every rule of a position's money in one place, checked
by hand in its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from strategies.exits import (
    ExitRules,
    break_even_reached,
    stop_levels,
    take_profit_level,
    tightest_stop,
)

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


STOP_REASONS = {"stop": Reason.STOP, "break_even": Reason.BREAK_EVEN, "trailing": Reason.TRAILING}


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
class Quote:
    """One market data update. Any of bid, ask and last trade may be missing; sizes are the
    contracts shown at the bid and the ask (0 when unknown)."""

    at: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    bid_size: int = 0
    ask_size: int = 0

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

    def size_to_close(self, long: bool) -> int:
        """Contracts shown on the side a long (the bid) or a short (the ask) closes against."""
        return self.bid_size if long else self.ask_size


def market_fill(
    *,
    quantity: int,
    touch: Decimal,
    instrument: Instrument,
    slippage_ticks: int = 0,
    size: int = 0,
) -> list[tuple[int, Decimal]]:
    """The fills of a market order of ``quantity`` contracts (positive buys, negative sells)
    against a book whose touch is ``touch``: at the touch plus ``slippage_ticks`` against the
    order; with a book ``size`` (partial fills), ``size`` contracts per price, one tick further
    for each next lot (as the paper broker fills). Returns ``[(contracts, price)]``."""
    if quantity == 0:
        return []
    d = 1 if quantity > 0 else -1
    tick = instrument.tick_size
    px = D(touch) + d * slippage_ticks * tick
    if px <= 0:
        px = tick
    left = abs(quantity)
    if size <= 0:
        return [(left, px)]
    lots = []
    while left > 0 and px > 0:
        take = min(size, left)
        lots.append((take, px))
        left -= take
        px += d * tick
    return lots


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
class Lot:
    """One entry (or add) still open: its own size, cost, exits and their state."""

    quantity: int  # contracts still open, > 0
    cost: Decimal  # dollars paid (long) or received (short) for them
    opened_at: datetime
    exits: ExitRules = field(default_factory=ExitRules)
    best_price: Decimal | None = None  # most favourable closing price seen (trailing)
    break_even_armed: bool = False
    mae: Decimal = ZERO  # worst open loss of this lot so far, dollars >= 0
    mfe: Decimal = ZERO  # best open profit of this lot so far, dollars >= 0

    def price(self, instrument: Instrument) -> Decimal:
        """The lot's exact entry price (its fill, or the average of a fill in lots)."""
        return self.cost / (self.quantity * instrument.point_value)

    def to_json(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "cost": str(self.cost),
            "opened_at": self.opened_at.isoformat(),
            "exits": self.exits.to_json(),
            "best_price": None if self.best_price is None else str(self.best_price),
            "break_even_armed": self.break_even_armed,
            "mae": str(self.mae),
            "mfe": str(self.mfe),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lot:
        best = data.get("best_price")
        return cls(
            quantity=int(data["quantity"]),
            cost=D(data["cost"]),
            opened_at=datetime.fromisoformat(data["opened_at"]),
            exits=ExitRules.from_json(data.get("exits")),
            best_price=None if best in (None, "") else D(best),
            break_even_armed=bool(data.get("break_even_armed")),
            mae=D(data.get("mae") or "0"),
            mfe=D(data.get("mfe") or "0"),
        )


@dataclass
class WorkingEntry:
    """A limit or stop entry that works until the market reaches it, as at the paper broker:
    its signed size, its levels and the exits its fill will get."""

    quantity: int  # signed: positive buys
    order_type: str  # "limit" | "stop" | "stop_limit"
    placed_at: datetime
    limit: Decimal | None = None
    stop: Decimal | None = None
    exits: ExitRules = field(default_factory=ExitRules)
    signal_id: int | None = None
    triggered: bool = False  # a stop limit whose stop was reached works on as a limit

    @property
    def buy(self) -> bool:
        return self.quantity > 0

    def describe(self) -> str:
        """ "buy limit 1 @ 20900.00", "sell stop 2 @ 20950.00", "buy stop limit 1 @ 21010 / 21012"."""
        levels = " / ".join(str(v) for v in (self.stop, self.limit) if v is not None)
        kind = self.order_type.replace("_", " ")
        return f"{'buy' if self.buy else 'sell'} {kind} {abs(self.quantity)} @ {levels}"

    def stop_reached(self, quote: Quote) -> bool:
        if self.stop is None or self.order_type == "limit" or self.triggered:
            return False
        touch = quote.price_to_open(self.buy, Basis.BID_ASK)
        return touch is not None and (touch >= self.stop if self.buy else touch <= self.stop)

    def execution_price(self, quote: Quote, *, arriving: bool) -> Decimal | None:
        """The price the entry fills at against ``quote``, or None while it works. Limit:
        marketable on arrival → the touch (never beyond the limit); resting and reached → its
        limit, never better, even through a gap. Stop: reached → the touch, the first price at
        or through it (the gap price); a stop limit reached becomes a limit just arrived."""
        touch = quote.price_to_open(self.buy, Basis.BID_ASK)
        if touch is None:
            return None
        if self.order_type == "limit" or self.triggered:
            reached = touch <= self.limit if self.buy else touch >= self.limit
            if not reached:
                return None
            return touch if arriving else self.limit
        if not self.stop_reached(quote):
            return None
        if self.order_type == "stop":
            return touch
        self.triggered = True
        return self.execution_price(quote, arriving=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "order_type": self.order_type,
            "placed_at": self.placed_at.isoformat(),
            "limit": None if self.limit is None else str(self.limit),
            "stop": None if self.stop is None else str(self.stop),
            "exits": self.exits.to_json(),
            "signal_id": self.signal_id,
            "triggered": self.triggered,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkingEntry:
        def dec(key):
            v = data.get(key)
            return None if v in (None, "") else D(v)

        return cls(
            quantity=int(data["quantity"]),
            order_type=data["order_type"],
            placed_at=datetime.fromisoformat(data["placed_at"]),
            limit=dec("limit"),
            stop=dec("stop"),
            exits=ExitRules.from_json(data.get("exits")),
            signal_id=data.get("signal_id"),
            triggered=bool(data.get("triggered")),
        )


@dataclass
class _Closing:
    """What one close takes from the lots, summed into one trade."""

    quantity: int = 0
    cost: Decimal = ZERO
    mae: Decimal = ZERO
    mfe: Decimal = ZERO
    opened_at: datetime | None = None


@dataclass
class Position:
    """One contract's paper position. Mutated by :meth:`fill`, :meth:`on_quote`, :meth:`flatten`.

    ``exits`` are the rules a new entry or add gets (its own target and stop around its own
    fill); lots already open keep the exits they were opened with."""

    instrument: Instrument
    commission_per_side: Decimal = ZERO
    exits: ExitRules = field(default_factory=ExitRules)
    basis: str = Basis.TRADE
    partial_fills: bool = False  # resting exits get at most the book's size per quote
    net_pos: int = 0
    lots: list[Lot] = field(default_factory=list)  # oldest first
    working: list[WorkingEntry] = field(default_factory=list)  # limit / stop entries, oldest first
    last_price: Decimal | None = None
    last_quote_at: datetime | None = None

    def __post_init__(self) -> None:
        self.commission_per_side = D(self.commission_per_side)

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
    def working_quantity(self) -> int:
        """Contracts (signed) of the entries still working: the position once they fill is
        ``net_pos + working_quantity``."""
        return sum(entry.quantity for entry in self.working)

    @property
    def cost(self) -> Decimal:
        return sum((lot.cost for lot in self.lots), ZERO)

    @property
    def opened_at(self) -> datetime | None:
        return self.lots[0].opened_at if self.lots else None

    @property
    def mae(self) -> Decimal:
        return sum((lot.mae for lot in self.lots), ZERO)

    @property
    def mfe(self) -> Decimal:
        return sum((lot.mfe for lot in self.lots), ZERO)

    @property
    def avg_price(self) -> Decimal | None:
        """The exact average entry of the open lots (may have more places than a tick)."""
        if self.net_pos == 0:
            return None
        return self.cost / (abs(self.net_pos) * self.instrument.point_value)

    def open_pnl(self, price: Decimal | None = None) -> Decimal:
        """Unrealized dollars at ``price`` (default: the last price seen), to the cent."""
        price = self.last_price if price is None else D(price)
        if self.net_pos == 0 or price is None:
            return ZERO
        return cents(self._open_pnl_exact(self.lots, price))

    def _open_pnl_exact(self, lots: list[Lot], price: Decimal) -> Decimal:
        qty = sum(lot.quantity for lot in lots)
        cost = sum((lot.cost for lot in lots), ZERO)
        return (qty * price * self.instrument.point_value - cost) * self.direction

    def lot_levels(self, lot: Lot) -> dict[str, Decimal | None]:
        """A lot's exit levels (target, stop, break_even, trailing; None when not set), by the
        same rules as live stops (``strategies.exits``), around the lot's own entry."""
        d, entry = self.direction, lot.price(self.instrument)
        return {
            "target": take_profit_level(
                direction=d, entry=entry, rules=lot.exits, instrument=self.instrument
            ),
            **stop_levels(
                direction=d,
                entry=entry,
                rules=lot.exits,
                instrument=self.instrument,
                best=lot.best_price,
                armed=lot.break_even_armed,
            ),
        }

    def levels(self) -> dict[str, Decimal | None]:
        """The nearest level of each kind over the open lots (the next target to fill, the
        tightest stop): what a trader watches. Per lot: :meth:`lot_levels`."""
        out: dict[str, Decimal | None] = {
            "target": None,
            "stop": None,
            "break_even": None,
            "trailing": None,
        }
        d = self.direction
        for lot in self.lots:
            for name, level in self.lot_levels(lot).items():
                if level is None:
                    continue
                current = out[name]
                if current is None:
                    out[name] = level
                    continue
                nearer = (level - current) * d
                if (nearer < 0) if name == "target" else (nearer > 0):
                    out[name] = level
        return out

    def summary(self, price: Decimal | None = None) -> dict[str, Any]:
        """A JSON-friendly picture of the open position for pages and live events."""
        avg = self.avg_price

        def s(v):
            return None if v is None else str(v)

        return {
            "symbol": self.instrument.symbol,
            "side": self.side,
            "net_pos": self.net_pos,
            "avg_price": None if avg is None else str(avg.quantize(PRICE_PLACES)),
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "last_price": s(self.last_price),
            "open_pnl": str(self.open_pnl(price)),
            "mae": str(cents(self.mae)),
            "mfe": str(cents(self.mfe)),
            "levels": {k: s(v) for k, v in self.levels().items()},
            "lots": [
                {
                    "quantity": lot.quantity,
                    "price": str(lot.price(self.instrument).quantize(PRICE_PLACES)),
                    "levels": {k: s(v) for k, v in self.lot_levels(lot).items()},
                }
                for lot in self.lots
            ],
        }

    # --- write --------------------------------------------------------------------------------

    def fill(
        self,
        *,
        quantity: int,
        price: Decimal | None = None,
        at: datetime,
        reason: str = Reason.SIGNAL,
        lots: list[tuple[int, Decimal]] | None = None,
    ) -> Result:
        """A virtual market fill of ``quantity`` contracts (positive buys, negative sells) at
        ``price``, or in ``lots`` of ``(contracts, price)`` (a fill that walked the book).

        Same direction (or flat): an entry or add, one new lot. Opposite: closes up to the open
        size (oldest lots first) with ``reason``; whatever is left opens the other way (a
        reversal, whose closing part is recorded with reason ``reversal`` when the fill came
        from a signal)."""
        if quantity == 0:
            return Result()
        pieces = [(abs(int(q)), D(p)) for q, p in lots] if lots else [(abs(quantity), D(price))]
        if sum(q for q, _ in pieces) != abs(quantity):
            raise ValueError("the lots of a fill must add up to its quantity")
        if any(p <= 0 for _, p in pieces):
            raise ValueError("a fill price must be positive")
        sign = 1 if quantity > 0 else -1
        result = Result()
        if self.net_pos and (self.net_pos > 0) != (quantity > 0):
            closing = min(abs(quantity), abs(self.net_pos))
            take, pieces = _split(pieces, closing)
            close_reason = Reason.REVERSAL if pieces and reason == Reason.SIGNAL else reason
            result.extend(self._close_fifo(take, at, close_reason))
        if pieces:
            result.actions.append(self._open(sign, pieces, at))
        return result

    def set_target(
        self, *, target: int, price: Decimal, at: datetime, reason: str = Reason.SIGNAL, lots=None
    ) -> Result:
        """Converge on a target position (``0`` closes, ``-net`` reverses)."""
        return self.fill(
            quantity=target - self.net_pos, price=price, at=at, reason=reason, lots=lots
        )

    def flatten(
        self, *, price: Decimal | None = None, at: datetime, reason: str = Reason.FLATTEN, lots=None
    ) -> Result:
        if self.net_pos == 0:
            return Result()
        pieces = [(abs(int(q)), D(p)) for q, p in lots] if lots else [(abs(self.net_pos), D(price))]
        return self._close_fifo(pieces, at, reason)

    def place_entry(self, entry: WorkingEntry, quote: Quote) -> tuple[Result, str]:
        """A limit or stop entry arrives at the market ``quote``: filled at once when the
        market is already there (a marketable limit), refused when it is a stop the market has
        already reached (the broker refuses a stop on the wrong side), else it works. Returns
        (what filled, why it was refused or "")."""
        if entry.stop_reached(quote):
            touch = quote.price_to_open(entry.buy, Basis.BID_ASK)
            side = "above" if entry.buy else "below"
            return Result(), (
                f"{entry.describe()} refused: the market ({touch}) has already reached the "
                f"stop; a {'buy' if entry.buy else 'sell'} stop must be {side} the market"
            )
        if entry.order_type == "limit":
            px = entry.execution_price(quote, arriving=True)
            if px is not None:
                return self._fill_entry(entry, px, quote.at), ""
        self.working.append(entry)
        return Result(), ""

    def cancel_working(self) -> list[WorkingEntry]:
        """Cancel every working entry (an exit, a flatten, a reversal, a cancel)."""
        cancelled, self.working = self.working, []
        return cancelled

    def on_quote(self, quote: Quote) -> Result:
        """Apply a market quote: working entries the market reached fill first; then
        excursions and trailing stops, then each lot's exits, oldest lot first. Stops first: if
        one quote could touch both sides, the worse happened."""
        result = self._fill_working(quote)
        if self.net_pos == 0:
            return result
        return result.extend(self._exits_on_quote(quote))

    def _fill_working(self, quote: Quote) -> Result:
        result = Result()
        for entry in list(self.working):
            if quote.at < entry.placed_at:
                continue  # a quote from before the order says nothing about it
            px = entry.execution_price(quote, arriving=False)
            if px is None:
                continue
            self.working.remove(entry)
            result.extend(self._fill_entry(entry, px, quote.at))
        return result

    def _fill_entry(self, entry: WorkingEntry, price: Decimal, at: datetime) -> Result:
        """Fill a working entry: its own exits around its own fill."""
        kept, self.exits = self.exits, entry.exits
        try:
            return self.fill(quantity=entry.quantity, price=price, at=at)
        finally:
            self.exits = kept

    def _exits_on_quote(self, quote: Quote) -> Result:
        long = self.is_long
        px = quote.price_to_close(long, self.basis)
        if px is None:
            return Result()
        self.last_quote_at = quote.at
        self._observe(px)
        d = self.direction
        for lot in self.lots:
            if not lot.break_even_armed and break_even_reached(
                direction=d,
                entry=lot.price(self.instrument),
                price=px,
                rules=lot.exits,
                instrument=self.instrument,
            ):
                lot.break_even_armed = True
        size = quote.size_to_close(long) if self.partial_fills else 0
        resting_left = size  # what the book shows at a target's price, shared by the lots there
        result = Result()
        for lot in list(self.lots):
            levels = self.lot_levels(lot)
            working = tightest_stop(levels, d)
            if working is not None and (px - working[0]) * d <= 0:
                # A stop: a market order from the first price at or through it.
                pieces = market_fill(
                    quantity=-d * lot.quantity, touch=px, instrument=self.instrument, size=size
                )
                result.extend(self._close_lot(lot, pieces, quote.at, STOP_REASONS[working[1]]))
                continue
            target = levels["target"]
            if target is not None and (px - target) * d >= 0:
                # A resting limit: its own price, never better; at most what the book shows.
                qty = lot.quantity
                if self.partial_fills and size > 0:
                    qty = min(qty, resting_left)
                    resting_left -= qty
                if qty > 0:
                    result.extend(self._close_lot(lot, [(qty, target)], quote.at, Reason.TARGET))
        return result

    # --- internals ----------------------------------------------------------------------------

    def _observe(self, price: Decimal) -> None:
        """Update last price, each lot's best price (trailing) and MAE/MFE with a price seen."""
        self.last_price = price
        d = self.direction
        pv = self.instrument.point_value
        for lot in self.lots:
            if lot.best_price is None or (price - lot.best_price) * d > 0:
                lot.best_price = price
            pnl = (lot.quantity * price * pv - lot.cost) * d
            if pnl > lot.mfe:
                lot.mfe = pnl
            if -pnl > lot.mae:
                lot.mae = -pnl

    def _open(self, sign: int, pieces: list[tuple[int, Decimal]], at: datetime) -> Action:
        kind = "entry" if self.net_pos == 0 else "add"
        qty = sum(q for q, _ in pieces)
        cost = sum((q * p * self.instrument.point_value for q, p in pieces), ZERO)
        lot = Lot(quantity=qty, cost=cost, opened_at=at, exits=self.exits)
        self.lots.append(lot)
        self.net_pos += sign * qty
        price = lot.price(self.instrument)
        self._observe(pieces[-1][1])
        return Action(
            kind=kind,
            side=self.side,
            quantity=qty,
            price=price,
            at=at,
            net_pos=self.net_pos,
            symbol=self.instrument.symbol,
        )

    def _close_fifo(self, pieces: list[tuple[int, Decimal]], at: datetime, reason: str) -> Result:
        """Close ``pieces`` (their contracts at their prices) from the oldest lots on."""
        quantity = sum(q for q, _ in pieces)
        self._observe(pieces[-1][1])
        closing = _Closing()
        left = quantity
        for lot in list(self.lots):
            if left == 0:
                break
            take = min(left, lot.quantity)
            self._take(lot, take, closing)
            left -= take
        return self._book(closing, pieces, at, reason)

    def _close_lot(
        self, lot: Lot, pieces: list[tuple[int, Decimal]], at: datetime, reason: str
    ) -> Result:
        """Close ``pieces`` of one lot (its own target or stop)."""
        closing = _Closing()
        self._observe_lot(lot, pieces)
        self._take(lot, sum(q for q, _ in pieces), closing)
        return self._book(closing, pieces, at, reason)

    def _observe_lot(self, lot: Lot, pieces: list[tuple[int, Decimal]]) -> None:
        """The exit price counts in the lot's excursions (a gap past the stop is its MAE)."""
        d, pv = self.direction, self.instrument.point_value
        for _, price in pieces:
            pnl = (lot.quantity * price * pv - lot.cost) * d
            lot.mfe = max(lot.mfe, pnl)
            lot.mae = max(lot.mae, -pnl)

    def _take(self, lot: Lot, quantity: int, closing: _Closing) -> None:
        """Move ``quantity`` contracts of ``lot`` (its share of cost and excursions) into a
        close; the lot is dropped once empty."""
        if quantity == lot.quantity:
            cost, mae, mfe = lot.cost, lot.mae, lot.mfe
        else:
            cost = cents(lot.cost * quantity / lot.quantity)
            mae = cents(lot.mae * quantity / lot.quantity)
            mfe = cents(lot.mfe * quantity / lot.quantity)
        closing.quantity += quantity
        closing.cost += cost
        closing.mae += mae
        closing.mfe += mfe
        if closing.opened_at is None or lot.opened_at < closing.opened_at:
            closing.opened_at = lot.opened_at
        lot.quantity -= quantity
        lot.cost -= cost
        lot.mae -= mae
        lot.mfe -= mfe
        if lot.quantity == 0:
            self.lots.remove(lot)

    def _book(
        self, closing: _Closing, pieces: list[tuple[int, Decimal]], at: datetime, reason: str
    ) -> Result:
        inst = self.instrument
        d, side = self.direction, self.side
        quantity = closing.quantity
        proceeds = sum((q * p * inst.point_value for q, p in pieces), ZERO)
        pnl = cents((proceeds - closing.cost) * d)
        entry_price = closing.cost / (quantity * inst.point_value)
        exit_price = proceeds / (quantity * inst.point_value)
        points = (exit_price - entry_price) * d
        commission = cents(quantity * self.commission_per_side * 2)
        trade = ClosedTrade(
            symbol=inst.symbol,
            side=side,
            quantity=quantity,
            entry_time=closing.opened_at or at,
            exit_time=at,
            entry_price=entry_price.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN),
            exit_price=pieces[0][1]
            if len(pieces) == 1
            else exit_price.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN),
            points=points.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN),
            ticks=(points / inst.tick_size).quantize(TICK_PLACES, rounding=ROUND_HALF_EVEN),
            pnl=pnl,
            commission=commission,
            net_pnl=pnl - commission,
            mae=cents(closing.mae),
            mfe=cents(closing.mfe),
            exit_reason=reason,
        )
        self.net_pos -= d * quantity
        action = Action(
            kind="exit",
            side=side,
            quantity=quantity,
            price=trade.exit_price,
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
            "lots": [lot.to_json() for lot in self.lots],
            **({"working": [entry.to_json() for entry in self.working]} if self.working else {}),
            "cost": str(self.cost),
            "mae": str(self.mae),
            "mfe": str(self.mfe),
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

        exits = ExitRules.from_json(state.get("exits"))
        if "lots" in state:
            lots = [Lot.from_json(data) for data in state["lots"]]
        elif net_pos:  # a row written before lots: its whole position is one lot
            lots = [
                Lot(
                    quantity=abs(net_pos),
                    cost=dec("cost") or ZERO,
                    opened_at=opened_at or datetime.fromisoformat("1970-01-01T00:00:00+00:00"),
                    exits=exits,
                    best_price=dec("best_price"),
                    break_even_armed=bool(state.get("break_even_armed")),
                    mae=dec("mae") or ZERO,
                    mfe=dec("mfe") or ZERO,
                )
            ]
        else:
            lots = []
        last_quote_at = state.get("last_quote_at")
        return cls(
            instrument=instrument,
            commission_per_side=D(commission_per_side),
            exits=exits,
            basis=state.get("basis") or Basis.TRADE,
            net_pos=net_pos,
            lots=lots,
            working=[WorkingEntry.from_json(data) for data in state.get("working") or []],
            last_price=dec("last_price"),
            last_quote_at=datetime.fromisoformat(last_quote_at) if last_quote_at else None,
        )

    def with_exits(self, exits: ExitRules) -> Position:
        return replace(self, exits=exits)


def _split(
    pieces: list[tuple[int, Decimal]], quantity: int
) -> tuple[list[tuple[int, Decimal]], list[tuple[int, Decimal]]]:
    """The first ``quantity`` contracts of a fill's pieces, and the rest."""
    first, rest, left = [], [], quantity
    for q, p in pieces:
        if left >= q:
            first.append((q, p))
            left -= q
        elif left > 0:
            first.append((left, p))
            rest.append((q - left, p))
            left = 0
        else:
            rest.append((q, p))
    return first, rest
