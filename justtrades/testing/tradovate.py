"""Fixtures for the project's own Tradovate simulator.

``tradovate_sim`` starts a fresh simulator on a free loopback port (in a thread; price feed
paused so tests move prices themselves) and points every broker URL setting at it, so Paper and
Tradovate demo/live connections all reach it. It yields a ``SimHandle``:

    def test_it_fills(tradovate_sim, alice):
        connection = tradovate_sim.connect(alice)            # a Paper connection, accounts found
        account = connection.accounts.get()                  # a BrokerAccount, $50,000
        tradovate_sim.set_price("MNQZ5", "21000")
        tradovate_sim.fault("status", path="order/placeorder", status=500)
        tradovate_sim.stats()["requests"]["order/placeorder"]

Child processes (a Celery worker) reach it with ``child_env(**tradovate_sim.env())``.
By default tests do not provision a Paper login for every new user; the ``paper_auto_provision``
fixture turns that on (against ``tradovate_sim``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from accounts.brokers.simulator.server import SimConfig, SimServer


def pytest_configure(config):
    # Every UserFactory user would otherwise try to reach a paper broker on port 8765.
    from django.conf import settings

    settings.PAPER_AUTO_PROVISION = False


class SimHandle:
    """Test hooks over a running simulator (all through its ``/sim`` HTTP endpoints)."""

    def __init__(self, server: SimServer):
        self.server = server
        self.http = requests.Session()

    # URLs ------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def root_url(self) -> str:
        return self.server.root_url

    @property
    def simulator(self):
        """The in-process ``Simulator`` (read its state via ``server.call`` for thread safety)."""
        return self.server.sim

    def env(self) -> dict[str, str]:
        """Settings for a child process (``child_env(**sim.env())``)."""
        return {
            "PAPER_BROKER_URL": self.base_url,
            "TRADOVATE_DEMO_URL": self.base_url,
            "TRADOVATE_LIVE_URL": self.base_url,
            "TRADOVATE_MD_URL": self.ws_url,
        }

    # hooks -----------------------------------------------------------------------------------
    def admin(self, action: str, body: dict | None = None, method: str = "POST") -> Any:
        resp = self.http.request(method, f"{self.root_url}/sim/{action}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def create_user(
        self,
        name: str,
        password: str = "secret-pw",  # noqa: S107 - a simulator login
        accounts: int | list[str] = 2,
        balance=50000,
    ) -> dict:
        """A simulator login → ``{"userId", "name", "accounts": [{"id", "name"}]}``."""
        return self.admin(
            "users",
            {"name": name, "password": password, "accounts": accounts, "balance": str(balance)},
        )

    def set_price(self, symbol: str, price=None, *, bid=None, ask=None) -> dict:
        """Move the market (bid = price, ask = price + 1 tick unless given); orders match."""
        body = {"symbol": symbol}
        for key, value in (("price", price), ("bid", bid), ("ask", ask)):
            if value is not None:
                body[key] = str(value)
        return self.admin("price", body)

    def quote(self, symbol: str) -> dict:
        return self.admin(f"quote?symbol={symbol}", method="GET")

    def fault(self, kind: str, path: str = "", count: int = 1, **options: Any) -> None:
        """Inject a fault: ``penalty`` (p_time), ``captcha``, ``status`` (status, retry_after),
        ``delay`` (delay seconds, then answers), ``reject`` (reason, text), ``error_text``.
        ``path`` is an endpoint prefix (``"order/placeorder"``); ``count=-1`` until cleared."""
        self.admin("faults", {"kind": kind, "path": path, "count": count, **options})

    def clear_faults(self) -> None:
        self.admin("faults", method="DELETE")

    def drop_sockets(self) -> int:
        return self.admin("drop-sockets")["dropped"]

    def expire_tokens(self) -> None:
        self.admin("expire-tokens")

    def set_token_ttl(self, seconds: int) -> None:
        self.admin("config", {"token_ttl": seconds})

    def set_account(self, account_id: int, **fields: Any) -> dict:
        """``maxPos=2`` (MaxPosLimitReached beyond), ``active=False``, ``balance=...``."""
        return self.admin("account", {"accountId": account_id, **fields})

    def feed(self, running: bool = True, interval: float | None = None) -> dict:
        body: dict[str, Any] = {"running": running}
        if interval:
            body["interval"] = interval
        return self.admin("feed", body)

    def stats(self) -> dict:
        return self.admin("stats", method="GET")

    def requests_to(self, endpoint: str) -> int:
        return int(self.stats()["requests"].get(endpoint, 0))

    # clients ---------------------------------------------------------------------------------
    def client(self, name: str = "demo", password: str = "demo", **kwargs: Any):  # noqa: S107
        """A ``TradovateClient`` logged in as a simulator user."""
        from accounts.brokers.base import Credentials
        from accounts.brokers.tradovate import TradovateClient

        return TradovateClient(
            base_url=self.base_url,
            credentials=Credentials(username=name, password=password, app_id="JustTrades"),
            **kwargs,
        )

    def connect(self, user, *, label: str = "Paper", balance: Decimal | int = 50000):
        """A Paper ``BrokerConnection`` for ``user`` with its sub-account discovered."""
        from accounts.services import paper_connection_provision

        return paper_connection_provision(user=user, label=label, balance=Decimal(balance))


@pytest.fixture
def tradovate_sim(settings):
    server = SimServer(SimConfig(port=0, feed=False, demo_user=True)).start_in_thread()
    handle = SimHandle(server)
    for key, value in handle.env().items():
        setattr(settings, key, value)
    yield handle
    server.stop()


@pytest.fixture
def paper_auto_provision(settings, tradovate_sim):
    """New users get their Paper connection at once, from ``tradovate_sim``."""
    settings.PAPER_AUTO_PROVISION = True
    return tradovate_sim
