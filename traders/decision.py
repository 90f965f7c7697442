"""The decision, pure: from a strategy's rules, an alert's intent and positions to targets.

Two steps, nothing else (no database, no broker), so hypothesis can walk every setting:

1. ``strategy_decision(intent, current=, rules=)``: the strategy's rules (direction, max
   position, same-side adds, reverse or close only, target alerts) decide the strategy's
   target **once** per signal.
2. ``trader_goal(decision, held=, multiplier=, max_contracts=)``: a trader's share of that
   decision: the target scaled by its multiplier and capped by its max contracts (same sign),
   and an entry never reduces (long 8 after max contracts was lowered to 5: a ``buy`` adds
   nothing).

``plan_legs`` then turns a goal and what the account holds in each contract month of the
product into the orders that get there: an exit closes every month; an entry while an
expiring month is held closes it and opens the front month (the roll).

Kinds of decision:

* ``entry`` — a buy or sell that opens, adds or reverses: it may move the position only in its
  own direction (a buy signal sends only Buy orders, a sell signal only Sell orders);
* ``exit`` — an exit alert, a close-only opposite signal, anything that ends flat or reduces:
  either side, and "flat means flat" (working orders of the product are cancelled) at 0;
* ``target`` — a TradingView strategy position (``market_position`` / ``position_size``) or a
  reverse: converge to it, either side;
* ``cancel`` — cancel working orders, keep the position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENTRY, EXIT, TARGET, CANCEL = "entry", "exit", "target", "cancel"


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@dataclass(frozen=True)
class Rules:
    """The strategy settings that shape its position (see ``strategies.models.Strategy``)."""

    default_quantity: int = 1
    sizing_from_signal: bool = False
    close_only: bool = False  # an opposite signal closes, it never reverses
    direction: str = "both"  # "both" | "long" | "short"
    max_position: int | None = None
    ignore_same_side: bool = False

    @classmethod
    def of(cls, strategy) -> Rules:
        return cls(
            default_quantity=strategy.quantity,
            sizing_from_signal=strategy.sizing == "signal",
            close_only=strategy.opposite_signal == "close_only",
            direction=strategy.direction,
            max_position=strategy.max_position,
            ignore_same_side=strategy.ignore_same_side,
        )


@dataclass(frozen=True)
class Decision:
    """What one signal means for the strategy: its position before and after, and why."""

    kind: str  # entry | exit | target | cancel
    current: int
    target: int
    side: int = 0  # an entry's direction: +1 buy, -1 sell
    note: str = ""  # why the target differs from what the alert literally asked, if it does

    @property
    def change(self) -> int:
        return self.target - self.current

    @property
    def opens(self) -> bool:
        """Opens, adds to or reverses a position (what sessions, cooldown and delays gate)."""
        if self.target == 0 or self.change == 0:
            return False
        return abs(self.target) > abs(self.current) or sign(self.target) != sign(self.current)

    @property
    def flattens(self) -> bool:
        """Ends flat: every working order of the product is cancelled too."""
        return self.kind in (EXIT, TARGET) and self.target == 0

    @property
    def filtered(self) -> bool:
        """A rule left nothing to do (the signal is shown as filtered, with the note)."""
        return self.kind == ENTRY and self.change == 0

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "current": self.current,
            "target": self.target,
            "side": self.side,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Decision:
        return cls(
            kind=data["kind"],
            current=int(data["current"]),
            target=int(data["target"]),
            side=int(data.get("side") or 0),
            note=data.get("note") or "",
        )


def _size(intent, rules: Rules) -> int:
    if rules.sizing_from_signal and intent.quantity:
        return abs(int(intent.quantity))
    return abs(int(rules.default_quantity or 0))


def entry_size(intent, rules: Rules) -> tuple[int, str] | None:
    """The contracts the strategy's sizing gives an entry alert, and the rule that gave them
    (``"signal"``: the alert's own size, ``"fixed"``: the strategy's); None for an exit, a
    reverse, a cancel or a reduce-only alert, which take no size of their own."""
    if intent.action in ("exit", "reverse", "cancel") or intent.reduce_only:
        return None
    if intent.kind == "target":
        wanted = abs(int(intent.target or 0))
        if not wanted:
            return None
        if rules.sizing_from_signal:
            return wanted, "signal"
        return abs(int(rules.default_quantity or 0)), "fixed"
    if rules.sizing_from_signal and intent.quantity:
        return abs(int(intent.quantity)), "signal"
    return abs(int(rules.default_quantity or 0)), "fixed"


def _limit(target: int, current: int, rules: Rules, notes: list[str]) -> int:
    """Direction and max position: what the strategy may hold at all."""
    if rules.direction == "long" and target < 0:
        notes.append("long-only strategy: no short position")
        target = 0
    elif rules.direction == "short" and target > 0:
        notes.append("short-only strategy: no long position")
        target = 0
    cap = rules.max_position
    if cap and abs(target) > cap and abs(target) > abs(current):
        same_side = sign(current) == sign(target)
        target = sign(target) * max(cap, abs(current) if same_side else 0)
        notes.append(f"max position {cap}")
    return target


def strategy_decision(intent, *, current: int, rules: Rules) -> Decision:
    """The strategy's target after ``intent`` (a ``strategies.parsing.Intent``), decided once."""
    notes: list[str] = []
    if intent.action == "cancel":
        return Decision(CANCEL, current, current, note="cancel working orders")
    if intent.action == "reverse":
        if rules.close_only and current:
            return Decision(EXIT, current, 0, note="close-only strategy: reverse closes")
        target = _limit(-current, current, rules, notes)
        return Decision(TARGET, current, target, note="; ".join(notes))
    if intent.action == "exit":
        if intent.reduce_only and intent.quantity and current:
            cut = min(abs(current), abs(int(intent.quantity)))
            return Decision(EXIT, current, current - sign(current) * cut, note="partial exit")
        return Decision(EXIT, current, 0)
    if intent.kind == "target":
        wanted = int(intent.target or 0)
        if wanted and not rules.sizing_from_signal:
            wanted = sign(wanted) * abs(int(rules.default_quantity or 0))
        if rules.close_only and current and sign(wanted) == -sign(current):
            notes.append("close-only strategy: the opposite signal only closes")
            wanted = 0
        target = _limit(wanted, current, rules, notes)
        kind = EXIT if target == 0 else TARGET
        return Decision(kind, current, target, note="; ".join(notes))

    side = sign(current) if intent.action == "add" else sign(int(intent.side or 0))
    if side == 0:
        why = "add with no open position" if intent.action == "add" else "no direction"
        return Decision(ENTRY, current, current, note=f"{why}: nothing to do")
    size = _size(intent, rules)
    if intent.reduce_only:
        if sign(current) != -side:
            return Decision(EXIT, current, current, note="reduce only: nothing to reduce")
        target = current + side * min(size, abs(current))
        return Decision(EXIT, current, target, note="reduce only")
    if current and sign(current) == side and rules.ignore_same_side:
        return Decision(ENTRY, current, current, side, "ignore same-side adds: already in position")
    if current == 0 or sign(current) == side:
        target = current + side * size
    elif rules.close_only:
        return Decision(EXIT, current, 0, side, "close-only strategy: the opposite signal closes")
    else:
        target = side * size  # an opposite buy/sell reverses into a position of its size
    target = _limit(target, current, rules, notes)
    if target == 0 and current:
        return Decision(EXIT, current, 0, side, "; ".join(notes))
    if target == current and not notes:
        notes.append("no quantity")
    return Decision(ENTRY, current, target, side, "; ".join(notes))


