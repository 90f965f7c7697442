"""The Tradovate simulator: Tradovate's REST and WebSocket protocol over aiohttp, one process.

Tradovate paths live under ``/v1`` exactly as API.md describes them. Simulator-only paths live
under ``/sim`` (the real Tradovate has nothing like them):

=====================  ======================================================================
``/sim/users``         provision a paper login with accounts
``/sim/price``         move a book (``user``: that login's own, as its alerts move it)
``/sim/quote``         read a book and its ``source``
``/sim/faults``        inject a fault (``Fault``); DELETE clears them
``/sim/config``        rules: slippage, partial fills, sessions, token lifetime, request limits
``/sim/clock``         the simulator's time: frozen, offset or real
``/sim/stats``         request counts, in total and ``by_user``
``/sim/requests``      one login's timestamped requests (``?user=&since=``)
``/sim/account``       max position, active, balance of an account
``/sim/feed``          start / stop the random walk
``/sim/drop-sockets``, ``/sim/shutdown-event``, ``/sim/expire-tokens``, ``/sim/health``
=====================  ======================================================================

Tradovate's per-login request limits are enforced here (``limits.py``); the engine knows
nothing of HTTP.

    server = SimServer(SimConfig(port=0)).start_in_thread()
    server.base_url      # "http://127.0.0.1:PORT/v1"
    server.stop()

One file for one idea, Tradovate's wire protocol (REST and WebSocket) around the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import json
import logging
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from accounts.brokers.simulator.engine import (
    PRODUCT_IDS,
    Engine,
    NotFound,
    Reject,
    contract_from_id,
    dumps_state,
    iso,
    loads_state,
)
from accounts.brokers.simulator.limits import RequestLog
from accounts.brokers.symbols import (
    PRODUCTS,
    UnknownSymbol,
    front_contract,
    resolve_symbol,
)

log = logging.getLogger("tradovate_sim")

BAD_LOGIN = (
    "Incorrect username or password. Please try again, noting that passwords are case-sensitive."
)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serializable: {type(value)}")


def dumps(data: Any) -> str:
    return json.dumps(data, default=_default, separators=(",", ":"))


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    seed: int = 7
    users: list[dict] = field(default_factory=list)  # extra logins (the --users file)
    demo_user: bool = True  # the demo/demo login with two $50,000 accounts
    state_path: Path | None = None  # paper state survives restarts when set
    feed: bool = True  # random-walk prices
    feed_interval: float = 0.5
    replay_path: Path | None = None  # CSV of ticks: timestamp,symbol,price[,size]
    replay_speed: float = 1.0
    token_ttl: int = 80 * 60
    heartbeat: float = 2.5
    admin_token: str = ""  # required in X-Sim-Admin for /sim/* when set
    enforce_sessions: bool = False  # refuse new orders outside CME Globex hours


@dataclass
class Fault:
    """One injected misbehaviour (``/sim/faults``), applied to REST and WebSocket requests.

    Answered instead of the request: ``penalty`` / ``captcha`` (a p-ticket), ``status`` (an
    HTTP status, empty body), ``reject`` (``failureReason``), ``error_text`` (``errorText``).
    Answered late: ``delay`` (waits ``delay`` seconds, then executes and answers).
    Executed but never answered as it should be: ``lost_answer`` (the request runs, the answer
    is held ``delay`` seconds, default 30, then the connection is dropped without one; over the
    WebSocket no response frame comes) and ``status`` with ``after: true`` (the request runs,
    then the client gets the fault's status, e.g. a 500 after the order was placed)."""

    kind: str  # penalty | captcha | status | delay | reject | error_text | lost_answer
    path: str = ""  # endpoint prefix it applies to ("" = every Tradovate path)
    count: int = 1  # how many requests it affects (-1 = until cleared)
    status: int = 500
    after: bool = False  # status only: execute first, then answer with the status
    p_time: float = 1.0
    delay: float | None = None  # delay: 1 s; lost_answer: 30 s
    retry_after: str | None = None
    reason: str = "UnknownReason"
    text: str = ""

    KINDS = ("penalty", "captcha", "status", "delay", "reject", "error_text", "lost_answer")

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: one of {', '.join(self.KINDS)}")
        if self.delay is None:
            self.delay = 30.0 if self.kind == "lost_answer" else 1.0

    def matches(self, endpoint: str) -> bool:
        return self.count != 0 and endpoint.startswith(self.path.strip("/"))

    @property
    def executes_first(self) -> bool:
        """The request really runs; only its answer goes wrong."""
        return self.kind == "lost_answer" or (self.kind == "status" and self.after)


class Socket:
    """One client WebSocket: buffered ``a[...]`` frames, written by one task."""

    def __init__(self, ws: web.WebSocketResponse, transport):
        self.ws = ws
        self.transport = transport
        self.user_id: int | None = None
        self.synced = False
        self.quotes: set[int] = set()
        self.buffer: list[str] = []
        self.wake = asyncio.Event()
        self.last_sent = time.monotonic()

    def push(self, message: Any) -> None:
        self.buffer.append(dumps(message))
        self.wake.set()

    async def writer(self, heartbeat: float) -> None:
        while not self.ws.closed:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=heartbeat)
            except TimeoutError:
                pass
            self.wake.clear()
            if self.ws.closed:
                return
            try:
                if self.buffer:
                    frame, self.buffer = "a[" + ",".join(self.buffer) + "]", []
                    await self.ws.send_str(frame)
                    self.last_sent = time.monotonic()
                elif time.monotonic() - self.last_sent >= heartbeat:
                    await self.ws.send_str("h")
                    self.last_sent = time.monotonic()
            except (ConnectionError, RuntimeError):
                return


