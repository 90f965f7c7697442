"""The exchange's own session as a strategy's window: no entry while CME Globex is closed.

Pure (no database, no broker): ``accounts.brokers.sessions`` knows the hours, holidays and
early closes; this says what a strategy that follows them refuses, in the words its log shows.
The paper broker refuses such an order too (``SessionClosed``), and so would Tradovate; a
strategy that follows the session does not send it in the first place.
"""

from __future__ import annotations

from datetime import datetime

from accounts.brokers import sessions
from accounts.brokers.symbols import UnknownSymbol, contract_from_name, resolve_symbol


def _root(contract: str) -> str:
    try:
        return contract_from_name(contract).root
    except UnknownSymbol:
        return resolve_symbol(contract).root


def exchange_session_refusal(*, strategy, contract: str, now: datetime) -> str:
    """Why an entry of ``contract`` (``"MNQZ6"`` or ``"MNQ1!"``) may not go at ``now`` because
    the exchange is closed: "" when it trades, or when the strategy does not follow the
    exchange session (``Strategy.follow_exchange_session``)."""
    if not getattr(strategy, "follow_exchange_session", False) or not contract:
        return ""
    try:
        root = _root(contract)
        state = sessions.session_state(root, now)
    except UnknownSymbol:
        return ""
    if state.open:
        return ""
    reopens = f"; it reopens at {sessions.local(state.opens_at)}" if state.opens_at else ""
    return f"entry outside the exchange session: {root} is not trading: {state.reason}{reopens}"
