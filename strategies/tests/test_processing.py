"""process_signal's work, run in-process: filters with reasons, symbols, idempotency, sweeper."""

from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import pytest
from django.utils import timezone

from accounts.brokers.symbols import resolve_symbol
from recorder.models import Recorder, StrategyLog
from strategies import processing as services
from strategies.models import Signal, StrategyPosition
from strategies.parsing import parse_alert
from strategies.tests.factories import SignalFactory, StrategyFactory
from traders.risk import WEEKDAYS, session_check


def stored(strategy, body, **fields):
    intent = parse_alert(body)
    return SignalFactory(
        strategy=strategy, raw_body=body, intent=intent.to_dict(), action=intent.action, **fields
    )


@pytest.fixture
def strategy(alice):
    s = StrategyFactory(user=alice, name="Trend")
    Recorder.objects.create(user=alice, strategy=s)
    return s


def test_an_accepted_signal_is_resolved_planned_logged_and_processed(strategy):
    signal = stored(strategy, "buy MNQ1! 2 @ 18650.25")
    assert services.signal_process(signal_id=signal.pk) == "processed"
    signal.refresh_from_db()
    front = resolve_symbol("MNQ1!", at=signal.received_at).name
    assert (signal.status, signal.contract, signal.target_position, signal.opens) == (
        "processed",
        front,
        1,
        True,
    )
    assert signal.processed_at >= signal.received_at and signal.latency_ms >= 0
    log = StrategyLog.objects.get(signal=signal, kind="signal")
    assert log.message == (
        f"buy 2 MNQ1! @ 18650.25 → {front}, strategy position +0 → +1; no trader acts"
    )
    assert StrategyPosition.objects.get(strategy=strategy, root="MNQ").net_pos == 1


def test_processing_twice_does_the_work_once(strategy):
    signal = stored(strategy, "buy")
    assert services.signal_process(signal_id=signal.pk) == "processed"
    assert services.signal_process(signal_id=signal.pk) == "skipped"
    assert StrategyLog.objects.filter(signal=signal, kind="signal").count() == 1


def test_signals_are_decided_in_receipt_order_whoever_runs_first(strategy):
    first = stored(strategy, "buy")
    second = stored(strategy, "sell")
    # The second's task runs first (another worker took it): the first is decided before it.
    assert services.signal_process(signal_id=second.pk) == "processed"
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.target_position) == ("processed", 1)
    assert (second.status, second.target_position) == ("processed", -1)
    assert services.signal_process(signal_id=first.pk) == "skipped"


def test_an_unknown_symbol_is_rejected_with_the_reason_in_signal_and_log(strategy):
    signal = stored(strategy, "buy FOO1! 1")
    assert services.signal_process(signal_id=signal.pk) == "rejected"
    signal.refresh_from_db()
    assert signal.status == "rejected" and signal.reason.startswith("Unknown symbol 'FOO1!'")
    assert StrategyLog.objects.get(signal=signal, kind="error").message == signal.reason


def test_the_default_symbol_is_used_when_the_alert_names_none(alice):
    strategy = StrategyFactory(user=alice, default_symbol="ES1!")
    signal = stored(strategy, "buy")
    services.signal_process(signal_id=signal.pk)
    signal.refresh_from_db()
    assert signal.contract.startswith("ES") and signal.symbol == "ES1!"


def _session_excluding_now(strategy):
    now = timezone.now().astimezone(UTC)
    start = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    strategy.session_start, strategy.session_end, strategy.session_timezone = start, end, "UTC"
    strategy.save()
    return start, end


def test_entries_outside_the_session_are_filtered_but_exits_are_not(strategy):
    start, end = _session_excluding_now(strategy)
    entry = stored(strategy, "buy")
    assert services.signal_process(signal_id=entry.pk) == "filtered"
    entry.refresh_from_db()
    assert entry.reason.startswith(
        f"entry outside the strategy's session: outside the session {start:%H:%M}–{end:%H:%M} UTC"
    )
    assert StrategyLog.objects.get(signal=entry, kind="filtered").message == entry.reason
    exit_ = stored(strategy, "exit")
    assert services.signal_process(signal_id=exit_.pk) == "processed"


def test_entries_on_a_day_off_are_filtered(strategy):
    today = timezone.now().astimezone(UTC).weekday()
    strategy.session_days = [d for d in range(7) if d != today]
    strategy.session_timezone = "UTC"
    strategy.save()
    signal = stored(strategy, "buy")
    assert services.signal_process(signal_id=signal.pk) == "filtered"
    signal.refresh_from_db()
    assert signal.reason == (
        f"entry outside the strategy's session: {WEEKDAYS[today]} is not a trading day of this "
        "window"
    )


def test_an_overnight_session_spans_midnight(strategy):
    strategy.session_start, strategy.session_end = dtime(18, 0), dtime(17, 0)
    strategy.session_timezone = "America/New_York"
    evening = datetime(2025, 11, 5, 23, 30, tzinfo=UTC)  # 18:30 New York
    closed = datetime(2025, 11, 5, 22, 30, tzinfo=UTC)  # 17:30 New York: the daily break

    def check(moment):
        return session_check(
            now=moment,
            start=strategy.session_start,
            end=strategy.session_end,
            days=[0, 1, 2, 3, 4],
            timezone=strategy.session_timezone,
        )

    assert check(evening) == ""  # Wednesday evening opens Thursday's session
    assert check(closed).startswith("outside the session 18:00–17:00")


