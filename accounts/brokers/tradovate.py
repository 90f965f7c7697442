"""The Tradovate client: REST (requests) and the user / market-data WebSockets.

One client per login. The access token is cached in the Django cache (Redis), shared by every
web and worker process, and renewed with ``/auth/renewaccesstoken`` before it expires: there is
never a login per order. Failures become the typed errors of ``accounts.brokers.base``.

Retry policy (all waits are jittered):
* reads: connection errors, timeouts and 5xx are retried (3 attempts); penalty tickets
  (HTTP 200 ``p-ticket``/``p-time``) are waited out and the body resent with the ticket when the
  wait is short; 429/423 put the login in back-off for every process (Redis), short waits are
  slept through;
* order commands (place, strategy, liquidate, cancel, modify) are never resent here: Tradovate
  does not de-duplicate a repeated ``clOrdId``. A request that may have been executed (read
  timeout, 5xx, an answer lost) raises ``OutcomeUnknown``; one that surely never left raises
  ``BrokerUnavailable(sent=False)``; a penalty or a 429 raises ``RateLimited`` (with the
  ``p_ticket`` to resend with) at once, so the caller re-checks its guards before the retry;
* ``p-captcha`` → ``CaptchaRequired`` (no automated retry is possible);
* 401: the cached token is dropped and the call is made once more with a fresh login (a 401
  means the request was not executed).

One file for one idea, the Tradovate REST client: one retry policy, one token, one set of entity
readers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
import urllib3
from django.conf import settings
from django.core.cache import cache

from accounts.brokers.base import (
    AccountInfo,
    AuthenticationFailed,
    BracketSpec,
    Broker,
    BrokerError,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStrategy,
    BrokerPosition,
    BrokerStream,
    BrokerUnavailable,
    CaptchaRequired,
    CashBalance,
    Credentials,
    EventHandler,
    OrderRejected,
    OutcomeUnknown,
    PlacedOrder,
    PlacedStrategy,
    Quote,
    RateLimited,
)
from accounts.brokers.stream import TradovateStream
from accounts.brokers.symbols import Contract, UnknownSymbol, resolve_symbol

log = logging.getLogger(__name__)

RENEW_BEFORE_SECONDS = 15 * 60  # renew this long before expirationTime
MAX_PENALTY_WAIT = 15.0  # seconds we sleep through for a p-ticket / Retry-After inside a call
MAX_ATTEMPTS = 3
LOGIN_FAILURE_MEMORY = 60  # seconds a refused login is remembered (5 failures/hour allowed)
DEFAULT_BACKOFF = {429: 60.0, 423: 10.0}

_local = threading.local()
_memo_lock = threading.Lock()
_token_memo: dict[str, dict] = {}  # per-process copy of the shared token
_contract_names: dict[tuple[str, int], str] = {}
_contract_ids: dict[tuple[str, str], int] = {}
_contract_specs: dict[tuple[str, str, str], Contract] = {}


def urls_for_connection(connection) -> tuple[str, str, str]:
    """(REST base, user WebSocket, market-data WebSocket) URLs of a connection's environment."""
    kind = connection.kind
    if kind == "paper":
        rest = settings.PAPER_BROKER_URL
        ws = ws_url_for(rest)
        return rest, ws, ws
    rest = settings.TRADOVATE_LIVE_URL if kind == "tradovate_live" else settings.TRADOVATE_DEMO_URL
    return rest, ws_url_for(rest), settings.TRADOVATE_MD_URL


def ws_url_for(rest_url: str) -> str:
    url = rest_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    return url + "/websocket"


def _session() -> requests.Session:
    # One keep-alive session per thread: a placement costs one round trip, not a TLS handshake.
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        _local.session = s
    return s


