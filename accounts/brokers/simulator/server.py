"""The Tradovate simulator: Tradovate's REST and WebSocket protocol over aiohttp, one process.

Tradovate paths live under ``/v1`` exactly as API.md describes them. Simulator-only paths live
under ``/sim`` (the real Tradovate has nothing like them): provisioning paper logins, moving
prices, injecting faults, reading request counts.

    server = SimServer(SimConfig(port=0)).start_in_thread()
    server.base_url      # "http://127.0.0.1:PORT/v1"
    server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
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


@dataclass
class Fault:
    kind: str  # penalty | status | delay | reject | error_text | captcha
    path: str = ""  # endpoint prefix it applies to ("" = every Tradovate path)
    count: int = 1  # how many requests it affects (-1 = until cleared)
    status: int = 500
    p_time: float = 1.0
    delay: float = 1.0
    retry_after: str | None = None
    reason: str = "UnknownReason"
    text: str = ""

    def matches(self, endpoint: str) -> bool:
        return self.count != 0 and endpoint.startswith(self.path.strip("/"))


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
        self.tokens: dict[str, dict] = {}
        self.faults: list[Fault] = []
        self.tickets: dict[str, float] = {}  # p-ticket → monotonic time it becomes valid
        self.stats: Counter = Counter()
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

    def _on_quote(self, contract_id: int, quote: dict) -> None:
        for sock in self.sockets:
            if contract_id in sock.quotes:
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
        expires = datetime.now(UTC) + timedelta(seconds=self.config.token_ttl)
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
        if info["expires"] <= datetime.now(UTC):
            self.tokens.pop(token, None)
            return None
        return self.engine.users.get(info["userId"])

    def access_token_request(self, body: dict) -> tuple[int, Any]:
        self.stats["logins"] += 1
        user = self.engine.authenticate(str(body.get("name", "")), str(body.get("password", "")))
        if user is None:
            self.stats["login_failures"] += 1
            return 200, {"errorText": BAD_LOGIN}
        if user.get("sec") and (
            str(body.get("sec", "")) != user["sec"] or str(body.get("cid", "")) != user.get("cid")
        ):
            self.stats["login_failures"] += 1
            return 200, {"errorText": "The API key (cid/sec) is not valid for this user."}
        return 200, self.issue_token(user)

    # --- faults ------------------------------------------------------------------------------
    async def apply_faults(self, endpoint: str, body: dict) -> web.Response | tuple | None:
        """The first matching fault decides; None lets the request through."""
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
            if fault.kind in ("penalty", "captcha"):
                t = secrets.token_hex(8)
                self.tickets[t] = time.monotonic() + fault.p_time
                return 200, {
                    "p-ticket": t,
                    "p-time": fault.p_time,
                    "p-captcha": fault.kind == "captcha",
                }
            if fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                return web.Response(status=fault.status, text="", headers=headers)
            if fault.kind == "delay":
                await asyncio.sleep(fault.delay)
                return None
            if fault.kind == "reject":
                return 200, {
                    "failureReason": fault.reason,
                    "failureText": fault.text or fault.reason,
                }
            if fault.kind == "error_text":
                return 200, {"errorText": fault.text or "Simulated failure"}
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
            entity, _, op = endpoint.partition("/")
            return self.generic(entity, op, params, uid)
        except Reject as exc:
            if endpoint.startswith("order/") or endpoint.startswith("cashBalance/"):
                if exc.reason == "Unauthorized" and endpoint.startswith("cashBalance/"):
                    return 200, {"errorText": exc.text}
                return 200, {"failureReason": exc.reason, "failureText": exc.text}
            return 200, {"errorText": exc.text}
        except NotFound as exc:
            return 404, str(exc) or "Not found"

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
        today = datetime.now(UTC).date()
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
            "orderStrategies": [],
            "orderStrategyLinks": [],
            "userProperties": [],
            "properties": [],
            "userPlugins": [],
            "userReadStatuses": [],
            "contractGroups": [],
            "orderStrategyTypes": [],
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
        faulted = await self.apply_faults(endpoint, body if isinstance(body, dict) else {})
        if isinstance(faulted, web.StreamResponse):
            return faulted
        if faulted is not None:
            status, data = faulted
            return web.Response(status=status, text=dumps(data), content_type="application/json")
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        user = self.user_for_token(token)
        if user is None and endpoint.strip("/") != "auth/accesstokenrequest":
            self.stats["unauthorized"] += 1
            return web.Response(status=401, text="Access is denied")
        status, data = self.call(endpoint, dict(request.query), body, user)
        if isinstance(data, str):
            return web.Response(status=status, text=data)
        return web.Response(status=status, text=dumps(data), content_type="application/json")

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
            sock.user_id = user["id"]
            sock.push({"s": 200, "i": rid})
            return
        if sock.user_id is None:
            sock.push({"s": 401, "i": rid, "d": "Access is denied"})
            return
        user = self.engine.users.get(sock.user_id)
        try:
            body = json.loads(raw_body) if raw_body.strip() else {}
        except ValueError:
            sock.push({"s": 400, "i": rid, "d": "Malformed JSON body"})
            return
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if endpoint == "md/subscribeQuote":
            try:
                cid, c = self.engine.contract(body.get("symbol"))
            except Reject as exc:
                sock.push({"s": 200, "i": rid, "d": {"errorText": exc.text}})
                return
            sock.quotes.add(cid)
            sock.push({"s": 200, "i": rid, "d": {}})
            sock.push({"e": "md", "d": {"quotes": [self.engine.book(cid, c).entity(cid)]}})
            return
        if endpoint == "md/unsubscribeQuote":
            with contextlib.suppress(Reject):
                sock.quotes.discard(self.engine.contract(body.get("symbol"))[0])
            sock.push({"s": 200, "i": rid, "d": {}})
            return
        self.stats[endpoint] += 1
        status, data = self.call(endpoint, params, body, user)
        sock.push({"s": status, "i": rid, "d": data})
        if endpoint == "user/syncrequest" and status == 200:
            sock.synced = True

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
                book = e.set_price(
                    cid,
                    _dec(body.get("price")),
                    bid=_dec(body.get("bid")),
                    ask=_dec(body.get("ask")),
                )
                return self.json({"contractId": cid, "name": c.name, **book.entity(cid)["entries"]})
            if action == "quote":
                cid, c = e.contract(request.query.get("symbol") or body.get("symbol"))
                return self.json({"contractId": cid, "name": c.name, **e.book(cid, c).entity(cid)})
            if action == "feed":
                if "running" in body:
                    self.feed_running = bool(body["running"])
                if body.get("interval"):
                    self.feed_interval = float(body["interval"])
                return self.json({"running": self.feed_running, "interval": self.feed_interval})
            if action == "config":
                if "token_ttl" in body:
                    self.config.token_ttl = int(body["token_ttl"])
                return self.json({"token_ttl": self.config.token_ttl})
            if action == "expire-tokens":
                past = datetime.now(UTC) - timedelta(seconds=1)
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
                        "sockets": len(self.sockets),
                        "users": len(e.users),
                        "orders": len(e.orders),
                    }
                )
            if action in ("", "health"):
                return self.json({"ok": True, "users": len(e.users)})
        except Reject as exc:
            return web.json_response({"error": exc.text, "reason": exc.reason}, status=409)
        except (TypeError, ValueError, ArithmeticError) as exc:
            return web.json_response({"error": str(exc) or "invalid value"}, status=400)
        return web.json_response({"error": f"unknown action {action}"}, status=404)

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
                        self.engine.set_price(cid, price)

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
        app.on_cleanup.append(self._stop_tasks)
        return app

    async def _start_tasks(self, app) -> None:
        self._tasks = [asyncio.create_task(self.feed()), asyncio.create_task(self.persist())]

    async def _stop_tasks(self, app) -> None:
        for task in self._tasks:
            task.cancel()
        for sock in list(self.sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close()
        self.save()


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
