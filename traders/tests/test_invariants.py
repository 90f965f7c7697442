"""The invariants of a position (DESIGN §4), checked on the simulator's own positions and
working orders after real webhook alerts, decisions and orders over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from strategies.models import Signal, Strategy
from strategies.processing import signal_process, strategies_auto_flatten
from traders.models import Execution, Order, Trader
from traders.services import KEEP, trader_create, trader_toggle
from traders.tests.conftest import alert, front, held, run_pending, sim_connection, working

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hook(alice_client):
    return alice_client


def make(alice, sim, **strategy_fields):
    account = sim_connection(sim, alice).accounts.get()
    strategy_fields.setdefault("quantity", 1)
    strategy_fields.setdefault("sizing", "fixed")
    strategy = Strategy.objects.create(
        user=alice, name=f"S{Strategy.objects.count()}", **strategy_fields
    )
    trader = Trader.objects.create(
        user=alice, strategy=strategy, broker_account=account, enabled=True
    )
    return strategy, trader, account


def numbered(body: str, n: int) -> str:
    """The same instruction as a distinct alert (an identical body is a duplicate)."""
    action, _, qty = body.partition(" ")
    return (
        f'{{"action": "{action}", "quantity": {qty or 1}, "id": "{action}-{n}"}}'
        if qty
        else (f'{{"action": "{action}", "id": "{action}-{n}"}}')
    )


def sides_of(sim, account) -> list[str]:
    return [f["action"] for f in sim.fills(account.external_id)]


# --- 1. one decision ------------------------------------------------------------------------------


def test_a_long_only_strategy_never_goes_short(sim, alice, hook):
    strategy, _, account = make(alice, sim, direction="long")
    alert(hook, strategy, "buy 1")
    alert(hook, strategy, "sell 2")
    assert held(sim, account) == {}
    assert sides_of(sim, account) == ["Buy", "Sell"]
    assert [f["qty"] for f in sim.fills(account.external_id)] == [1, 1]


def test_a_short_only_strategy_never_goes_long(sim, alice, hook):
    strategy, _, account = make(alice, sim, direction="short")
    alert(hook, strategy, "sell 1")
    alert(hook, strategy, "buy 3")
    assert held(sim, account) == {}
    assert [(f["action"], f["qty"]) for f in sim.fills(account.external_id)] == [
        ("Sell", 1),
        ("Buy", 1),
    ]


def test_the_strategy_max_position_times_the_multiplier_caps_the_account(sim, alice, hook):
    strategy, trader, account = make(alice, sim, max_position=2)
    Trader.objects.filter(pk=trader.pk).update(multiplier=3)
    for n in range(4):
        alert(hook, strategy, numbered("buy 1", n))
    assert held(sim, account) == {front(): 6}
    assert set(sides_of(sim, account)) == {"Buy"}


def test_the_trader_max_contracts_caps_and_a_buy_above_a_lowered_cap_sends_nothing(
    sim, alice, hook
):
    strategy, trader, account = make(alice, sim, quantity=4)
    alert(hook, strategy, "buy")
    assert held(sim, account) == {front(): 4}
    Trader.objects.filter(pk=trader.pk).update(max_contracts=2)
    fills_before = len(sim.fills(account.external_id))
    alert(hook, strategy, "buy 1")
    assert held(sim, account) == {front(): 4}
    assert len(sim.fills(account.external_id)) == fills_before  # no Sell, nothing at all


def test_same_side_adds_are_ignored_when_the_strategy_says_so(sim, alice, hook):
    strategy, _, account = make(alice, sim, ignore_same_side=True)
    alert(hook, strategy, numbered("buy 1", 1))
    second = alert(hook, strategy, numbered("buy 1", 2))
    assert held(sim, account) == {front(): 1}
    assert Signal.objects.get(pk=second["signal_id"]).status == Signal.Status.FILTERED


def test_an_opposite_signal_reverses_or_only_closes(sim, alice, hook):
    reverse, _, acc_r = make(alice, sim)
    close, _, acc_c = make(alice, sim, opposite_signal="close_only")
    for strategy in (reverse, close):
        alert(hook, strategy, "buy 2")
        alert(hook, strategy, "sell 1")
    assert held(sim, acc_r) == {front(): -1}
    assert held(sim, acc_c) == {}
    assert set(sides_of(sim, acc_c)) == {"Buy", "Sell"}
    assert sides_of(sim, acc_r)[-1] == "Sell"


def test_a_target_alert_converges_on_the_tradingview_position(sim, alice, hook):
    strategy, trader, account = make(alice, sim, sizing="signal")
    Trader.objects.filter(pk=trader.pk).update(multiplier=2)
    alert(hook, strategy, '{"action": "buy", "market_position": "long", "position_size": 3}')
    assert held(sim, account) == {front(): 6}
    alert(hook, strategy, '{"action": "sell", "market_position": "long", "position_size": 1}')
    assert held(sim, account) == {front(): 2}
    alert(hook, strategy, '{"action": "sell", "sentiment": "flat"}')
    assert held(sim, account) == {}


def test_a_target_alert_obeys_the_direction_the_max_position_and_the_max_contracts(
    sim, alice, hook
):
    capped, trader, capped_account = make(alice, sim, sizing="signal")
    Trader.objects.filter(pk=trader.pk).update(multiplier=2, max_contracts=3)
    alert(hook, capped, '{"action": "sell", "market_position": "short", "position_size": 2}')
    assert held(sim, capped_account) == {front(): -3}  # -2 × 2, capped at 3, same sign
    long_only, _, long_account = make(alice, sim, sizing="signal", direction="long")
    alert(hook, long_only, '{"action": "buy", "market_position": "long", "position_size": 2}')
    alert(hook, long_only, '{"action": "sell", "market_position": "short", "position_size": 2}')
    assert held(sim, long_account) == {}
    at_most_two, _, small_account = make(alice, sim, sizing="signal", max_position=2)
    alert(hook, at_most_two, '{"action": "buy", "market_position": "long", "position_size": 5}')
    assert held(sim, small_account) == {front(): 2}


def test_add_follows_the_open_position_and_from_flat_opens_nothing(sim, alice, hook):
    strategy, _, account = make(alice, sim, sizing="signal")
    alert(hook, strategy, '{"action": "add", "quantity": 1, "id": "add-flat"}')
    assert held(sim, account) == {} and sim.fills(account.external_id) == []
    alert(hook, strategy, "sell 1")
    alert(hook, strategy, '{"action": "add", "quantity": 2, "id": "add-short"}')
    assert held(sim, account) == {front(): -3}
    assert set(sides_of(sim, account)) == {"Sell"}


def test_reverse_flips_the_position_and_a_long_only_strategy_only_closes(sim, alice, hook):
    both, _, account = make(alice, sim, sizing="signal")
    alert(hook, both, '{"action": "reverse", "id": "reverse-flat"}')
    assert held(sim, account) == {}
    alert(hook, both, "buy 2")
    alert(hook, both, '{"action": "reverse", "id": "reverse-1"}')
    assert held(sim, account) == {front(): -2}
    alert(hook, both, '{"command": "REVERSE", "id": "reverse-2"}')
    assert held(sim, account) == {front(): 2}
    long_only, _, long_account = make(alice, sim, sizing="signal", direction="long")
    alert(hook, long_only, "buy 2")
    alert(hook, long_only, '{"action": "reverse", "id": "reverse-long-only"}')
    assert held(sim, long_account) == {}


def test_a_flat_sentiment_closes_and_never_opens(sim, alice, hook):
    strategy, _, account = make(alice, sim)
    alert(hook, strategy, '{"action": "sell", "sentiment": "flat"}')
    assert held(sim, account) == {} and sim.fills(account.external_id) == []
    alert(hook, strategy, "sell 1")
    alert(hook, strategy, '{"action": "buy", "sentiment": "flat"}')
    assert held(sim, account) == {}
    assert sides_of(sim, account) == ["Sell", "Buy"]


# --- 6. around the fill ---------------------------------------------------------------------------


def test_a_short_entry_has_its_target_below_and_its_stop_above_the_fill(sim, alice, hook):
    strategy, _, account = make(alice, sim, take_profit=40, stop_loss=10, stop_loss_unit="points")
    alert(hook, strategy, '{"action": "sell", "price": 21000}')
    fill = sim.fills(account.external_id)[-1]["price"]
    exits = {o["type"]: o for o in working(sim, account)}
    assert {o["action"] for o in exits.values()} == {"Buy"}
    assert exits["Limit"]["price"] == fill - 10  # 40 ticks of 0.25
    assert exits["Stop"]["stop_price"] == fill + 10


# --- 3. flat means flat ---------------------------------------------------------------------------


def test_an_exit_cancels_a_working_limit_entry_and_leaves_nothing(sim, alice, hook):
    strategy, _, account = make(alice, sim)
    alert(
        hook,
        strategy,
        '{"action": "buy", "quantity": 1, "order_type": "limit", "limit_price": 20900}',
    )
    assert [o["type"] for o in working(sim, account)] == ["Limit"]
    alert(hook, strategy, "exit")
    assert held(sim, account) == {}
    assert working(sim, account) == []


def test_an_exit_cancels_the_brackets_and_closes(sim, alice, hook):
    strategy, _, account = make(alice, sim, take_profit=40, stop_loss=20, quantity=2)
    alert(hook, strategy, "buy")
    assert held(sim, account) == {front(): 2}
    assert sorted(o["type"] for o in working(sim, account)) == ["Limit", "Stop"]
    alert(hook, strategy, "close")
    assert held(sim, account) == {}
    assert working(sim, account) == []


def test_auto_flatten_closes_every_trader_holding_the_product(sim, alice, hook):
    strategy, trader, account = make(alice, sim, take_profit=40, stop_loss=20)
    alert(hook, strategy, "buy 1")
    trader_toggle(trader=trader, enabled=False, if_holding=KEEP)  # still closed at the bell
    local = timezone.now().astimezone(timezone.get_default_timezone())
    Strategy.objects.filter(pk=strategy.pk).update(
        auto_flatten_time=local.time().replace(microsecond=0), session_timezone=str(local.tzinfo)
    )
    assert strategies_auto_flatten() == 1
    signal = Signal.objects.filter(strategy=strategy, origin="auto_flatten").get()
    signal_process(signal_id=signal.pk)
    run_pending()
    assert held(sim, account) == {}
    assert working(sim, account) == []


# --- 5. one owner -----------------------------------------------------------------------------------


def test_a_second_enabled_trader_on_an_owned_account_and_product_is_refused(
    sim, alice, api_client_for
):
    first, trader, account = make(alice, sim)
    other = Strategy.objects.create(
        user=alice, name="Other", default_symbol="MNQ1!", sizing="fixed"
    )
    resp = api_client_for(alice).post(
        "/api/traders/",
        {"strategy_id": other.pk, "broker_account_id": account.pk, "enabled": True},
        format="json",
    )
    assert resp.status_code == 409
    assert first.name in resp.json()["message"] and account.name in resp.json()["message"]
    es = Strategy.objects.create(user=alice, name="ES", default_symbol="ES1!", sizing="fixed")
    es_trader = trader_create(user=alice, strategy=es, broker_account=account, enabled=True)
    assert es_trader.enabled  # another product on the same account is fine
    off = trader_create(user=alice, strategy=other, broker_account=account, enabled=False)
    resp = api_client_for(alice).post(
        f"/api/traders/{off.pk}/toggle/", {"enabled": True}, format="json"
    )
    assert resp.status_code == 409


# --- 7. product guard -------------------------------------------------------------------------------


def test_an_alert_for_another_product_is_rejected_unless_the_strategy_opts_in(sim, alice, hook):
    strategy, _, account = make(alice, sim)
    answer = alert(hook, strategy, "buy 1 NQ1!")
    assert answer["status"] == "rejected"  # said in the webhook's own answer (a 422)
    assert "NQ1! (NQ)" in answer["message"] and "MNQ1! (MNQ)" in answer["message"]
    signal = Signal.objects.get(pk=answer["signal_id"])
    assert signal.status == Signal.Status.REJECTED
    assert "NQ" in signal.reason and "MNQ" in signal.reason
    assert held(sim, account) == {}
    Strategy.objects.filter(pk=strategy.pk).update(trade_alert_ticker=True)
    alert(hook, strategy, '{"action": "buy", "quantity": 1, "ticker": "NQ1!", "id": "again"}')
    assert held(sim, account) == {front("NQ1!"): 1}


# --- max signal age --------------------------------------------------------------------------------


def test_a_stale_entry_is_dropped_and_an_old_exit_still_runs(sim, alice, hook):
    strategy, _, account = make(alice, sim, max_signal_age_seconds=30)
    alert(hook, strategy, "buy 1")
    late = alert(hook, strategy, '{"action": "buy", "quantity": 1, "id": "late"}', run=False)
    Signal.objects.filter(pk=late["signal_id"]).update(
        received_at=timezone.now() - timedelta(seconds=45)
    )
    signal_process(signal_id=late["signal_id"])
    run_pending()
    assert held(sim, account) == {front(): 1}
    assert "max age" in Signal.objects.get(pk=late["signal_id"]).reason
    old_exit = alert(hook, strategy, "exit", run=False)
    Signal.objects.filter(pk=old_exit["signal_id"]).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    signal_process(signal_id=old_exit["signal_id"])
    run_pending()
    assert held(sim, account) == {}


# --- dedupe window ---------------------------------------------------------------------------------


def test_a_repeat_is_a_duplicate_within_the_window_and_a_new_signal_after_it(sim, alice, hook):
    from strategies.models import AlertFingerprint

    strategy, _, account = make(alice, sim)
    first = alert(hook, strategy, "buy 1", run=False)
    assert alert(hook, strategy, "buy 1", run=False)["status"] == "duplicate"
    AlertFingerprint.objects.filter(strategy=strategy).update(
        first_at=timezone.now() - timedelta(seconds=25)
    )
    again = alert(hook, strategy, "buy 1", run=False)
    assert again["status"] == "accepted" and again["signal_id"] != first["signal_id"]
    with_id = '{"action": "buy", "quantity": 1, "id": "Long"}'
    assert alert(hook, strategy, with_id, run=False)["status"] == "accepted"
    assert alert(hook, strategy, with_id, run=False)["status"] == "duplicate"
    AlertFingerprint.objects.filter(strategy=strategy).update(
        first_at=timezone.now() - timedelta(seconds=25)
    )
    assert alert(hook, strategy, with_id, run=False)["status"] == "accepted"


# --- the record and the account agree -----------------------------------------------------------


def test_every_order_is_on_its_signals_side_and_the_account_follows_the_strategy(sim, alice, hook):
    strategy, trader, account = make(alice, sim)
    Trader.objects.filter(pk=trader.pk).update(multiplier=2)
    for n, body in enumerate(("buy 1", "buy 1", "sell 1", "exit", "sell 2", "buy 1", "reverse")):
        alert(hook, strategy, numbered(body, n))
    from strategies.models import StrategyPosition

    strategy_position = StrategyPosition.objects.get(strategy=strategy).net_pos
    assert sum(held(sim, account).values()) == strategy_position * 2
    for order in Order.objects.filter(execution__signal__isnull=False, parent__isnull=True):
        action = order.execution.signal.action
        if action in ("buy", "sell") and order.role == Order.Role.ENTRY:
            assert order.action == action.capitalize(), order
    assert not Execution.objects.exclude(status__in=Execution.FINAL).exists()
