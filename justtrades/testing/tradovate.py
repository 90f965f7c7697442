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

Raw protocol tests log in with ``tradovate_sim.login()`` (a ``RawApi``: ``post``/``get`` over
HTTP, ``ws()`` for a framed WebSocket). Hooks: ``set_price``/``quote`` (per login with
``user=``), ``fault``, ``config``, ``clock``, ``stats``/``stats_for``/``requests_of``; read-only
views of the simulator's own state: ``positions``, ``working_orders``, ``order_strategies``,
``fills``, ``cash``.

Child processes (a Celery worker) reach it with ``child_env(**tradovate_sim.env())``.
By default tests do not provision a Paper login for every new user; the ``paper_auto_provision``
fixture turns that on (against ``tradovate_sim``).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from accounts.brokers.simulator.engine import FINAL
from accounts.brokers.simulator.server import SimConfig, SimServer


def pytest_configure(config):
    # Every UserFactory user would otherwise try to reach a paper broker on port 8765.
    from django.conf import settings

    settings.PAPER_AUTO_PROVISION = False


class RawApi:
    """One simulator login spoken to over raw HTTP and WebSocket (no client of ours).

    ``post``/``get`` return the parsed JSON body (``None`` for an empty one, the text for one
    that is not JSON); ``last`` keeps the
    last ``requests.Response`` so a test can read its status."""

    def __init__(self, base_url: str, ws_url: str, login: dict):
        self.base_url = base_url
        self.ws_url = ws_url
        self.login = login
        self.token = login["accessToken"]
        self.user_id = login["userId"]
        self.http = requests.Session()
        self.last: requests.Response | None = None

    def _send(self, method: str, endpoint: str, body=None, params=None, timeout: float = 10):
        self.last = self.http.request(
            method,
            f"{self.base_url}/{endpoint}",
            headers={"Authorization": f"Bearer {self.token}"},
            json=body,
            params=params,
            timeout=timeout,
        )
        if not self.last.content:
            return None
        try:
            return self.last.json()
        except ValueError:
            return self.last.text

    def post(self, endpoint: str, body: dict | None = None, *, timeout: float = 10):
        return self._send("POST", endpoint, body or {}, timeout=timeout)

    def get(self, endpoint: str, **params):
        return self._send("GET", endpoint, params=params)

    def accounts(self) -> list[dict]:
        return self.get("account/list")

    def ws(self, *, sync: bool = False) -> SimSocket:
        """An authorized user WebSocket (``sync=True`` also sends ``user/syncrequest``)."""
        sock = SimSocket(self.ws_url, self.token)
        if sync:
            sock.snapshot = sock.request("user/syncrequest", {"users": [self.user_id]})["d"]
        return sock


