"""Strategy writes and the webhook: create/update strategies, accept alerts.

The path of an alert (DESIGN §3): ``webhook_receive`` authenticates, parses and stores a
``Signal`` (a repeat within the strategy's dedupe window is the same alert) and enqueues
``process_signal`` after commit; ``strategies.processing`` decides it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.brokers.symbols import UnknownSymbol, resolve_symbol
from justtrades.api import ApplicationError
from justtrades.queue import enqueue
from justtrades.realtime import publish
from justtrades.timeline import Event, timeline_write
from recorder.models import StrategyLog
from recorder.services import recorder_create
from strategies.models import AlertFingerprint, Signal, Strategy, new_webhook_token
from strategies.outcome import signal_payload
from strategies.parsing import AlertError, Intent, parse_alert
from strategies.products import alert_contract
from traders.services import strategy_switch_off, strategy_traders_release

logger = logging.getLogger(__name__)

TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
HEADERS_OF_INTEREST = ("content-type", "user-agent", "content-length", "x-forwarded-for")

STRATEGY_FIELDS = (
    "name",
    "passphrase",
    "default_symbol",
    "sizing",
    "quantity",
    "opposite_signal",
    "take_profit",
    "take_profit_unit",
    "stop_loss",
    "stop_loss_unit",
    "trailing_stop",
    "trailing_stop_unit",
    "break_even_trigger",
    "break_even_unit",
    "session_start",
    "session_end",
    "session_timezone",
    "session_days",
    "direction",
    "max_position",
    "cooldown_seconds",
    "entry_delay_seconds",
    "ignore_same_side",
    "auto_flatten_time",
    "trade_alert_ticker",
    "follow_exchange_session",
    "max_signal_age_seconds",
    "dedupe_window_seconds",
    "enabled",
)


# --- strategies ---------------------------------------------------------------------------


def webhook_url(strategy: Strategy) -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/{strategy.webhook_token}/"


def strategy_payload(strategy: Strategy) -> dict[str, Any]:
    """The small live-event form of a strategy."""
    return {"id": strategy.pk, "name": strategy.name, "enabled": strategy.enabled}


def _validate_strategy(data: dict[str, Any]) -> None:
    tz = data.get("session_timezone")
    if tz:
        try:
            ZoneInfo(tz)
        except Exception:  # noqa: BLE001 - any failure means "not a time zone"
            raise ApplicationError(
                f"unknown time zone {tz!r}", extra={"field": "session_timezone"}
            ) from None
    days = data.get("session_days")
    if days is not None:
        if not isinstance(days, list) or any(
            not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days
        ):
            raise ApplicationError(
                "session days must be a list of weekday numbers 0 (Monday) … 6 (Sunday)",
                extra={"field": "session_days"},
            )
    if (data.get("session_start") is None) != (data.get("session_end") is None):
        raise ApplicationError(
            "give both a session start and a session end, or neither",
            extra={"field": "session_start"},
        )
    if data.get("session_start") is not None and data["session_start"] == data.get("session_end"):
        raise ApplicationError(
            "the session start and end must differ", extra={"field": "session_end"}
        )
    symbol = data.get("default_symbol")
    if symbol:
        try:
            resolve_symbol(symbol)
        except UnknownSymbol as exc:
            raise ApplicationError(str(exc), extra={"field": "default_symbol"}) from None
    if data.get("quantity") is not None and data["quantity"] < 1:
        raise ApplicationError(
            "the quantity must be at least 1 contract", extra={"field": "quantity"}
        )


def _create_recorder(strategy: Strategy) -> None:
    """Every strategy starts with a running recorder, so a first alert already builds a record."""
    recorder_create(strategy=strategy)


@transaction.atomic
def strategy_create(*, user, name: str, **fields: Any) -> Strategy:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("a strategy needs a name", extra={"field": "name"})
    unknown = set(fields) - set(STRATEGY_FIELDS)
    if unknown:
        raise ApplicationError(f"unknown strategy settings: {', '.join(sorted(unknown))}")
    data = {"name": name, **fields}
    _validate_strategy(data)
    if Strategy.objects.filter(user=user, name=name).exists():
        raise ApplicationError(
            f"you already have a strategy named {name!r}", extra={"field": "name"}
        )
    strategy = Strategy(user=user, **data)
    strategy.full_clean(exclude=["webhook_token"])
    strategy.save()
    _create_recorder(strategy)
    publish(user.pk, "strategy", {**strategy_payload(strategy), "event": "created"})
    return strategy


@transaction.atomic
def strategy_update(
    *, strategy: Strategy, if_holding: str | None = None, **fields: Any
) -> Strategy:
    """Change a strategy's settings. Switching it off while one of its traders holds a position
    or working orders asks first (409 listing them) unless ``if_holding`` is keep or flatten."""
    unknown = set(fields) - set(STRATEGY_FIELDS)
    if unknown:
        raise ApplicationError(f"unknown strategy settings: {', '.join(sorted(unknown))}")
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ApplicationError("a strategy needs a name", extra={"field": "name"})
        if (
            Strategy.objects.filter(user_id=strategy.user_id, name=fields["name"])
            .exclude(pk=strategy.pk)
            .exists()
        ):
            raise ApplicationError(
                f"you already have a strategy named {fields['name']!r}", extra={"field": "name"}
            )
    merged = {f: getattr(strategy, f) for f in STRATEGY_FIELDS}
    merged.update(fields)
    _validate_strategy({k: v for k, v in merged.items() if k in fields or k.startswith("session_")})
    if strategy.enabled and fields.get("enabled") is False:
        strategy_switch_off(strategy=strategy, if_holding=if_holding)
    for key, value in fields.items():
        setattr(strategy, key, value)
    strategy.full_clean(exclude=["webhook_token", "user"])
    strategy.save(update_fields=[*fields, "updated_at"] if fields else None)
    publish(strategy.user_id, "strategy", {**strategy_payload(strategy), "event": "updated"})
    return strategy


@transaction.atomic
def strategy_regenerate_token(*, strategy: Strategy) -> Strategy:
    """A new webhook URL; the old one answers 404 from now on."""
    strategy.webhook_token = new_webhook_token()
    strategy.save(update_fields=["webhook_token", "updated_at"])
    timeline_write(
        user=strategy.user_id,
        strategy=strategy,
        kind=StrategyLog.Kind.INFO,
        message="Webhook URL regenerated: update your TradingView alerts.",
    )
    publish(strategy.user_id, "strategy", {**strategy_payload(strategy), "event": "updated"})
    return strategy


@transaction.atomic
def strategy_delete(*, strategy: Strategy, flatten: bool = False) -> None:
    """Delete a strategy with its signals and track record. Refused (409, listing what is held)
    while one of its traders holds a position or working orders, unless ``flatten``: then each
    of those is closed at the broker first, in its account's turn."""
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    strategy_traders_release(strategy=strategy, flatten=flatten)
    user_id, payload = strategy.user_id, strategy_payload(strategy)
    strategy.delete()
    publish(user_id, "strategy", {**payload, "event": "deleted"})


