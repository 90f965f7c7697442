"""Exit settings of a trade: take profit, stop loss, trailing stop and break-even.

One home for what an exit *is* and how far it sits from an entry, used by the recorder's paper
ledger and by live orders alike, so the track record shows the exits live trades get.
Pure: no database, no broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

EXIT_UNITS = ("ticks", "points", "percent", "dollars", "price")
DISTANCE_UNITS = EXIT_UNITS[:-1]


def round_to_tick(price: Decimal, tick_size: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``price`` on the contract's tick grid."""
    ticks = (Decimal(price) / tick_size).quantize(Decimal(1), rounding=rounding)
    return (ticks * tick_size).quantize(tick_size)


@dataclass(frozen=True)
class Distance:
    """An exit distance: ``value`` in ``ticks``, ``points``, ``percent`` of the entry or
    ``dollars`` per contract, or an absolute ``price`` level."""

    value: Decimal
    unit: str = "ticks"

    UNITS = EXIT_UNITS

    def __post_init__(self) -> None:
        if self.unit not in EXIT_UNITS:
            raise ValueError(f"unknown distance unit {self.unit!r}")
        object.__setattr__(self, "value", Decimal(self.value))
        if self.value <= 0:
            raise ValueError("an exit distance must be positive")

    @property
    def is_level(self) -> bool:
        return self.unit == "price"

    def points(self, instrument: Any, reference: Decimal) -> Decimal:
        """The distance in points from ``reference`` (the entry's price). ``instrument`` is
        anything with ``tick_size`` and ``point_value`` (a ``Contract``, an ``Instrument``)."""
        if self.unit == "ticks":
            return self.value * Decimal(instrument.tick_size)
        if self.unit == "points":
            return self.value
        if self.unit == "percent":
            return Decimal(reference) * self.value / 100
        if self.unit == "dollars":
            return self.value / Decimal(instrument.point_value)
        raise ValueError("an absolute price level has no distance")

    def to_json(self) -> dict[str, str]:
        return {"value": str(self.value), "unit": self.unit}

    @classmethod
    def from_json(cls, data: dict | None) -> Distance | None:
        if not data:
            return None
        return cls(value=Decimal(str(data["value"])), unit=data.get("unit", "ticks"))


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

    @property
    def protective(self) -> Distance | None:
        """The distance of the stop that protects the position (trailing when set, since the
        broker keeps one stop: a trailing stop starting at the stop-loss distance when both)."""
        return self.stop_loss or self.trailing_stop

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


def distance_of(value: Any, unit: str | None) -> Distance | None:
    """A ``Distance`` from a stored setting; None for empty, zero or unreadable ones."""
    if value in (None, ""):
        return None
    try:
        return Distance(Decimal(str(value)), unit or "ticks")
    except (ValueError, ArithmeticError):
        return None


def exit_rules_for(strategy: Any, intent: Any = None, trader: Any = None) -> ExitRules:
    """The exits of an entry: the trader's override first, then the alert's own, then the
    strategy's. Trailing and break-even take distances only."""

    def pick(name: str) -> Distance | None:
        unit = getattr(strategy, f"{name}_unit", "ticks")
        override = getattr(trader, f"{name}_override", None) if trader is not None else None
        if override is not None:
            found = distance_of(override, getattr(trader, f"{name}_override_unit", unit))
            if found is not None:
                return found
        spec = getattr(intent, name, None) if intent is not None else None
        if spec is not None:
            found = distance_of(spec.value, spec.unit or unit)
            if found is not None:
                return found
        return distance_of(getattr(strategy, name, None), unit)

    rules = {
        "take_profit": pick("take_profit"),
        "stop_loss": pick("stop_loss"),
        "trailing_stop": pick("trailing_stop"),
        "break_even": distance_of(
            getattr(strategy, "break_even_trigger", None),
            getattr(strategy, "break_even_unit", "ticks"),
        ),
    }
    for name in ("trailing_stop", "break_even"):
        if rules[name] is not None and rules[name].is_level:
            rules[name] = None
    return ExitRules(**rules)


# --- where the stop is: one rule for the recorder's paper ledger and for live stops -------------


def stop_levels(
    *,
    direction: int,
    entry: Decimal,
    rules: ExitRules,
    instrument: Any,
    best: Decimal | None = None,
    armed: bool = False,
) -> dict[str, Decimal | None]:
    """The levels of a position's stops: the fixed ``stop`` (entry − distance), the
    ``break_even`` (the entry, once armed; rounded towards profit so it is never a loss) and
    the ``trailing`` stop (the best price seen − distance). ``direction`` +1 long, −1 short."""
    tick = Decimal(instrument.tick_size)
    sl, tr = rules.stop_loss, rules.trailing_stop
    out: dict[str, Decimal | None] = {"stop": None, "break_even": None, "trailing": None}
    if sl is not None:
        out["stop"] = (
            round_to_tick(sl.value, tick)
            if sl.is_level
            else round_to_tick(entry - direction * sl.points(instrument, entry), tick)
        )
    if armed:
        out["break_even"] = round_to_tick(
            entry, tick, ROUND_CEILING if direction > 0 else ROUND_FLOOR
        )
    if tr is not None and best is not None:
        out["trailing"] = round_to_tick(best - direction * tr.points(instrument, entry), tick)
    return out


def tightest_stop(levels: dict[str, Decimal | None], direction: int) -> tuple[Decimal, str] | None:
    """The stop that is working: the tightest of the levels (on a tie the first named)."""
    found: tuple[Decimal, str] | None = None
    for name in ("stop", "break_even", "trailing"):
        level = levels.get(name)
        if level is None:
            continue
        if found is None or (level - found[0]) * direction > 0:
            found = (level, name)
    return found


def break_even_reached(
    *, direction: int, entry: Decimal, price: Decimal, rules: ExitRules, instrument: Any
) -> bool:
    """The open profit reached the break-even trigger: the stop moves to the entry."""
    if rules.break_even is None:
        return False
    return (price - entry) * direction >= rules.break_even.points(instrument, entry)


def take_profit_level(
    *, direction: int, entry: Decimal, rules: ExitRules, instrument: Any
) -> Decimal | None:
    tp = rules.take_profit
    if tp is None:
        return None
    tick = Decimal(instrument.tick_size)
    if tp.is_level:
        return round_to_tick(tp.value, tick)
    return round_to_tick(entry + direction * tp.points(instrument, entry), tick)
