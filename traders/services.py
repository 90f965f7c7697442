"""Trader writes: create, change, switch and delete traders; the daily limits; drift.

* One owner: at most one enabled trader per (broker account, product root); enabling or
  creating a second is refused (409) naming the trader that owns it.
* A stop is a stop: switching a trader off (or its limit tripping) skips its pending entries
  and unsent orders in the same transaction.
* Nothing abandoned: a trader holding a position or working orders is deleted (or moved) only
  after asking — 409 listing them — or with ``flatten=True``, which closes them first.
"""

from __future__ import annotations

import logging
from datetime import time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.brokers.base import BrokerError
from accounts.brokers.factory import broker_for
from accounts.models import BrokerAccount
from justtrades.api import ApplicationError
from justtrades.realtime import emit
from justtrades.timeline import Event
from traders import drift, events, mirror, pnl, risk
from traders.execution import execution_create, executions_skip_entries
from traders.models import WORKING, Execution, Order, Position, Trader

logger = logging.getLogger(__name__)

EXIT_UNIT_CHOICES = ("ticks", "points", "percent")
Kind = events.Kind

TRADER_FIELDS = (
    "enabled",
    "multiplier",
    "max_contracts",
    "daily_loss_limit",
    "daily_profit_target",
    "take_profit_override",
    "take_profit_override_unit",
    "stop_loss_override",
    "stop_loss_override_unit",
    "session_start",
    "session_end",
    "session_timezone",
    "session_days",
)


def trader_root(trader_or_strategy) -> str:
    """The product root a trader trades: its strategy's default symbol's."""
    return drift.trader_product(trader_or_strategy)


# --- validation -----------------------------------------------------------------------------------


def _validate(fields: dict[str, Any]) -> None:
    if "multiplier" in fields and not (1 <= int(fields["multiplier"]) <= 1000):
        raise ApplicationError("The multiplier must be between 1 and 1000.")
    if "max_contracts" in fields and not (1 <= int(fields["max_contracts"]) <= 10_000):
        raise ApplicationError("Max contracts must be between 1 and 10000.")
    for name in (
        "daily_loss_limit",
        "daily_profit_target",
        "take_profit_override",
        "stop_loss_override",
    ):
        value = fields.get(name)
        if value is not None and Decimal(value) <= 0:
            raise ApplicationError(
                f"{name.replace('_', ' ').capitalize()} must be positive (leave it empty for none)."
            )
    for name in ("take_profit_override_unit", "stop_loss_override_unit"):
        if name in fields and fields[name] not in EXIT_UNIT_CHOICES:
            raise ApplicationError(
                f"{name.replace('_', ' ')} must be one of {', '.join(EXIT_UNIT_CHOICES)}."
            )
    if "session_timezone" in fields:
        try:
            ZoneInfo(fields["session_timezone"])
        except Exception as exc:  # noqa: BLE001
            raise ApplicationError(f"Unknown time zone {fields['session_timezone']!r}.") from exc
    days = fields.get("session_days")
    if days is not None and (
        not isinstance(days, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days)
    ):
        raise ApplicationError("Session days are numbers from 0 (Monday) to 6 (Sunday).")
    start, end = fields.get("session_start"), fields.get("session_end")
    if (start is None) != (end is None) and ("session_start" in fields or "session_end" in fields):
        raise ApplicationError("Give both the session start and end, or neither.")
    if isinstance(start, time) and isinstance(end, time) and start == end:
        raise ApplicationError("The session start and end must differ.")


def _owner_conflict(*, account: BrokerAccount, root: str, exclude_pk: int | None) -> Trader | None:
    """The enabled trader that already trades this product on this account, if any."""
    others = Trader.objects.filter(broker_account=account, enabled=True).select_related("strategy")
    if exclude_pk:
        others = others.exclude(pk=exclude_pk)
    return next((t for t in others if trader_root(t) == root), None)


def _refuse_second_owner(*, account: BrokerAccount, strategy, exclude_pk: int | None) -> None:
    # Lock the account row: two enables at once cannot both pass.
    BrokerAccount.objects.select_for_update().filter(pk=account.pk).first()
    root = trader_root(strategy)
    owner = _owner_conflict(account=account, root=root, exclude_pk=exclude_pk)
    if owner is not None:
        raise ApplicationError(
            f"{account.name} already trades {root} for {owner.strategy.name} (trader "
            f"#{owner.pk}): switch that trader off first. One account holds one position per "
            "product, so two strategies would fight over it.",
            status_code=409,
            extra={"code": "account_owned", "owner_trader_id": owner.pk},
        )


