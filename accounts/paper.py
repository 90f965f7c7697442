"""The paper broker's market: where each product's price comes from, per user.

The paper broker is our Tradovate simulator; each paper login has its own book per contract
(``/sim/price`` and ``/sim/quote`` with ``user``). What moves it, best source first:

1. **Tradovate market data**: a user who also has a Tradovate login gets its real quotes
   relayed into the books of their paper logins (:func:`paper_market_relay`, run by the
   ``recorder_quotes`` process for the products they hold or trade);
2. **the alerts**: otherwise each alert's price (TradingView's ``{{close}}``) moves that
   product's book before the signal's orders go (:func:`paper_market_follow_alert`), so paper
   fills happen at the prices the chart saw;
3. **the random walk**: neither has touched it (demo mode), labelled as such.

Market orders fill at the touch plus ``PAPER_SLIPPAGE_TICKS``; with ``PAPER_PARTIAL_FILLS``
orders fill in lots of the book's size; with ``PAPER_ENFORCE_SESSIONS`` nothing trades while
CME Globex is closed. These are the simulator's rules, given to it through
``/sim/config`` (:func:`paper_broker_configure`); the recorder reads the same settings and the
same books (:func:`paper_quote`), so a strategy's paper record and a Paper account agree.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import requests
from django.conf import settings
from django.core.cache import cache

from accounts.brokers.base import BrokerError
from accounts.brokers.base import Quote as BrokerQuote
from accounts.brokers.stream import quote_from_md
from accounts.brokers.symbols import UnknownSymbol, contract_from_name
from accounts.models import BrokerConnection
from accounts.services import paper_admin_token

logger = logging.getLogger(__name__)

MARKET_DATA = "market data"
ALERTS = "alerts"
RANDOM_WALK = "random walk"
SOURCE_LABELS = {
    MARKET_DATA: "Tradovate market data",
    ALERTS: "your alerts",
    RANDOM_WALK: "random walk (demo: no market data, no alert yet)",
    "manual": "set by hand",
    "replay": "replayed ticks",
}
# A relayed quote older than this no longer says the product follows real market data.
RELAY_FRESH_SECONDS = 30
# The simulator's rules are pushed again this often (it may have restarted empty).
CONFIGURE_EVERY_SECONDS = 60.0
TIMEOUT = 2

_configured: dict[tuple, float] = {}


def _sim_root() -> str:
    base = settings.PAPER_BROKER_URL.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _headers() -> dict[str, str]:
    token = paper_admin_token()
    return {"X-Sim-Admin": token} if token else {}


def paper_rules() -> dict:
    """How the paper broker fills market orders (the settings, as ``/sim/config`` takes them)."""
    return {
        "slippage_ticks": int(settings.PAPER_SLIPPAGE_TICKS),
        "partial_fills": bool(settings.PAPER_PARTIAL_FILLS),
        "enforce_sessions": bool(settings.PAPER_ENFORCE_SESSIONS),
    }


def paper_broker_configure(*, force: bool = False) -> bool:
    """Give the paper broker our fill rules (at most once a minute per broker unless
    ``force``). False when it did not answer."""
    rules = paper_rules()
    key = (_sim_root(), tuple(sorted(rules.items())))
    if not force and time.monotonic() - _configured.get(key, -1e9) < CONFIGURE_EVERY_SECONDS:
        return True
    try:
        resp = requests.post(
            f"{_sim_root()}/sim/config", json=rules, headers=_headers(), timeout=TIMEOUT
        )
    except requests.RequestException as exc:
        logger.warning("paper broker not configured: %s", exc)
        return False
    if resp.ok:
        _configured.clear()
        _configured[key] = time.monotonic()
    return resp.ok


def _logins(user_id: int) -> list[str]:
    return list(
        BrokerConnection.objects.filter(
            user_id=user_id, kind=BrokerConnection.Kind.PAPER, archived_at__isnull=True
        ).values_list("username", flat=True)
    )


def _relay_key(user_id: int, root: str) -> str:
    return f"paper:md:{user_id}:{root.upper()}"


def market_data_relayed(*, user_id: int, root: str) -> bool:
    """Whether real market data moved this user's paper market of ``root`` just now."""
    try:
        return bool(cache.get(_relay_key(user_id, root)))
    except Exception:  # noqa: BLE001 - a cache outage only loses the label
        return False


def _root_of(contract_name: str) -> str:

    try:
        return contract_from_name(contract_name).root
    except UnknownSymbol:
        return contract_name


def _tick_of(contract_name: str) -> Decimal | None:

    try:
        return Decimal(contract_from_name(contract_name).tick_size)
    except UnknownSymbol:
        return None


def _move(login: str, body: dict) -> bool:
    try:
        resp = requests.post(
            f"{_sim_root()}/sim/price",
            json={**body, "user": login},
            headers=_headers(),
            timeout=TIMEOUT,
        )
        return resp.ok
    except requests.RequestException as exc:
        logger.warning("paper market of %s not moved: %s", login, exc)
        return False


def paper_market_follow_alert(*, user_id: int, contract_name: str, price: Decimal | None) -> int:
    """Move the paper market of ``contract_name`` to ``price`` for each of the user's paper
    logins, unless real market data moves it. Returns how many logins moved; a paper broker
    that does not answer is logged."""
    if price is None or market_data_relayed(user_id=user_id, root=_root_of(contract_name)):
        return 0
    logins = _logins(user_id)
    if not logins:
        return 0
    paper_broker_configure()
    body = {"symbol": contract_name, "price": str(price)}
    return sum(_move(login, body) for login in logins)


def paper_market_relay(*, user_id: int, quote: BrokerQuote) -> int:
    """A real quote of ``quote.symbol`` becomes the user's paper market (bid, ask and last as
    Tradovate quoted them); alerts stop moving that product while quotes keep coming."""
    if quote.bid is None and quote.ask is None and quote.last is None:
        return 0
    logins = _logins(user_id)
    if not logins:
        return 0
    body: dict = {"symbol": quote.symbol}
    for key, value in (("price", quote.last), ("bid", quote.bid), ("ask", quote.ask)):
        if value is not None:
            body[key] = str(value)
    if "price" not in body:
        body["price"] = body.get("bid") or body["ask"]
    moved = sum(_move(login, body) for login in logins)
    if moved:
        try:
            cache.set(_relay_key(user_id, _root_of(quote.symbol)), 1, RELAY_FRESH_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("paper market relay not remembered", exc_info=True)
    return moved


def paper_quote(*, connection: BrokerConnection, symbol: str) -> tuple[BrokerQuote, str]:
    """The book a paper login's orders match against now, and what moved it last (one of
    ``SOURCE_LABELS``' keys). Raises ``BrokerError`` when the paper broker does not answer."""
    try:
        resp = requests.get(
            f"{_sim_root()}/sim/quote",
            params={"symbol": symbol, "user": connection.username},
            headers=_headers(),
            timeout=TIMEOUT,
        )
        data = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise BrokerError(f"The paper broker did not answer: {exc}") from exc
    if not resp.ok:
        raise BrokerError(str(data.get("error") or f"HTTP {resp.status_code}"))
    quote = quote_from_md(
        data, symbol=data.get("name") or symbol, tick=_tick_of(data.get("name") or symbol)
    )
    if quote.timestamp is None:
        quote = replace(quote, timestamp=datetime.now(UTC))
    source = data.get("source") or RANDOM_WALK
    if market_data_relayed(user_id=connection.user_id, root=_root_of(quote.symbol)):
        source = MARKET_DATA
    return quote, source
