"""CME Globex trading hours, holidays and the trade date of the products we trade (pure).

All twelve products of ``accounts.brokers.symbols.PRODUCTS`` (CME, CBOT, NYMEX and COMEX
futures) trade on CME Globex Sunday to Friday from 17:00 to 16:00 Central, with a daily break
from 16:00 to 17:00. Exchange holidays and early closes come from the ``exchange-calendars``
package's CME calendar (``CMES``), so no holiday table is kept here.

    session_state("MNQ", at)  → SessionState(open, reason, opens_at, closes_at)
    trade_date(at)            → the trade date of an instant (rolls at 17:00 Central)

What the package's calendar lacks, and what this module does about it:
- it models the day as 17:00 to 17:00 with no break: the close here is 16:00 Central (or the
  calendar's earlier close on an early-close day);
- it has no Juneteenth early close: added here from the package's own ``USJuneteenth`` rule
  (12:00 Central, as for the other US holidays on which Globex trades a short day);
- it has one schedule for every CME product: energy and metals halt at 13:30 Central on some
  holidays where equity indexes halt at 12:00; the earlier time is used for all, so an order is
  never accepted when one of the products is halted. Black Friday and Christmas Eve close at
  12:15 Central for equity indexes; the calendar says 12:00;
- unscheduled closures are not known in advance by anyone, so not by it either.

Times in and out are timezone-aware (``opens_at`` / ``closes_at`` in UTC); naive datetimes
are refused.
"""

from __future__ import annotations

import bisect
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from accounts.brokers.symbols import PRODUCTS, UnknownSymbol

CHICAGO = ZoneInfo("America/Chicago")
DAILY_CLOSE = time(16)  # Globex's daily break starts
ROLL = time(17)  # the next trade date's session opens (and the trade date rolls)
EARLY_CLOSE = time(12)


@dataclass(frozen=True)
class SessionState:
    """Whether a product trades at an instant, why (not), and the session's bounds.

    Open: ``opens_at`` / ``closes_at`` are the current session's. Closed: ``opens_at`` is when
    trading resumes and ``closes_at`` when that session will close."""

    open: bool
    reason: str
    opens_at: datetime | None
    closes_at: datetime | None


@dataclass(frozen=True)
class _Session:
    day: date  # the trade date
    opens: datetime  # UTC
    closes: datetime  # UTC
    early: str  # the holiday of an early close, "" on a full day


class _Table:
    """The sessions of a range of years, computed once from the exchange calendar."""

    def __init__(self, first_year: int, last_year: int):
        import exchange_calendars as xcals
        import pandas as pd
        from exchange_calendars.exchange_calendar_cmes import CMESExchangeCalendar
        from exchange_calendars.us_holidays import USJuneteenth

        class GlobexCalendar(CMESExchangeCalendar):
            name = "JT_GLOBEX"

            @property
            def special_closes(self):
                closes = list(super().special_closes)
                closes.append(
                    (EARLY_CLOSE, xcals.exchange_calendar.HolidayCalendar([USJuneteenth]))
                )
                return closes

        self.first_year, self.last_year = first_year, last_year
        start, end = pd.Timestamp(f"{first_year}-01-01"), pd.Timestamp(f"{last_year}-12-31")
        with warnings.catch_warnings():  # the package's own use of deprecated pandas calls
            warnings.simplefilter("ignore")
            calendar = GlobexCalendar(start=start, end=end)
        self.holidays: dict[date, str] = {
            ts.date(): str(name)
            for ts, name in calendar.regular_holidays.holidays(start, end, return_name=True).items()
        }
        for ts in calendar.adhoc_holidays:
            if start <= pd.Timestamp(ts) <= end:
                self.holidays.setdefault(pd.Timestamp(ts).date(), "a national day of mourning")
        early_names: dict[date, str] = {}
        for _, holidays in calendar.special_closes:
            for ts, name in holidays.holidays(start, end, return_name=True).items():
                early_names.setdefault(ts.date(), str(name))
        self.sessions: list[_Session] = []
        for day, row in calendar.schedule.iterrows():
            d = day.date()
            closes = row["close"].to_pydatetime().astimezone(UTC)
            daily = datetime.combine(d, DAILY_CLOSE, tzinfo=CHICAGO).astimezone(UTC)
            early = closes < daily
            self.sessions.append(
                _Session(
                    day=d,
                    opens=row["open"].to_pydatetime().astimezone(UTC),
                    closes=min(closes, daily),
                    early=early_names.get(d, "a holiday") if early else "",
                )
            )
        self.opens = [s.opens for s in self.sessions]
        self.days = [s.day for s in self.sessions]