class SimSocket:
    """A Tradovate-framed WebSocket: ``request`` waits for its answer, ``events`` keeps pushes."""

    def __init__(self, ws_url: str, token: str, timeout: float = 5):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=timeout)
        self.next_id = 0
        self.events: list[dict] = []
        self.answers: dict[Any, dict] = {}
        self.snapshot: dict | None = None
        assert self.ws.recv() == "o"
        answer = self.request("authorize", raw=token)
        assert answer["s"] == 200, answer

    def send(self, endpoint: str, body: dict | None = None, *, raw: str | None = None) -> int:
        self.next_id += 1
        text = raw if raw is not None else json.dumps(body or {})
        self.ws.send(f"{endpoint}\n{self.next_id}\n\n{text}")
        return self.next_id

    def request(self, endpoint: str, body: dict | None = None, *, raw: str | None = None):
        rid = self.send(endpoint, body, raw=raw)
        return self.wait_answer(rid)

    def wait_answer(self, rid: int, timeout: float = 5) -> dict:
        deadline = time.monotonic() + timeout
        while rid not in self.answers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to request {rid}")
            self.read(deadline - time.monotonic())
        return self.answers.pop(rid)

    def read(self, timeout: float = 1.0) -> None:
        """Read one frame (at most ``timeout`` seconds) into ``answers`` / ``events``."""
        import websocket

        self.ws.settimeout(max(timeout, 0.01))
        try:
            frame = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return
        if not frame.startswith("a"):
            return
        for message in json.loads(frame[1:]):
            if "i" in message and "e" not in message:
                self.answers[message["i"]] = message
            else:
                self.events.append(message)

    def props(self, entity_type: str) -> list[dict]:
        """The pushed ``props`` events of one entity type, in order."""
        return [
            m["d"]
            for m in self.events
            if m.get("e") == "props" and m["d"]["entityType"] == entity_type
        ]

    def wait_for(self, predicate, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the expected event never came")
            self.read(min(0.2, max(deadline - time.monotonic(), 0.01)))

    def close(self) -> None:
        self.ws.close()


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

    def set_price(
        self, symbol: str, price=None, *, bid=None, ask=None, user: str | None = None
    ) -> dict:
        """Move the market (bid = price, ask = price + 1 tick unless given); orders match.
        ``user``: only that login's own market (seeded from the shared one the first time),
        as its alerts move it: bid = ask = last = price; other logins are untouched."""
        body: dict[str, Any] = {"symbol": symbol}
        for key, value in (("price", price), ("bid", bid), ("ask", ask)):
            if value is not None:
                body[key] = str(value)
        if user is not None:
            body["user"] = user
        return self.admin("price", body)

    def quote(self, symbol: str, user: str | None = None) -> dict:
        """The book a login sees (the shared one without ``user``), with its ``source``."""
        query = f"quote?symbol={symbol}" + (f"&user={user}" if user else "")
        return self.admin(query, method="GET")

    def fault(self, kind: str, path: str = "", count: int = 1, **options: Any) -> None:
        """Inject a fault: ``penalty`` (p_time), ``captcha``, ``status`` (status, retry_after;
        ``after=True`` runs the request first, then answers the status), ``delay`` (delay
        seconds, then runs and answers), ``reject`` (reason, text), ``error_text``,
        ``lost_answer`` (runs the request, holds the answer ``delay`` seconds, default 30, then
        drops the connection; no WebSocket answer). ``path`` is an endpoint prefix
        (``"order/placeorder"``); ``count=-1`` until cleared. Applies to REST and WebSocket."""
        self.admin("faults", {"kind": kind, "path": path, "count": count, **options})

    def clear_faults(self) -> None:
        self.admin("faults", method="DELETE")

    def drop_sockets(self) -> int:
        return self.admin("drop-sockets")["dropped"]

    def expire_tokens(self) -> None:
        self.admin("expire-tokens")

    def set_token_ttl(self, seconds: int) -> None:
        self.admin("config", {"token_ttl": seconds})

    def config(self, **changes: Any) -> dict:
        """Change the simulator's rules and answer all of them: ``slippage_ticks``,
        ``partial_fills``, ``book_size``, ``enforce_sessions``, ``token_ttl`` and the request
        limits (``requests_per_hour``, ``syncrequests_per_hour``, ``renewals_per_hour``,
        ``login_failures_per_hour``)."""
        return self.admin("config", changes)

    def set_account(self, account_id: int, **fields: Any) -> dict:
        """``maxPos=2`` (MaxPosLimitReached beyond), ``active=False``, ``balance=...``."""
        return self.admin("account", {"accountId": account_id, **fields})

    def feed(self, running: bool = True, interval: float | None = None) -> dict:
        body: dict[str, Any] = {"running": running}
        if interval:
            body["interval"] = interval
        return self.admin("feed", body)

    def clock(self, now=None, *, offset_seconds: float | None = None, real: bool = False) -> dict:
        """Set the simulator's time: frozen at ``now`` (a datetime or ISO text), running
        ``offset_seconds`` ahead, or ``real``; with nothing given, just read it."""
        if now is None and offset_seconds is None and not real:
            return self.admin("clock", method="GET")
        body: dict[str, Any] = {"real": True} if real else {}
        if now is not None:
            body["now"] = now if isinstance(now, str) else now.isoformat()
        if offset_seconds is not None:
            body["offset_seconds"] = offset_seconds
        return self.admin("clock", body)

    def cash(self, account_id: int) -> dict:
        """The account's cash balance snapshot as ``getcashbalancesnapshot`` computes it."""
        return self.server.call(
            lambda: self.server.sim.engine.cash_snapshot(
                self.server.sim.engine.accounts[int(account_id)]["userId"], int(account_id)
            )
        )

    def stats(self) -> dict:
        return self.admin("stats", method="GET")

    def stats_for(self, user: str) -> dict:
        """One login's requests: ``{"total": n, "endpoints": {endpoint: n}}``."""
        return self.stats()["by_user"].get(user, {"total": 0, "endpoints": {}})

    def requests_of(self, user: str, since: str | None = None) -> list[dict]:
        """One login's requests, oldest first: ``[{timestamp, endpoint, status}]``."""
        query = {"user": user, **({"since": since} if since else {})}
        resp = self.http.get(f"{self.root_url}/sim/requests", params=query, timeout=10)
        resp.raise_for_status()
        return resp.json()["requests"]

    def requests_to(self, endpoint: str) -> int:
        return int(self.stats()["requests"].get(endpoint, 0))

    # the simulator's own state (read on its loop, so never half-way through a change) ----------
    def positions(self, account_id: int) -> dict[str, int]:
        """``{contract name: netPos}`` of an account, every contract month; flat ones left out."""

        def read():
            engine = self.server.sim.engine
            out = {}
            for (acc, cid), pos in engine.positions.items():
                if acc == int(account_id) and pos["netPos"]:
                    out[engine.contract(cid)[1].name] = pos["netPos"]
            return out

        return self.server.call(read)

    def working_orders(self, account_id: int) -> list[dict]:
        """The account's orders that are not final (Working, Suspended, Pending…), oldest first:
        ``{id, action, type, qty, price, stop_price, status, parent, oco_id, contract}``."""

        def read():
            engine = self.server.sim.engine
            return [
                {
                    "id": o.id,
                    "action": o.action,
                    "type": o.order_type,
                    "qty": o.qty,
                    "filled": o.filled,
                    "price": o.price,
                    "stop_price": o.stop_price,
                    "status": o.status,
                    "parent": o.parent_id,
                    "oco_id": o.oco_id,
                    "contract": engine.contract(o.contract_id)[1].name,
                }
                for o in sorted(engine.orders.values(), key=lambda o: o.id)
                if o.account_id == int(account_id) and o.status not in FINAL
            ]

        return self.server.call(read)

    def order_strategies(self, account_id: int) -> list[dict]:
        """The account's order strategies, oldest first: ``{id, status, action, contract,
        uuid, customTag50, brackets, orders: {label: [order ids]}}``."""

        def read():
            engine = self.server.sim.engine
            strategies = engine.strategies
            out = []
            for state in sorted(strategies.states.values(), key=lambda s: s.id):
                if state.account_id != int(account_id):
                    continue
                entity = strategies.entities[state.id]
                orders: dict[str, list[int]] = {}
                for link in strategies.links.values():
                    if link["orderStrategyId"] == state.id:
                        orders.setdefault(link["label"], []).append(link["orderId"])
                out.append(
                    {
                        "id": state.id,
                        "status": entity["status"],
                        "action": state.action,
                        "contract": engine.contract(state.contract_id)[1].name,
                        "uuid": entity["uuid"],
                        "customTag50": entity["customTag50"],
                        "brackets": [b.as_params() for b in state.brackets],
                        "orders": orders,
                    }
                )
            return out

        return self.server.call(read)

    def fills(self, account_id: int) -> list[dict]:
        """The account's fills, oldest first: ``{id, orderId, action, qty, price, contract}``."""

        def read():
            engine = self.server.sim.engine
            return [
                {
                    "id": f["id"],
                    "orderId": f["orderId"],
                    "action": f["action"],
                    "qty": f["qty"],
                    "price": f["price"],
                    "contract": engine.contract(f["contractId"])[1].name,
                }
                for f in sorted(engine.fills.values(), key=lambda f: f["id"])
                if engine.fill_account[f["id"]] == int(account_id)
            ]

        return self.server.call(read)

    # clients ---------------------------------------------------------------------------------
    def login(self, name: str = "demo", password: str = "demo") -> RawApi:  # noqa: S107
        """Log in over raw HTTP (``/auth/accesstokenrequest``) → a ``RawApi``."""
        resp = self.http.post(
            f"{self.base_url}/auth/accesstokenrequest",
            json={"name": name, "password": password, "appId": "JustTrades", "cid": 1},
            timeout=10,
        )
        resp.raise_for_status()
        data = resp.json()
        if "accessToken" not in data:
            raise AssertionError(f"login {name!r} failed: {data}")
        return RawApi(self.base_url, self.ws_url, data)

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
