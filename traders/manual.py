"""Control Center actions: a trade by hand, a trader's Close, Flatten All.

Each is an execution like a signal's, run through the same decision and placement, in the
account's turn (after whatever that account is doing now). The request runs it at once and
waits a few seconds for the outcome so the page can say what happened; if the account is busy
a worker finishes it. A repeated press (a double click, a resend) with the same request id
finds its execution again and places nothing twice.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.db import IntegrityError, transaction

from accounts.brokers.symbols import UnknownSymbol, resolve_symbol
from accounts.models import BrokerAccount
from justtrades.api import ApplicationError
from justtrades.realtime import deferred_events
from justtrades.timeline import Event
from strategies.models import Strategy
from traders import events, services
from traders.execution import execution_create, execution_run
from traders.models import Execution, Trader

WAIT_SECONDS = 8.0
Kind = events.Kind


def _key(user, request_id: str | None, *parts) -> str:
    rid = (request_id or uuid.uuid4().hex)[:40]
    return ":".join(["manual", str(user.pk), rid, *map(str, parts)])[:80]


def _run_and_wait(executions: list[Execution], timeout: float = WAIT_SECONDS) -> list[Execution]:
    """Run each execution now (in its account's turn) and wait for it to end."""
    for ex in executions:
        if not ex.is_final:
            with deferred_events():
                execution_run(execution_id=ex.pk)
    deadline = time.monotonic() + timeout
    pending = [ex.pk for ex in executions]
    while pending and time.monotonic() < deadline:
        done = set(
            Execution.objects.filter(pk__in=pending, status__in=Execution.FINAL).values_list(
                "pk", flat=True
            )
        )
        pending = [pk for pk in pending if pk not in done]
        if pending:
            time.sleep(0.05)
    return list(Execution.objects.filter(pk__in=[ex.pk for ex in executions]).order_by("id"))


def _result(ex: Execution) -> dict[str, Any]:
    status = {"done": "placed", "skipped": "skipped", "failed": "failed"}.get(ex.status, "pending")
    out = {
        "execution_id": ex.pk,
        "trader_id": ex.trader_id,
        "account": ex.broker_account.name,
        "status": status,
        "execution_status": ex.status,
    }
    if ex.reason:
        out["message"] = ex.reason
    return out


def _create_once(*, key: str, **fields) -> Execution:
    existing = Execution.objects.filter(request_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return execution_create(request_key=key, **fields)
    except IntegrityError:
        return Execution.objects.get(request_key=key)


def manual_trade(
    *,
    user,
    action: str,
    quantity: int = 0,
    strategy: Strategy | None = None,
    symbol: str | None = None,
    broker_account: BrokerAccount | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A trade by hand.

    * with ``strategy``: on each of its traders (buy/sell on the enabled ones with the
      trader's multiplier and max contracts, the strategy's reversal rules and its exits;
      close on all of them);
    * with ``symbol`` and ``broker_account``: one market order (or a close) on that account.
    """
    action = (action or "").lower()
    if action not in ("buy", "sell", "close"):
        raise ApplicationError("Action must be buy, sell or close.", extra={"field": "action"})
    if action != "close" and not (1 <= int(quantity or 0) <= 1000):
        raise ApplicationError("Quantity must be between 1 and 1000.", extra={"field": "quantity"})
    if strategy is not None:
        return _on_strategy(user, action, int(quantity or 0), strategy, request_id)
    if not symbol or broker_account is None:
        raise ApplicationError("Give a strategy, or a ticker and an account.")
    if broker_account.connection.user_id != user.pk:
        raise ApplicationError("Broker account not found.", status_code=404)
    try:
        contract = resolve_symbol(symbol)
    except UnknownSymbol as exc:
        raise ApplicationError(str(exc), extra={"field": "symbol"}) from exc
    ex = _create_once(
        key=_key(user, request_id, "a", broker_account.pk),
        user_id=user.pk,
        account=broker_account,
        root=contract.root,
        kind=Execution.Kind.MANUAL,
        instruction={
            "action": action,
            "qty": int(quantity or 0),
            "contract": contract.name,
            "bare": True,
        },
    )
    (ex,) = _run_and_wait([ex])
    result = _result(ex)
    if ex.status == Execution.Status.FAILED:
        raise ApplicationError(f"Order not placed: {ex.reason}", status_code=409, extra=result)
    return {"results": [result]}


def _on_strategy(user, action: str, quantity: int, strategy: Strategy, request_id) -> dict:
    if strategy.user_id != user.pk:
        raise ApplicationError("Strategy not found.", status_code=404)
    traders = Trader.objects.filter(strategy=strategy).select_related(
        "strategy", "broker_account__connection"
    )
    if action != "close":
        traders = traders.filter(enabled=True)
    traders = list(traders)
    if not traders:
        raise ApplicationError(
            f"{strategy.name} has no {'enabled ' if action != 'close' else ''}trader to trade on."
        )
    made = []
    for trader in traders:
        root = services.trader_root(trader)
        contract = resolve_symbol(strategy.default_symbol)
        made.append(
            _create_once(
                key=_key(user, request_id, "t", trader.pk),
                user_id=user.pk,
                account=trader.broker_account,
                root=root,
                kind=Execution.Kind.MANUAL,
                instruction={"action": action, "qty": quantity, "contract": contract.name},
                trader=trader,
            )
        )
    return {"results": [_result(ex) for ex in _run_and_wait(made)]}


def trader_close(*, trader: Trader, request_id: str | None = None) -> dict[str, Any]:
    """The control center's Close for one trader: working orders cancelled, position closed."""
    made = services.trader_flatten(
        trader=trader,
        reason="closed by hand",
        request_key=_key(trader.user, request_id, "close", trader.pk),
    )
    done = _run_and_wait(made)
    failed = [ex for ex in done if ex.status == Execution.Status.FAILED]
    if failed:
        raise ApplicationError(f"Close failed: {failed[0].reason}", status_code=409)
    return {"results": [_result(ex) for ex in done]}


def flatten_all(*, user, disable_traders: bool = False, request_id: str | None = None) -> dict:
    """Cancel every working order and close every position on all of the user's active
    accounts (pending entries skipped first). Accounts that fail are reported; the others are
    still flattened."""
    key = _key(user, request_id, "all")
    accounts = BrokerAccount.objects.filter(
        connection__user=user, active=True, connection__archived_at__isnull=True
    ).select_related("connection")
    made: list[Execution] = []
    errors: list[dict[str, str]] = []
    for account in accounts:
        try:
            made += services.account_flatten(account=account, reason="Flatten All", request_key=key)
        except Exception as exc:  # noqa: BLE001 - one account down must not stop the others
            errors.append({"account": account.name, "error": str(exc)})
    if disable_traders:
        for trader in Trader.objects.filter(user=user, enabled=True).select_related(
            "strategy", "broker_account"
        ):
            services.trader_toggle(trader=trader, enabled=False, if_holding=services.KEEP)
    done = _run_and_wait(made)
    flattened = [
        {"account": ex.broker_account.name, "closed": [ex.root], "status": ex.status}
        for ex in done
        if ex.status != Execution.Status.FAILED
    ]
    errors += [
        {"account": ex.broker_account.name, "error": ex.reason}
        for ex in done
        if ex.status == Execution.Status.FAILED
    ]
    if flattened and not errors and not disable_traders:
        # Each flatten wrote its own line ("Flatten (Flatten All): +1 → +0 MNQ on …"): a summary
        # would say the same thing twice.
        return {"flattened": flattened, "errors": errors}
    summary = ", ".join(f"{d['account']} {d['closed'][0]}" for d in flattened) or "nothing was open"
    events.account_line(
        user.pk,
        Kind.EXIT if not errors else Kind.ERROR,
        f"Flatten All: {summary}"
        + (
            f"; failed on {', '.join(e['account'] + ' (' + e['error'] + ')' for e in errors)}"
            if errors
            else ""
        )
        + ("; traders switched off" if disable_traders else "")
        + ".",
        event=Event.FLATTENED,
        data={"done": flattened, "errors": errors},
    )
    return {"flattened": flattened, "errors": errors}
