"""What a notification says: one payload, rendered as a Discord embed or a browser push.

Embeds are kept short for a phone's lock screen and chat view: an emoji and the outcome in the
title, the one-line story in the description, and a few inline fields (symbol, side, size,
price, P&L) that wrap to two columns on a narrow screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

CHANNELS = ("discord", "push")


@dataclass(frozen=True)
class Kind:
    """One kind of notification: its label in Settings and whether it is on until the trader
    says otherwise, per channel."""

    label: str
    group: str
    discord: bool = True
    push: bool = True


# Every kind, in the order Settings lists them. Each has its own Discord and push switch.
KINDS: dict[str, Kind] = {
    "position_opened": Kind("Position opened", "Trades"),
    "position_closed": Kind("Position closed (with P&L)", "Trades"),
    "target_hit": Kind("Take profit hit", "Trades"),
    "stop_hit": Kind("Stop loss hit", "Trades"),
    "order_failed": Kind("Order rejected or failed", "Problems"),
    "protection_lost": Kind("Stop or target could not be kept", "Problems"),
    "alert_rejected": Kind("Alert rejected", "Problems"),
    "signal_dropped": Kind("Signal dropped (too old, or superseded by a later one)", "Problems"),
    "drift": Kind("Position drift detected", "Problems"),
    "daily_loss_limit": Kind("Daily loss limit reached", "Risk"),
    "daily_profit_target": Kind("Daily profit target reached", "Risk"),
    "trading_paused": Kind("Trading paused (broker CAPTCHA)", "Broker"),
    "broker_login_failed": Kind("Broker login failed or expired", "Broker"),
    "account_refresh_failed": Kind("Account refresh failed", "Broker"),
    "recorder_account_unreadable": Kind("Recorder cannot read its account", "Broker"),
    "daily_summary": Kind("Daily summary", "Summaries"),
    "weekly_summary": Kind("Weekly summary", "Summaries", discord=False, push=False),
}
TEST_KIND = "test"
EMBED_TOTAL_LIMIT = 6000

GREEN = 0x22C55E
RED = 0xEF4444
BLUE = 0x3B82F6
YELLOW = 0xEAB308
GRAY = 0x6B7280


def money(value: Decimal | int | float | str | None, *, signed: bool = True) -> str:
    """``+$1,234.50`` / ``-$12.00`` (a real minus sign reads badly in some phone fonts)."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"


def price(value: Decimal | int | float | str | None) -> str:
    if value is None or value == "":
        return "—"
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def pnl_color(value: Decimal | None) -> int:
    if value is None:
        return BLUE
    return GREEN if Decimal(str(value)) >= 0 else RED


@dataclass
class Message:
    title: str
    description: str = ""
    fields: list[tuple[str, str]] | None = None
    color: int = BLUE
    path: str = "/"
    timestamp: datetime | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "title": self.title[:256],
            "description": self.description[:1000],
            "fields": [
                {"name": str(n)[:256], "value": str(v)[:1024] or "—", "inline": True}
                for n, v in (self.fields or [])[:12]
            ],
            "color": int(self.color),
            "url": f"{settings.PUBLIC_BASE_URL}{self.path}",
            "timestamp": (self.timestamp or timezone.now()).isoformat(),
        }


def to_embed(payload: dict[str, Any]) -> dict[str, Any]:
    """The Discord embed of a stored payload."""
    embed: dict[str, Any] = {
        "title": payload.get("title", "Just.Trades")[:256],
        "color": int(payload.get("color", BLUE)),
        "footer": {"text": "Just.Trades"},
    }
    if payload.get("description"):
        embed["description"] = payload["description"][:1000]
    # Discord refuses an embed over 6,000 characters in all: short fields, as many as fit.
    budget = EMBED_TOTAL_LIMIT - len(embed["title"]) - len(embed.get("description", "")) - 11
    fields = []
    for f in (payload.get("fields") or [])[:25]:
        name, value = str(f.get("name") or "—")[:100], str(f.get("value") or "—")[:300]
        budget -= len(name) + len(value)
        if budget < 0:
            break
        fields.append({"name": name, "value": value, "inline": bool(f.get("inline", True))})
    if fields:
        embed["fields"] = fields
    if payload.get("url", "").startswith(("http://", "https://")):
        embed["url"] = payload["url"]
    if payload.get("timestamp"):
        embed["timestamp"] = payload["timestamp"]
    return embed


def to_push(payload: dict[str, Any], *, tag: str) -> dict[str, Any]:
    """The JSON the service worker shows: a title and a two-line body."""
    lines = [payload.get("description", "")]
    fields = payload.get("fields") or []
    if fields:
        lines.append(" · ".join(f"{f['name']}: {f['value']}" for f in fields[:4]))
    return {
        "title": payload.get("title", "Just.Trades"),
        "body": "\n".join(line for line in lines if line)[:400],
        "url": payload.get("url", "/"),
        "tag": tag,
    }
