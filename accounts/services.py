"""Writes on broker connections: create, update, test, refresh, delete, paper provisioning.

Every broker failure is turned into an ``ApplicationError`` whose message says exactly what went
wrong (bad password, CAPTCHA penalty, unreachable host…) and whose ``extra["code"]`` is stable
for scripts: ``bad_credentials``, ``captcha``, ``rate_limited``, ``unreachable``, ``broker_error``,
``unreadable_credentials``.

One file for one idea, the life of a broker connection (create, test, edit, refresh, archive,
delete, paper provisioning): its parts share the error wording and the credential handling.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.brokers.base import (
    AccountInfo,
    AuthenticationFailed,
    Broker,
    BrokerError,
    BrokerUnavailable,
    CaptchaRequired,
    CashBalance,
    RateLimited,
)
from accounts.brokers.factory import broker_for, client_for, credentials_with_defaults
from accounts.brokers.tradovate import urls_for_connection
from accounts.crypto import CredentialsUnreadable, decrypt, encrypt
from accounts.models import BrokerAccount, BrokerConnection
from justtrades.api import ApplicationError
from justtrades.clock import local_time_text, zone_named
from justtrades.realtime import publish
from justtrades.timeline import Event, timeline_write
from recorder.models import Recorder, StrategyLog
from traders.models import IN_FLIGHT, WORKING, Fill, Order, Position, Trader

log = logging.getLogger(__name__)

Kind = BrokerConnection.Kind
PAPER_STARTING_BALANCE = Decimal("50000")


# --- errors -----------------------------------------------------------------------------------


def broker_error_message(exc: Exception, *, host: str = "") -> tuple[str, str]:
    """(code, sentence for the trader) of a broker failure."""
    if isinstance(exc, CaptchaRequired):
        return "captcha", (
            "Tradovate put this login in a CAPTCHA penalty: log in once at trader.tradovate.com "
            "(solve the CAPTCHA), then test the connection again."
        )
    if isinstance(exc, AuthenticationFailed):
        return "bad_credentials", f"Login refused by the broker: {exc.message}"
    if isinstance(exc, RateLimited):
        wait = f" Try again in {int(exc.retry_after) + 1} seconds." if exc.retry_after else ""
        return "rate_limited", f"The broker is rate-limiting this login.{wait}"
    if isinstance(exc, BrokerUnavailable):
        where = f" at {host}" if host else ""
        return "unreachable", f"Cannot reach the broker{where}: {exc.message}"
    if isinstance(exc, CredentialsUnreadable):
        return "unreadable_credentials", str(exc)
    if isinstance(exc, BrokerError):
        return "broker_error", f"The broker answered with an error: {exc.message}"
    return "broker_error", str(exc)


def _application_error(exc: Exception, host: str = "") -> ApplicationError:
    code, message = broker_error_message(exc, host=host)
    return ApplicationError(message, extra={"code": code})


# --- clients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionInput:
    kind: str
    username: str = ""
    password: str = ""
    app_id: str = ""
    app_version: str = ""
    cid: str = ""
    sec: str = ""
    device_id: str = ""


def _client_for(data: ConnectionInput, *, timeout: float | None = None) -> Broker:
    """A client for credentials typed into a form (not yet stored)."""
    return client_for(
        kind=data.kind,
        credentials=credentials_with_defaults(
            username=data.username,
            password=data.password,
            app_id=data.app_id,
            app_version=data.app_version,
            cid=data.cid,
            sec=data.sec,
            device_id=data.device_id,
        ),
        timeout=timeout,
        max_penalty_wait=0,  # a form test reports a penalty instead of hanging the page
    )


def connection_input_for(connection: BrokerConnection) -> ConnectionInput:
    """The stored credentials of a connection, decrypted (in memory only)."""
    return ConnectionInput(
        kind=connection.kind,
        username=connection.username,
        password=decrypt(connection.password_encrypted),
        app_id=connection.app_id,
        app_version=connection.app_version,
        cid=connection.cid,
        sec=decrypt(connection.sec_encrypted),
        device_id=connection.device_id,
    )


def _client_for_connection(connection: BrokerConnection) -> Broker:
    return broker_for(connection)


def connection_test(*, data: ConnectionInput) -> list[AccountInfo]:
    """Log in with these credentials and list the accounts; ``ApplicationError`` says why not."""
    if data.kind not in Kind.values:
        raise ApplicationError(f"Unknown broker kind {data.kind!r}.", extra={"code": "invalid"})
    if data.kind == Kind.PAPER and not data.username:
        _paper_ping()
        return []
    if not data.username or not data.password:
        raise ApplicationError("Enter the broker username and password.", extra={"code": "invalid"})
    client = _client_for(data)
    try:
        return client.accounts()
    except (BrokerError, CredentialsUnreadable) as exc:
        raise _application_error(exc, host=client.base_url) from exc


TEST_CONNECTION_PER_MINUTE = 10


def connection_test_throttle(*, user) -> None:
    """Tradovate locks a login after a few failed attempts an hour: cap how fast a user can
    press Test Connection (per user, per minute, shared by every web process)."""
    key = f"broker-test:{user.pk}:{int(time.time() // 60)}"
    try:
        cache.add(key, 0, 70)
        count = cache.incr(key)
    except Exception:  # noqa: BLE001 - without Redis, no throttle rather than no tests
        return
    if count > TEST_CONNECTION_PER_MINUTE:
        raise ApplicationError(
            "Too many connection tests in a minute; wait a moment and try again.",
            extra={"code": "throttled"},
            status_code=429,
        )


def connection_test_stored(*, connection: BrokerConnection, **overrides: str) -> list[AccountInfo]:
    """Test a saved connection, optionally with some fields replaced (blank ones are kept)."""
    try:
        stored = connection_input_for(connection)
    except CredentialsUnreadable as exc:
        raise _application_error(exc) from exc
    given = {k: v for k, v in overrides.items() if v and k in ConnectionInput.__dataclass_fields__}
    return connection_test(data=ConnectionInput(**{**stored.__dict__, **given}))


# --- create / update / delete ----------------------------------------------------------------


def connection_create(
    *,
    user,
    kind: str,
    label: str,
    username: str = "",
    password: str = "",
    app_id: str = "",
    app_version: str = "",
    cid: str = "",
    sec: str = "",
) -> BrokerConnection:
    """Check the login, store it (secrets encrypted) and discover its sub-accounts.

    ``kind="paper"`` ignores the credentials and provisions a fresh simulator login.
    """
    label = (label or "").strip()
    if kind == Kind.PAPER:
        return paper_connection_provision(user=user, label=label or "Paper")
    if kind not in Kind.values:
        raise ApplicationError(f"Unknown broker kind {kind!r}.", extra={"code": "invalid"})
    if not label:
        raise ApplicationError("Give the connection a name.", extra={"code": "invalid"})
    if BrokerConnection.objects.filter(user=user, label=label).exists():
        raise ApplicationError(
            f"You already have a connection named {label!r}.", extra={"code": "duplicate"}
        )
    data = ConnectionInput(
        kind=kind,
        username=username.strip(),
        password=password,
        app_id=app_id.strip(),
        app_version=app_version.strip(),
        cid=str(cid).strip(),
        sec=sec.strip(),
        device_id=secrets.token_hex(16),
    )
    connection_test(data=data)
    try:
        with transaction.atomic():
            connection = BrokerConnection.objects.create(
                user=user,
                kind=kind,
                label=label,
                username=data.username,
                password_encrypted=encrypt(data.password),
                sec_encrypted=encrypt(data.sec),
                app_id=data.app_id,
                app_version=data.app_version or "1.0",
                cid=data.cid,
                device_id=data.device_id,
            )
    except IntegrityError as exc:
        raise ApplicationError(
            f"You already have a connection named {label!r}.", extra={"code": "duplicate"}
        ) from exc
    return connection_refresh(connection=connection, raise_errors=False)


def connection_update(
    *,
    connection: BrokerConnection,
    label: str | None = None,
    username: str | None = None,
    password: str | None = None,
    app_id: str | None = None,
    app_version: str | None = None,
    cid: str | None = None,
    sec: str | None = None,
) -> BrokerConnection:
    """Change a connection. Blank password / secret keep the stored ones. New credentials are
    checked with the broker before they are saved."""
    changed: list[str] = []
    if label is not None and label.strip() and label.strip() != connection.label:
        label = label.strip()
        if (
            BrokerConnection.objects.filter(user_id=connection.user_id, label=label)
            .exclude(pk=connection.pk)
            .exists()
        ):
            raise ApplicationError(
                f"You already have a connection named {label!r}.", extra={"code": "duplicate"}
            )
        connection.label = label
        changed.append("label")
    credential_fields = {
        "username": username,
        "app_id": app_id,
        "app_version": app_version,
        "cid": cid,
    }
    credentials_changed = False
    if connection.kind != Kind.PAPER:
        for name, value in credential_fields.items():
            if value is not None and str(value).strip() != getattr(connection, name):
                setattr(connection, name, str(value).strip())
                changed.append(name)
                credentials_changed = True
        if password:
            connection.password_encrypted = encrypt(password)
            changed.append("password_encrypted")
            credentials_changed = True
        if sec:
            connection.sec_encrypted = encrypt(sec.strip())
            changed.append("sec_encrypted")
            credentials_changed = True
    if credentials_changed:
        try:
            # A fresh client: the shared one still holds the stored credentials.
            _client_for(connection_input_for(connection)).accounts()
        except (BrokerError, CredentialsUnreadable) as exc:
            raise _application_error(exc) from exc
    if credentials_changed:
        connection.credentials_version = F("credentials_version") + 1
        changed.append("credentials_version")
    if changed:
        connection.save(update_fields=[*changed, "updated_at"])
        connection.refresh_from_db(fields=["credentials_version"])
    if credentials_changed:
        return connection_refresh(connection=connection, raise_errors=False)
    _publish(connection)
    return connection


def connection_usage(*, connection: BrokerConnection) -> dict:
    """What uses this connection's accounts: traders, recorders following them, and the history
    (orders, fills) that a delete would destroy."""

    accounts = connection.accounts.all()
    held = [
        f"{p.broker_account.name}: {p.net_pos:+d} {p.symbol}"
        for p in Position.objects.filter(broker_account__in=accounts)
        .exclude(net_pos=0)
        .select_related("broker_account")
        .order_by("broker_account_id", "symbol")
    ]
    working = (
        Order.objects.filter(broker_account__in=accounts, status__in=WORKING | IN_FLIGHT)
        .values_list("broker_account__name", "symbol")
        .distinct()
        .order_by("broker_account__name", "symbol")
    )
    held += [f"{name}: working orders in {symbol}" for name, symbol in working]
    traders = Trader.objects.filter(broker_account__in=accounts).select_related(
        "strategy", "broker_account"
    )
    recorders = Recorder.objects.filter(broker_account__in=accounts).select_related("strategy")
    return {
        "holding": held,
        "traders": [
            {
                "id": t.pk,
                "strategy": t.strategy.name,
                "account": t.broker_account.name,
                "enabled": t.enabled,
            }
            for t in traders.order_by("pk")
        ],
        "recorders": [
            {"id": r.pk, "strategy": r.strategy.name, "running": r.running}
            for r in recorders.order_by("pk")
        ],
        "orders": Order.objects.filter(broker_account__in=accounts).count(),
        "fills": Fill.objects.filter(broker_account__in=accounts).count(),
    }


def _in_use(usage: dict) -> bool:
    return bool(usage["traders"] or usage["recorders"] or usage["orders"] or usage["fills"])


@transaction.atomic
def connection_delete(*, connection: BrokerConnection, archive: bool = False) -> str:
    """Remove a connection: ``"deleted"`` when nothing ever used it, ``"archived"`` otherwise.

    A connection whose accounts have traders, recorders or history is never destroyed: without
    ``archive`` the answer is a 409 listing what would be affected (the page asks first); with
    it the connection and its accounts are hidden from every page and picker and their history
    stays. Refused while a trader is switched on or a recorder follows one of its accounts.
    """
    connection = BrokerConnection.objects.select_for_update().get(pk=connection.pk)
    usage = connection_usage(connection=connection)
    trading = [t for t in usage["traders"] if t["enabled"]]
    recording = [r for r in usage["recorders"] if r["running"]]
    if usage["holding"]:
        # Without its connection nothing would watch these: no exit, no protection, no fill.
        raise ApplicationError(
            f"{connection.label} still holds {'; '.join(usage['holding'])}: flatten its "
            "accounts first (Control Center, Flatten All).",
            extra={"code": "holds_position", "affected": usage},
            status_code=409,
        )
    if trading or recording:
        parts = []
        if trading:
            parts.append(f"switch off the {len(trading)} trader(s)")
        if recording:
            parts.append(f"stop the {len(recording)} recorder(s) following its accounts")
        raise ApplicationError(
            f"{connection.label} is in use: {' and '.join(parts)} first.",
            extra={"code": "in_use", "affected": usage},
            status_code=409,
        )
    user_id, connection_id = connection.user_id, connection.pk
    if not _in_use(usage):
        connection.delete()
        publish(user_id, "account", {"connection_id": connection_id, "deleted": True})
        return "deleted"
    if not archive:
        raise ApplicationError(
            f"{connection.label} has history ({_usage_sentence(usage)}). Archive it instead: "
            "it disappears from your pages and its history is kept.",
            extra={"code": "has_history", "affected": usage},
            status_code=409,
        )
    now = timezone.now()
    # The label is freed for a new connection (one label per user); the old one stays readable.
    stamp = f" · archived {local_time_text(now, zone_named(connection.user.timezone))}"
    connection.label = connection.label[: 100 - len(stamp)] + stamp
    connection.archived_at = now
    connection.save(update_fields=["label", "archived_at", "updated_at"])
    publish(user_id, "account", {"connection_id": connection_id, "archived": True})
    return "archived"


def _usage_sentence(usage: dict) -> str:
    parts = []
    for key, noun in (("traders", "trader"), ("recorders", "recorder")):
        if usage[key]:
            parts.append(f"{len(usage[key])} {noun}(s)")
    for key, noun in (("orders", "order"), ("fills", "fill")):
        if usage[key]:
            parts.append(f"{usage[key]} {noun}(s)")
    return ", ".join(parts)


# --- refresh ----------------------------------------------------------------------------------


def connection_refresh(
    *, connection: BrokerConnection, raise_errors: bool = True
) -> BrokerConnection:
    """Log in, list the sub-accounts with balances and store them.

    On failure the connection is marked ``error`` with the reason (visible on Account
    Management); with ``raise_errors`` the reason is also raised as ``ApplicationError``.
    """
    try:
        client = _client_for_connection(connection)
        try:
            infos = client.accounts()
        except AuthenticationFailed:
            if connection.kind != Kind.PAPER:
                raise
            # The paper broker lost its logins (a wiped state file): provision it again.
            _paper_login_ensure(connection)
            infos = client.accounts()
        balances: dict[int, CashBalance] = {}
        for info in infos:
            balances[info.id] = client.cash(info.id)
        me_user_id = client.token().get("userId")
    except (BrokerError, CredentialsUnreadable) as exc:
        code, message = broker_error_message(exc, host=urls_for_connection(connection)[0])
        _mark_error(connection, message, code=code)
        if raise_errors:
            raise ApplicationError(message, extra={"code": code}) from exc
        return connection
    _store_accounts(connection, infos, balances, me_user_id)
    connection.refresh_from_db()
    _publish(connection)
    return connection


@transaction.atomic
def _store_accounts(connection, infos, balances, broker_user_id) -> None:
    now = timezone.now()
    seen = set()
    for info in infos:
        cash = balances[info.id]
        seen.add(info.id)
        BrokerAccount.objects.update_or_create(
            connection=connection,
            external_id=info.id,
            defaults={
                "name": info.name,
                "account_type": info.account_type,
                "active": info.active,
                "balance": cash.total_cash_value,
                "open_pnl": cash.open_pnl,
                "realized_pnl": cash.realized_pnl,
                "net_liq": cash.net_liq,
                "refreshed_at": now,
            },
        )
    # Accounts the broker no longer lists stay (orders refer to them) but are inactive.
    connection.accounts.exclude(external_id__in=seen).update(active=False, refreshed_at=now)
    BrokerConnection.objects.filter(pk=connection.pk).update(
        status=BrokerConnection.Status.CONNECTED,
        last_error="",
        last_checked_at=now,
        broker_user_id=broker_user_id,
        updated_at=now,
    )


# Codes of a login the broker refused (a person must fix the credentials or solve a CAPTCHA);
# the others are a refresh that failed (unreachable, rate-limited, a broker error).
LOGIN_FAILURE_CODES = {"bad_credentials", "captcha", "unreadable_credentials"}


def _mark_error(connection: BrokerConnection, message: str, *, code: str = "broker_error") -> None:
    """Show the failure on Account Management and, when it is news, tell the owner: a timeline
    line (``broker_login_failed`` / ``account_refresh_failed``) that the notification rules
    turn into a DM or a push. The same failure again (the beat refreshes every few minutes) is
    not news."""
    now = timezone.now()
    with transaction.atomic():
        before = (
            BrokerConnection.objects.select_for_update()
            .filter(pk=connection.pk)
            .values("status", "last_error")
            .first()
        )
        BrokerConnection.objects.filter(pk=connection.pk).update(
            status=BrokerConnection.Status.ERROR,
            last_error=message,
            last_checked_at=now,
            updated_at=now,
        )
        is_news = before is not None and (
            before["status"] != BrokerConnection.Status.ERROR or before["last_error"] != message
        )
        if is_news:
            login = code in LOGIN_FAILURE_CODES
            timeline_write(
                user=connection.user_id,
                kind=StrategyLog.Kind.ERROR,
                message=(
                    f"Broker login failed for {connection.label}: {message}"
                    if login
                    else f"Could not refresh {connection.label}: {message}"
                ),
                event=Event.BROKER_LOGIN_FAILED if login else Event.ACCOUNT_REFRESH_FAILED,
                data={"connection_id": connection.pk, "error": message, "code": code},
            )
    connection.status, connection.last_error, connection.last_checked_at = (
        BrokerConnection.Status.ERROR,
        message,
        now,
    )
    log.info("connection %s: %s", connection.pk, message)
    _publish(connection)


def _publish(connection: BrokerConnection) -> None:
    publish(
        connection.user_id,
        "account",
        {
            "connection_id": connection.pk,
            "status": connection.status,
            "last_error": connection.last_error,
        },
    )


def broker_account_update_balance(*, account: BrokerAccount, cash: CashBalance) -> None:
    """Store a balance read elsewhere (a stream, a poll) and tell the owner's pages."""
    now = timezone.now()
    BrokerAccount.objects.filter(pk=account.pk).update(
        balance=cash.total_cash_value,
        open_pnl=cash.open_pnl,
        realized_pnl=cash.realized_pnl,
        net_liq=cash.net_liq,
        refreshed_at=now,
    )
    publish(
        account.connection.user_id,
        "account",
        {"connection_id": account.connection_id, "account_id": account.pk},
    )


