"""Pure order planning: from a signal's intent and a position to the orders to send.

Nothing here touches the database or the broker, so every rule is unit-tested directly:
quantity (alert or strategy size × multiplier, capped), the target position an instruction
leads to (open, add, reverse, close only, exit), the legs that get there, and the bracket prices
(take profit / stop loss from the entry price in ticks, points, percent, dollars or a price,
rounded to the contract's tick).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

TICKS = "ticks"
POINTS = "points"
PERCENT = "percent"
DOLLARS = "dollars"
PRICE = "price"
EXIT_UNITS = (TICKS, POINTS, PERCENT, DOLLARS, PRICE)


@dataclass(frozen=True)
class Exit:
    """A take profit or stop loss distance (or an absolute price when ``unit`` is ``price``)."""

    value: Decimal
    unit: str = TICKS

    def __post_init__(self):
        if self.unit not in EXIT_UNITS:
            raise ValueError(f"unknown exit unit {self.unit!r}")
        if self.value <= 0:
            raise ValueError("an exit distance must be positive")


@dataclass(frozen=True)
class Leg:
    """One order of a plan. ``role`` matches ``Order.Role``; ``qty`` is always positive."""

    role: str  # "flatten" | "entry" | "exit"
    action: str = ""  # "Buy" | "Sell" ("" for a flatten, which the broker computes)
    qty: int = 0
    with_bracket: bool = False


@dataclass(frozen=True)
class Plan:
    current: int
    target: int
    legs: list[Leg] = field(default_factory=list)
    note: str = ""


def scaled_quantity(
    *,
    alert_quantity: int | None,
    strategy_quantity: int,
    from_alert: bool,
    multiplier: int,
    max_contracts: int,
) -> int:
    """Contracts for one trader: the alert's size (when the strategy sizes from the alert and the
    alert gave one) or the strategy's fixed size, times the multiplier, capped by max contracts."""
    base = alert_quantity if (from_alert and alert_quantity) else strategy_quantity
    base = abs(int(base or 0))
    return max(0, min(base * max(1, multiplier), max_contracts))


def clamp(value: int, limit: int) -> int:
    return max(-limit, min(limit, value))


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def target_position(
    *,
    intent,
    current: int,
    quantity: int,
    multiplier: int,
    max_contracts: int,
    close_only: bool,
    from_alert: bool,
) -> tuple[int | None, str]:
    """The signed position the trader should hold after ``intent`` (a ``strategies.parsing.Intent``),
    and a short reason. None means "do not touch the position" (e.g. a ``cancel``).

    ``quantity`` is the already scaled and capped order size. Buy/sell open or add; an opposite
    buy/sell reverses (flatten, then open ``quantity``) unless the strategy says close only; a
    ``reduce_only`` delta shrinks a position toward flat but never crosses it; a target follows
    the TradingView strategy's position (its size when sizing from the alert, else the fixed
    size, times the multiplier); a position never exceeds ``max_contracts``.
    """
    action = intent.action
    if action == "cancel":
        return None, "cancel working orders"
    if action == "reverse":
        return clamp(-current, max_contracts), "reverse"
    if action == "exit":
        if intent.reduce_only and intent.quantity and current:
            cut = min(abs(current), intent.quantity * max(1, multiplier))
            return current - _sign(current) * cut, "partial exit"
        return 0, "exit"
    if intent.kind == "target":
        wanted_sign = _sign(intent.target or 0)
        if not wanted_sign:
            return 0, "target flat"
        size = abs(intent.target) * max(1, multiplier) if from_alert else quantity
        if close_only and current and wanted_sign != _sign(current):
            return 0, "opposite target, close only"
        return clamp(wanted_sign * size, max_contracts), "target"
    side = _sign(intent.side)
    if action == "add":
        side = _sign(current)
        if not side:
            return None, "nothing to add to: flat"
    if not side or not quantity:
        return None, "no quantity"
    if getattr(intent, "reduce_only", False):
        if not current or _sign(current) == side:
            return None, "reduce only: nothing to reduce"
        cut = min(abs(current), quantity)
        return current + side * cut, "reduce"
    if current == 0 or _sign(current) == side:
        return clamp(current + side * quantity, max_contracts), "open" if not current else "add"
    # Opposite side: reverse into a fresh position of `quantity`, or only close.
    if close_only:
        return 0, "opposite signal, close only"
    return clamp(side * quantity, max_contracts), "reverse"


