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


WEEKDAYS_MON_FRI = [0, 1, 2, 3, 4]


def _ny(y, m, d, hh, mm=0):
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("America/New_York"))


def _overnight(now, zone="America/New_York", start=time(18, 0), end=time(16, 0)):
    return risk.session_check(now=now, start=start, end=end, days=WEEKDAYS_MON_FRI, timezone=zone)


def test_an_overnight_session_belongs_to_the_trading_day_it_ends_on():
    # 18:00 → 16:00 New York, Monday–Friday: Sunday evening opens Monday's session.
    assert _overnight(_ny(2026, 11, 16, 10)) == ""  # Monday 10:00: inside
    assert _overnight(_ny(2026, 11, 15, 19)) == ""  # Sunday 19:00: Monday's session
    assert "Sat" in _overnight(_ny(2026, 11, 20, 20))  # Friday 20:00: Saturday's, outside
    assert _overnight(_ny(2026, 11, 16, 17)).startswith("outside the session")  # the break


def test_overnight_sessions_across_the_daylight_saving_changes():
    from zoneinfo import ZoneInfo

    chicago = ZoneInfo("America/Chicago")
    # New York springs forward on Sunday 8 March 2026 and falls back on Sunday 1 November.
    for day in (9, 6):  # the Monday after, the Friday before
        assert _overnight(_ny(2026, 3, day, 10)) == ""
    assert "Sat" in _overnight(_ny(2026, 3, 6, 20))
    assert _overnight(_ny(2026, 3, 8, 18, 30)) == ""  # the Sunday evening of the change
    assert _overnight(_ny(2026, 11, 2, 10)) == ""
    assert _overnight(_ny(2026, 11, 1, 18, 30)) == ""
    assert "Sat" in _overnight(_ny(2026, 10, 30, 20))
    # Chicago's 17:00 → 16:00 the same way, read in Chicago time on both sides of each change.
    for when in (
        datetime(2026, 3, 9, 10, tzinfo=chicago),
        datetime(2026, 11, 2, 10, tzinfo=chicago),
    ):
        assert _overnight(when, "America/Chicago", time(17, 0), time(16, 0)) == ""
    friday_evening = datetime(2026, 3, 6, 18, tzinfo=chicago)
    assert "Sat" in _overnight(friday_evening, "America/Chicago", time(17, 0), time(16, 0))


def test_the_trading_day_rolls_at_five_pm_chicago_across_daylight_saving():
    from zoneinfo import ZoneInfo

    chicago = ZoneInfo("America/Chicago")
    assert risk.trading_day(datetime(2026, 3, 9, 16, 59, tzinfo=chicago)).day == 9
    assert risk.trading_day(datetime(2026, 3, 9, 17, 0, tzinfo=chicago)).day == 10
    assert risk.trading_day(datetime(2026, 11, 2, 17, 1, tzinfo=chicago)).day == 3


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
