"""The decision, pure: every setting walked by hypothesis against the invariants of a position
(DESIGN §4), plus the cases a trader reads about in the README."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.parsing import Intent, parse_alert
from traders.decision import (
    CANCEL,
    ENTRY,
    EXIT,
    LIQUIDATE,
    Decision,
    Rules,
    plan_legs,
    sign,
    strategy_decision,
    trader_goal,
)

rules_st = st.builds(
    Rules,
    default_quantity=st.integers(1, 5),
    sizing_from_signal=st.booleans(),
    close_only=st.booleans(),
    direction=st.sampled_from(["both", "long", "short"]),
    max_position=st.one_of(st.none(), st.integers(1, 6)),
    ignore_same_side=st.booleans(),
)
intent_st = st.one_of(
    st.builds(
        Intent,
        action=st.sampled_from(["buy", "sell"]),
        kind=st.just("delta"),
        side=st.just(0),
        quantity=st.one_of(st.none(), st.integers(1, 5)),
        reduce_only=st.booleans(),
    ).map(lambda i: Intent(**{**i.__dict__, "side": 1 if i.action == "buy" else -1})),
    st.builds(Intent, action=st.sampled_from(["exit", "reverse", "cancel", "add"]), kind=st.just("delta")),
    st.builds(
        Intent,
        action=st.sampled_from(["buy", "sell"]),
        kind=st.just("target"),
        target=st.integers(-4, 4),
    ),
)  # fmt: skip
position_st = st.integers(-6, 6)


@settings(max_examples=600, deadline=None)
@given(intent=intent_st, current=position_st, rules=rules_st)
def test_the_strategy_never_holds_a_side_or_a_size_its_rules_forbid(intent, current, rules):
    d = strategy_decision(intent, current=current, rules=rules)
    assert d.current == current
    if d.opens:
        if rules.direction == "long":
            assert d.target >= 0
        if rules.direction == "short":
            assert d.target <= 0
        if rules.max_position:
            assert abs(d.target) <= max(rules.max_position, abs(current))
    if d.kind == ENTRY and d.change:
        assert sign(d.change) == d.side  # a buy only buys, a sell only sells
    if intent.action == "exit":
        assert abs(d.target) <= abs(current) and d.target * current >= 0
    if d.kind == CANCEL:
        assert d.target == current


@settings(max_examples=600, deadline=None)
@given(
    intent=intent_st,
    current=position_st,
    rules=rules_st,
    held=st.integers(-12, 12),
    multiplier=st.integers(1, 3),
    max_contracts=st.integers(1, 10),
)
def test_a_trader_only_scales_the_decision(intent, current, rules, held, multiplier, max_contracts):
    d = strategy_decision(intent, current=current, rules=rules)
    goal = trader_goal(d, held=held, multiplier=multiplier, max_contracts=max_contracts)
    if d.kind == ENTRY:
        assert (goal - held) * d.side >= 0  # never the other side, never a reduction
        if goal != held:
            assert sign(goal) == sign(d.target) and abs(goal) <= max_contracts
    elif d.kind == EXIT:
        assert abs(goal) <= abs(held) and goal * held >= 0  # towards flat only
    elif d.kind == CANCEL:
        assert goal == held
    else:
        assert sign(goal) == sign(d.target) and abs(goal) <= max_contracts
        assert abs(goal) <= abs(d.target) * multiplier


months_st = st.dictionaries(st.sampled_from(["MNQZ6", "MNQH7", "MNQM7"]), st.integers(-5, 5))


@settings(max_examples=600, deadline=None)
@given(
    kind=st.sampled_from([ENTRY, EXIT, "target"]),
    side=st.sampled_from([1, -1]),
    goal=st.integers(-6, 6),
    holdings=months_st,
    working=st.sets(st.sampled_from(["MNQZ6", "MNQH7"])),
)
def test_the_legs_get_every_month_to_the_goal(kind, side, goal, holdings, working):
    front = "MNQH7"
    held = sum(holdings.values())
    d = Decision(kind, 0, goal, side)
    plan = plan_legs(decision=d, goal=goal, front=front, holdings=holdings, working=working)
    after = dict(holdings)
    for leg in plan.legs:
        if leg.kind == LIQUIDATE:
            after[leg.contract] = 0
        else:
            after[leg.contract] = after.get(leg.contract, 0) + leg.signed
    assert sum(after.values()) == goal
    if goal == 0:
        assert not any(after.values())
        cancelled = {leg.contract for leg in plan.legs if leg.kind == LIQUIDATE}
        assert {c for c, q in holdings.items() if q} <= cancelled
    elif plan.legs and not (
        kind == EXIT
        and sign(goal) == sign(held)
        and abs(goal) < abs(held)
        and all(sign(q) == sign(held) for q in holdings.values() if q)
    ):
        # An entry or a target ends in the front month alone: no calendar spread.
        assert {c for c, q in after.items() if q} == {front}


def test_a_buy_above_a_lowered_max_contracts_adds_nothing():
    d = strategy_decision(parse_alert("buy 1"), current=8, rules=Rules())
    assert trader_goal(d, held=8, multiplier=1, max_contracts=5) == 8


def test_a_close_only_sell_while_long_closes():
    d = strategy_decision(parse_alert("sell"), current=1, rules=Rules(close_only=True))
    assert (d.kind, d.target) == (EXIT, 0)
    assert d.flattens  # its working orders go too


def test_an_exit_on_a_position_in_an_old_month_closes_it_and_its_working_orders():
    d = strategy_decision(parse_alert("exit"), current=1, rules=Rules())
    plan = plan_legs(
        decision=d, goal=0, front="MNQH7", holdings={"MNQZ6": 1}, working={"MNQZ6", "MNQH7"}
    )
    assert sorted(leg.contract for leg in plan.legs) == ["MNQH7", "MNQZ6"]
    assert all(leg.kind == LIQUIDATE for leg in plan.legs)


def test_an_entry_while_an_expiring_month_is_held_rolls_it():
    d = strategy_decision(parse_alert("buy 1"), current=1, rules=Rules())
    plan = plan_legs(decision=d, goal=2, front="MNQH7", holdings={"MNQZ6": 1})
    assert plan.rolled == ("MNQZ6",)
    assert [(leg.kind, leg.contract, leg.action, leg.qty) for leg in plan.legs] == [
        (LIQUIDATE, "MNQZ6", "", 0),
        ("order", "MNQH7", "Buy", 2),
    ]
