"""Requests counted per login, and Tradovate's per-login limits over a sliding hour.

Every request a login makes (REST and WebSocket alike: ``authorize``, ``user/syncrequest``,
market-data subscriptions, every endpoint) is logged with its time and the status it got, so
``/sim/stats`` and ``/sim/requests`` can tell how many requests an hour one login costs.

The limits are the ones Tradovate documents, per login: about 5,000 authenticated requests an
hour, 300 ``user/syncrequest``, 15 ``auth/renewaccesstoken`` and 5 failed
``auth/accesstokenrequest``. Beyond one, the request is answered HTTP 429 with an empty body
(``"s": 429`` over the WebSocket) and not executed; refused requests do not count toward the
window, so a login that backs off recovers an hour after its burst. One login's 429 never
touches another login.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)
HISTORY_KEPT = 100_000  # per login, for /sim/requests
LOGIN = "auth/accesstokenrequest"
RENEW = "auth/renewaccesstoken"
SYNC = "user/syncrequest"


@dataclass
class Limits:
    """Per-login requests an hour (``/sim/config``); 0 switches a limit off."""

    requests_per_hour: int = 5000
    syncrequests_per_hour: int = 300
    renewals_per_hour: int = 15
    login_failures_per_hour: int = 5

    def update(self, changes: dict) -> None:
        for f in fields(self):
            if f.name in changes:
                value = changes[f.name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{f.name} must be a whole number ≥ 0")
                setattr(self, f.name, value)


class RequestLog:
    """The requests of every login: totals, a timestamped history, the limit windows."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.totals: dict[str, Counter] = {}
        self.history: dict[str, deque] = {}
        # Executed requests inside the window, per login and per limit.
        self.windows: dict[tuple[str, str], deque] = {}

    def record(self, name: str, endpoint: str, at: datetime, status: int) -> None:
        """Log one request of login ``name`` (every request, refused ones too)."""
        self.totals.setdefault(name, Counter())[endpoint] += 1
        self.history.setdefault(name, deque(maxlen=HISTORY_KEPT)).append((at, endpoint, status))
        if status == 429:
            return
        if endpoint != LOGIN:
            self._window(name, "requests", at).append(at)
        if _same(endpoint, SYNC):
            self._window(name, "syncrequests", at).append(at)
        if _same(endpoint, RENEW):
            self._window(name, "renewals", at).append(at)

    def record_login_failure(self, name: str, at: datetime) -> None:
        self._window(name, "login_failures", at).append(at)

    def over_limit(self, name: str, endpoint: str, at: datetime) -> str | None:
        """The limit this request would break (it is then refused with 429), or None."""
        checks = []
        if _same(endpoint, LOGIN):
            checks.append(("login_failures", self.limits.login_failures_per_hour))
        else:
            checks.append(("requests", self.limits.requests_per_hour))
        if _same(endpoint, SYNC):
            checks.append(("syncrequests", self.limits.syncrequests_per_hour))
        if _same(endpoint, RENEW):
            checks.append(("renewals", self.limits.renewals_per_hour))
        for kind, limit in checks:
            if limit and len(self._window(name, kind, at)) >= limit:
                return kind
        return None

    def by_user(self) -> dict:
        return {
            name: {"total": sum(counter.values()), "endpoints": dict(counter)}
            for name, counter in self.totals.items()
        }

    def requests(self, name: str, since: datetime | None = None) -> list[tuple]:
        return [r for r in self.history.get(name, ()) if since is None or r[0] >= since]

    def _window(self, name: str, kind: str, at: datetime) -> deque:
        window = self.windows.setdefault((name, kind), deque())
        while window and window[0] <= at - WINDOW:
            window.popleft()
        return window


def _same(endpoint: str, name: str) -> bool:
    return endpoint.strip("/").lower() == name.lower()
