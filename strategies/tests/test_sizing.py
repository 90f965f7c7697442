"""Sizing you can see: a new strategy trades the alert's size (its fixed quantity when the alert
has none), an existing one keeps its setting, and a signal traded at another size says so."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from strategies.forms import HELP, StrategyForm
from strategies.models import Strategy
from strategies.processing import signal_process
from strategies.services import signal_create_internal, strategy_create


def send(strategy: Strategy, body: str):
    result = signal_create_internal(strategy=strategy, body=body, origin="test")
    signal_process(signal_id=result.body["signal_id"])
    return strategy.signals.get(pk=result.body["signal_id"])


def test_a_new_strategy_trades_the_alerts_quantity(alice):
    strategy = strategy_create(user=alice, name="Default", quantity=1)
    assert strategy.sizing == Strategy.Sizing.SIGNAL
    signal = send(strategy, "buy MNQ1! 3 @ 21000")
    assert (signal.target_position, signal.sized_quantity, signal.sizing) == (3, 3, "signal")
    assert signal.sizing_note == ""


def test_an_alert_without_a_quantity_trades_the_strategys_fixed_number(alice):
    strategy = strategy_create(user=alice, name="Default", quantity=2)
    signal = send(strategy, "buy MNQ1! @ 21000")
    assert (signal.quantity, signal.target_position, signal.sized_quantity) == (None, 2, 2)
    assert signal.sizing_note == ""


def test_a_fixed_strategy_says_alert_3_traded_1(alice, api_client_for):
    strategy = strategy_create(user=alice, name="Fixed", quantity=1, sizing="fixed")
    signal = send(strategy, "buy MNQ1! 3 @ 21000")
    assert signal.target_position == 1
    assert signal.sizing_note == "alert 3 → traded 1 (fixed)"
    rows = api_client_for(alice).get(f"/api/strategies/{strategy.pk}/signals/").json()["results"]
    assert [(r["quantity"], r["sized_quantity"], r["sizing_note"]) for r in rows] == [
        (3, 1, "alert 3 → traded 1 (fixed)")
    ]


def test_an_exit_carries_no_sizing_note(alice):
    strategy = strategy_create(user=alice, name="Fixed", quantity=1, sizing="fixed")
    send(strategy, "buy MNQ1! 3 @ 21000")
    exit_signal = send(strategy, "exit MNQ1! 3 @ 21001")
    assert (exit_signal.sized_quantity, exit_signal.sizing_note) == (None, "")


def test_the_form_starts_on_from_the_alert_and_its_help_says_which_size_is_traded():
    form = StrategyForm()
    assert form["sizing"].value() == Strategy.Sizing.SIGNAL
    assert "From the alert (the default)" in HELP["sizing"]
    assert "one without trades the quantity below" in HELP["sizing"]
    assert "alert 3 → traded 1 (fixed)" in HELP["sizing"]


@pytest.mark.django_db(transaction=True)
def test_an_existing_strategy_keeps_its_fixed_sizing_through_the_migration(alice):
    before = [("strategies", "0006_strategy_follow_exchange_session")]
    after = [("strategies", "0007_sizing_from_the_alert")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("strategies", "Strategy")
    kept = old.objects.create(user_id=alice.pk, name="Old", webhook_token="t" * 32)
    assert kept.sizing == "fixed"  # the default of its time
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    assert Strategy.objects.get(pk=kept.pk).sizing == Strategy.Sizing.FIXED
    assert Strategy.objects.create(user=alice, name="New").sizing == Strategy.Sizing.SIGNAL