class Simulator:
    """Protocol handling around the engine: tokens, faults, sockets, feed, persistence."""

    def __init__(self, config: SimConfig):
        self.config = config
        self.engine = Engine(seed=config.seed)
        self.engine.rules.enforce_sessions = config.enforce_sessions
        self.tokens: dict[str, dict] = {}
        self.faults: list[Fault] = []
        self.tickets: dict[str, float] = {}  # p-ticket → monotonic time it becomes valid
        self.stats: Counter = Counter()
        self.requests = RequestLog()
        self.sockets: set[Socket] = set()
        self.feed_running = config.feed
        self.feed_interval = config.feed_interval
        self.engine.listener = self._on_entity
        self.engine.quote_listener = self._on_quote
        if config.state_path and config.state_path.exists():
            try:
                loads_state(self.engine, config.state_path.read_text())
                log.info("loaded paper state from %s", config.state_path)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("ignoring unreadable state file %s: %s", config.state_path, exc)
        if config.demo_user and "demo" not in self.engine.users_by_name:
            self.engine.create_user("demo", "demo", accounts=["DEMO0001", "DEMO0002"])
        for spec in config.users:
            self.provision(spec)

    # --- events ------------------------------------------------------------------------------
    def _on_entity(self, user_id: int, entity_type: str, event_type: str, entity: dict) -> None:
        if not self.sockets:
            return
        message = {
            "e": "props",
            "d": {"entityType": entity_type, "eventType": event_type, "entity": dict(entity)},
        }
        for sock in self.sockets:
            if sock.synced and sock.user_id == user_id:
                sock.push(message)

    def _on_quote(self, contract_id: int, quote: dict, user_id: int | None = None) -> None:
        """A quote goes to the sockets that see that book: its login's, or the shared one's."""
        own = self.engine.user_books
        for sock in self.sockets:
            if contract_id not in sock.quotes:
                continue
            if user_id is not None and sock.user_id != user_id:
                continue
            if user_id is None and (sock.user_id, contract_id) in own:
                continue
            sock.push({"e": "md", "d": {"quotes": [quote]}})

    # --- provisioning (simulator only) -------------------------------------------------------
    def provision(self, spec: dict) -> dict:
        name, password = str(spec.get("name") or ""), str(spec.get("password") or "")
        if not name or not password:
            raise Reject("UnknownReason", "name and password are required")
        user = self.engine.create_user(
            name,
            password,
            accounts=spec.get("accounts", 1),
            balance=Decimal(str(spec.get("balance", 50000))),
            email=str(spec.get("email") or ""),
        )
        for key in ("cid", "sec"):
            if spec.get(key):
                user[key] = str(spec[key])
        return {
            "userId": user["id"],
            "name": user["name"],
            "accounts": [
                {"id": a["id"], "name": a["name"]} for a in self.engine.user_accounts(user["id"])
            ],
        }

    # --- auth --------------------------------------------------------------------------------
    def issue_token(self, user: dict) -> dict:
        token, md_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = self.engine.now() + timedelta(seconds=self.config.token_ttl)
        for t in (token, md_token):
            self.tokens[t] = {"userId": user["id"], "expires": expires}
        return {
            "accessToken": token,
            "mdAccessToken": md_token,
            "expirationTime": iso(expires),
            "userStatus": "Active",
            "userId": user["id"],
            "name": user["name"],
            "hasLive": False,
        }

    def user_for_token(self, token: str | None) -> dict | None:
        info = self.tokens.get(token or "")
        if info is None:
            return None
        if info["expires"] <= self.engine.now():
            self.tokens.pop(token, None)
            return None
        return self.engine.users.get(info["userId"])

    def access_token_request(self, body: dict) -> tuple[int, Any]:
        self.stats["logins"] += 1
        name = str(body.get("name", ""))
        user = self.engine.authenticate(name, str(body.get("password", "")))
        if user is None:
            self.login_failed(name)
            return 200, {"errorText": BAD_LOGIN}
        if user.get("sec") and (
            str(body.get("sec", "")) != user["sec"] or str(body.get("cid", "")) != user.get("cid")
        ):
            self.login_failed(name)
            return 200, {"errorText": "The API key (cid/sec) is not valid for this user."}
        return 200, self.issue_token(user)

    def login_failed(self, name: str) -> None:
        self.stats["login_failures"] += 1
        if name:
            self.requests.record_login_failure(name, self.engine.now())

    # --- faults ------------------------------------------------------------------------------
    def take_fault(self, endpoint: str, body: Any) -> Fault | tuple | None:
        """The fault this request meets: a ``(status, body)`` answer for a p-ticket resent too
        early, the first matching ``Fault`` (its count used up by one), or None.

        A request resent with a p-ticket whose time has passed is let through untouched."""
        ticket = body.get("p-ticket") if isinstance(body, dict) else None
        if ticket and ticket in self.tickets:
            remaining = self.tickets[ticket] - time.monotonic()
            if remaining > 0:  # resent too early: the same ticket, the time left
                return 200, {"p-ticket": ticket, "p-time": int(remaining) + 1, "p-captcha": False}
            del self.tickets[ticket]
            self.stats["tickets_honoured"] += 1
            return None
        for fault in self.faults:
            if not fault.matches(endpoint):
                continue
            if fault.count > 0:
                fault.count -= 1
            self.stats[f"fault:{fault.kind}"] += 1
            return fault
        return None

    def fault_answer(self, fault: Fault) -> tuple[int, Any, dict | None] | None:
        """What a fault answers instead of running the request: (status, body, headers)."""
        if fault.kind in ("penalty", "captcha"):
            t = secrets.token_hex(8)
            self.tickets[t] = time.monotonic() + fault.p_time
            body = {"p-ticket": t, "p-time": fault.p_time, "p-captcha": fault.kind == "captcha"}
            return 200, body, None
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return fault.status, "", headers
        if fault.kind == "reject":
            return (
                200,
                {"failureReason": fault.reason, "failureText": fault.text or fault.reason},
                None,
            )
        if fault.kind == "error_text":
            return 200, {"errorText": fault.text or "Simulated failure"}, None
        return None

    # --- the Tradovate API -------------------------------------------------------------------
    def call(self, endpoint: str, query: dict, body: Any, user: dict | None) -> tuple[int, Any]:
        """One Tradovate request (REST or WebSocket) → (status, JSON-able body)."""
        endpoint = endpoint.strip("/")
        if endpoint == "auth/accesstokenrequest":
            return self.access_token_request(body if isinstance(body, dict) else {})
        if user is None:
            return 401, "Access is denied"
        uid = user["id"]
        body = body if isinstance(body, dict) else {}
        params = {**query, **body}
        e = self.engine
        try:
            if endpoint == "auth/renewaccesstoken":
                self.stats["renewals"] += 1
                return 200, self.issue_token(user)
            if endpoint == "auth/me":
                return 200, {
                    "userId": uid,
                    "name": user["name"],
                    "fullName": user["fullName"],
                    "email": user["email"],
                    "emailVerified": True,
                    "isTrial": False,
                }
            if endpoint == "order/placeorder":
                return 200, e.place_order(uid, body)
            if endpoint == "order/placeoso":
                return 200, e.place_oso(uid, body)
            if endpoint == "order/placeoco":
                return 200, e.place_oco(uid, body)
            if endpoint == "order/cancelorder":
                return 200, e.cancel_order(uid, body.get("orderId"))
            if endpoint == "order/modifyorder":
                return 200, e.modify_order(uid, body)
            if endpoint == "order/liquidateposition":
                return 200, e.liquidate(uid, body)
            if endpoint == "cashBalance/getcashbalancesnapshot":
                return 200, e.cash_snapshot(uid, params.get("accountId"))
            if endpoint == "user/syncrequest":
                return 200, self.snapshot(uid)
            if endpoint == "contract/rollcontract":
                return 200, self.roll(params)
            if endpoint.lower().startswith("orderstrategy"):
                return self.order_strategy_call(endpoint.lower(), params, body, uid)
            entity, _, op = endpoint.partition("/")
            return self.generic(entity, op, params, uid)
        except Reject as exc:
            if endpoint.lower().startswith("orderstrategy/"):
                return 200, {"errorText": exc.text, "failureReason": exc.reason}
            if endpoint.startswith("order/") or endpoint.startswith("cashBalance/"):
                if exc.reason == "Unauthorized" and endpoint.startswith("cashBalance/"):
                    return 200, {"errorText": exc.text}
                return 200, {"failureReason": exc.reason, "failureText": exc.text}
            return 200, {"errorText": exc.text}
        except NotFound as exc:
            return 404, str(exc) or "Not found"

    def order_strategy_call(self, endpoint: str, params: dict, body: dict, uid: int):
        """The ``orderStrategy`` family, whose names Tradovate takes in any case."""
        strategies = self.engine.strategies
        if endpoint == "orderstrategy/startorderstrategy":
            return 200, strategies.start(uid, body)
        if endpoint == "orderstrategy/interruptorderstrategy":
            return 200, strategies.interrupt(uid, body)
        if endpoint == "orderstrategy/modifyorderstrategy":
            return 200, strategies.modify(uid, body)
        entity, _, op = endpoint.partition("/")
        names = {"orderstrategy": "orderStrategy", "orderstrategylink": "orderStrategyLink"}
        if entity not in names:
            raise NotFound(f"Unknown endpoint {endpoint}")
        return self.generic(names[entity], op, params, uid)

    def entity_lists(self, uid: int) -> dict[str, tuple[list[dict], str]]:
        e = self.engine
        return {
            "account": (e.user_accounts(uid), "userId"),
            "position": (e.user_positions(uid), "accountId"),
            "order": (e.user_orders(uid), "accountId"),
            "orderVersion": (e.user_versions(uid), "orderId"),
            "fill": (e.user_fills(uid), "orderId"),
            "executionReport": (e.user_reports(uid), "orderId"),
            "command": (e.user_commands(uid), "orderId"),
            "cashBalance": (e.user_cash(uid), "accountId"),
            "accountRiskStatus": (self.risk_statuses(uid), "id"),
            "orderStrategy": (e.strategies.user_strategies(uid), "accountId"),
            "orderStrategyLink": (e.strategies.user_links(uid), "orderStrategyId"),
        }

    def risk_statuses(self, uid: int) -> list[dict]:
        return [
            {
                "id": a["id"],
                "adminAction": None,
                "liquidateOnly": None,
                "userTriggeredLiqOnly": False,
            }
            for a in self.engine.user_accounts(uid)
        ]

    def generic(self, entity: str, op: str, params: dict, uid: int) -> tuple[int, Any]:
        if entity in ("contract", "product", "contractMaturity"):
            return self.reference(entity, op, params)
        lists = self.entity_lists(uid)
        if entity not in lists:
            raise NotFound(f"Unknown endpoint {entity}/{op}")
        rows, master = lists[entity]
        if op == "list":
            return 200, rows
        if op == "item":
            for row in rows:
                if str(row["id"]) == str(params.get("id")):
                    return 200, row
            raise NotFound(f"{entity} {params.get('id')} not found")
        if op == "items":
            ids = {s.strip() for s in str(params.get("ids", "")).split(",")}
            return 200, [r for r in rows if str(r["id"]) in ids]
        if op == "deps":
            return 200, [r for r in rows if str(r.get(master)) == str(params.get("masterid"))]
        if op == "ldeps":
            ids = {s.strip() for s in str(params.get("masterids", "")).split(",")}
            return 200, [r for r in rows if str(r.get(master)) in ids]
        if op == "find" and entity == "account":
            for row in rows:
                if row["name"] == params.get("name"):
                    return 200, row
            return 200, None
        raise NotFound(f"Unknown endpoint {entity}/{op}")

    def reference(self, entity: str, op: str, params: dict) -> tuple[int, Any]:
        e = self.engine
        if entity == "contract":
            if op == "find":
                name = str(params.get("name", ""))
                try:
                    c = resolve_symbol(name)
                except UnknownSymbol:
                    return 200, None
                if c.name != name.upper():  # find is by exact Tradovate name
                    return 200, None
                cid, c = e.contract(c.name)
                return 200, e.contract_entity(cid, c)
            if op in ("item", "items"):
                raw = params.get("id") if op == "item" else params.get("ids", "")
                out = []
                for s in str(raw).split(","):
                    c = contract_from_id(int(s)) if s.strip().isdigit() else None
                    if c is not None:
                        out.append(e.contract_entity(int(s), c))
                if op == "item":
                    if not out:
                        raise NotFound(f"contract {raw} not found")
                    return 200, out[0]
                return 200, out
            if op == "suggest":
                text = str(params.get("t", "")).upper()
                limit = int(params.get("l", 10) or 10)
                out = []
                for root in PRODUCTS:
                    if (
                        root.startswith(text[: len(root)])
                        or text.startswith(root)
                        or root.startswith(text)
                    ):
                        c = front_contract(root)
                        for nth in (1, 2):
                            c = front_contract(root, nth=nth)
                            cid, _ = e.contract(c.name)
                            out.append(e.contract_entity(cid, c))
                return 200, out[:limit]
            if op == "deps":  # contracts of a product
                root = next(
                    (r for r, i in PRODUCT_IDS.items() if str(i) == str(params.get("masterid"))),
                    None,
                )
                if root is None:
                    return 200, []
                out = []
                for nth in (1, 2, 3, 4):
                    c = front_contract(root, nth=nth)
                    cid, _ = e.contract(c.name)
                    out.append(e.contract_entity(cid, c))
                return 200, out
        if entity == "product":
            if op == "find":
                root = str(params.get("name", "")).upper()
                return 200, e.product_entity(root) if root in PRODUCTS else None
            if op == "list":
                return 200, [e.product_entity(r) for r in PRODUCTS]
            if op == "item":
                for r, i in PRODUCT_IDS.items():
                    if str(i) == str(params.get("id")):
                        return 200, e.product_entity(r)
                raise NotFound("product not found")
            if op == "suggest":
                text = str(params.get("t", "")).upper()
                return 200, [e.product_entity(r) for r in PRODUCTS if r.startswith(text)]
        if entity == "contractMaturity":
            if op == "item":
                c = contract_from_id(int(params.get("id", 0) or 0))
                if c is None:
                    raise NotFound("contractMaturity not found")
                return 200, e.maturity_entity(int(params["id"]), c)
            if op == "deps":
                root = next(
                    (r for r, i in PRODUCT_IDS.items() if str(i) == str(params.get("masterid"))),
                    None,
                )
                if root is None:
                    return 200, []
                out = []
                for nth in (1, 2, 3, 4):
                    c = front_contract(root, nth=nth)
                    cid, _ = e.contract(c.name)
                    out.append(e.maturity_entity(cid, c))
                return 200, out
        raise NotFound(f"Unknown endpoint {entity}/{op}")

    def roll(self, params: dict) -> dict:
        try:
            c = resolve_symbol(str(params.get("name", "")))
        except UnknownSymbol as exc:
            return {"errorText": str(exc)}
        forward = params.get("forward", True)
        today = self.engine.now().date()
        front = front_contract(c.root, today)
        target = c
        if forward or (params.get("ifExpired") and c.expiration and c.expiration < today):
            # Roll to the contract after the given one, never to one already past its roll.
            month_index = c.year * 12 + c.month
            for nth in range(1, 6):
                candidate = front_contract(c.root, today, nth)
                if candidate.year * 12 + candidate.month > month_index:
                    target = candidate
                    break
            if front.year * 12 + front.month > c.year * 12 + c.month:
                target = front
        cid, target = self.engine.contract(target.name)
        return {"contract": self.engine.contract_entity(cid, target)}

    def snapshot(self, uid: int) -> dict:
        e = self.engine
        lists = self.entity_lists(uid)
        user = e.users[uid]
        contract_ids = {p["contractId"] for p in lists["position"][0]} | {
            o["contractId"] for o in lists["order"][0]
        }
        contracts = []
        for cid in sorted(contract_ids):
            c = contract_from_id(cid)
            if c:
                contracts.append(e.contract_entity(cid, c))
        return {
            "users": [
                {"id": uid, "name": user["name"], "email": user["email"], "status": "Active"}
            ],
            "accounts": lists["account"][0],
            "accountRiskStatuses": lists["accountRiskStatus"][0],
            "marginSnapshots": [],
            "userAccountAutoLiqs": [],
            "cashBalances": lists["cashBalance"][0],
            "currencies": [{"id": 1, "name": "USD", "symbol": "$"}],
            "positions": lists["position"][0],
            "fillPairs": [],
            "orders": lists["order"][0],
            "contracts": contracts,
            "contractMaturities": [],
            "products": [],
            "exchanges": [],
            "spreadDefinitions": [],
            "commands": lists["command"][0],
            "commandReports": [],
            "executionReports": lists["executionReport"][0],
            "orderVersions": lists["orderVersion"][0],
            "fills": lists["fill"][0],
            "orderStrategies": lists["orderStrategy"][0],
            "orderStrategyLinks": lists["orderStrategyLink"][0],
            "userProperties": [],
            "properties": [],
            "userPlugins": [],
            "userReadStatuses": [],
            "contractGroups": [],
            "orderStrategyTypes": [{"id": 2, "name": "multibracket", "enabled": True}],
        }

    # --- HTTP handlers -----------------------------------------------------------------------
    async def rest(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"].strip("/")
        self.stats[endpoint] += 1
        body: Any = {}
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    return web.Response(status=400, text="Malformed JSON body")
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        user = self.user_for_token(token)
        name = self.login_name(endpoint, body, user)
        if name is not None and self.refused_by_limit(name, endpoint):
            return web.Response(status=429, text="")
        status = 0
        try:
            response = await self.rest_answer(request, endpoint, body, user, name)
            status = response.status
            return response
        finally:
            if name is not None and status:  # a lost answer counted itself
                self.requests.record(name, endpoint, self.engine.now(), status)

    async def rest_answer(self, request, endpoint: str, body: Any, user, name) -> web.Response:
        fault = self.take_fault(endpoint, body)
        if isinstance(fault, tuple):
            return _response(*fault)
        if isinstance(fault, Fault) and not fault.executes_first:
            answer = self.fault_answer(fault)
            if answer is not None:
                return _response(*answer)
            await asyncio.sleep(fault.delay)  # a slow broker: the request runs late
            user = self.engine.users.get(user["id"]) if user else None
        if user is None and endpoint != "auth/accesstokenrequest":
            self.stats["unauthorized"] += 1
            return web.Response(status=401, text="Access is denied")
        status, data = self.call(endpoint, dict(request.query), body, user)
        if isinstance(fault, Fault) and fault.kind == "lost_answer":
            if name is not None:  # counted now: the answer never comes
                self.requests.record(name, endpoint, self.engine.now(), status)
            with contextlib.suppress(TimeoutError):  # held, unless the server stops first
                await asyncio.wait_for(self.closing.wait(), fault.delay)
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # no response at all: the client never learns
        if isinstance(fault, Fault) and fault.executes_first:
            return _response(*self.fault_answer(fault))
        return _response(status, data)

    def login_name(self, endpoint: str, body: Any, user: dict | None) -> str | None:
        """Whose request this is: the token's login, or the name a login request gives."""
        if user is not None:
            return user["name"]
        if endpoint == "auth/accesstokenrequest" and isinstance(body, dict) and body.get("name"):
            return str(body["name"])
        return None

    def refused_by_limit(self, name: str, endpoint: str) -> bool:
        """Over one of Tradovate's per-login limits: logged, answered 429 by the caller."""
        at = self.engine.now()
        if self.requests.over_limit(name, endpoint, at) is None:
            return False
        self.requests.record(name, endpoint, at, 429)
        self.stats["rate_limited"] += 1
        return True

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        sock = Socket(ws, request.transport)
        self.sockets.add(sock)
        self.stats["ws_connections"] += 1
        await ws.send_str("o")
        writer = asyncio.create_task(sock.writer(self.config.heartbeat))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self.ws_message(sock, msg.data)
        finally:
            self.sockets.discard(sock)
            sock.wake.set()
            writer.cancel()
        return ws

    def ws_message(self, sock: Socket, text: str) -> None:
        if text == "[]":
            return  # client heartbeat
        parts = text.split("\n", 3)
        if len(parts) < 2:
            return
        endpoint, req_id = parts[0], parts[1]
        query = parts[2] if len(parts) > 2 else ""
        raw_body = parts[3] if len(parts) > 3 else ""
        try:
            rid: Any = int(req_id)
        except ValueError:
            rid = req_id
        if endpoint == "authorize":
            user = self.user_for_token(raw_body.strip())
            if user is None:
                sock.push({"s": 401, "i": rid, "d": "Access is denied"})
                return
            if self.refused_by_limit(user["name"], endpoint):
                sock.push({"s": 429, "i": rid})
                return
            self.requests.record(user["name"], endpoint, self.engine.now(), 200)
            sock.user_id = user["id"]
            sock.push({"s": 200, "i": rid})
            return
        if sock.user_id is None:
            sock.push({"s": 401, "i": rid, "d": "Access is denied"})
            return
        name = self.engine.users[sock.user_id]["name"]
        if self.refused_by_limit(name, endpoint):
            sock.push({"s": 429, "i": rid})
            return
        try:
            body = json.loads(raw_body) if raw_body.strip() else {}
        except ValueError:
            self.requests.record(name, endpoint, self.engine.now(), 400)
            sock.push({"s": 400, "i": rid, "d": "Malformed JSON body"})
            return
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if endpoint in ("md/subscribeQuote", "md/unsubscribeQuote"):
            self.requests.record(name, endpoint, self.engine.now(), 200)
            answer, quote = self.md_request(sock, endpoint, body)
            sock.push({"s": 200, "i": rid, "d": answer})
            if quote is not None:
                sock.push({"e": "md", "d": {"quotes": [quote]}})
            return
        self.stats[endpoint] += 1
        fault = self.take_fault(endpoint, body)
        if isinstance(fault, tuple):
            self.requests.record(name, endpoint, self.engine.now(), fault[0])
            sock.push({"s": fault[0], "i": rid, "d": fault[1]})
            return
        if isinstance(fault, Fault) and not fault.executes_first:
            answer = self.fault_answer(fault)
            if answer is not None:
                self.requests.record(name, endpoint, self.engine.now(), answer[0])
                sock.push({"s": answer[0], "i": rid, "d": answer[1]})
                return
            asyncio.get_running_loop().call_later(
                fault.delay, self.ws_execute, sock, endpoint, params, body, rid, None
            )
            return
        self.ws_execute(sock, endpoint, params, body, rid, fault)

    def ws_execute(self, sock, endpoint, params, body, rid, fault: Fault | None) -> None:
        """Run one WebSocket request and answer it (or not, as the fault says)."""
        if sock not in self.sockets:
            return  # the socket closed while the request was delayed
        user = self.engine.users.get(sock.user_id)
        status, data = self.call(endpoint, params, body, user)
        if user is not None:
            self.requests.record(user["name"], endpoint, self.engine.now(), status)
        if endpoint == "user/syncrequest" and status == 200:
            sock.synced = True
        if fault is not None and fault.kind == "lost_answer":
            return
        if fault is not None and fault.executes_first:
            status, data, _ = self.fault_answer(fault)
        sock.push({"s": status, "i": rid, "d": data})

    def md_request(self, sock: Socket, endpoint: str, body: dict) -> tuple[dict, dict | None]:
        """A quote (un)subscription → (its answer, the first quote to push after it)."""
        if endpoint == "md/subscribeQuote":
            try:
                cid, c = self.engine.contract(body.get("symbol"))
            except Reject as exc:
                return {"errorText": exc.text}, None
            sock.quotes.add(cid)
            self.engine.book(cid, c)
            return {}, self.engine.book_for(sock.user_id, cid).entity(cid)
        with contextlib.suppress(Reject):
            sock.quotes.discard(self.engine.contract(body.get("symbol"))[0])
        return {}, None

    # --- simulator-only endpoints ------------------------------------------------------------
    def admin_allowed(self, request: web.Request) -> bool:
        return not self.config.admin_token or secrets.compare_digest(
            request.headers.get("X-Sim-Admin", ""), self.config.admin_token
        )

    async def admin(self, request: web.Request) -> web.Response:
        # Health tells nothing secret: monitoring and start-up probes need no token.
        if request.match_info["action"].strip("/") == "health" and request.method == "GET":
            return web.json_response({"ok": True, "users": len(self.engine.users)})
        if not self.admin_allowed(request):
            return web.json_response({"error": "forbidden"}, status=403)
        action = request.match_info["action"].strip("/")
        body: dict = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "malformed JSON"}, status=400)
        e = self.engine
        try:
            if action == "users" and request.method == "POST":
                return self.json(self.provision(body))
            if action == "faults" and request.method == "DELETE":
                self.faults.clear()
                self.tickets.clear()
                return self.json({"faults": 0})
            if action == "faults":
                allowed = set(Fault.__dataclass_fields__)
                self.faults.append(Fault(**{k: v for k, v in body.items() if k in allowed}))
                return self.json({"faults": len(self.faults)})
            if action == "price":
                cid, c = e.contract(body.get("symbol"))
                e.book(cid, c)
                user_id = self.user_id_of(body.get("user"))
                source = str(body.get("source") or "manual")
                if source not in ("manual", "random walk", "replay"):
                    raise ValueError("source is manual, random walk or replay")
                book = e.set_price(
                    cid,
                    _dec(body.get("price")),
                    bid=_dec(body.get("bid")),
                    ask=_dec(body.get("ask")),
                    user_id=user_id,
                    source=source,
                )
                return self.json(
                    {
                        "contractId": cid,
                        "name": c.name,
                        "source": book.source,
                        **book.entity(cid)["entries"],
                    }
                )
            if action == "quote":
                cid, c = e.contract(request.query.get("symbol") or body.get("symbol"))
                e.book(cid, c)
                user_id = self.user_id_of(request.query.get("user") or body.get("user"))
                book = e.book_for(user_id, cid) if user_id else e.book(cid)
                return self.json(
                    {"contractId": cid, "name": c.name, "source": book.source, **book.entity(cid)}
                )
            if action == "feed":
                if "running" in body:
                    self.feed_running = bool(body["running"])
                if body.get("interval"):
                    self.feed_interval = float(body["interval"])
                return self.json({"running": self.feed_running, "interval": self.feed_interval})
            if action == "config":
                return self.json(self.configure(body))
            if action == "expire-tokens":
                past = self.engine.now() - timedelta(seconds=1)
                for info in self.tokens.values():
                    info["expires"] = past
                return self.json({"expired": len(self.tokens)})
            if action == "account":
                account = e.accounts.get(int(body.get("accountId", 0)))
                if account is None:
                    return web.json_response({"error": "no such account"}, status=404)
                money = e.account_money[account["id"]]
                if "maxPos" in body:
                    money["maxPos"] = None if body["maxPos"] is None else int(body["maxPos"])
                if "active" in body:
                    account["active"] = bool(body["active"])
                if "balance" in body:
                    money["balance"] = Decimal(str(body["balance"]))
                    e.cash_entities[account["id"]]["amount"] = money["balance"]
                return self.json({"account": account, "maxPos": money["maxPos"]})
            if action == "drop-sockets":
                dropped = len(self.sockets)
                for sock in list(self.sockets):
                    sock.transport.close() if sock.transport else None
                return self.json({"dropped": dropped})
            if action == "shutdown-event":
                for sock in self.sockets:
                    if sock.synced:
                        sock.push(
                            {
                                "e": "shutdown",
                                "d": {"reasonCode": body.get("reasonCode", "Maintenance")},
                            }
                        )
                return self.json({"ok": True})
            if action == "stats":
                return self.json(
                    {
                        "requests": dict(self.stats),
                        "by_user": self.requests.by_user(),
                        "sockets": len(self.sockets),
                        "users": len(e.users),
                        "orders": len(e.orders),
                    }
                )
            if action == "clock":
                if request.method == "POST":
                    e.clock.set(
                        now=body.get("now"),
                        offset_seconds=body.get("offset_seconds"),
                        real=bool(body.get("real")),
                    )
                return self.json(e.clock.describe())
            if action == "requests":
                return self.json(self.request_history(request.query))
            if action in ("", "health"):
                return self.json({"ok": True, "users": len(e.users)})
        except Reject as exc:
            status = 404 if exc.reason == "NotFound" else 409
            return web.json_response({"error": exc.text, "reason": exc.reason}, status=status)
        except (TypeError, ValueError, ArithmeticError) as exc:
            return web.json_response({"error": str(exc) or "invalid value"}, status=400)
        return web.json_response({"error": f"unknown action {action}"}, status=404)

    def user_id_of(self, name: Any) -> int | None:
        """The id of a login named in a ``/sim`` body (None when none is named)."""
        if not name:
            return None
        user_id = self.engine.users_by_name.get(str(name))
        if user_id is None:
            raise Reject("NotFound", f"No simulator login {name!r}.")
        return user_id

    def request_history(self, query) -> dict:
        """``/sim/requests?user=<login>&since=<iso>``: that login's requests, oldest first."""
        name = query.get("user") or ""
        since = query.get("since")
        since_at = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        if since_at is not None and since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
        rows = self.requests.requests(name, since_at)
        return {
            "user": name,
            "count": len(rows),
            "requests": [
                {"timestamp": iso(at), "endpoint": endpoint, "status": status}
                for at, endpoint, status in rows
            ],
        }

    def configure(self, body: dict) -> dict:
        """``/sim/config``: change what is given, answer the whole configuration."""
        rules = self.engine.rules
        if "token_ttl" in body:
            self.config.token_ttl = int(body["token_ttl"])
        if "slippage_ticks" in body:
            rules.slippage_ticks = _non_negative(body["slippage_ticks"], "slippage_ticks")
        if "partial_fills" in body:
            rules.partial_fills = bool(body["partial_fills"])
        if "book_size" in body:
            rules.book_size = max(1, _non_negative(body["book_size"], "book_size"))
            for book in self.engine.all_books():
                book.bid_size = book.ask_size = rules.book_size
        if "enforce_sessions" in body:
            rules.enforce_sessions = bool(body["enforce_sessions"])
        self.requests.limits.update(body)
        return {
            "token_ttl": self.config.token_ttl,
            **dataclasses.asdict(rules),
            **dataclasses.asdict(self.requests.limits),
        }

    @staticmethod
    def json(data: Any) -> web.Response:
        return web.Response(text=dumps(data), content_type="application/json")

    # --- background tasks --------------------------------------------------------------------
    async def feed(self) -> None:
        if self.config.replay_path:
            await self.replay(self.config.replay_path)
            return
        while True:
            await asyncio.sleep(self.feed_interval)
            if not self.feed_running:
                continue
            active = self.engine.active_contracts()
            for sock in self.sockets:
                active |= sock.quotes
            if active:
                self.engine.random_walk(sorted(active))

    async def replay(self, path: Path) -> None:
        rows = []
        with path.open(newline="") as fh:
            for row in csv.reader(fh):
                if not row or row[0].startswith("#") or row[0].lower() == "timestamp":
                    continue
                ts = datetime.fromisoformat(row[0].replace("Z", "+00:00"))
                rows.append((ts, row[1], Decimal(row[2])))
        while rows:
            previous = None
            if self.engine.books:  # between two passes the last price holds a moment
                await asyncio.sleep(1.0 / self.config.replay_speed)
            for ts, symbol, price in rows:
                if previous is not None:
                    await asyncio.sleep(
                        max(0.0, (ts - previous).total_seconds()) / self.config.replay_speed
                    )
                previous = ts
                if self.feed_running:
                    with contextlib.suppress(Reject):
                        cid, c = self.engine.contract(symbol)
                        self.engine.book(cid, c)
                        self.engine.set_price(cid, price, source="replay")

    async def day_roll(self) -> None:
        """Notice the 17:00 Central roll within a second, even with no request coming."""
        while True:
            await asyncio.sleep(1.0)
            self.engine.roll_day()

    async def persist(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            self.save()

    def save(self) -> None:
        path = self.config.state_path
        if not path or not self.engine.dirty:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(dumps_state(self.engine))
        os.replace(tmp, path)
        self.engine.dirty = False

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_get("/v1/websocket", self.websocket)
        app.router.add_route("*", "/v1/{endpoint:.+}", self.rest)
        app.router.add_route("*", "/sim/{action:.*}", self.admin)
        app.on_startup.append(self._start_tasks)
        app.on_shutdown.append(self._release_held)
        app.on_cleanup.append(self._stop_tasks)
        return app

    async def _release_held(self, app) -> None:
        self.closing.set()

    async def _start_tasks(self, app) -> None:
        self.closing = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.feed()),
            asyncio.create_task(self.persist()),
            asyncio.create_task(self.day_roll()),
        ]

    async def _stop_tasks(self, app) -> None:
        for task in self._tasks:
            task.cancel()
        for sock in list(self.sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close()
        self.save()


def _response(status: int, data: Any, headers: dict | None = None) -> web.Response:
    if isinstance(data, str):
        return web.Response(status=status, text=data, headers=headers)
    return web.Response(
        status=status, text=dumps(data), content_type="application/json", headers=headers
    )


def _non_negative(value: Any, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 0:
        raise ValueError(f"{name} must be a whole number ≥ 0")
    return int(value)


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


class SimServer:
    """Run a ``Simulator`` on its own event loop in a daemon thread (tests, benchmarks)."""

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig(port=0)
        self.sim = Simulator(self.config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/v1/websocket"

    def start_in_thread(self) -> SimServer:
        self._thread = threading.Thread(target=self._run, name="tradovate-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the Tradovate simulator did not start")
        return self

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._runner = web.AppRunner(self.sim.app(), access_log=None)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the simulator's loop (engine access from another thread)."""
        fut = asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop)
        return fut.result(10)

    def stop(self) -> None:
        if self.loop and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread:
            self._thread.join(10)


async def _call(fn, *args):
    return fn(*args)


def run(config: SimConfig) -> None:
    """Serve until interrupted (``manage.py tradovate_sim``)."""
    sim = Simulator(config)
    log.info("Tradovate simulator on http://%s:%s/v1", config.host, config.port)
    web.run_app(sim.app(), host=config.host, port=config.port, access_log=None, print=None)