# --- the webhook ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookResult:
    status_code: int
    body: dict[str, Any]


def _reply(status_code: int, status: str, message: str = "", **extra: Any) -> WebhookResult:
    body: dict[str, Any] = {"status": status}
    if message:
        body["message"] = message
    body.update(extra)
    return WebhookResult(status_code, body)


def _ip_allowed(source_ip: str | None) -> bool:
    allowed = getattr(settings, "WEBHOOK_ALLOWED_IPS", None) or []
    if not allowed:
        return True
    if not source_ip:
        return False
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    for entry in allowed:
        entry = entry.strip()
        if entry.lower() == "tradingview":
            if source_ip in TRADINGVIEW_IPS:
                return True
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            logger.warning("WEBHOOK_ALLOWED_IPS entry %r is not an address or network", entry)
    return False


_redis_client = None


def _redis():
    """One client per process over the cache's connection pool (building a client per call
    costs more than the round trip itself)."""
    global _redis_client
    if _redis_client is None:
        from django.core.cache import cache

        _redis_client = cache._cache.get_client(write=True)
    return _redis_client


def _rate_limited(strategy_id: int) -> bool:
    """A fixed one-minute window per strategy in Redis. Redis down: allow (storing wins)."""
    limit = settings.WEBHOOK_RATE_LIMIT_PER_MINUTE
    if not limit:
        return False
    window = int(time.time() // 60)
    key = (
        f"{settings.CACHES['default'].get('KEY_PREFIX', 'jt')}:webhook-rate:{strategy_id}:{window}"
    )
    try:
        client = _redis()
        count = client.incr(key)
        if count == 1:  # the window's first alert sets its expiry: one round trip otherwise
            client.expire(key, 120)
    except Exception:  # noqa: BLE001 - a Redis outage must not lose alerts
        logger.warning("webhook rate limit unavailable (Redis down?)", exc_info=True)
        return False
    return count > limit


def _dedupe_key(raw: bytes, intent: Intent) -> str:
    """What makes two alerts the same alert: the body's ``id`` when it has one, else the body."""
    if intent.alert_id:
        return "id:" + hashlib.sha256(intent.alert_id.encode()).hexdigest()[:40]
    return "body:" + hashlib.sha256(raw).hexdigest()[:40]


def _first_copy(*, strategy_id: int, key: str, window: int | None) -> bool:
    """True when this alert is the first copy within the window (measured from the first
    copy, not from a fixed bucket); a copy after the window is a new alert. Atomic across
    processes: a conditional UPDATE moves the window forward, an INSERT claims a new key."""
    now = timezone.now()
    if window is not None:
        moved = AlertFingerprint.objects.filter(
            strategy_id=strategy_id, key=key, first_at__lte=now - timedelta(seconds=window)
        ).update(first_at=now, signal=None)
        if moved:
            return True
    try:
        with transaction.atomic():
            AlertFingerprint.objects.create(strategy_id=strategy_id, key=key, first_at=now)
    except IntegrityError:
        return False
    return True


def _headers(meta: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in HEADERS_OF_INTEREST:
        key = (
            "CONTENT_TYPE"
            if name == "content-type"
            else (
                "CONTENT_LENGTH"
                if name == "content-length"
                else "HTTP_" + name.upper().replace("-", "_")
            )
        )
        value = meta.get(key)
        if value:
            out[name] = str(value)[:200]
    return out


def _text(raw: bytes) -> str:
    """The body as storable text (PostgreSQL text cannot hold NUL)."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _store_rejection(
    *,
    strategy: Strategy,
    raw: bytes,
    headers: dict,
    source_ip: str | None,
    reason: str,
    intent: Intent | None = None,
) -> Signal:
    signal = Signal.objects.create(
        strategy=strategy,
        raw_body=_text(raw)[:20_000],
        headers=headers,
        source_ip=source_ip,
        intent=intent.to_dict() if intent else {},
        alert_format=intent.source if intent else "",
        action=intent.action if intent else "",
        symbol=(intent.symbol if intent else "")[:40],
        dedupe_key=f"rejected:{uuid.uuid4().hex}",
        status=Signal.Status.REJECTED,
        reason=reason,
        processed_at=timezone.now(),
    )
    timeline_write(
        user=strategy.user_id,
        strategy=strategy,
        signal=signal,
        kind=StrategyLog.Kind.ERROR,
        message=f"Alert rejected: {reason}",
        event=Event.ALERT_REJECTED,
        data={"reason": reason, "signal_id": signal.pk},
    )
    publish(strategy.user_id, "signal", signal_payload(signal))
    return signal


def webhook_receive(
    *, token: str, raw: bytes, meta: dict[str, Any], source_ip: str | None
) -> WebhookResult:
    """Authenticate, parse, store and enqueue one alert. Never raises for bad input."""
    if not token or len(token) > 64:
        return _reply(404, "unknown", "unknown webhook URL")
    strategy = (
        Strategy.objects.filter(webhook_token=token)
        .only(
            "id",
            "user_id",
            "name",
            "passphrase",
            "enabled",
            "dedupe_window_seconds",
            "default_symbol",
            "trade_alert_ticker",
        )
        .first()
    )
    if strategy is None:
        return _reply(404, "unknown", "unknown webhook URL")
    if not _ip_allowed(source_ip):
        return _reply(403, "forbidden", f"source address {source_ip} is not allowed")
    if len(raw) > settings.WEBHOOK_MAX_BODY_BYTES:
        return _reply(
            413, "rejected", f"the alert is larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes"
        )
    if _rate_limited(strategy.pk):
        return _reply(
            429,
            "rate_limited",
            f"more than {settings.WEBHOOK_RATE_LIMIT_PER_MINUTE} alerts in a minute for this strategy",
        )
    headers = _headers(meta)

    def rejected(code: int, reason: str, intent: Intent | None = None) -> WebhookResult:
        """Stored as a rejected signal (its log line, its admin page) and said in the answer."""
        signal = _store_rejection(
            strategy=strategy,
            raw=raw,
            headers=headers,
            source_ip=source_ip,
            reason=reason,
            intent=intent,
        )
        return _reply(code, "rejected", reason, signal_id=signal.pk)

    try:
        intent = parse_alert(raw)
    except AlertError as exc:
        return rejected(400, exc.message)
    if strategy.passphrase and not hmac.compare_digest(
        intent.passphrase.encode(), strategy.passphrase.encode()
    ):
        reason = "wrong passphrase" if intent.passphrase else "this strategy requires a passphrase"
        return rejected(401, reason, intent)
    refused = _product_refusal(strategy, intent)
    if refused:
        return rejected(422, refused, intent)
    return _accept(
        strategy=strategy,
        raw=raw,
        intent=intent,
        headers=headers,
        source_ip=source_ip,
        origin=Signal.Origin.WEBHOOK,
    )


def _product_refusal(strategy: Strategy, intent: Intent) -> str:
    """Why the alert's ticker cannot be traded by this strategy ("" when it can): an unknown
    symbol, or another product than the strategy's (the product guard)."""
    try:
        _, refused = alert_contract(strategy=strategy, symbol=intent.symbol, at=timezone.now())
    except UnknownSymbol as exc:
        return str(exc)
    return refused


def _accept(
    *,
    strategy: Strategy,
    raw: bytes,
    intent: Intent,
    headers: dict,
    source_ip: str | None,
    origin: str,
    dedupe_key: str | None = None,
) -> WebhookResult:
    """Store the signal (once per alert) and enqueue its processing after commit.

    A key given by the product itself (the auto-flatten of a day) never repeats; an alert's
    key repeats after the strategy's dedupe window."""
    key = dedupe_key or _dedupe_key(raw, intent)
    window = None if dedupe_key else strategy.dedupe_window_seconds
    with transaction.atomic():
        if not _first_copy(strategy_id=strategy.pk, key=key, window=window):
            earlier = (
                AlertFingerprint.objects.filter(strategy_id=strategy.pk, key=key)
                .values_list("signal_id", flat=True)
                .first()
            )
            return _reply(200, "duplicate", "already received", signal_id=earlier, duplicate=True)
        signal = Signal.objects.create(
            strategy_id=strategy.pk,
            origin=origin,
            alert_format=intent.source,
            raw_body=_text(raw),
            headers=headers,
            source_ip=source_ip,
            intent=intent.to_dict(),
            action=intent.action,
            symbol=intent.symbol[:40],
            quantity=intent.target if intent.kind == "target" else intent.quantity,
            price=intent.price,
            dedupe_key=key,
        )
        AlertFingerprint.objects.filter(strategy_id=strategy.pk, key=key).update(signal=signal)
    signal_id = signal.pk
    transaction.on_commit(lambda: signal_enqueue(signal_id=signal_id))
    extra = {}
    if not strategy.enabled:
        extra["message"] = "the strategy is switched off: only exits are executed"
    return _reply(200, "accepted", signal_id=signal_id, duplicate=False, **extra)


def signal_create_internal(
    *, strategy: Strategy, body: str, origin: str, dedupe_key: str | None = None
) -> WebhookResult:
    """An alert made by the product itself (test button, auto-flatten): same path, no auth."""
    raw = body.encode()
    try:
        intent = parse_alert(raw)
    except AlertError as exc:
        raise ApplicationError(exc.message) from None
    return _accept(
        strategy=strategy,
        raw=raw,
        intent=intent,
        headers={},
        source_ip=None,
        origin=origin,
        dedupe_key=dedupe_key or f"{origin}:{uuid.uuid4().hex}",
    )


def signal_enqueue(*, signal_id: int, countdown: float | None = None) -> bool:
    """Queue `process_signal`. A broker outage is logged, not raised: the sweeper retries."""
    try:
        # By name: the task module imports the processing that imports this one.
        enqueue("strategies.process_signal", signal_id, countdown=countdown)
    except Exception:  # noqa: BLE001 - the signal is stored; the sweeper re-enqueues it
        logger.warning(
            "could not enqueue signal %s; the sweeper will retry", signal_id, exc_info=True
        )
        return False
    return True
