"""The simulator's clock: real time, real time shifted by an offset, or frozen (``/sim/clock``).

Everything that reads the time in the simulator reads it here: order and fill timestamps, trade
dates and the 17:00 Central roll, token expiry, request-limit windows and trading sessions, so a
test can move the simulator across a session boundary or a trade date without waiting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.frozen: datetime | None = None
        self.offset = timedelta(0)

    def now(self) -> datetime:
        if self.frozen is not None:
            return self.frozen
        return datetime.now(UTC) + self.offset

    def set(
        self,
        *,
        now: datetime | str | None = None,
        offset_seconds: float | None = None,
        real: bool = False,
    ) -> None:
        """Freeze at ``now``, run ``offset_seconds`` ahead (behind if negative), or go real."""
        if real:
            self.frozen, self.offset = None, timedelta(0)
        elif now is not None:
            self.frozen = parse_time(now) if isinstance(now, str) else now.astimezone(UTC)
        elif offset_seconds is not None:
            self.frozen, self.offset = None, timedelta(seconds=float(offset_seconds))
        else:
            raise ValueError("give now, offset_seconds or real")

    def describe(self) -> dict:
        mode = "frozen" if self.frozen else ("offset" if self.offset else "real")
        return {
            "now": self.now().isoformat().replace("+00:00", "Z"),
            "mode": mode,
            "offset_seconds": self.offset.total_seconds(),
        }


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; a naive one is taken as UTC) → aware UTC."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)