# --- the paper broker -------------------------------------------------------------------------


def paper_admin_token() -> str:
    """Shared secret of the simulator's /sim endpoints (unset: loopback-only, no token)."""
    return getattr(settings, "PAPER_BROKER_ADMIN_TOKEN", "") or os.environ.get(
        "PAPER_BROKER_ADMIN_TOKEN", ""
    )


def _paper_admin_url() -> str:
    base = settings.PAPER_BROKER_URL.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return f"{base}/sim/users"


def _paper_login_ensure(
    connection: BrokerConnection, balance: Decimal = PAPER_STARTING_BALANCE
) -> dict:
    """Create the connection's simulator login if the simulator does not know it (idempotent)."""
    headers = {}
    token = paper_admin_token()
    if token:
        headers["X-Sim-Admin"] = token
    try:
        resp = requests.post(
            _paper_admin_url(),
            json={
                "name": connection.username,
                "password": decrypt(connection.password_encrypted),
                "accounts": [f"PAPER{connection.user_id:05d}"],
                "balance": str(balance),
                "email": connection.user.email,
            },
            headers=headers,
            timeout=(2, 5),
        )
    except requests.RequestException as exc:
        raise BrokerUnavailable(
            f"The paper broker at {settings.PAPER_BROKER_URL} is not running ({exc.__class__.__name__})."
        ) from exc
    if resp.status_code != 200:
        raise BrokerError(f"The paper broker refused to create the login: {resp.text[:200]}")
    return resp.json()


