import pytest

from strategies.parsing import parse_alert
from strategies.positions import PositionRules, plan_position

FIXED_1 = PositionRules(default_quantity=1)
FROM_ALERT = PositionRules(default_quantity=1, sizing_from_signal=True)


@pytest.mark.parametrize(
    ("body", "current", "rules", "target"),
    [
        ("buy", 0, FIXED_1, 1),
        ("buy 3", 0, FIXED_1, 1),  # fixed sizing ignores the alert's quantity
        ("buy 3", 0, FROM_ALERT, 3),
        ("buy 2", 1, FROM_ALERT, 3),  # same side adds
        ("sell 2", 3, FROM_ALERT, -2),  # opposite side reverses into a fresh position
        ("sell 2", 3, PositionRules(sizing_from_signal=True, close_only=True), 0),
        ("exit", -4, FIXED_1, 0),
        ("reverse", 2, FIXED_1, -2),
        ("add 1", -2, FROM_ALERT, -3),
        ("add 1", 0, FROM_ALERT, 0),
        ('{"action":"buy","market_position":"long","position_size":3}', 0, FROM_ALERT, 3),
        (
            '{"action":"buy","market_position":"long","position_size":3}',
            0,
            PositionRules(default_quantity=2),
            2,
        ),
        ('{"action":"sell","market_position":"flat"}', 3, FROM_ALERT, 0),
        ('{"action":"sell","contracts":1,"market_position":"long"}', 3, FROM_ALERT, 2),
        ('{"action":"sell","contracts":5,"market_position":"long"}', 3, FROM_ALERT, 0),
        ("command=CLOSEPOSITION; instrument=MNQ1!; qty=1;", 3, FROM_ALERT, 2),
        ("sell", 0, PositionRules(direction="long"), 0),
        ("sell", 2, PositionRules(direction="long"), 0),  # a sell on a long-only closes
        ("buy 5", 0, PositionRules(sizing_from_signal=True, max_position=2), 2),
        ("buy", 2, PositionRules(ignore_same_side=True), 2),
        ("cancel", 2, FIXED_1, 2),
    ],
)
def test_the_planned_position_follows_the_alert_and_the_strategy_rules(
    body, current, rules, target
):
    assert plan_position(parse_alert(body), current=current, rules=rules).target == target


def test_a_rule_that_changes_the_alert_says_so():
    plan = plan_position(parse_alert("sell"), current=0, rules=PositionRules(direction="long"))
    assert plan.change == 0
    assert plan.note == "long-only strategy: no short position"


def test_entries_are_told_apart_from_exits():
    assert plan_position(parse_alert("buy"), current=0, rules=FIXED_1).is_entry
    assert plan_position(parse_alert("sell"), current=1, rules=FIXED_1).is_entry  # reversal
    assert not plan_position(parse_alert("exit"), current=1, rules=FIXED_1).is_entry
    assert not plan_position(
        parse_alert("sell 1"), current=2, rules=PositionRules(close_only=True)
    ).is_entry
