"""Pure risk rules: the trading day, allowed sessions, open P&L, daily loss limit / profit target.

No database, no broker: the numbers come in (from one cash snapshot of the account), a verdict
goes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

# CME futures trade from 17:00 Chicago (18:00 New York) to 16:00 the next day: the evening
# session belongs to the next trading day, so a limit that trips on Monday evening disables the
# trader until Tuesday's session ends, not until midnight.
_EXCHANGE_ZONE = ZoneInfo("America/Chicago")
_DAY_ROLLS_AT = time(17, 0)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CENT = Decimal("0.01")


def trading_day(now: datetime) -> date:
    local = now.astimezone(_EXCHANGE_ZONE)
    if local.time() >= _DAY_ROLLS_AT:
        return local.date() + timedelta(days=1)
    return local.date()


def trading_day_start(now: datetime) -> datetime:
    """When the trading day of ``now`` began: 17:00 Chicago the evening before it."""
    day = trading_day(now) - timedelta(days=1)
    return datetime.combine(day, _DAY_ROLLS_AT, tzinfo=_EXCHANGE_ZONE)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:  # noqa: BLE001 - a bad zone name was validated on save; fall back to UTC
        return ZoneInfo("UTC")


def session_check(
    *,
    now: datetime,
    start: time | None,
    end: time | None,
    days: Sequence[int] | None,
    timezone: str,
) -> str:
    """Why ``now`` is outside an allowed window, or ``""`` when inside (no window: always).

    A window whose end is before its start spans midnight (18:00 → 16:00) and belongs to the
    trading day it **ends** on, as the exchange counts it: Monday 10:00 is inside an 18:00 →
    16:00 Monday–Friday window (it opened Sunday evening), Friday 20:00 is not (that session
    is Saturday's). ``days`` (0 = Monday) are those trading days. Local time, so daylight
    saving changes move nothing.
    """
    local = now.astimezone(_zone(timezone))
    t = local.time().replace(tzinfo=None)
    if start is None or end is None:
        if days and local.weekday() not in days:
            return f"{WEEKDAYS[local.weekday()]} is not a trading day of this window"
        return ""
    window = f"{start:%H:%M}–{end:%H:%M} {timezone}"
    if start <= end:
        inside, day = start <= t < end, local.weekday()
    else:
        inside = t >= start or t < end
        day = (local.weekday() + 1) % 7 if t >= start else local.weekday()
    if not inside:
        return f"outside the session {window} (it is {t:%H:%M} there)"
    if days and day not in days:
        return f"the {window} session of {WEEKDAYS[day]} is not a trading day of this window"
    return ""


def in_session(**kwargs) -> bool:
    return not session_check(**kwargs)


def open_pnl(
    *, net_pos: int, net_price: Decimal | None, last: Decimal | None, point_value: Decimal
) -> Decimal:
    """The open P&L of a position: (last − average price) × $ per point × net position."""
    if not net_pos or net_price is None or last is None:
        return Decimal("0.00")
    return ((Decimal(last) - Decimal(net_price)) * Decimal(point_value) * net_pos).quantize(CENT)


def daily_limit_hit(
    *, pnl: Decimal, loss_limit: Decimal | None, profit_target: Decimal | None
) -> str | None:
    """``"loss"`` when the day's P&L is at or below minus the loss limit, ``"profit"`` when it is
    at or above the profit target, else None. Limits are positive dollar amounts."""
    if loss_limit is not None and loss_limit > 0 and pnl <= -abs(loss_limit):
        return "loss"
    if profit_target is not None and profit_target > 0 and pnl >= profit_target:
        return "profit"
    return None


def is_disabled_for_day(*, disabled_until: date | None, today: date) -> bool:
    return disabled_until is not None and disabled_until >= today
