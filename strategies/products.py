"""The product guard: which contract an alert trades, and the refusal of an alert for another
product than the strategy's (NQ on an MNQ strategy would trade ten times the risk).

One rule for the webhook (the alert is refused in its HTTP answer) and for processing (a
strategy's setting may have changed in between)."""

from __future__ import annotations

from datetime import datetime

from accounts.brokers.symbols import resolve_symbol


def alert_contract(*, strategy, symbol: str, at: datetime):
    """``(contract, refusal)``: the contract the alert trades (the strategy's default symbol
    when the alert names none) and, when it is refused, why (the contract is then None).
    Raises ``UnknownSymbol`` for a ticker no product answers to."""
    default = resolve_symbol(strategy.default_symbol, at=at)
    if not symbol:
        return default, ""
    alerted = resolve_symbol(symbol, at=at)
    if alerted.root != default.root and not strategy.trade_alert_ticker:
        return None, (
            f"the alert is for {symbol} ({alerted.root}), this strategy trades "
            f"{strategy.default_symbol} ({default.root}): refused so that it is not traded at "
            f"another product's size and risk (turn on \"trade the alert's ticker\" to allow it)"
        )
    return alerted, ""
