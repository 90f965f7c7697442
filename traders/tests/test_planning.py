"""Order planning: quantities, the position an alert leads to, legs, bracket prices."""

from decimal import Decimal as D

import pytest

from strategies.parsing import parse_alert
from traders import planning
from traders.planning import Exit, Leg, bracket_prices, plan_orders, scaled_quantity


def target(
    body, current, *, quantity=1, multiplier=1, max_contracts=10, close_only=False, from_alert=False
):
    intent = parse_alert(body)
    qty = scaled_quantity(
        alert_quantity=intent.quantity,
        strategy_quantity=quantity,
        from_alert=from_alert,
        multiplier=multiplier,
        max_contracts=max_contracts,
    )
    return planning.target_position(
        intent=intent,
        current=current,
        quantity=qty,
        multiplier=multiplier,
        max_contracts=max_contracts,
        close_only=close_only,
        from_alert=from_alert,
    )[0]


def test_quantity_is_the_alert_size_times_the_multiplier_when_sizing_from_the_alert():
    assert (
        scaled_quantity(
            alert_quantity=3, strategy_quantity=1, from_alert=True, multiplier=2, max_contracts=10
        )
        == 6
    )


def test_quantity_is_the_strategy_size_when_sizing_is_fixed():
    assert (
        scaled_quantity(
            alert_quantity=3, strategy_quantity=2, from_alert=False, multiplier=3, max_contracts=10
        )
        == 6
    )


def test_quantity_is_capped_by_max_contracts():
    assert (
        scaled_quantity(
            alert_quantity=5, strategy_quantity=1, from_alert=True, multiplier=4, max_contracts=7
        )
        == 7
    )


def test_buy_from_flat_opens_long():
    assert target("buy", 0, quantity=2) == 2


def test_buy_while_long_adds():
    assert target("buy", 2, quantity=1) == 3


def test_sell_while_long_reverses_by_default():
    assert target("sell", 2, quantity=1) == -1


def test_sell_while_long_only_closes_when_the_strategy_says_close_only():
    assert target("sell", 2, quantity=1, close_only=True) == 0


def test_exit_goes_flat():
    assert target('{"action": "exit"}', -3) == 0


def test_reverse_flips_the_position():
    assert target('{"action": "reverse"}', 2) == -2


def test_adds_never_exceed_max_contracts():
    assert target("buy", 4, quantity=3, max_contracts=5) == 5


def test_tradingview_flat_market_position_closes_a_long_without_opening_a_short():
    body = '{"action": "sell", "market_position": "flat", "ticker": "MNQ1!"}'
    assert target(body, 2) == 0
    assert target(body, 0) == 0


def test_tradingview_target_position_is_followed_with_the_multiplier():
    body = (
        '{"action": "buy", "market_position": "long", "market_position_size": 3, "ticker": "MNQ1!"}'
    )
    assert target(body, 1, multiplier=2, from_alert=True) == 6


def test_plan_from_flat_is_one_entry_with_bracket():
    assert plan_orders(current=0, target=2).legs == [Leg("entry", "Buy", 2, with_bracket=True)]


def test_plan_of_a_reversal_flattens_then_opens():
    assert plan_orders(current=2, target=-1).legs == [
        Leg("flatten"),
        Leg("entry", "Sell", 1, with_bracket=True),
    ]


def test_plan_to_flat_is_a_flatten():
    assert plan_orders(current=-2, target=0).legs == [Leg("flatten")]


def test_plan_reducing_is_a_plain_exit_order():
    assert plan_orders(current=3, target=1).legs == [Leg("exit", "Sell", 2)]


def test_plan_at_target_is_empty():
    assert plan_orders(current=1, target=1).legs == []


MNQ = dict(tick_size=D("0.25"), point_value=D("2"))


def test_long_bracket_in_ticks():
    p = bracket_prices(
        side=1, entry=D("18650.25"), take_profit=Exit(D(40)), stop_loss=Exit(D(20)), **MNQ
    )
    assert (p.take_profit, p.stop_loss) == (D("18660.25"), D("18645.25"))


def test_short_bracket_in_points():
    p = bracket_prices(
        side=-1,
        entry=D("18650.25"),
        take_profit=Exit(D(10), "points"),
        stop_loss=Exit(D(5), "points"),
        **MNQ,
    )
    assert (p.take_profit, p.stop_loss) == (D("18640.25"), D("18655.25"))


def test_percent_bracket_rounds_to_the_tick():
    p = bracket_prices(
        side=1, entry=D("18650.25"), take_profit=Exit(D("0.1"), "percent"), stop_loss=None, **MNQ
    )
    # 0.1% of 18650.25 = 18.65025 → 18668.90025 → nearest quarter: 18669.00
    assert p.take_profit == D("18669.00")
    assert p.stop_loss is None


def test_dollar_bracket_is_per_contract():
    p = bracket_prices(
        side=1,
        entry=D("70.00"),
        tick_size=D("0.01"),
        point_value=D("1000"),
        take_profit=Exit(D(250), "dollars"),
        stop_loss=Exit(D(100), "dollars"),
    )
    assert (p.take_profit, p.stop_loss) == (D("70.25"), D("69.90"))


def test_a_bracket_is_never_on_the_wrong_side_of_the_entry():
    p = bracket_prices(
        side=1,
        entry=D("100.00"),
        tick_size=D("0.25"),
        point_value=D("2"),
        take_profit=Exit(D("0.01"), "points"),
        stop_loss=Exit(D("0.01"), "points"),
    )
    assert p.take_profit == D("100.25")
    assert p.stop_loss == D("99.75")


def test_exit_distance_must_be_positive():
    with pytest.raises(ValueError):
        Exit(D(0))