def test_a_second_entry_within_the_cooldown_is_filtered(strategy):
    strategy.cooldown_seconds = 300
    strategy.save()
    first = stored(strategy, "buy")
    assert services.signal_process(signal_id=first.pk) == "processed"
    second = stored(strategy, "sell")
    assert services.signal_process(signal_id=second.pk) == "filtered"
    second.refresh_from_db()
    assert second.reason.startswith("cooldown: the last entry was ") and second.reason.endswith(
        "(cooldown 300s)"
    )


def test_rules_that_void_an_entry_are_recorded_as_filters(strategy):
    strategy.direction = "long"
    strategy.save()
    signal = stored(strategy, "sell")
    assert services.signal_process(signal_id=signal.pk) == "filtered"
    signal.refresh_from_db()
    assert signal.reason == "long-only strategy: no short position"


def test_same_side_adds_are_ignored_against_the_recorded_position(strategy):
    strategy.ignore_same_side = True
    strategy.save()
    StrategyPosition.objects.create(strategy=strategy, root="MNQ", net_pos=1)
    signal = stored(strategy, "buy")
    assert services.signal_process(signal_id=signal.pk) == "filtered"
    signal.refresh_from_db()
    assert signal.reason == "ignore same-side adds: already in position"


def test_a_strategy_switched_off_after_the_alert_opens_nothing_but_still_exits(strategy):
    signal = stored(strategy, "buy")
    strategy.enabled = False
    strategy.save()
    assert services.signal_process(signal_id=signal.pk) == "filtered"
    signal.refresh_from_db()
    assert signal.reason.startswith("the strategy is switched off: entries are refused")
    StrategyPosition.objects.filter(strategy=strategy).update(net_pos=1)
    reversal = stored(strategy, "sell")  # would reverse: the strategy is off, so it only closes
    assert services.signal_process(signal_id=reversal.pk) == "processed"
    reversal.refresh_from_db()
    assert reversal.target_position == 0 and "only closes" in reversal.reason
    assert StrategyPosition.objects.get(strategy=strategy).net_pos == 0


def test_an_entry_delay_puts_the_signal_back_until_it_is_due(strategy):
    strategy.entry_delay_seconds = 60
    strategy.save()
    signal = stored(strategy, "buy")
    assert services.signal_process(signal_id=signal.pk) == "delayed"
    signal.refresh_from_db()
    assert signal.status == "accepted"
    Signal.objects.filter(pk=signal.pk).update(received_at=timezone.now() - timedelta(seconds=61))
    assert services.signal_process(signal_id=signal.pk) == "processed"


def test_the_sweeper_re_enqueues_only_old_unprocessed_signals(strategy):
    old = stored(strategy, "buy")
    Signal.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(seconds=30))
    fresh = stored(strategy, "sell")
    done = stored(strategy, "exit", status="processed")
    Signal.objects.filter(pk=done.pk).update(received_at=timezone.now() - timedelta(seconds=30))
    assert services.signals_sweep() == 1
    old.refresh_from_db(), fresh.refresh_from_db()
    assert old.enqueue_count == 1 and old.swept_at is not None and fresh.swept_at is None
    assert services.signals_sweep() == 0  # not again before the retry interval


def test_a_signal_no_worker_ever_takes_ends_failed_and_says_so(strategy):
    signal = stored(strategy, "buy", enqueue_count=services.SWEEP_GIVE_UP_AFTER)
    Signal.objects.filter(pk=signal.pk).update(received_at=timezone.now() - timedelta(minutes=30))
    services.signals_sweep()
    signal.refresh_from_db()
    assert signal.status == "failed" and signal.reason.startswith("never processed")
    assert StrategyLog.objects.filter(signal=signal, kind="error").exists()


def test_auto_flatten_sends_one_exit_a_day_at_the_set_time(strategy):
    now = timezone.now()
    local = now.astimezone(UTC)
    strategy.auto_flatten_time = (
        (local - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    )
    strategy.session_timezone = "UTC"
    strategy.save()
    if local.time() < strategy.auto_flatten_time:  # the minute before midnight
        pytest.skip("crosses midnight")
    assert services.strategies_auto_flatten(now=now) == 1
    assert services.strategies_auto_flatten(now=now + timedelta(minutes=2)) == 0
    signal = Signal.objects.get(strategy=strategy, origin="auto_flatten")
    assert signal.intent["action"] == "exit" and signal.intent["target"] == 0
    assert services.strategies_auto_flatten(now=now + timedelta(hours=3)) == 0  # past the grace


def test_a_decision_whose_booking_was_cut_short_is_booked_by_the_retry_and_the_sweeper(strategy):
    """A worker decides a signal and dies (or loses the database) before the recorder books it:
    the task's retry books it, and so does the sweeper should no retry ever come."""
    retried = stored(strategy, "buy MNQ1! 1 @ 21000")
    services._decide_next(strategy.pk)  # decided and committed; the booking never ran
    retried.refresh_from_db()
    assert retried.status in services.DECIDED and retried.recorded_at is None
    assert services.signal_process(signal_id=retried.pk) == "skipped"  # the task's retry
    retried.refresh_from_db()
    assert retried.recorded_at is not None

    forgotten = stored(strategy, "buy MNQ1! 1 @ 21010")
    services._decide_next(strategy.pk)
    Signal.objects.filter(pk=forgotten.pk).update(
        processed_at=timezone.now() - timedelta(seconds=30)
    )
    services.signals_sweep()
    forgotten.refresh_from_db()
    assert forgotten.recorded_at is not None
    recorder = Recorder.objects.get(strategy=strategy)
    assert sum(p.net_pos for p in recorder.positions.all()) == 2  # both buys are on the record