def trader_share(strategy_target: int, *, multiplier: int, max_contracts: int) -> int:
    """A trader's position for a strategy position: × multiplier, capped, same sign."""
    return sign(strategy_target) * min(
        abs(strategy_target) * max(1, multiplier), max(0, max_contracts)
    )


def trader_goal(decision: Decision, *, held: int, multiplier: int, max_contracts: int) -> int:
    """The position this trader should hold after ``decision``, given what it holds now.

    An entry moves the position only in its own direction: when the scaled target is not
    beyond what is held on that side (max contracts lowered, a manual trade), it adds nothing
    and never sends the other side. An exit only reduces towards flat."""
    if decision.kind == CANCEL:
        return held
    goal = trader_share(decision.target, multiplier=multiplier, max_contracts=max_contracts)
    if decision.kind == ENTRY and (goal - held) * decision.side <= 0:
        return held
    if decision.kind == EXIT:
        # An exit only ever brings the position towards flat: it never opens or adds.
        if sign(goal) != sign(held):
            return 0
        return sign(held) * min(abs(goal), abs(held))
    return goal


# --- legs ----------------------------------------------------------------------------------------

LIQUIDATE, ORDER, CANCEL_WORKING = "liquidate", "order", "cancel"


@dataclass(frozen=True)
class Leg:
    """One broker request of a plan.

    ``liquidate``: cancel the contract's working orders and close its position (one request);
    ``order``: a market/limit/stop order of ``qty`` (``opens`` when it opens or adds, with the
    entry's exits; else a reducing exit); ``cancel``: cancel the working orders, keep the
    position."""

    kind: str
    contract: str
    action: str = ""  # Buy | Sell (order legs)
    qty: int = 0
    opens: bool = False

    @property
    def signed(self) -> int:
        return self.qty if self.action == "Buy" else -self.qty


