"""Pure risk rules: trading day, sessions, daily limits."""

from datetime import UTC, date, datetime, time
from decimal import Decimal as D

from traders import risk


def test_trading_day_rolls_at_six_pm_new_york():
    # 22:59 UTC = 17:59 EST (Nov): still Friday's day; 23:00 UTC = 18:00 EST: next day.
    assert risk.trading_day(datetime(2025, 11, 21, 22, 59, tzinfo=UTC)) == date(2025, 11, 21)
    assert risk.trading_day(datetime(2025, 11, 21, 23, 0, tzinfo=UTC)) == date(2025, 11, 22)


def test_no_session_window_allows_everything():
    assert risk.in_session(
        now=datetime(2025, 11, 19, 3, tzinfo=UTC),
        start=None,
        end=None,
        days=[],
        timezone="America/New_York",
    )


def test_session_window_in_the_traders_zone():
    kwargs = dict(
        start=time(9, 30), end=time(16, 0), days=[0, 1, 2, 3, 4], timezone="America/New_York"
    )
    # Wednesday 14:31 UTC = 09:31 New York
    assert risk.in_session(now=datetime(2025, 11, 19, 14, 31, tzinfo=UTC), **kwargs)
    assert not risk.in_session(now=datetime(2025, 11, 19, 14, 29, tzinfo=UTC), **kwargs)
    # Saturday
    assert not risk.in_session(now=datetime(2025, 11, 22, 15, 0, tzinfo=UTC), **kwargs)


def test_overnight_window_spans_midnight():
    kwargs = dict(start=time(18, 0), end=time(9, 30), days=[0], timezone="America/New_York")
    # Monday 23:00 NY, then Tuesday 02:00 NY belong to Monday's window
    assert risk.in_session(now=datetime(2025, 11, 18, 4, 0, tzinfo=UTC), **kwargs)
    assert risk.in_session(now=datetime(2025, 11, 18, 7, 0, tzinfo=UTC), **kwargs)
    assert not risk.in_session(now=datetime(2025, 11, 18, 16, 0, tzinfo=UTC), **kwargs)


def test_daily_loss_limit_trips_at_the_limit():
    assert risk.daily_limit_hit(pnl=D("-500"), loss_limit=D("500"), profit_target=None) == "loss"
    assert risk.daily_limit_hit(pnl=D("-499.99"), loss_limit=D("500"), profit_target=None) is None


def test_daily_profit_target_trips():
    assert (
        risk.daily_limit_hit(pnl=D("1000"), loss_limit=D("500"), profit_target=D("1000"))
        == "profit"
    )


def test_disabled_for_the_day():
    assert risk.is_disabled_for_day(disabled_until=date(2025, 11, 21), today=date(2025, 11, 21))
    assert not risk.is_disabled_for_day(disabled_until=date(2025, 11, 20), today=date(2025, 11, 21))