# --- CRUD -----------------------------------------------------------------------------------------


@transaction.atomic
def trader_create(*, user, strategy, broker_account, **fields: Any) -> Trader:
    """Link ``strategy`` to ``broker_account`` (both must be the user's)."""
    if strategy.user_id != user.pk:
        raise ApplicationError("Strategy not found.", status_code=404)
    if broker_account.connection.user_id != user.pk:
        raise ApplicationError("Broker account not found.", status_code=404)
    unknown = set(fields) - set(TRADER_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    _validate(fields)
    if Trader.objects.filter(strategy=strategy, broker_account=broker_account).exists():
        raise ApplicationError(
            f"{strategy.name} already trades on {broker_account.name}.", status_code=409
        )
    if fields.get("enabled"):
        _refuse_second_owner(account=broker_account, strategy=strategy, exclude_pk=None)
    try:
        with transaction.atomic():
            trader = Trader.objects.create(
                user=user, strategy=strategy, broker_account=broker_account, **fields
            )
    except IntegrityError as exc:
        raise ApplicationError(
            f"{strategy.name} already trades on {broker_account.name}.", status_code=409
        ) from exc
    events.trader_line(
        trader,
        Kind.INFO,
        f"Trader created on {broker_account.name} ({'on' if trader.enabled else 'off'}).",
    )
    events.publish_trader(trader)
    return trader


def _holding(trader: Trader, root: str | None = None) -> list[str]:
    """What the trader's account holds in its product: "+2 MNQZ6", "working orders in MNQZ6"."""
    root = root or trader_root(trader)
    held = mirror.holdings(account=trader.broker_account, root=root)
    parts = [f"{q:+d} {c}" for c, q in sorted(held.by_contract.items())]
    if held.working:
        parts.append(f"working orders in {', '.join(sorted(held.working))}")
    return parts


# What to do with a position when its trader (or strategy) is switched off: the caller says.
KEEP, FLATTEN = "keep", "flatten"
IF_HOLDING_CHOICES = (KEEP, FLATTEN)
SWITCH_OFF_CHOICES = (
    "flatten it first, or say what switching off does to it: keep it (if_holding=keep: entries stop; exits, "
    "auto-flatten and daily limits still run) or close it (if_holding=flatten)"
)


def _refuse_while_holding(trader: Trader, remedy: str, **extra: str) -> None:
    """A 409 naming what the trader's account holds in its product, and what to do about it."""
    holding = _holding(trader)
    if holding:
        raise ApplicationError(
            f"{trader.strategy.name} on {trader.broker_account.name} holds "
            f"{'; '.join(holding)}: {remedy}.",
            status_code=409,
            extra={"code": "holds_position", "holding": holding, **extra},
        )


def _switch_off_holding(trader: Trader, if_holding: str | None) -> None:
    """Switching off a trader that holds a position or working orders asks first: keep it
    (nothing is abandoned: exits, auto-flatten and limits still run) or close it now."""
    if if_holding == FLATTEN:
        trader_flatten(trader=trader, reason="trader switched off")
    elif if_holding != KEEP:
        _refuse_while_holding(trader, SWITCH_OFF_CHOICES, choice="if_holding")


@transaction.atomic
def trader_update(
    *,
    trader: Trader,
    strategy=None,
    broker_account=None,
    if_holding: str | None = None,
    **fields: Any,
) -> Trader:
    """Change a trader's settings. Switching it off while it holds needs ``if_holding``."""
    unknown = set(fields) - set(TRADER_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    merged = {name: getattr(trader, name) for name in TRADER_FIELDS}
    merged.update(fields)
    _validate(merged)
    changed = [name for name, value in fields.items() if getattr(trader, name) != value]
    if strategy is not None and strategy.pk != trader.strategy_id:
        if strategy.user_id != trader.user_id:
            raise ApplicationError("Strategy not found.", status_code=404)
        if trader_root(strategy) != trader_root(trader):
            _refuse_while_holding(trader, "flatten it first, then change its strategy")
        trader.strategy = strategy
        changed.append("strategy")
    if broker_account is not None and broker_account.pk != trader.broker_account_id:
        if broker_account.connection.user_id != trader.user_id:
            raise ApplicationError("Broker account not found.", status_code=404)
        _refuse_while_holding(trader, "flatten it first, then move it")
        trader.broker_account = broker_account
        changed.append("broker_account")
    if trader.enabled and fields.get("enabled") is False:
        _switch_off_holding(trader, if_holding)
    for name, value in fields.items():
        setattr(trader, name, value)
    if trader.enabled and ({"enabled", "strategy", "broker_account"} & set(changed)):
        _refuse_second_owner(
            account=trader.broker_account, strategy=trader.strategy, exclude_pk=trader.pk
        )
    if fields.get("enabled") and trader.disabled_until:
        # Switching a trader on by hand overrides a limit that disabled it for the day.
        trader.disabled_until = None
        trader.disabled_reason = ""
        changed += ["disabled_until", "disabled_reason"]
    if not changed:
        return trader
    try:
        with transaction.atomic():
            trader.save(update_fields=sorted(set(changed)) + ["updated_at"])
    except IntegrityError as exc:
        raise ApplicationError(
            "That strategy already trades on that account.", status_code=409
        ) from exc
    if "enabled" in changed and not trader.enabled:
        _stop_entries(trader, "the trader was switched off")
    events.trader_line(trader, Kind.INFO, f"Trader settings changed: {', '.join(changed)}.")
    events.publish_trader(trader)
    return trader


def _stop_entries(trader: Trader, reason: str) -> int:
    return executions_skip_entries(q=Q(trader=trader), reason=reason)


@transaction.atomic
def trader_delete(*, trader: Trader, flatten: bool = False) -> None:
    """Delete a trader; one holding a position or working orders only with ``flatten``."""
    if flatten:
        trader_flatten(trader=trader, reason="trader deleted")
    else:
        _refuse_while_holding(trader, "flatten it first, or delete it with flatten=true")
    _stop_entries(trader, "the trader was deleted")
    user_id, pk = trader.user_id, trader.pk
    trader.delete()
    emit(user_id, "trader", {"id": pk, "deleted": True})


def strategy_traders_release(
    *,
    strategy,
    flatten: bool = False,
    reason: str = "strategy deleted",
    remedy: str = "flatten first, or delete it with flatten=true",
    **extra: str,
) -> list[Execution]:
    """Before a strategy goes (or is switched off): every trader of it that holds a position or
    working orders is either the reason for a 409 listing them, or (``flatten``) closed in its
    account's turn.

    The flatten executions outlive the traders (they are not tied to a signal), so deleting the
    strategy right after cannot lose them."""
    traders = list(strategy.traders.select_related("strategy", "broker_account__connection"))
    holding = {t.pk: _holding(t) for t in traders}
    if not flatten:
        held = [
            f"{t.broker_account.name}: {'; '.join(holding[t.pk])}" for t in traders if holding[t.pk]
        ]
        if held:
            raise ApplicationError(
                f"{strategy.name} still holds {' | '.join(held)}: {remedy}.",
                status_code=409,
                extra={"code": "holds_position", "holding": held, **extra},
            )
    made = []
    for trader in traders:
        _stop_entries(trader, reason)
        if flatten and holding[trader.pk]:
            made += trader_flatten(trader=trader, reason=reason)
    return made


def strategy_switch_off(*, strategy, if_holding: str | None = None) -> list[Execution]:
    """Switching a strategy off while its traders hold asks first, as for a trader: keep
    (exits, auto-flatten and limits still run for what is held) or flatten now. Pending
    entries of its traders are skipped either way."""
    if if_holding == KEEP:
        for trader in strategy.traders.all():
            _stop_entries(trader, "strategy switched off")
        return []
    return strategy_traders_release(
        strategy=strategy,
        flatten=if_holding == FLATTEN,
        reason="strategy switched off",
        remedy=SWITCH_OFF_CHOICES,
        choice="if_holding",
    )


@transaction.atomic
def trader_toggle(
    *, trader: Trader, enabled: bool | None = None, if_holding: str | None = None
) -> Trader:
    """Switch a trader on or off (flip when ``enabled`` is None). Off while it holds a position
    or working orders: refused (409, listing them) unless ``if_holding`` says keep or flatten."""
    new = (not trader.enabled) if enabled is None else bool(enabled)
    if trader.enabled and not new:
        _switch_off_holding(trader, if_holding)
    if new and not trader.enabled:
        _refuse_second_owner(
            account=trader.broker_account, strategy=trader.strategy, exclude_pk=trader.pk
        )
    fields = ["enabled", "updated_at"]
    trader.enabled = new
    if new and trader.disabled_until:
        trader.disabled_until = None
        trader.disabled_reason = ""
        fields += ["disabled_until", "disabled_reason"]
    trader.save(update_fields=fields)
    if not new:
        _stop_entries(trader, "the trader was switched off")
    events.trader_line(trader, Kind.INFO, f"Trader switched {'on' if new else 'off'}.")
    events.publish_trader(trader)
    return trader


# --- flatten ----------------------------------------------------------------------------------------


def _roots_held(account: BrokerAccount) -> set[str]:
    """Every product the account holds or has working orders in (the mirror; over REST when
    the stream is not live)."""
    if not mirror.mirror_is_fresh(account.connection):
        try:
            mirror.mirror_refresh(connection=account.connection, account_id=account.external_id)
        except BrokerError as exc:
            logger.warning("account %s not re-read before a flatten: %s", account.pk, exc)
    roots = set(
        Position.objects.filter(broker_account=account)
        .exclude(net_pos=0)
        .values_list("root", flat=True)
    )
    roots |= set(
        Order.objects.filter(broker_account=account, status__in=WORKING).values_list(
            "root", flat=True
        )
    )
    return {r for r in roots if r}


@transaction.atomic
def trader_flatten(
    *, trader: Trader, reason: str = "by hand", request_key: str | None = None
) -> list[Execution]:
    """Close the trader's product on its account: its pending entries skipped, working orders
    cancelled, every contract month closed (one execution per product, run in the account's
    turn)."""
    _stop_entries(trader, f"flatten ({reason})")
    root = trader_root(trader)
    roots = {root} if root else set()
    made = []
    for r in sorted(roots):
        made.append(
            execution_create(
                user_id=trader.user_id,
                account=trader.broker_account,
                root=r,
                kind=Execution.Kind.FLATTEN,
                instruction={"reason": reason},
                trader=trader,
                request_key=f"{request_key}:{r}" if request_key else None,
            )
        )
    return made


@transaction.atomic
def account_flatten(
    *, account: BrokerAccount, reason: str, request_key: str | None = None
) -> list[Execution]:
    """Close everything on one account (Flatten All): pending entries of every trader on it
    skipped at once, then one flatten per product it holds, each in that product's turn."""
    executions_skip_entries(q=Q(broker_account=account), reason=f"Flatten All ({reason})")
    made = []
    owners = {
        trader_root(t): t
        for t in Trader.objects.filter(broker_account=account, enabled=True).select_related(
            "strategy"
        )
    }
    for root in sorted(_roots_held(account)):
        made.append(
            execution_create(
                user_id=account.connection.user_id,
                account=account,
                root=root,
                kind=Execution.Kind.FLATTEN,
                instruction={"reason": reason},
                trader=owners.get(root),
                request_key=f"{request_key}:{account.pk}:{root}" if request_key else None,
            )
        )
    return made


# --- the daily limits -------------------------------------------------------------------------------


def account_risk_evaluate(*, account: BrokerAccount, confirm=None) -> int:
    """The day's P&L of the account (``traders.pnl``: its fills paired into trades, its
    positions at their last price) against every limited trader on it. A limit that
    looks reached is confirmed with one fresh cash snapshot (realized and open together) before
    anything is flattened, so no stale figure trips it. Returns how many traders tripped."""
    traders = list(
        Trader.objects.filter(broker_account=account).select_related(
            "strategy", "broker_account__connection"
        )
    )
    if not traders:
        return 0
    figures = pnl.account_pnl(pnl.account_with_pnl(account.pk))
    realized, open_pnl = figures.realized, figures.open_pnl
    tripped = 0
    for trader in traders:
        _store_pnl(trader, realized, open_pnl)
    limited = [t for t in traders if t.enabled and (t.daily_loss_limit or t.daily_profit_target)]
    if not limited:
        return 0
    today = risk.trading_day(timezone.now())
    candidates = [
        t
        for t in limited
        if not risk.is_disabled_for_day(disabled_until=t.disabled_until, today=today)
        and risk.daily_limit_hit(
            pnl=realized + open_pnl,
            loss_limit=t.daily_loss_limit,
            profit_target=t.daily_profit_target,
        )
    ]
    if not candidates:
        return 0
    try:
        snapshot = (confirm or broker_for(account.connection).cash)(account.external_id)
    except BrokerError as exc:
        for trader in candidates:
            _risk_unavailable(trader, str(exc))
        return 0
    realized, open_pnl = snapshot.realized_pnl, snapshot.open_pnl
    for trader in candidates:
        _store_pnl(trader, realized, open_pnl)
        if trader_enforce_daily_limits(trader=trader):
            tripped += 1
    return tripped


def _store_pnl(trader: Trader, realized: Decimal, open_pnl: Decimal) -> None:
    today = risk.trading_day(timezone.now())
    realized = Decimal(realized).quantize(risk.CENT)
    open_pnl = Decimal(open_pnl).quantize(risk.CENT)
    if (trader.pnl_date, trader.realized_pnl_today, trader.open_pnl, trader.risk_error) == (
        today,
        realized,
        open_pnl,
        "",
    ):
        return
    trader.pnl_date, trader.realized_pnl_today, trader.open_pnl = today, realized, open_pnl
    trader.pnl_updated_at, trader.risk_error = timezone.now(), ""
    Trader.objects.filter(pk=trader.pk).update(
        pnl_date=today,
        realized_pnl_today=realized,
        open_pnl=open_pnl,
        pnl_updated_at=trader.pnl_updated_at,
        risk_error="",
    )
    events.publish_trader(trader)


def _risk_unavailable(trader: Trader, error: str) -> None:
    message = f"Daily limits could not be checked: {error}"[:300]
    if trader.risk_error == message:
        return
    Trader.objects.filter(pk=trader.pk).update(risk_error=message)
    trader.risk_error = message
    events.trader_line(
        trader,
        Kind.ERROR,
        f"{message}. Entries stay allowed; watch the account until the broker answers again.",
        event=Event.RISK_UNAVAILABLE,
        data={"error": error},
    )
    events.publish_trader(trader)


def trader_enforce_daily_limits(*, trader: Trader) -> bool:
    """Daily loss limit / profit target reached ⇒ entries stopped for the trading day, the
    trader's product flattened, the user told. True when it tripped now."""
    today = risk.trading_day(timezone.now())
    if trader.pnl_date != today or not trader.enabled:
        return False
    hit = risk.daily_limit_hit(
        pnl=trader.today_pnl,
        loss_limit=trader.daily_loss_limit,
        profit_target=trader.daily_profit_target,
    )
    if hit is None:
        return False
    if hit == "loss":
        reason = (
            f"Daily loss limit of ${trader.daily_loss_limit:,.2f} reached "
            f"(today's P&L ${trader.today_pnl:,.2f})"
        )
    else:
        reason = (
            f"Daily profit target of ${trader.daily_profit_target:,.2f} reached "
            f"(today's P&L ${trader.today_pnl:,.2f})"
        )
    with transaction.atomic():
        # Claimed once even if the stream and the beat job see it at the same moment.
        claimed = (
            Trader.objects.filter(pk=trader.pk, enabled=True)
            .exclude(disabled_until__gte=today)
            .update(disabled_until=today, disabled_reason=reason[:200])
        )
        if not claimed:
            return False
        trader.disabled_until, trader.disabled_reason = today, reason[:200]
        trader_flatten(trader=trader, reason="daily limit")
    limit = trader.daily_loss_limit if hit == "loss" else trader.daily_profit_target
    events.trader_line(
        trader,
        Kind.RISK,
        f"{reason}: the position is flattened and the trader stopped for the rest of the "
        "trading day.",
        event=Event.DAILY_LOSS_LIMIT if hit == "loss" else Event.DAILY_PROFIT_TARGET,
        data={
            "limit" if hit == "loss" else "target": str(limit),
            "pnl": str(trader.today_pnl),
            "disabled_until": str(today),
        },
    )
    events.publish_trader(trader)
    return True


# --- drift --------------------------------------------------------------------------------------


def traders_reconcile() -> int:
    """Beat job: each trader's expected position against what the mirror says the account holds,
    judged only once the product has settled (``traders.drift``) and the mirror is live.
    Returns the number of traders newly drifting."""
    traders = Trader.objects.filter(Q(enabled=True) | Q(drift=True)).select_related(
        "strategy", "broker_account__connection"
    )
    return sum(int(drift.trader_drift_judge(trader)) for trader in traders)


def trader_accept_broker_position(*, trader: Trader) -> Trader:
    """Resolve drift by taking the broker's position as the expected one (a manual fix)."""
    root = trader_root(trader)
    account = trader.broker_account
    if not mirror.mirror_is_fresh(account.connection):
        mirror.mirror_refresh(connection=account.connection, account_id=account.external_id)
    held = mirror.holdings(account=account, root=root).total
    expected = {**(trader.expected_positions or {}), root: held}
    Trader.objects.filter(pk=trader.pk).update(
        expected_positions=expected, drift=False, drift_message=""
    )
    trader.expected_positions, trader.drift, trader.drift_message = expected, False, ""
    events.trader_line(trader, Kind.INFO, "Expected position reset to the broker's.")
    events.publish_trader(trader)
    return trader