@dataclass(frozen=True)
class Plan:
    held: int  # every month of the product, in-flight orders included
    goal: int
    legs: list[Leg] = field(default_factory=list)
    rolled: tuple[str, ...] = ()  # expiring months closed to open the front month

    @property
    def empty(self) -> bool:
        return not self.legs


def _order(contract: str, delta: int, *, opens: bool) -> Leg:
    return Leg(ORDER, contract, "Buy" if delta > 0 else "Sell", abs(delta), opens)


def plan_legs(
    *,
    decision: Decision,
    goal: int,
    front: str,
    holdings: dict[str, int],
    working: set[str] | frozenset[str] = frozenset(),
) -> Plan:
    """The requests that take the account from ``holdings`` (contract → net, in-flight
    included) to ``goal`` in the ``front`` contract.

    ``working``: contracts with working orders of this product (cancelled by a flatten even
    when no position is held there)."""
    held = sum(holdings.values())
    if decision.kind == CANCEL:
        legs = [Leg(CANCEL_WORKING, c) for c in sorted(working)]
        return Plan(held, held, legs)
    months = {c: q for c, q in holdings.items() if q}
    if goal == 0:
        contracts = sorted(set(months) | (set(working) if decision.flattens else set()))
        return Plan(held, 0, [Leg(LIQUIDATE, c) for c in contracts])
    if goal == held and set(months) <= {front}:
        return Plan(held, goal)
    one_sided = all(sign(q) == sign(held) for q in months.values())
    if decision.kind == EXIT and one_sided and sign(goal) == sign(held) and abs(goal) < abs(held):
        return Plan(held, goal, _reduce(months, front, held - goal))
    # Entries and targets: old months are closed (the roll), the front month goes to the goal.
    old = sorted(c for c in months if c != front)
    legs = [Leg(LIQUIDATE, c) for c in old]
    have = months.get(front, 0)
    if have == 0 or (sign(have) == sign(goal) and abs(goal) > abs(have)):
        legs.append(_order(front, goal - have, opens=True))
    elif sign(have) == sign(goal):
        legs.extend(_reduce({front: have}, front, have - goal))
    else:
        legs.append(Leg(LIQUIDATE, front))
        legs.append(_order(front, goal, opens=True))
    return Plan(held, goal, legs, rolled=tuple(old))


def _reduce(months: dict[str, int], front: str, amount: int) -> list[Leg]:
    """Reduce by ``amount`` (signed, same sign as every month held), expiring months first."""
    legs: list[Leg] = []
    left = abs(amount)
    for contract in sorted(months, key=lambda c: (c == front, c)):
        if left == 0:
            break
        have = months[contract]
        cut = min(abs(have), left)
        left -= cut
        if cut == abs(have):
            legs.append(Leg(LIQUIDATE, contract))
        else:
            legs.append(_order(contract, -sign(have) * cut, opens=False))
    return legs
