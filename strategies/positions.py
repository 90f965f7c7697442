"""From an alert's intent and a current position to the position to hold (DESIGN §4).

One pure function, used by the signal filters (against the strategy's paper position), by the
recorder and by each trader (against its own account's position), so that every consumer of a
signal agrees on what it means.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.parsing import Intent


@dataclass(frozen=True)
class PositionRules:
    """The strategy settings that shape a position (see `Strategy`)."""

    default_quantity: int = 1
    sizing_from_signal: bool = False
    close_only: bool = False  # an opposite signal closes, it never reverses
    direction: str = "both"  # "both" | "long" | "short"
    max_position: int | None = None
    ignore_same_side: bool = False

    @classmethod
    def of(cls, strategy) -> PositionRules:
        return cls(
            default_quantity=strategy.quantity,
            sizing_from_signal=strategy.sizing == "signal",
            close_only=strategy.opposite_signal == "close_only",
            direction=strategy.direction,
            max_position=strategy.max_position,
            ignore_same_side=strategy.ignore_same_side,
        )


@dataclass(frozen=True)
class Plan:
    target: int  # the position to hold after this signal (signed contracts)
    change: int  # target - current: what to buy (+) or sell (-)
    note: str = ""  # why the target differs from what the alert literally asked, if it does

    @property
    def current(self) -> int:
        return self.target - self.change

    @property
    def is_entry(self) -> bool:
        """Opens, adds to or reverses a position (what session/cooldown/delay filters gate)."""
        if self.target == 0 or self.change == 0:
            return False
        return abs(self.target) > abs(self.current) or _sign(self.target) != _sign(self.current)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def plan_position(intent: Intent, *, current: int, rules: PositionRules) -> Plan:
    """The position to hold after `intent`, given the position `current`."""
    notes: list[str] = []
    size = (
        intent.quantity if rules.sizing_from_signal and intent.quantity else rules.default_quantity
    )

    if intent.action == "cancel":
        target = current
    elif intent.action == "reverse":
        target = -current
        if rules.close_only and current:
            target = 0
            notes.append("close-only strategy: reverse closes the position")
    elif intent.kind == "target":
        target = intent.target if intent.target is not None else 0
        if intent.action == "exit" and intent.reduce_only and intent.quantity:
            target = current - _sign(current) * min(abs(current), intent.quantity)
        elif target and not rules.sizing_from_signal:
            target = _sign(target) * rules.default_quantity
        if rules.close_only and current and _sign(target) == -_sign(current):
            target = 0
            notes.append("close-only strategy: the opposite signal only closes")
    else:
        side = intent.side if intent.action != "add" else _sign(current)
        if side == 0:
            return Plan(current, 0, "add with no open position: nothing to add to")
        if rules.ignore_same_side and current and _sign(current) == side:
            return Plan(current, 0, "ignore same-side adds: already in position")
        if intent.reduce_only:
            if _sign(current) != -side:
                return Plan(current, 0, "reduce-only signal with no position to reduce")
            target = current + side * min(size, abs(current))
        elif current == 0 or _sign(current) == side:
            target = current + side * size
        elif rules.close_only:
            target = 0
            notes.append("close-only strategy: the opposite signal only closes")
        else:
            # An opposite buy/sell reverses into a fresh position of the signal's size.
            target = side * size

    if rules.direction == "long" and target < 0:
        target = 0
        notes.append("long-only strategy: no short position")
    elif rules.direction == "short" and target > 0:
        target = 0
        notes.append("short-only strategy: no long position")
    if rules.max_position and abs(target) > rules.max_position and abs(target) > abs(current):
        same_side = _sign(current) == _sign(target)
        target = _sign(target) * max(rules.max_position, abs(current) if same_side else 0)
        notes.append(f"max position {rules.max_position}")
    return Plan(target, target - current, "; ".join(notes))
