"""The simulator's order vocabulary, shared by the matching engine and its order strategies:
the engine's private view of an order, the final statuses, the refusal answered as a failure,
the timestamps Tradovate writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

FINAL = {"Canceled", "Completed", "Expired", "Filled", "Rejected"}


def now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class Reject(Exception):
    """An order-level failure answered as HTTP 200 {failureReason, failureText}."""

    def __init__(self, reason: str, text: str):
        super().__init__(text)
        self.reason = reason
        self.text = text


class NotFound(Exception):
    pass


@dataclass
class OrderState:
    """The engine's private view of an order (the public one is the three entities)."""

    id: int
    user_id: int
    account_id: int
    contract_id: int
    action: str
    qty: int
    order_type: str
    price: Decimal | None
    stop_price: Decimal | None
    tif: str
    cl_ord_id: str | None
    status: str = "PendingNew"
    filled: int = 0
    avg_px: Decimal | None = None
    oco_id: int | None = None
    parent_id: int | None = None
    linked_id: int | None = None
    peg: Decimal | None = None  # trailing distance (positive)
    triggered: bool = False
    strategy_id: int | None = None  # the order strategy that placed it
    text: str = ""
    version_id: int = 0
    created: datetime = field(default_factory=now)

    @property
    def working(self) -> bool:
        return self.status in ("Working", "PendingNew", "PendingReplace")

    @property
    def sign(self) -> int:
        return 1 if self.action == "Buy" else -1