_tables: dict[tuple[int, int], _Table] = {}
_lock = threading.Lock()


def _table(at: datetime) -> _Table:
    """Sessions around ``at``: this year and the next by default, wider when asked."""
    year = at.astimezone(CHICAGO).year
    with _lock:
        for (first, last), table in _tables.items():
            if first < year < last:
                return table
        first, last = min(year, date.today().year) - 1, max(year, date.today().year) + 2
        table = _Table(first, last)
        _tables[(first, last)] = table
        return table


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed")
    return at.astimezone(UTC)


def local(at: datetime) -> str:
    """``2026-12-27 17:00 CT``: how a time reads in a message to a trader."""
    return at.astimezone(CHICAGO).strftime("%Y-%m-%d %H:%M CT")


def session_state(root: str, at: datetime) -> SessionState:
    """Whether ``root`` (``"MNQ"``) trades on Globex at ``at``, and the session's bounds."""
    if (root or "").upper() not in PRODUCTS:
        raise UnknownSymbol(f"Unknown product {root!r}.")
    at = _aware(at)
    table = _table(at)
    i = bisect.bisect_right(table.opens, at) - 1  # the last session opened by ``at``
    if i >= 0 and at < table.sessions[i].closes:
        s = table.sessions[i]
        reason = "open" + (f" (closes early at {local(s.closes)}: {s.early})" if s.early else "")
        return SessionState(True, reason, s.opens, s.closes)
    upcoming = table.sessions[i + 1] if i + 1 < len(table.sessions) else None
    previous = table.sessions[i] if i >= 0 else None
    reason = _closed_reason(table, at, previous, upcoming)
    return SessionState(
        False,
        reason,
        upcoming.opens if upcoming else None,
        upcoming.closes if upcoming else None,
    )


def _closed_reason(table: _Table, at: datetime, previous, upcoming) -> str:
    today = at.astimezone(CHICAGO).date()
    if today in table.holidays:
        return f"closed for {table.holidays[today]}"
    if previous is not None and previous.early and previous.day == today:
        return f"closed early for {previous.early}"
    if previous is not None and upcoming is not None:
        if upcoming.opens - previous.closes <= timedelta(hours=1):
            return "daily break (16:00–17:00 CT)"
        skipped = [
            table.holidays[d]
            for d in _days_between(previous.day, upcoming.day)
            if d in table.holidays
        ]
        if skipped:
            return f"closed for {skipped[0]}"
    return "closed for the weekend"


def _days_between(first: date, last: date):
    d = first + timedelta(days=1)
    while d < last:
        yield d
        d += timedelta(days=1)


def trade_date(at: datetime) -> date:
    """The trade date of ``at``: it rolls at 17:00 Central (DST-aware), so Friday evening,
    the weekend and holidays belong to the next session's date (Friday 17:00 → Monday)."""
    at = _aware(at)
    moment = at.astimezone(CHICAGO)
    day = moment.date() + timedelta(days=1 if moment.time() >= ROLL else 0)
    table = _table(at)
    i = bisect.bisect_left(table.days, day)
    if i < len(table.days):
        return table.days[i]
    while day.weekday() >= 5:  # past the table: weekends only
        day += timedelta(days=1)
    return day