def _dumps(data: Any) -> str:
    return json.dumps(data, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _jitter(base: float, attempt: int) -> float:
    return base * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - Redis down: fall back to this process's memory
        return None


def _cache_set(key: str, value, timeout: float) -> None:
    try:
        cache.set(key, value, timeout=max(1, int(timeout)))
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable; token kept in this process only")


def _cache_delete(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001
        pass


def _cache_add(key: str, value, timeout: float) -> bool:
    try:
        return bool(cache.add(key, value, timeout=max(1, int(timeout))))
    except Exception:  # noqa: BLE001
        return True  # no shared lock without Redis: proceed alone


class TradovateClient(Broker):
    """``Broker`` over Tradovate's API (also the paper broker: same protocol, our simulator)."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        ws_url: str | None = None,
        md_url: str | None = None,
        timeout: float | None = None,
        max_penalty_wait: float = MAX_PENALTY_WAIT,
    ):
        self.base_url = base_url.rstrip("/")
        self.ws_url = ws_url or ws_url_for(self.base_url)
        self.md_url = md_url or self.ws_url
        self.credentials = credentials
        self.timeout = settings.TRADOVATE_TIMEOUT if timeout is None else timeout
        self.max_penalty_wait = max_penalty_wait
        c = credentials
        digest = hashlib.sha256(
            "\x00".join([self.base_url, c.username, c.password, c.app_id, c.cid, c.sec]).encode()
        ).hexdigest()[:32]
        self._key = f"tradovate:token:{digest}"
        self._backoff_key = f"tradovate:backoff:{digest}"
        self._fail_key = f"tradovate:loginfail:{digest}"

    # --- tokens ------------------------------------------------------------------------------
    @property
    def device_id(self) -> str:
        if self.credentials.device_id:
            return self.credentials.device_id
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.base_url}/{self.credentials.username}"))

    def token(self, *, md: bool = False) -> dict:
        """The current token dict (accessToken, mdAccessToken, userId, expires): cached,
        renewed before expiry, logged in only when there is none."""
        now = time.time()
        with _memo_lock:
            tok = _token_memo.get(self._key)
        if tok is None or tok["expires"] - now < RENEW_BEFORE_SECONDS:
            shared = _cache_get(self._key)
            if shared and (tok is None or shared["expires"] > tok["expires"]):
                tok = shared
        if tok is not None and tok["expires"] - now > RENEW_BEFORE_SECONDS:
            self._memo(tok)
            return tok
        if tok is not None and tok["expires"] - now > 5:
            # Near expiry: one process renews, the others keep using the valid token.
            if _cache_add(self._key + ":lock", 1, 30):
                try:
                    return self._renew(tok)
                except (AuthenticationFailed, BrokerError) as exc:
                    log.info("token renewal failed (%s); logging in again", exc)
                finally:
                    _cache_delete(self._key + ":lock")
            else:
                return tok
        return self._login()

    def _memo(self, tok: dict) -> None:
        with _memo_lock:
            _token_memo[self._key] = tok

    def _store(self, data: dict) -> dict:
        expires = _ts(data.get("expirationTime"))
        exp = expires.timestamp() if expires else time.time() + 80 * 60
        tok = {
            "accessToken": data["accessToken"],
            "mdAccessToken": data.get("mdAccessToken") or data["accessToken"],
            "userId": data.get("userId"),
            "name": data.get("name"),
            "expires": exp,
        }
        self._memo(tok)
        _cache_set(self._key, tok, exp - time.time())
        return tok

    def invalidate_token(self) -> None:
        with _memo_lock:
            _token_memo.pop(self._key, None)
        _cache_delete(self._key)

    def _login(self) -> dict:
        failed = _cache_get(self._fail_key)
        if failed:
            raise AuthenticationFailed(failed)
        # Several processes starting at once: one logs in, the others wait for its token.
        if not _cache_add(self._key + ":login", 1, 20):
            deadline = time.time() + 10
            while time.time() < deadline:
                time.sleep(0.05)
                shared = _cache_get(self._key)
                if shared and shared["expires"] - time.time() > 5:
                    self._memo(shared)
                    return shared
                if _cache_add(self._key + ":login", 1, 20):
                    break
        try:
            c = self.credentials
            body = {
                "name": c.username,
                "password": c.password,
                "appId": c.app_id or settings.TRADOVATE_APP_ID,
                "appVersion": c.app_version or settings.TRADOVATE_APP_VERSION,
                "deviceId": self.device_id,
                "cid": c.cid,
                "sec": c.sec,
            }
            try:
                data = self._request("POST", "auth/accesstokenrequest", body=body, auth=False)
            except AuthenticationFailed as exc:
                _cache_set(self._fail_key, exc.message, LOGIN_FAILURE_MEMORY)
                raise
            if not isinstance(data, dict) or not data.get("accessToken"):
                raise AuthenticationFailed("The broker answered the login without a token.")
            return self._store(data)
        finally:
            _cache_delete(self._key + ":login")

    def _renew(self, tok: dict) -> dict:
        data = self._request("GET", "auth/renewaccesstoken", token=tok)
        if not isinstance(data, dict) or not data.get("accessToken"):
            raise BrokerError("Token renewal returned no token.")
        data.setdefault("userId", tok.get("userId"))
        data.setdefault("mdAccessToken", tok.get("mdAccessToken"))
        return self._store(data)

    # --- HTTP --------------------------------------------------------------------------------
    def _check_backoff(self) -> None:
        until = _cache_get(self._backoff_key)
        if until and until > time.time():
            wait = until - time.time()
            raise RateLimited(
                f"Tradovate asked us to slow down; retrying in {int(wait) + 1} s.",
                retry_after=wait,
            )

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        auth: bool = True,
        safe_to_retry: bool = True,
        token: dict | None = None,
        command: bool = False,
    ) -> Any:
        """One API call with the retry policy of the module docstring; returns parsed JSON.

        ``command``: an order command, never resent here (see the module docstring)."""
        if command:
            safe_to_retry = False
        url = f"{self.base_url}/{path}"
        body = dict(body) if body is not None else None
        attempt = penalties = 0
        reauthed = False
        while True:
            self._check_backoff()
            headers = {"Accept": "application/json"}
            if auth:
                tok = token or self.token()
                headers["Authorization"] = f"Bearer {tok['accessToken']}"
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                resp = _session().request(
                    method,
                    url,
                    params=params,
                    data=_dumps(body) if body is not None else None,
                    headers=headers,
                    timeout=(min(3.0, self.timeout), self.timeout),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = "timed out" if isinstance(exc, requests.Timeout) else "is unreachable"
                sent = not _never_sent(exc)
                if command and sent:
                    raise OutcomeUnknown(
                        f"No answer from the broker to {path}: the order may or may not have "
                        "been placed; checking before anything is sent again."
                    ) from exc
                if not safe_to_retry or attempt + 1 >= MAX_ATTEMPTS:
                    raise BrokerUnavailable(
                        f"The broker at {self.base_url} {reason} ({path}).", sent=sent
                    ) from exc
                time.sleep(_jitter(0.1, attempt))
                attempt += 1
                continue
            status = resp.status_code
            if status == 401 and auth and token is None and not reauthed:
                self.invalidate_token()
                reauthed = True
                continue
            if status in (429, 423):
                retry_after = _retry_after(resp, DEFAULT_BACKOFF[status])
                _cache_set(self._backoff_key, time.time() + retry_after, retry_after + 1)
                if (
                    not command
                    and retry_after <= self.max_penalty_wait
                    and attempt + 1 < MAX_ATTEMPTS
                ):
                    log.info("Tradovate %s on %s; backing off %.1fs", status, path, retry_after)
                    time.sleep(retry_after)
                    _cache_delete(self._backoff_key)
                    attempt += 1
                    continue
                raise RateLimited(
                    f"Tradovate is rate-limiting this login (HTTP {status}); "
                    f"try again in {int(retry_after) + 1} s.",
                    retry_after=retry_after,
                )
            if status >= 500:
                if command:
                    raise OutcomeUnknown(
                        f"The broker failed with HTTP {status} to {path}: the order may or may "
                        "not have been placed; checking before anything is sent again."
                    )
                if not safe_to_retry or attempt + 1 >= MAX_ATTEMPTS:
                    raise BrokerUnavailable(f"The broker failed with HTTP {status} ({path}).")
                time.sleep(_jitter(0.1, attempt))
                attempt += 1
                continue
            if status == 401:
                raise AuthenticationFailed("The broker refused our access token (HTTP 401).")
            if status == 404:
                raise BrokerError(f"Not found at the broker: {path} ({resp.text[:200]}).")
            if status >= 400:
                raise BrokerError(f"The broker answered HTTP {status} to {path}: {resp.text[:200]}")
            data = _parse(resp)
            if isinstance(data, dict) and "p-ticket" in data:
                if data.get("p-captcha"):
                    raise CaptchaRequired(
                        "Tradovate requires a CAPTCHA for this login: log in once on "
                        "trader.tradovate.com, then try again.",
                        payload=data,
                    )
                wait = float(data.get("p-time") or 0)
                penalties += 1
                if command or wait > self.max_penalty_wait or penalties > 3:
                    raise RateLimited(
                        f"Tradovate gave a {int(wait)} s penalty; try again later.",
                        retry_after=wait,
                        p_ticket=str(data["p-ticket"]),
                        payload=data,
                    )
                log.info("penalty ticket on %s: waiting %.1fs", path, wait)
                time.sleep(wait)
                body = {**(body or {}), "p-ticket": data["p-ticket"]}
                continue
            if isinstance(data, dict) and data.get("errorText"):
                raise _error_text(path, data)
            return data

    # --- helpers -----------------------------------------------------------------------------
    def _user_id(self) -> int | None:
        return self.token().get("userId")

    def contract_name(self, contract_id: int) -> str:
        key = (self.base_url, int(contract_id))
        name = _contract_names.get(key)
        if name is None:
            data = self._request("GET", "contract/item", params={"id": contract_id})
            name = (data or {}).get("name") or str(contract_id)
            _contract_names[key] = name
        return name

    def remember_contracts(self, contracts: Iterable[dict]) -> None:
        """Contract names seen elsewhere (a sync snapshot): no lookup needed later."""
        for c in contracts:
            if c.get("id") and c.get("name"):
                _contract_names[(self.base_url, int(c["id"]))] = c["name"]

    def _prefetch_contract_names(self, ids: Iterable[int]) -> None:
        missing = sorted({int(i) for i in ids if (self.base_url, int(i)) not in _contract_names})
        if missing:
            data = self._request(
                "GET", "contract/items", params={"ids": ",".join(map(str, missing))}
            )
            for c in data or []:
                _contract_names[(self.base_url, int(c["id"]))] = c["name"]

    def contract_id(self, symbol: str) -> tuple[int, str]:
        """(contractId, name) of a symbol, validated with ``/contract/find``."""
        name = resolve_symbol(symbol).name
        key = (self.base_url, name)
        cid = _contract_ids.get(key)
        if cid is None:
            data = self._request("GET", "contract/find", params={"name": name})
            if not data or not data.get("id"):
                raise OrderRejected("InvalidContract", f"The broker does not list {name}.")
            cid = int(data["id"])
            _contract_ids[key] = cid
            _contract_names[(self.base_url, cid)] = name
        return cid, name

    def _order_result(self, data: Any, what: str) -> dict:
        if not isinstance(data, dict):
            raise BrokerError(f"Unexpected answer to {what}: {data!r}")
        if data.get("failureReason") or data.get("failureText"):
            raise OrderRejected(
                data.get("failureReason") or "UnknownReason",
                data.get("failureText") or "",
                payload=data,
            )
        return data

    def _place(self, path: str, body: dict, p_ticket: str = "") -> dict:
        """One order command, sent once (see the module docstring)."""
        if p_ticket:
            body = {**body, "p-ticket": p_ticket}
        return self._order_result(self._request("POST", path, body=body, command=True), path)

    def contract_spec(self, symbol: str) -> Contract:
        """The contract of ``symbol`` as the broker lists it: validated with ``/contract/find``
        (rolled forward with ``/contract/rollcontract`` when it has expired), tick size and
        point value from ``/product/find``."""
        local = resolve_symbol(symbol)
        key = (self.base_url, "spec", local.name)
        cached = _contract_specs.get(key)
        if cached is not None:
            return cached
        found = self._request("GET", "contract/find", params={"name": local.name})
        name = local.name
        if not found:
            rolled = self._request(
                "POST",
                "contract/rollcontract",
                body={"name": local.name, "forward": True, "ifExpired": True},
            )
            found = (rolled or {}).get("contract")
            if not found:
                raise OrderRejected("InvalidContract", f"The broker does not list {local.name}.")
            name = found["name"]
        product = self._request("GET", "product/find", params={"name": local.root}) or {}
        spec = Contract(
            name=name,
            root=local.root,
            tick_size=_dec(product.get("tickSize")) or local.tick_size,
            point_value=_dec(product.get("valuePerPoint")) or local.point_value,
            month=local.month,
            year=local.year,
            expiration=local.expiration,
        )
        if name != local.name:
            spec = replace(
                resolve_symbol(name), tick_size=spec.tick_size, point_value=spec.point_value
            )
        _contract_specs[key] = spec
        _contract_ids[(self.base_url, name)] = int(found["id"])
        _contract_names[(self.base_url, int(found["id"]))] = name
        return spec

    def risk_status(self, account_id: int) -> dict:
        """``/accountRiskStatus`` of an account (liquidation-only flags)."""
        rows = self._request("GET", "accountRiskStatus/deps", params={"masterid": int(account_id)})
        return (rows or [{}])[0]

    # --- Broker: reads -----------------------------------------------------------------------
    def me(self) -> dict:
        return self._request("GET", "auth/me")

    def accounts(self) -> list[AccountInfo]:
        data = self._request("GET", "account/list") or []
        return [
            AccountInfo(
                id=int(a["id"]),
                name=a.get("name", ""),
                user_id=a.get("userId"),
                account_type=a.get("accountType") or "",
                active=bool(a.get("active", True)),
            )
            for a in data
        ]

    def cash(self, account_id: int) -> CashBalance:
        d = self._request(
            "POST", "cashBalance/getcashbalancesnapshot", body={"accountId": int(account_id)}
        )
        if not isinstance(d, dict):
            raise BrokerError("Unexpected cash balance answer.")
        z = Decimal(0)
        return CashBalance(
            account_id=int(account_id),
            total_cash_value=_dec(d.get("totalCashValue")) or z,
            net_liq=_dec(d.get("netLiq")) or z,
            open_pnl=_dec(d.get("openPnL")) or z,
            realized_pnl=_dec(d.get("realizedPnL")) or z,
            week_realized_pnl=_dec(d.get("weekRealizedPnL")) or z,
            initial_margin=_dec(d.get("initialMargin")) or z,
            maintenance_margin=_dec(d.get("maintenanceMargin")) or z,
        )

    def positions(self, account_id: int | None = None) -> list[BrokerPosition]:
        if account_id is None:
            data = self._request("GET", "position/list") or []
        else:
            data = self._request("GET", "position/deps", params={"masterid": int(account_id)}) or []
        self._prefetch_contract_names(p["contractId"] for p in data)
        return [self.position_from(p) for p in data]

    def cash_from_entity(self, c: dict) -> CashBalance:
        """A ``cashBalance`` entity (stream, snapshot): the day's realized P&L and the balance.
        Open P&L is not in it (the snapshot endpoint and our mirror compute that)."""
        z = Decimal(0)
        return CashBalance(
            account_id=int(c.get("accountId") or 0),
            total_cash_value=_dec(c.get("amount")) or z,
            net_liq=z,
            open_pnl=z,
            realized_pnl=_dec(c.get("realizedPnL")) or z,
            week_realized_pnl=_dec(c.get("weekRealizedPnL")) or z,
        )

    def position_from(self, p: dict) -> BrokerPosition:
        return BrokerPosition(
            account_id=int(p["accountId"]),
            contract_id=int(p["contractId"]),
            symbol=self.contract_name(p["contractId"]),
            net_pos=int(p.get("netPos") or 0),
            net_price=_dec(p.get("netPrice")),
            bought=int(p.get("bought") or 0),
            sold=int(p.get("sold") or 0),
            id=p.get("id"),
            timestamp=_ts(p.get("timestamp")),
        )

    def _order_bundle(self) -> tuple[list, dict, dict, dict]:
        orders = self._request("GET", "order/list") or []
        versions = {v["orderId"]: v for v in self._request("GET", "orderVersion/list") or []}
        fills: dict[int, list] = {}
        for f in self._request("GET", "fill/list") or []:
            fills.setdefault(f["orderId"], []).append(f)
        commands = {
            c["orderId"]: c.get("clOrdId")
            for c in self._request("GET", "command/list") or []
            if c.get("clOrdId")
        }
        self._prefetch_contract_names(o["contractId"] for o in orders)
        return orders, versions, fills, commands

    def order_from(
        self,
        o: dict,
        version: dict | None = None,
        fills: list | None = None,
        cl_ord_id: str | None = None,
        report: dict | None = None,
    ) -> BrokerOrder:
        v = version or {}
        fills = fills or []
        filled = sum(int(f["qty"]) for f in fills)
        avg = (
            sum(Decimal(str(f["price"])) * int(f["qty"]) for f in fills) / filled
            if filled
            else None
        )
        if report:
            filled = int(report.get("cumQty") or filled or 0)
            avg = _dec(report.get("avgPx")) or avg
        return BrokerOrder(
            id=int(o["id"]),
            account_id=int(o["accountId"]),
            contract_id=int(o["contractId"]),
            symbol=self.contract_name(o["contractId"]),
            action=o.get("action", ""),
            status=o.get("ordStatus", "Unknown"),
            order_type=v.get("orderType", "Market"),
            qty=int(v.get("orderQty") or 0),
            filled_qty=filled,
            avg_price=avg,
            price=_dec(v.get("price")),
            stop_price=_dec(v.get("stopPrice")),
            time_in_force=v.get("timeInForce") or "Day",
            cl_ord_id=cl_ord_id,
            oco_id=o.get("ocoId"),
            parent_id=o.get("parentId"),
            linked_id=o.get("linkedId"),
            text=v.get("text") or "",
            reject_reason=(report or {}).get("rejectReason") or "",
            timestamp=_ts(o.get("timestamp")),
        )

    def orders(self, account_id: int | None = None) -> list[BrokerOrder]:
        orders, versions, fills, commands = self._order_bundle()
        out = [
            self.order_from(o, versions.get(o["id"]), fills.get(o["id"]), commands.get(o["id"]))
            for o in orders
            if account_id is None or int(o["accountId"]) == int(account_id)
        ]
        return sorted(out, key=lambda o: o.id)

    def order(self, order_id: int) -> BrokerOrder:
        o = self._request("GET", "order/item", params={"id": int(order_id)})
        if not o:
            raise BrokerError(f"Order {order_id} not found.")
        versions = self._request("GET", "orderVersion/deps", params={"masterid": int(order_id)})
        fills = self._request("GET", "fill/deps", params={"masterid": int(order_id)}) or []
        commands = self._request("GET", "command/deps", params={"masterid": int(order_id)}) or []
        cl = next((c.get("clOrdId") for c in commands if c.get("clOrdId")), None)
        return self.order_from(o, (versions or [None])[-1], fills, cl)

    def order_by_cl_ord_id(self, cl_ord_id: str) -> BrokerOrder | None:
        for c in self._request("GET", "command/list") or []:
            if c.get("clOrdId") == cl_ord_id and c.get("orderId"):
                return self.order(int(c["orderId"]))
        return None

    def fills(self, account_id: int | None = None) -> list[BrokerFill]:
        data = self._request("GET", "fill/list") or []
        accounts = {
            int(o["id"]): int(o["accountId"]) for o in self._request("GET", "order/list") or []
        }
        self._prefetch_contract_names(f["contractId"] for f in data)
        out = []
        for f in data:
            acc = accounts.get(int(f["orderId"]))
            if account_id is not None and acc != int(account_id):
                continue
            out.append(self.fill_from(f, acc))
        return sorted(out, key=lambda f: (f.timestamp or datetime.min.replace(tzinfo=UTC), f.id))

    def fill_from(self, f: dict, account_id: int | None = None) -> BrokerFill:
        return BrokerFill(
            id=int(f["id"]),
            order_id=int(f["orderId"]),
            account_id=account_id,
            contract_id=int(f["contractId"]),
            symbol=self.contract_name(f["contractId"]),
            action=f.get("action", ""),
            qty=int(f.get("qty") or 0),
            price=_dec(f.get("price")) or Decimal(0),
            timestamp=_ts(f.get("timestamp")),
        )

    def quote(self, symbol: str, timeout: float = 5.0) -> Quote:
        """One quote through a short market-data subscription."""
        got: list[Quote] = []
        done = threading.Event()

        def on_event(event: BrokerEvent) -> None:
            if event.kind == "quote" and not got:
                got.append(event.obj)
                done.set()

        stream = self.stream(on_event, quotes=[symbol], account_events=False).start()
        try:
            if not done.wait(timeout):
                raise BrokerError(f"No quote for {symbol} within {timeout:.0f} s.")
            return got[0]
        finally:
            stream.close()

    # --- Broker: writes ----------------------------------------------------------------------
    def _order_body(
        self,
        *,
        account_id,
        symbol,
        action,
        qty,
        order_type="Market",
        price=None,
        stop_price=None,
        time_in_force="Day",
        cl_ord_id=None,
        text="",
        account_spec="",
    ) -> dict:
        if action not in ("Buy", "Sell"):
            raise OrderRejected("UnknownReason", f"Action must be Buy or Sell, not {action!r}.")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            raise OrderRejected(
                "UnknownReason", f"Quantity must be a positive whole number, not {qty!r}."
            )
        try:
            _, name = self.contract_id(symbol)
        except UnknownSymbol as exc:
            raise OrderRejected("InvalidContract", str(exc)) from exc
        body: dict[str, Any] = {
            # Tradovate wants the account's name here, not the login's username.
            "accountSpec": account_spec or self.credentials.username,
            "accountId": int(account_id),
            "action": action,
            "symbol": name,
            "orderQty": qty,
            "orderType": order_type,
            "timeInForce": time_in_force,
            "isAutomated": True,
        }
        if order_type in ("TrailingStop", "TrailingStopLimit") and stop_price is not None:
            # Our interface gives a distance; Tradovate takes it as a signed pegDifference.
            distance = abs(Decimal(stop_price))
            body["pegDifference"] = -distance if action == "Sell" else distance
        elif stop_price is not None:
            body["stopPrice"] = Decimal(stop_price)
        if price is not None:
            body["price"] = Decimal(price)
        if cl_ord_id:
            if len(cl_ord_id) > 64:
                raise OrderRejected("UnknownReason", "clOrdId is longer than 64 characters.")
            body["clOrdId"] = cl_ord_id
        if text:
            body["text"] = text[:64]
        return body

    def place_order(
        self,
        *,
        account_id,
        symbol,
        action,
        qty,
        order_type="Market",
        price=None,
        stop_price=None,
        time_in_force="Day",
        cl_ord_id=None,
        text="",
        account_spec="",
        p_ticket="",
    ) -> PlacedOrder:
        body = self._order_body(
            account_id=account_id,
            symbol=symbol,
            action=action,
            qty=qty,
            order_type=order_type,
            price=price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            cl_ord_id=cl_ord_id,
            text=text,
            account_spec=account_spec,
        )
        data = self._place("order/placeorder", body, p_ticket)
        return PlacedOrder(order_id=int(data["orderId"]), cl_ord_id=cl_ord_id)

    def place_bracket(
        self,
        *,
        account_id,
        symbol,
        action,
        qty,
        take_profit=None,
        stop_loss=None,
        trailing_stop=None,
        order_type="Market",
        price=None,
        stop_price=None,
        time_in_force="Day",
        cl_ord_id=None,
        text="",
        account_spec="",
        p_ticket="",
    ) -> PlacedOrder:
        common = dict(
            account_id=account_id,
            symbol=symbol,
            action=action,
            qty=qty,
            order_type=order_type,
            price=price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            cl_ord_id=cl_ord_id,
            text=text,
            account_spec=account_spec,
        )
        if take_profit is None and stop_loss is None and trailing_stop is None:
            return self.place_order(**common, p_ticket=p_ticket)
        body = self._order_body(**common)
        exit_action = "Sell" if action == "Buy" else "Buy"
        base = (cl_ord_id or "")[:60]
        brackets = []
        if take_profit is not None:
            tp = {
                "action": exit_action,
                "orderType": "Limit",
                "price": Decimal(take_profit),
                "timeInForce": "GTC",
            }
            if base:
                tp["clOrdId"] = f"{base}-tp"
            brackets.append(("tp", tp))
        if trailing_stop is not None or stop_loss is not None:
            if trailing_stop is not None:
                distance = abs(Decimal(trailing_stop))
                sl = {
                    "action": exit_action,
                    "orderType": "TrailingStop",
                    "pegDifference": -distance if exit_action == "Sell" else distance,
                    "timeInForce": "GTC",
                }
            else:
                sl = {
                    "action": exit_action,
                    "orderType": "Stop",
                    "stopPrice": Decimal(stop_loss),
                    "timeInForce": "GTC",
                }
            if base:
                sl["clOrdId"] = f"{base}-sl"
            brackets.append(("sl", sl))
        for i, (_, bracket) in enumerate(brackets, start=1):
            body[f"bracket{i}"] = bracket
        data = self._place("order/placeoso", body, p_ticket)
        ids = {role: data.get(f"oso{i}Id") for i, (role, _) in enumerate(brackets, start=1)}
        return PlacedOrder(
            order_id=int(data["orderId"]),
            cl_ord_id=cl_ord_id,
            take_profit_order_id=ids.get("tp"),
            stop_loss_order_id=ids.get("sl"),
        )

    def place_oco(
        self,
        *,
        account_id: int,
        symbol: str,
        first: dict,
        other: dict,
        cl_ord_id: str | None = None,
        account_spec: str = "",
        p_ticket: str = "",
    ) -> PlacedOrder:
        """Two working orders, one cancels the other (``first``/``other``: action, qty,
        order_type, price, stop_price)."""
        body = self._order_body(
            account_id=account_id,
            symbol=symbol,
            action=first["action"],
            qty=first["qty"],
            order_type=first.get("order_type", "Limit"),
            price=first.get("price"),
            stop_price=first.get("stop_price"),
            time_in_force=first.get("time_in_force", "GTC"),
            cl_ord_id=cl_ord_id,
            account_spec=account_spec,
        )
        body["other"] = {
            "action": other["action"],
            "orderType": other.get("order_type", "Stop"),
            "orderQty": other.get("qty", first["qty"]),
            "timeInForce": other.get("time_in_force", "GTC"),
        }
        if other.get("price") is not None:
            body["other"]["price"] = Decimal(other["price"])
        if other.get("stop_price") is not None:
            body["other"]["stopPrice"] = Decimal(other["stop_price"])
        data = self._place("order/placeoco", body, p_ticket)
        return PlacedOrder(
            order_id=int(data["orderId"]), cl_ord_id=cl_ord_id, oco_id=data.get("ocoId")
        )

    def start_order_strategy(
        self,
        *,
        account_id,
        account_spec,
        symbol,
        action,
        qty,
        brackets,
        order_type="Market",
        price=None,
        stop_price=None,
        uuid="",
        p_ticket="",
    ) -> PlacedStrategy:
        """A multibracket order strategy: Tradovate places each bracket's take profit and stop
        at signed point offsets from the entry's actual fill (negated for a Sell entry)."""
        if action not in ("Buy", "Sell"):
            raise OrderRejected("UnknownReason", f"Action must be Buy or Sell, not {action!r}.")
        try:
            _, name = self.contract_id(symbol)
        except UnknownSymbol as exc:
            raise OrderRejected("InvalidContract", str(exc)) from exc
        side = 1 if action == "Buy" else -1
        entry: dict[str, Any] = {"orderQty": int(qty), "orderType": order_type}
        if price is not None:
            entry["price"] = Decimal(price)
        if stop_price is not None:
            entry["stopPrice"] = Decimal(stop_price)
        params = {
            "entryVersion": entry,
            "brackets": [_bracket_params(b, side) for b in brackets],
        }
        body: dict[str, Any] = {
            "accountId": int(account_id),
            "accountSpec": account_spec or self.credentials.username,
            "symbol": name,
            "action": action,
            "orderStrategyTypeId": 2,  # multibracket, the only type Tradovate offers
            "params": _dumps(params),
            "isAutomated": True,
        }
        if uuid:
            body["uuid"] = uuid[:64]
        data = self._place("orderStrategy/startOrderStrategy", body, p_ticket)
        if data.get("errorText"):
            raise OrderRejected(data.get("failureReason") or "UnknownReason", data["errorText"])
        strategy = data.get("orderStrategy") or {}
        if not strategy.get("id"):
            raise BrokerError(f"Unexpected answer to startOrderStrategy: {data!r}")
        return PlacedStrategy(
            strategy_id=int(strategy["id"]),
            status=strategy.get("status") or "ActiveStrategy",
            uuid=strategy.get("uuid") or uuid,
        )

    def interrupt_order_strategy(self, strategy_id: int) -> None:
        data = self._request(
            "POST",
            "orderStrategy/interruptOrderStrategy",
            body={"orderStrategyId": int(strategy_id)},
            command=True,
        )
        if isinstance(data, dict) and data.get("errorText"):
            raise OrderRejected(data.get("failureReason") or "UnknownReason", data["errorText"])

    def order_strategies(self, account_id: int | None = None) -> list[BrokerOrderStrategy]:
        if account_id is None:
            rows = self._request("GET", "orderStrategy/list") or []
        else:
            rows = (
                self._request("GET", "orderStrategy/deps", params={"masterid": int(account_id)})
                or []
            )
        self._prefetch_contract_names(r["contractId"] for r in rows if r.get("contractId"))
        return [self.order_strategy_from(r) for r in rows]

    def order_strategy_from(self, r: dict) -> BrokerOrderStrategy:
        return BrokerOrderStrategy(
            id=int(r["id"]),
            account_id=int(r.get("accountId") or 0),
            contract_id=int(r.get("contractId") or 0),
            symbol=self.contract_name(r["contractId"]) if r.get("contractId") else "",
            action=r.get("action") or "",
            status=r.get("status") or "",
            uuid=r.get("uuid") or "",
        )

    def order_strategy_links(self, strategy_id: int) -> list[dict]:
        return (
            self._request("GET", "orderStrategyLink/deps", params={"masterid": int(strategy_id)})
            or []
        )

    def cancel(self, order_id: int) -> None:
        data = self._request(
            "POST",
            "order/cancelorder",
            body={"orderId": int(order_id), "isAutomated": True},
            command=True,
        )
        self._order_result(data, "cancelorder")

    def modify(self, order_id, *, qty=None, price=None, stop_price=None, order_type=None) -> None:
        current = self.order(order_id)
        body: dict[str, Any] = {
            "orderId": int(order_id),
            "orderQty": qty if qty is not None else current.qty,
            "orderType": order_type or current.order_type,
            "timeInForce": current.time_in_force,
            "isAutomated": True,
        }
        new_price = price if price is not None else current.price
        new_stop = stop_price if stop_price is not None else current.stop_price
        if new_price is not None:
            body["price"] = Decimal(new_price)
        if new_stop is not None:
            body["stopPrice"] = Decimal(new_stop)
        data = self._request("POST", "order/modifyorder", body=body, command=True)
        self._order_result(data, "modifyorder")

    def liquidate(self, account_id: int, symbol: str, *, p_ticket: str = "") -> int | None:
        contract_id, _ = self.contract_id(symbol)
        body = {"accountId": int(account_id), "contractId": contract_id, "admin": False}
        data = self._place("order/liquidateposition", body, p_ticket)
        order_id = data.get("orderId")
        return int(order_id) if order_id else None

    def flatten(self, account_id: int, symbol: str | None = None) -> None:
        if symbol is not None:
            self.liquidate(account_id, symbol)
            return
        contract_ids = {p.contract_id for p in self.positions(account_id) if p.net_pos}
        contract_ids |= {
            int(o["contractId"])
            for o in self._request("GET", "order/list") or []
            if int(o["accountId"]) == int(account_id)
            and o.get("ordStatus") in ("Working", "PendingNew", "Suspended", "PendingReplace")
        }
        for cid in sorted(contract_ids):
            self.liquidate(account_id, self.contract_name(cid))

    # --- streams -----------------------------------------------------------------------------
    def stream(self, handler: EventHandler, *, quotes=(), account_events=True) -> BrokerStream:

        return TradovateStream(self, handler, quotes=quotes, account_events=account_events)


def _never_sent(exc: Exception) -> bool:
    """True when the request surely never reached the broker: the connection was refused or
    never established. A read timeout or a dropped answer may follow an executed request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError → its cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _bracket_params(bracket: BracketSpec, side: int) -> dict[str, Any]:
    """One bracket of a multibracket's params: offsets signed for the entry's side."""
    out: dict[str, Any] = {"qty": int(bracket.qty), "trailingStop": bool(bracket.trailing)}
    if bracket.profit_target is not None:
        out["profitTarget"] = side * abs(Decimal(bracket.profit_target))
    if bracket.stop_loss is not None:
        out["stopLoss"] = -side * abs(Decimal(bracket.stop_loss))
    return out


def _retry_after(resp: requests.Response, default: float) -> float:
    value = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _parse(resp: requests.Response) -> Any:
    if not resp.content or not resp.content.strip():
        return None
    try:
        return json.loads(resp.content, parse_float=Decimal)
    except ValueError:
        return resp.text


def _error_text(path: str, data: dict) -> BrokerError:
    text = str(data.get("errorText"))
    lowered = text.lower()
    if path.startswith("auth/") and any(
        w in lowered for w in ("password", "incorrect", "not valid", "denied", "invalid", "key")
    ):
        return AuthenticationFailed(text, payload=data)
    if "access is denied" in lowered:
        return AuthenticationFailed(text, payload=data)
    return BrokerError(text, payload=data)