def plan_orders(*, current: int, target: int) -> Plan:
    """The legs that move the position from ``current`` to ``target``.

    * flat → position, or adding on the same side: one entry (with its bracket);
    * to flat: one flatten (the broker cancels working orders and closes the position);
    * through zero (a reversal): flatten, then an entry of the new size;
    * reducing on the same side: one exit order of the difference.
    """
    if target == current:
        return Plan(current, target, [], note="already at the wanted position")
    if target == 0:
        return Plan(current, target, [Leg("flatten")])
    if current == 0 or ((current > 0) == (target > 0) and abs(target) > abs(current)):
        qty = abs(target - current)
        action = "Buy" if target > current else "Sell"
        return Plan(current, target, [Leg("entry", action, qty, with_bracket=True)])
    if (current > 0) != (target > 0):
        action = "Buy" if target > 0 else "Sell"
        return Plan(
            current, target, [Leg("flatten"), Leg("entry", action, abs(target), with_bracket=True)]
        )
    action = "Sell" if current > 0 else "Buy"
    return Plan(current, target, [Leg("exit", action, abs(current - target))])


# --- prices -------------------------------------------------------------------------------------


def round_to_tick(price: Decimal, tick: Decimal, mode: str = "nearest") -> Decimal:
    rounding = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}[mode]
    ticks = (price / tick).quantize(Decimal(1), rounding=rounding)
    return (ticks * tick).quantize(tick)


def exit_distance(
    *, exit: Exit, entry: Decimal, tick_size: Decimal, point_value: Decimal
) -> Decimal:
    """Distance in points of a TP/SL/trailing setting (not for ``price``)."""
    if exit.unit == TICKS:
        return exit.value * tick_size
    if exit.unit == POINTS:
        return exit.value
    if exit.unit == PERCENT:
        return entry * exit.value / 100
    if exit.unit == DOLLARS:  # dollars per contract
        return exit.value / point_value
    raise ValueError(f"{exit.unit} is not a distance")


@dataclass(frozen=True)
class BracketPrices:
    take_profit: Decimal | None
    stop_loss: Decimal | None
    trailing_stop: Decimal | None  # a distance in points


def bracket_prices(
    *,
    side: int,
    entry: Decimal,
    tick_size: Decimal,
    point_value: Decimal,
    take_profit: Exit | None,
    stop_loss: Exit | None,
    trailing_stop: Exit | None = None,
) -> BracketPrices:
    """TP and SL prices for an entry of ``side`` (+1 long, -1 short) at ``entry``.

    Prices are rounded to the nearest tick (a percent or dollar distance rarely lands on one) and
    stay at least one tick away from the entry on the right side.
    """
    tp = sl = trail = None
    if take_profit is not None:
        if take_profit.unit == PRICE:
            tp = round_to_tick(take_profit.value, tick_size)
        else:
            d = exit_distance(
                exit=take_profit, entry=entry, tick_size=tick_size, point_value=point_value
            )
            raw = entry + side * d
            tp = round_to_tick(raw, tick_size)
        if (tp - entry) * side < tick_size:
            tp = round_to_tick(entry, tick_size) + side * tick_size
    if stop_loss is not None:
        if stop_loss.unit == PRICE:
            sl = round_to_tick(stop_loss.value, tick_size)
        else:
            d = exit_distance(
                exit=stop_loss, entry=entry, tick_size=tick_size, point_value=point_value
            )
            raw = entry - side * d
            sl = round_to_tick(raw, tick_size)
        if (entry - sl) * side < tick_size:
            sl = round_to_tick(entry, tick_size) - side * tick_size
    if trailing_stop is not None and trailing_stop.unit != PRICE:
        d = exit_distance(
            exit=trailing_stop, entry=entry, tick_size=tick_size, point_value=point_value
        )
        trail = max(tick_size, round_to_tick(d, tick_size, "up"))
    return BracketPrices(tp, sl, trail)