def _paper_ping() -> None:
    url = _paper_admin_url().rsplit("/", 1)[0] + "/health"
    token = paper_admin_token()
    try:
        requests.get(
            url, headers={"X-Sim-Admin": token} if token else {}, timeout=(2, 3)
        ).raise_for_status()
    except requests.RequestException as exc:
        raise ApplicationError(
            f"The paper broker at {settings.PAPER_BROKER_URL} is not running "
            f"(start it with `manage.py tradovate_sim`).",
            extra={"code": "unreachable"},
        ) from exc


def paper_connection_create_row(*, user, label: str = "Paper") -> BrokerConnection:
    """The Paper connection row with fresh simulator credentials (no network)."""
    existing = BrokerConnection.objects.filter(
        user=user, kind=Kind.PAPER, archived_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    if BrokerConnection.objects.filter(user=user, label=label).exists():
        label = f"{label} {secrets.token_hex(2)}"
    return BrokerConnection.objects.create(
        user=user,
        kind=Kind.PAPER,
        label=label,
        username=f"jt{user.pk}-{secrets.token_hex(4)}",
        password_encrypted=encrypt(secrets.token_urlsafe(24)),
        app_id=settings.TRADOVATE_APP_ID,
        device_id=secrets.token_hex(16),
    )


def paper_connection_provision(
    *, user, label: str = "Paper", balance: Decimal = PAPER_STARTING_BALANCE
) -> BrokerConnection:
    """Make sure ``user`` has a working Paper connection with its $50,000 sub-account.

    Safe to call again: an existing Paper connection is re-provisioned and refreshed. If the
    simulator is down the connection is kept with the error shown; Refresh fixes it later.
    """
    with transaction.atomic():
        connection = paper_connection_create_row(user=user, label=label)
    try:
        _paper_login_ensure(connection, balance)
    except BrokerError as exc:
        code, message = broker_error_message(exc)
        _mark_error(connection, message, code=code)
        return connection
    return connection_refresh(connection=connection, raise_errors=False)


def paper_connection_on_user_created(user_id: int) -> None:
    """After a new user's transaction commits: their Paper connection, best effort."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    try:
        paper_connection_provision(user=user)
    except Exception:  # a broker hiccup must never break a sign-up
        log.exception("could not provision the paper broker for user %s", user_id)
