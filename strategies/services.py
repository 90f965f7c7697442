"""Strategy and signal writes: create/update strategies, accept alerts, process signals.

The path of an alert (DESIGN §3): `webhook_receive` stores a `Signal` with one INSERT and
enqueues `process_signal` after commit; `signal_process` (the task body) applies the strategy's
filters, resolves the symbol and hands the signal to the recorder and the traders;
`signals_sweep` re-enqueues signals that were stored but never processed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from justtrades.api import ApplicationError
from notifications.realtime import publish
from recorder.models import RecordedPosition, Recorder, StrategyLog
from strategies.models import Signal, Strategy, new_webhook_token
from strategies.parsing import AlertError, Intent, parse_alert
from strategies.positions import PositionRules, plan_position

logger = logging.getLogger(__name__)

TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
HEADERS_OF_INTEREST = ("content-type", "user-agent", "content-length", "x-forwarded-for")
SWEEP_AFTER_SECONDS = 10  # an accepted signal untouched this long is re-enqueued
SWEEP_RETRY_SECONDS = 30  # ...and not again before this
SWEEP_GIVE_UP_AFTER = 20  # re-enqueues before a signal is marked failed
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

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
        from accounts.brokers.symbols import UnknownSymbol, resolve_symbol

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
    try:
        from recorder.services import recorder_create
    except ImportError:
        Recorder.objects.get_or_create(strategy=strategy, defaults={"user": strategy.user})
    else:
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
def strategy_update(*, strategy: Strategy, **fields: Any) -> Strategy:
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
    StrategyLog.objects.create(
        user_id=strategy.user_id,
        strategy=strategy,
        kind=StrategyLog.Kind.INFO,
        message="Webhook URL regenerated: update your TradingView alerts.",
    )
    publish(strategy.user_id, "strategy", {**strategy_payload(strategy), "event": "updated"})
    return strategy


@transaction.atomic
def strategy_delete(*, strategy: Strategy) -> None:
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


def _dedupe_keys(raw: bytes, intent: Intent) -> tuple[str, str | None]:
    """The key stored with the signal, and an earlier key that also means "duplicate"."""
    if intent.alert_id:
        digest = hashlib.sha256(intent.alert_id.encode()).hexdigest()[:40]
        return f"id:{digest}", None
    window = max(1, settings.WEBHOOK_DEDUPE_WINDOW_SECONDS)
    bucket = int(time.time() // window)
    digest = hashlib.sha256(raw).hexdigest()[:40]
    return f"body:{digest}:{bucket}", f"body:{digest}:{bucket - 1}"


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
    StrategyLog.objects.create(
        user_id=strategy.user_id,
        strategy=strategy,
        signal=signal,
        kind=StrategyLog.Kind.ERROR,
        message=f"Alert rejected: {reason}",
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
        .only("id", "user_id", "name", "passphrase", "enabled", "entry_delay_seconds")
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
    try:
        intent = parse_alert(raw)
    except AlertError as exc:
        signal = _store_rejection(
            strategy=strategy, raw=raw, headers=headers, source_ip=source_ip, reason=exc.message
        )
        return _reply(400, "rejected", exc.message, signal_id=signal.pk)
    if strategy.passphrase and not hmac.compare_digest(
        intent.passphrase.encode(), strategy.passphrase.encode()
    ):
        reason = "wrong passphrase" if intent.passphrase else "this strategy requires a passphrase"
        signal = _store_rejection(
            strategy=strategy,
            raw=raw,
            headers=headers,
            source_ip=source_ip,
            reason=reason,
            intent=intent,
        )
        return _reply(401, "rejected", reason, signal_id=signal.pk)
    if not strategy.enabled:
        reason = f"strategy {strategy.name!r} is disabled"
        signal = _store_rejection(
            strategy=strategy,
            raw=raw,
            headers=headers,
            source_ip=source_ip,
            reason=reason,
            intent=intent,
        )
        return _reply(409, "rejected", reason, signal_id=signal.pk)
    return _accept(
        strategy=strategy,
        raw=raw,
        intent=intent,
        headers=headers,
        source_ip=source_ip,
        origin=Signal.Origin.WEBHOOK,
    )


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
    key, earlier_key = (dedupe_key, None) if dedupe_key else _dedupe_keys(raw, intent)
    if earlier_key:
        earlier = (
            Signal.objects.filter(strategy_id=strategy.pk, dedupe_key=earlier_key)
            .values_list("id", flat=True)
            .first()
        )
        if earlier:
            return _reply(200, "duplicate", "already received", signal_id=earlier, duplicate=True)
    signal = Signal(
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
    try:
        with transaction.atomic():
            signal.save(force_insert=True)
    except IntegrityError:
        existing = (
            Signal.objects.filter(strategy_id=strategy.pk, dedupe_key=key)
            .values_list("id", flat=True)
            .first()
        )
        if existing is None:
            raise
        return _reply(200, "duplicate", "already received", signal_id=existing, duplicate=True)
    signal_id = signal.pk
    transaction.on_commit(lambda: signal_enqueue(signal_id=signal_id))
    return _reply(200, "accepted", signal_id=signal_id, duplicate=False)


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
    from strategies.tasks import process_signal

    try:
        process_signal.apply_async(args=[signal_id], countdown=countdown, retry=False)
    except Exception:  # noqa: BLE001 - the signal is stored; the sweeper re-enqueues it
        logger.warning(
            "could not enqueue signal %s; the sweeper will retry", signal_id, exc_info=True
        )
        return False
    return True


# --- processing ---------------------------------------------------------------------------


def signal_payload(signal: Signal) -> dict[str, Any]:
    return {
        "id": signal.pk,
        "strategy_id": signal.strategy_id,
        "status": signal.status,
        "reason": signal.reason,
        "action": signal.action,
        "symbol": signal.symbol,
        "contract": signal.contract,
        "quantity": signal.quantity,
        "price": signal.price,
        "received_at": signal.received_at,
        "processed_at": signal.processed_at,
        "latency_ms": signal.latency_ms,
    }


def _local(strategy: Strategy, moment: datetime) -> datetime:
    try:
        return moment.astimezone(ZoneInfo(strategy.session_timezone or "UTC"))
    except Exception:  # noqa: BLE001 - a bad stored zone falls back to UTC
        return moment.astimezone(ZoneInfo("UTC"))


def session_reason(strategy: Strategy, moment: datetime) -> str:
    """Why `moment` is outside the strategy's trading session, or "" when inside."""
    local = _local(strategy, moment)
    days = strategy.session_days or []
    start, end = strategy.session_start, strategy.session_end
    if start is None or end is None:
        if days and local.weekday() not in days:
            return f"{WEEKDAYS[local.weekday()]} is not a trading day of this strategy"
        return ""
    now = local.time().replace(tzinfo=None)
    overnight = start > end
    inside = (start <= now < end) if not overnight else (now >= start or now < end)
    # The trading day of an overnight session is the day it started.
    day = local.weekday() if not overnight or now >= start else (local.weekday() - 1) % 7
    window = f"{start:%H:%M}–{end:%H:%M} {strategy.session_timezone}"
    if not inside:
        return f"outside the trading session {window} (it is {now:%H:%M} there)"
    if days and day not in days:
        return f"{WEEKDAYS[day]} is not a trading day of this strategy"
    return ""


def _strategy_position(strategy: Strategy, contract_name: str) -> int:
    row = (
        RecordedPosition.objects.filter(recorder__strategy_id=strategy.pk, symbol=contract_name)
        .values_list("net_pos", flat=True)
        .first()
    )
    return int(row or 0)


def _finish(signal: Signal, status: str, reason: str = "", log_kind: str | None = None) -> None:
    signal.status = status
    signal.reason = reason
    signal.processed_at = timezone.now()
    signal.save(
        update_fields=[
            "status",
            "reason",
            "processed_at",
            "contract",
            "target_position",
            "opens",
            "symbol",
        ]
    )
    if log_kind:
        StrategyLog.objects.create(
            user_id=signal.strategy.user_id,
            strategy_id=signal.strategy_id,
            signal=signal,
            kind=log_kind,
            message=reason,
        )
    publish(signal.strategy.user_id, "signal", signal_payload(signal))


def signal_process(*, signal_id: int) -> str:
    """Process one stored signal, at most once to completion. Returns what happened."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 10)
    claimed = (
        Signal.objects.filter(pk=signal_id)
        .filter(
            Q(status=Signal.Status.ACCEPTED)
            | Q(status=Signal.Status.PROCESSING, started_at__lt=stale)
        )
        .update(status=Signal.Status.PROCESSING, started_at=now)
    )
    if not claimed:
        return "skipped"
    signal = Signal.objects.select_related("strategy").get(pk=signal_id)
    strategy = signal.strategy
    try:
        return _process(signal, strategy, now)
    except (OperationalError, InterfaceError):
        # The database blinked: hand the signal back so that the task's retry (or the sweeper)
        # takes it again. Every step after the claim is idempotent, so a second pass is safe.
        logger.warning("signal %s: database unavailable, will retry", signal_id, exc_info=True)
        try:
            Signal.objects.filter(pk=signal_id, status=Signal.Status.PROCESSING).update(
                status=Signal.Status.ACCEPTED
            )
        except DatabaseError:
            pass  # still down: the stale-claim rule of the sweeper takes it later
        raise
    except Exception as exc:
        logger.exception("signal %s failed", signal_id)
        _finish(
            signal, Signal.Status.FAILED, f"internal error: {exc}"[:500], StrategyLog.Kind.ERROR
        )
        raise


def _process(signal: Signal, strategy: Strategy, now: datetime) -> str:
    from accounts.brokers.symbols import UnknownSymbol, resolve_symbol

    intent = Intent.from_dict(signal.intent)
    if not strategy.enabled:
        _finish(signal, Signal.Status.FILTERED, "strategy is disabled", StrategyLog.Kind.FILTERED)
        return "filtered"

    symbol_text = intent.symbol or strategy.default_symbol
    signal.symbol = symbol_text[:40]
    try:
        contract = resolve_symbol(symbol_text, at=signal.received_at)
    except UnknownSymbol as exc:
        _finish(signal, Signal.Status.REJECTED, str(exc), StrategyLog.Kind.ERROR)
        return "rejected"
    signal.contract = contract.name

    current = _strategy_position(strategy, contract.name)
    plan = plan_position(intent, current=current, rules=PositionRules.of(strategy))
    signal.target_position = plan.target
    signal.opens = plan.is_entry
    is_target = intent.kind == "target" or intent.action in ("exit", "reverse", "cancel")

    if plan.change == 0 and plan.note and not is_target:
        _finish(signal, Signal.Status.FILTERED, plan.note, StrategyLog.Kind.FILTERED)
        return "filtered"
    if plan.is_entry:
        reason = session_reason(strategy, now)
        if reason:
            signal.opens = False
            _finish(signal, Signal.Status.FILTERED, reason, StrategyLog.Kind.FILTERED)
            return "filtered"
        if strategy.cooldown_seconds:
            since = now - timedelta(seconds=strategy.cooldown_seconds)
            last = (
                Signal.objects.filter(
                    strategy_id=strategy.pk,
                    status=Signal.Status.PROCESSED,
                    opens=True,
                    received_at__gte=since,
                )
                .exclude(pk=signal.pk)
                .order_by("-received_at")
                .values_list("received_at", flat=True)
                .first()
            )
            if last is not None:
                ago = int((now - last).total_seconds())
                signal.opens = False
                _finish(
                    signal,
                    Signal.Status.FILTERED,
                    f"cooldown: the last entry was {ago}s ago (cooldown {strategy.cooldown_seconds}s)",
                    StrategyLog.Kind.FILTERED,
                )
                return "filtered"
        if strategy.entry_delay_seconds:
            due = signal.received_at + timedelta(seconds=strategy.entry_delay_seconds)
            if now < due:
                Signal.objects.filter(pk=signal.pk, status=Signal.Status.PROCESSING).update(
                    status=Signal.Status.ACCEPTED
                )
                signal_enqueue(signal_id=signal.pk, countdown=(due - now).total_seconds())
                return "delayed"

    from recorder.services import recorder_record_signal
    from traders.services import traders_execute_signal

    signal.save(update_fields=["contract", "target_position", "opens", "symbol"])
    # Money first: the traders' orders are queued before the paper bookkeeping runs.
    traders_execute_signal(signal=signal)
    recorder_record_signal(signal=signal)
    message = (
        f"{intent.describe()} → {contract.name}, strategy position {current:+d} → {plan.target:+d}"
    )
    if plan.note:
        message += f" ({plan.note})"
    _finish(signal, Signal.Status.PROCESSED, plan.note, None)
    StrategyLog.objects.create(
        user_id=strategy.user_id,
        strategy=strategy,
        signal=signal,
        kind=StrategyLog.Kind.SIGNAL,
        message=message,
        data={"target": plan.target, "contract": contract.name},
    )
    return "processed"


# --- periodic jobs ----------------------------------------------------------------------------


def signals_sweep(
    *, now: datetime | None = None, limit: int = 500, older_than: float = SWEEP_AFTER_SECONDS
) -> int:
    """Re-enqueue signals stored but never processed (a broker outage, a lost message, a killed
    worker). Returns how many were re-enqueued."""
    now = now or timezone.now()
    accepted_before = now - timedelta(seconds=older_than)
    retry_before = now - timedelta(seconds=max(older_than, SWEEP_RETRY_SECONDS))
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 10)
    candidates = (
        Signal.objects.filter(
            Q(status=Signal.Status.ACCEPTED, received_at__lt=accepted_before)
            | Q(status=Signal.Status.PROCESSING, started_at__lt=stale)
        )
        .filter(Q(swept_at__isnull=True) | Q(swept_at__lt=retry_before))
        .select_related("strategy")
        .only(
            "id",
            "received_at",
            "enqueue_count",
            "strategy__entry_delay_seconds",
            "strategy__user_id",
        )
        .order_by("received_at")[:limit]
    )
    count = 0
    for signal in candidates:
        delay = timedelta(seconds=signal.strategy.entry_delay_seconds or 0)
        if signal.received_at + delay > accepted_before:
            continue
        if signal.enqueue_count >= SWEEP_GIVE_UP_AFTER:
            updated = Signal.objects.filter(
                pk=signal.pk, status__in=[Signal.Status.ACCEPTED, Signal.Status.PROCESSING]
            ).update(
                status=Signal.Status.FAILED,
                reason="never processed: no worker took it after repeated attempts",
                processed_at=now,
            )
            if updated:
                StrategyLog.objects.create(
                    user_id=signal.strategy.user_id,
                    strategy_id=signal.strategy_id,
                    signal_id=signal.pk,
                    kind=StrategyLog.Kind.ERROR,
                    message=f"Signal #{signal.pk} was never processed and is marked failed.",
                )
            continue
        Signal.objects.filter(pk=signal.pk).update(
            swept_at=now, enqueue_count=signal.enqueue_count + 1
        )
        if signal_enqueue(signal_id=signal.pk):
            count += 1
    return count


def strategies_auto_flatten(*, now: datetime | None = None, grace_minutes: int = 10) -> int:
    """At each strategy's auto-flatten time (in its session time zone), one exit signal."""
    now = now or timezone.now()
    count = 0
    for strategy in Strategy.objects.filter(enabled=True, auto_flatten_time__isnull=False):
        local = _local(strategy, now)
        at = datetime.combine(local.date(), strategy.auto_flatten_time, tzinfo=local.tzinfo)
        if not (at <= local < at + timedelta(minutes=grace_minutes)):
            continue
        result = signal_create_internal(
            strategy=strategy,
            body="exit",
            origin=Signal.Origin.AUTO_FLATTEN,
            dedupe_key=f"auto_flatten:{local.date().isoformat()}",
        )
        if result.body.get("status") == "accepted":
            count += 1
            StrategyLog.objects.create(
                user_id=strategy.user_id,
                strategy=strategy,
                signal_id=result.body["signal_id"],
                kind=StrategyLog.Kind.INFO,
                message=f"Auto-flatten at {strategy.auto_flatten_time:%H:%M} {strategy.session_timezone}",
            )
    return count
