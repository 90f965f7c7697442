"""Every alert body a trader may paste into TradingView, read into one typed `Intent`.

`parse_alert(body)` accepts:

* our JSON (DESIGN §4) whatever the content type, field names case-insensitive, with `_`, `-`
  and spaces ignored (`take_profit` = `takeProfit` = `TakeProfit`);
* plain text: `buy`, `sell 2`, `exit`, `buy MNQ1! 3 @ 18650.25`;
* Trade Manager's text alerts (`"Strat: BUY, Price = 18650.25, Ticker = MNQ1!, Period = 5"`,
  with `Market Position =` / `Amount =` variants), also when sent as a JSON string;
* TradersPost JSON (`ticker`, `action`, `sentiment`, `quantity`, `signalPrice`,
  `takeProfit` / `stopLoss` objects);
* PickMyTrade JSON (`symbol`, `data`, `quantity`, `price`, `tp` / `sl` and their dollar and
  percent forms, `date`);
* CrossTrade `key=value;` text (`command=PLACE|FLATTEN|REVERSE|CLOSEPOSITION`, ...).

Anything else is an `AlertError` whose message says exactly what is wrong. Parsing is pure: no
database, no settings, so it is fast and unit-testable.

One file for one idea, the alert parser: every format a trader pastes reads into the same
Intent.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_QUANTITY = 10_000

ACTIONS = ("buy", "sell", "add", "exit", "reverse", "cancel")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit")

_ACTION_WORDS = {
    "buy": "buy",
    "long": "buy",
    "bullish": "buy",
    "enterlong": "buy",
    "sell": "sell",
    "short": "sell",
    "bearish": "sell",
    "entershort": "sell",
    "add": "add",
    "exit": "exit",
    "close": "exit",
    "flat": "exit",
    "flatten": "exit",
    "closeposition": "exit",
    "closeall": "exit",
    "exitall": "exit",
    "reverse": "reverse",
    "reverseposition": "reverse",
    "cancel": "cancel",
    "cancelall": "cancel",
    "cancelorders": "cancel",
    "cancelallorders": "cancel",
}

_POSITION_WORDS = {
    "long": "long",
    "bullish": "long",
    "short": "short",
    "bearish": "short",
    "flat": "flat",
    "none": "flat",
}

_ORDER_TYPE_WORDS = {
    "market": "market",
    "mkt": "market",
    "limit": "limit",
    "lmt": "limit",
    "stop": "stop",
    "stp": "stop",
    "stopmarket": "stop",
    "stoplimit": "stop_limit",
    "stplmt": "stop_limit",
    "trailingstop": "market",  # entry as market; the trailing part travels as trailing_stop
}

PLACEHOLDER_RE = re.compile(r"\{\{[^{}]{0,80}\}\}")


class AlertError(ValueError):
    """The alert cannot be acted on; the message says why, in words a trader understands."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExitSpec:
    """A take-profit / stop-loss / trailing distance or level.

    unit "" means "the strategy's configured unit" (a bare number in the alert).
    """

    value: Decimal
    unit: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"value": str(self.value), "unit": self.unit}

    @classmethod
    def from_dict(cls, data: dict | None) -> ExitSpec | None:
        if not data:
            return None
        return cls(value=Decimal(str(data["value"])), unit=data.get("unit", ""))


@dataclass(frozen=True)
class Intent:
    """What one alert asks for.

    kind "delta": change the position by `side * quantity` (quantity None: the strategy's size).
    kind "target": make the position equal `target` (None with action "reverse": -position).
    `reduce_only`: a delta that may shrink a position toward flat but never open or cross.
    `cancel_orders`: cancel the strategy's working orders first (exits, flatten, cancel).
    """

    action: str
    kind: str
    side: int = 0
    quantity: int | None = None
    target: int | None = None
    reduce_only: bool = False
    cancel_orders: bool = False
    symbol: str = ""
    price: Decimal | None = None
    order_type: str = "market"
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    price_is_level: bool = False  # `price` was the limit or stop level, not the chart's price
    take_profit: ExitSpec | None = None
    stop_loss: ExitSpec | None = None
    trailing_stop: ExitSpec | None = None
    alert_id: str = ""
    passphrase: str = ""
    time: datetime | None = None
    source: str = "json"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chart_price(self) -> Decimal | None:
        """The price the alert read off the chart (``{{close}}``): None when its only price is
        a limit or stop order's level, which says nothing of where the market is."""
        return None if self.price_is_level else self.price

    @property
    def is_exit(self) -> bool:
        return self.action in ("exit", "cancel") or (self.kind == "target" and self.target == 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form stored in `Signal.intent` (the passphrase is never stored)."""
        data = asdict(self)
        data.pop("passphrase")
        for key in ("price", "limit_price", "stop_price"):
            data[key] = None if data[key] is None else str(data[key])
        for key in ("take_profit", "stop_loss", "trailing_stop"):
            spec = getattr(self, key)
            data[key] = spec.to_dict() if spec else None
        data["time"] = self.time.isoformat() if self.time else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intent:
        def dec(value):
            return None if value in (None, "") else Decimal(str(value))

        return cls(
            action=data["action"],
            kind=data["kind"],
            side=int(data.get("side") or 0),
            quantity=data.get("quantity"),
            target=data.get("target"),
            reduce_only=bool(data.get("reduce_only")),
            cancel_orders=bool(data.get("cancel_orders")),
            symbol=data.get("symbol") or "",
            price=dec(data.get("price")),
            order_type=data.get("order_type") or "market",
            limit_price=dec(data.get("limit_price")),
            stop_price=dec(data.get("stop_price")),
            price_is_level=bool(data.get("price_is_level")),
            take_profit=ExitSpec.from_dict(data.get("take_profit")),
            stop_loss=ExitSpec.from_dict(data.get("stop_loss")),
            trailing_stop=ExitSpec.from_dict(data.get("trailing_stop")),
            alert_id=data.get("alert_id") or "",
            time=datetime.fromisoformat(data["time"]) if data.get("time") else None,
            source=data.get("source") or "json",
            extra=data.get("extra") or {},
        )

    def describe(self) -> str:
        """One line for logs and the signal list: "buy 2 MNQ1! @ 18650.25"."""
        if self.action == "reverse":
            head = "reverse"
        elif self.kind == "target":
            head = f"{self.action} → target {self.target:+d}" if self.target else f"{self.action}"
            if self.target == 0 and self.action != "exit":
                head = f"{self.action} → flat"
        else:
            head = self.action + (f" {self.quantity}" if self.quantity else "")
            if self.reduce_only:
                head += " (reduce only)"
        parts = [head]
        if self.symbol:
            parts.append(self.symbol)
        if self.price is not None:
            parts.append(f"@ {self.price}")
        return " ".join(parts)


# --- small readers ------------------------------------------------------------------------


def _norm_key(key: str) -> str:
    return re.sub(r"[\s_\-.]", "", str(key)).lower()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value).strip()


def _decimal(value: Any, what: str, *, allow_zero: bool = False, allow_negative: bool = False):
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise AlertError(f"{what} {value!r} is not a number")
    text = _text(value).replace(",", "") if isinstance(value, str) else value
    try:
        number = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise AlertError(f"{what} {_text(value)!r} is not a number") from None
    if not number.is_finite():
        raise AlertError(f"{what} {_text(value)!r} is not a finite number")
    if number < 0 and not allow_negative:
        raise AlertError(f"{what} must not be negative (got {_text(value)})")
    if number == 0 and not allow_zero:
        raise AlertError(f"{what} must be greater than zero")
    if abs(number) >= Decimal("1e12"):
        raise AlertError(f"{what} {_text(value)} is out of range")
    return number


def _quantity(value: Any, what: str = "quantity") -> int | None:
    if _blank(value):
        return None
    number = _decimal(value, what, allow_zero=True)
    if number != number.to_integral_value():
        raise AlertError(f"{what} must be a whole number of contracts (got {_text(value)})")
    quantity = int(number)
    if quantity > MAX_QUANTITY:
        raise AlertError(f"{what} {quantity} is above the limit of {MAX_QUANTITY} contracts")
    return quantity


def _signed_size(value: Any, what: str) -> int | None:
    if _blank(value):
        return None
    number = _decimal(value, what, allow_zero=True, allow_negative=True)
    if number != number.to_integral_value():
        raise AlertError(f"{what} must be a whole number of contracts (got {_text(value)})")
    if abs(number) > MAX_QUANTITY:
        raise AlertError(f"{what} {int(number)} is above the limit of {MAX_QUANTITY} contracts")
    return int(number)


def _action(value: Any, what: str = "action") -> str:
    word = _norm_key(_text(value))
    if word in _ACTION_WORDS:
        return _ACTION_WORDS[word]
    raise AlertError(
        f"unknown {what} {_text(value)[:40]!r}: expected buy, sell, exit, close, flatten, "
        "reverse, add, cancel, long or short"
    )


def _position_word(value: Any, what: str) -> str | None:
    if _blank(value):
        return None
    word = _norm_key(_text(value))
    if word in _POSITION_WORDS:
        return _POSITION_WORDS[word]
    raise AlertError(f"unknown {what} {_text(value)[:40]!r}: expected long, short or flat")


def _order_type(value: Any) -> str | None:
    if _blank(value):
        return None
    word = _norm_key(_text(value))
    if word in _ORDER_TYPE_WORDS:
        return _ORDER_TYPE_WORDS[word]
    raise AlertError(f"unknown order type {_text(value)[:40]!r}: expected market, limit or stop")


def _time(value: Any) -> datetime | None:
    if _blank(value):
        return None
    text = _text(value)
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        seconds = float(text)
        if seconds > 1e11:  # milliseconds, as TradingView's {{time}} in Pine
            seconds /= 1000
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise AlertError(f"time {text[:40]!r} is not an ISO 8601 date-time or epoch") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # TradingView sends UTC
    return moment


_SUFFIX_UNITS = [
    (re.compile(r"^(.*?)\s*(?:t|tick|ticks|tk)$", re.I), "ticks"),
    (re.compile(r"^(.*?)\s*(?:pt|pts|point|points|p)$", re.I), "points"),
    (re.compile(r"^(.*?)\s*(?:%|pct|percent)$", re.I), "percent"),
    (re.compile(r"^\$\s*(.*)$"), "dollars"),
    (re.compile(r"^(.*?)\s*(?:\$|usd|dollars?)$", re.I), "dollars"),
    (re.compile(r"^@\s*(.*)$"), "price"),
]

_EXIT_OBJECT_KEYS = {
    "ticks": "ticks",
    "tick": "ticks",
    "points": "points",
    "point": "points",
    "pts": "points",
    "amount": "points",  # TradersPost: a price distance
    "trailamount": "points",
    "percent": "percent",
    "percentage": "percent",
    "trailpercent": "percent",
    "dollars": "dollars",
    "dollar": "dollars",
    "usd": "dollars",
    "pnlamount": "dollars",
    "price": "price",
    "limitprice": "price",
    "stopprice": "price",
}


def _exit_spec(value: Any, what: str, *, bare_unit: str = "") -> ExitSpec | None:
    """`{"ticks": 40}`, `{"amount": 10}`, `"40t"`, `"1%"`, `"$100"`, `"@18700"`, or a bare number."""
    if _blank(value):
        return None
    if isinstance(value, dict):
        found = []
        for key, raw in value.items():
            unit = _EXIT_OBJECT_KEYS.get(_norm_key(key))
            if unit and not _blank(raw):
                found.append((unit, raw))
        if not found:
            keys = ", ".join(sorted(_EXIT_OBJECT_KEYS))
            raise AlertError(f"{what} has no distance or price: use one of {keys}")
        if len(found) > 1:
            raise AlertError(f"{what} gives more than one of ticks/points/percent/dollars/price")
        unit, raw = found[0]
        number = _decimal(raw, f"{what} {unit}", allow_zero=True)
        return ExitSpec(number, unit) if number else None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = _decimal(value, what, allow_zero=True)
        return ExitSpec(number, bare_unit) if number else None
    text = _text(value)
    for pattern, unit in _SUFFIX_UNITS:
        match = pattern.match(text)
        if match:
            number = _decimal(match.group(1), what, allow_zero=True)
            return ExitSpec(number, unit) if number else None
    number = _decimal(text, what, allow_zero=True)
    return ExitSpec(number, bare_unit) if number else None


# --- the position logic shared by every format ---------------------------------------------


def _build(
    *,
    action: str,
    quantity: int | None,
    market_position: str | None,
    position_size: int | None,
    absolute_size: bool,
    source: str,
    partial: bool = False,
    **rest: Any,
) -> Intent:
    """Turn action + TradingView strategy position info into a delta or target intent.

    `position_size` is the strategy's position after the order (signed for
    `strategy.position_size`, unsigned when `absolute_size`, as `market_position_size`).
    """
    if action in ("buy", "sell") and quantity == 0 and position_size is None:
        if market_position != "flat":
            raise AlertError(f"quantity must be at least 1 to {action}")
    side = {"buy": 1, "sell": -1}.get(action, 0)

    if action == "exit":
        return Intent(
            action="exit",
            kind="target",
            target=0,
            quantity=quantity if partial and quantity else None,
            reduce_only=bool(partial and quantity),
            cancel_orders=True,
            source=source,
            **rest,
        )
    if action == "reverse":
        return Intent(action="reverse", kind="target", cancel_orders=True, source=source, **rest)
    if action == "cancel":
        return Intent(action="cancel", kind="delta", cancel_orders=True, source=source, **rest)
    if action == "add":
        return Intent(action="add", kind="delta", quantity=quantity, source=source, **rest)

    if market_position == "flat":
        # TradingView: the strategy is flat after this order, e.g. `sell` closing a long.
        return Intent(
            action=action, kind="target", target=0, cancel_orders=True, source=source, **rest
        )
    if position_size is not None:
        if market_position in ("long", "short"):
            sign = 1 if market_position == "long" else -1
            target = sign * abs(position_size)
        elif absolute_size:
            raise AlertError("market position size needs the market position (long/short/flat)")
        else:
            target = position_size
        return Intent(
            action=action,
            kind="target",
            target=target,
            quantity=quantity or None,
            cancel_orders=target == 0,
            source=source,
            **rest,
        )
    reduce_only = market_position is not None and (
        (market_position == "long" and side < 0) or (market_position == "short" and side > 0)
    )
    return Intent(
        action=action,
        kind="delta",
        side=side,
        quantity=quantity,
        reduce_only=reduce_only,
        source=source,
        **rest,
    )


def _check_order_prices(intent_args: dict[str, Any]) -> None:
    order_type = intent_args.get("order_type") or "market"
    if order_type in ("limit", "stop_limit") and intent_args.get("limit_price") is None:
        if intent_args.get("price") is None:
            raise AlertError(f"a {order_type.replace('_', ' ')} order needs a price")
        intent_args["limit_price"] = intent_args["price"]
        intent_args["price_is_level"] = True
    if order_type in ("stop", "stop_limit") and intent_args.get("stop_price") is None:
        if order_type == "stop" and intent_args.get("price") is not None:
            intent_args["stop_price"] = intent_args["price"]
            intent_args["price_is_level"] = True
        else:
            raise AlertError(f"a {order_type.replace('_', ' ')} order needs a stop price")


# --- JSON ---------------------------------------------------------------------------------

_FIELDS = {
    "action": ("action", "orderaction", "strategyorderaction", "side", "signal", "direction"),
    "data": ("data",),
    "command": ("command", "cmd"),
    "symbol": ("ticker", "symbol", "instrument", "contract", "tickerid"),
    "quantity": ("quantity", "qty", "contracts", "orderquantity", "strategyordercontracts"),
    "size": ("size",),
    "price": ("price", "signalprice", "close", "entryprice", "strategyorderprice"),
    "limit_price": ("limitprice",),
    "stop_price": ("stopprice",),
    "order_type": ("ordertype",),
    "market_position": (
        "sentiment",
        "marketposition",
        "strategymarketposition",
    ),
    "position_size": ("positionsize", "strategypositionsize"),
    "market_position_size": ("marketpositionsize", "strategymarketpositionsize"),
    "time": ("time", "timenow", "timestamp", "date", "datetime"),
    "alert_id": ("id", "alertid", "signalid", "idempotencykey", "uuid"),
    "passphrase": ("passphrase", "password", "secret", "key", "token"),
    "take_profit": ("takeprofit", "tp", "profittarget"),
    "stop_loss": ("stoploss", "sl", "stop"),
    "trailing_stop": ("trailingstop", "trailstop", "trail", "trailing"),
    "dollar_tp": ("dollartp",),
    "percent_tp": ("percentagetp", "percenttp"),
    "dollar_sl": ("dollarsl",),
    "percent_sl": ("percentagesl", "percentsl"),
    "trail_amount": ("trailamount",),
    "trail_percent": ("trailpercent",),
}
_LOOKUP = {alias: name for name, aliases in _FIELDS.items() for alias in aliases}


def _collect(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Known fields by canonical name (first alias wins), and the unknown ones."""
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in obj.items():
        name = _LOOKUP.get(_norm_key(key))
        if name is None:
            unknown[str(key)[:40]] = value
        elif name not in known or _blank(known[name]):
            known[name] = value
    return known, unknown


def _parse_object(obj: dict[str, Any]) -> Intent:
    if not obj:
        raise AlertError("the alert is an empty JSON object: it needs at least an action")
    f, unknown = _collect(obj)
    source = "json"
    if "data" in f and "action" not in f:
        source = "pickmytrade"
        f["action"] = f.pop("data")
    elif "command" in f:
        source = "crosstrade"
    elif any(_norm_key(k) in ("signalprice", "sentiment") for k in obj) or any(
        isinstance(obj.get(k), dict) for k in obj if _norm_key(k) in ("takeprofit", "stoploss")
    ):
        source = "traderspost"

    command = _norm_key(_text(f["command"])) if not _blank(f.get("command")) else ""
    if command and command not in ("place", "flatplace"):
        action = _crosstrade_command(command)
    elif _blank(f.get("action")):
        if not _blank(f.get("market_position")) and not _blank(f.get("position_size")):
            action = "buy"  # a pure "hold this position" alert: the target says it all
        else:
            raise AlertError('the alert has no action (expected a field such as "action": "buy")')
    else:
        action = _action(f["action"])

    quantity = _quantity(f.get("quantity"))
    if quantity is None and "size" in f:
        quantity = _quantity(f.get("size"), "size")
    market_position = _position_word(f.get("market_position"), "market position")
    position_size = _signed_size(f.get("position_size"), "position size")
    absolute = False
    if position_size is None and not _blank(f.get("market_position_size")):
        position_size = _quantity(f["market_position_size"], "market position size")
        absolute = True

    price = _decimal(f.get("price"), "price")
    args: dict[str, Any] = {
        "symbol": _symbol(f.get("symbol")),
        "price": price,
        "order_type": _order_type(f.get("order_type")) or "market",
        "limit_price": _decimal(f.get("limit_price"), "limit price"),
        "stop_price": _decimal(f.get("stop_price"), "stop price"),
        "alert_id": _text(f["alert_id"])[:100] if not _blank(f.get("alert_id")) else "",
        "passphrase": _text(f["passphrase"]) if not _blank(f.get("passphrase")) else "",
        "time": _time(f.get("time")),
        "extra": _extra(unknown),
    }
    if args["limit_price"] is not None and _blank(f.get("order_type")):
        args["order_type"] = "limit"
    _check_order_prices(args)

    tp_unit = "price" if source == "pickmytrade" else ""
    take_profit = _exit_spec(f.get("take_profit"), "take profit", bare_unit=tp_unit)
    stop_loss = _exit_spec(f.get("stop_loss"), "stop loss", bare_unit=tp_unit)
    trailing = None
    if isinstance(f.get("stop_loss"), dict) and _norm_key(
        _text(f["stop_loss"].get("type", ""))
    ) in ("trailingstop", "trailing"):
        trailing, stop_loss = stop_loss, None
    trailing = trailing or _exit_spec(f.get("trailing_stop"), "trailing stop")
    if source == "pickmytrade" and trailing is not None and trailing.unit == "":
        # PickMyTrade's `trail` is a 0/1 switch; its distance is `trail_stop` (points).
        trailing = None
    if _norm_key(_text(f.get("order_type", ""))) == "trailingstop" and trailing is None:
        trailing = _exit_spec(f.get("trail_amount"), "trail amount", bare_unit="points") or (
            _exit_spec(f.get("trail_percent"), "trail percent", bare_unit="percent")
        )
    take_profit = take_profit or _exit_spec(f.get("dollar_tp"), "dollar TP", bare_unit="dollars")
    take_profit = take_profit or _exit_spec(
        f.get("percent_tp"), "percentage TP", bare_unit="percent"
    )
    stop_loss = stop_loss or _exit_spec(f.get("dollar_sl"), "dollar SL", bare_unit="dollars")
    stop_loss = stop_loss or _exit_spec(f.get("percent_sl"), "percentage SL", bare_unit="percent")
    args.update(take_profit=take_profit, stop_loss=stop_loss, trailing_stop=trailing)

    if source == "pickmytrade" and not args["alert_id"] and args["time"] is not None:
        # PickMyTrade recognises a repeated alert by its `date` ({{timenow}}).
        args["alert_id"] = f"{_text(f['time'])}|{action}|{args['symbol']}"

    return _build(
        action=action,
        quantity=quantity,
        market_position=market_position,
        position_size=position_size,
        absolute_size=absolute,
        source=source,
        partial=command == "closeposition",
        **args,
    )


def _extra(unknown: dict[str, Any]) -> dict[str, Any]:
    """Unknown scalar fields, kept small and JSON-safe (the raw body keeps everything)."""
    kept: dict[str, Any] = {}
    for key, value in list(unknown.items())[:20]:
        if isinstance(value, (dict, list)):
            continue
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, str):
            value = value[:100]
        kept[key] = value
    return kept


def _symbol(value: Any) -> str:
    if _blank(value):
        return ""
    text = _text(value)
    if len(text) > 40 or not re.fullmatch(r"[A-Za-z0-9_:!.\- /]+", text):
        raise AlertError(f"symbol {text[:40]!r} is not a ticker")
    return text.upper()


# --- CrossTrade `key=value;` ----------------------------------------------------------------

_CROSSTRADE_COMMANDS = {
    "flatten": "exit",
    "closeposition": "exit",
    "flatteneverything": "exit",
    "closestrategy": "exit",
    "reverse": "reverse",
    "reverseposition": "reverse",
    "cancel": "cancel",
    "cancelorders": "cancel",
    "cancelallorders": "cancel",
}


def _crosstrade_command(command: str) -> str:
    if command in _CROSSTRADE_COMMANDS:
        return _CROSSTRADE_COMMANDS[command]
    raise AlertError(
        f"unsupported command {command.upper()!r}: expected PLACE, FLATPLACE, FLATTEN, "
        "CLOSEPOSITION, REVERSE, REVERSEPOSITION or CANCELALLORDERS"
    )


def _parse_key_values(text: str) -> Intent:
    pairs: dict[str, str] = {}
    for chunk in re.split(r"[;\n]", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        if "=" not in chunk:
            raise AlertError(f"{chunk[:40]!r} is not a key=value pair")
        key, _, value = chunk.partition("=")
        pairs[key.strip()] = value.strip()
    obj = dict(pairs)
    normalized = {_norm_key(k): v for k, v in pairs.items()}
    if "command" not in normalized and "action" not in normalized:
        raise AlertError("the alert has no command or action (e.g. command=PLACE; action=BUY;)")
    intent = _parse_object(obj)
    if normalized.get("command", "").lower() == "flatplace":
        # FLATPLACE: flatten first, then place — a reversal-style entry.
        intent = Intent(**{**intent.__dict__, "cancel_orders": True})
    return Intent(**{**intent.__dict__, "source": "crosstrade"})


# --- Trade Manager `"Name: BUY, Price = 1, Ticker = X"` --------------------------------------

_TM_RE = re.compile(r"^(?P<name>[^:,=\n]{1,100}):\s*(?P<rest>.+)$", re.S)


def _parse_trade_manager(text: str) -> Intent | None:
    match = _TM_RE.match(text)
    if not match:
        return None
    parts = [p.strip() for p in match.group("rest").split(",") if p.strip()]
    if not parts:
        return None
    fields: dict[str, str] = {}
    action_text = ""
    for part in parts:
        if "=" in part:
            key, _, value = part.partition("=")
            fields[_norm_key(key)] = value.strip()
        elif not action_text:
            action_text = part
        else:
            return None
    if not action_text and not fields:
        return None
    if action_text and _norm_key(action_text) not in _ACTION_WORDS:
        if not fields:
            return None
        raise AlertError(f"unknown action {action_text[:40]!r} in the Trade Manager alert")
    obj: dict[str, Any] = {}
    if action_text:
        obj["action"] = action_text
    aliases = {
        "price": "price",
        "ticker": "ticker",
        "symbol": "ticker",
        "marketposition": "market_position",
        "position": "market_position",
        "quantity": "quantity",
        "contracts": "quantity",
        "qty": "quantity",
        "amount": "position_size",  # {{strategy.position_size}}: signed position after the order
        "positionsize": "position_size",
        "id": "id",
        "passphrase": "passphrase",
        "time": "time",
    }
    extra = {}
    for key, value in fields.items():
        if key in aliases:
            obj[aliases[key]] = value
        else:
            extra[key] = value
    intent = _parse_object(obj)
    extra["strategy_name"] = match.group("name").strip()[:100]
    return Intent(
        **{**intent.__dict__, "source": "trademanager", "extra": {**intent.extra, **extra}}
    )


# --- plain text `buy MNQ1! 3 @ 18650.25` -----------------------------------------------------


def _parse_plain(text: str) -> Intent | None:
    tokens = text.replace("@", " @ ").split()
    if not tokens or _norm_key(tokens[0]) not in _ACTION_WORDS:
        return None
    action = _action(tokens[0])
    symbol = ""
    quantity: int | None = None
    price: Decimal | None = None
    i = 1
    while i < len(tokens):
        token = tokens[i]
        if token.lower() == "all" and action in ("exit", "cancel"):
            i += 1
            continue
        if token == "@":
            if i + 1 >= len(tokens):
                raise AlertError("'@' must be followed by a price")
            price = _decimal(tokens[i + 1], "price")
            i += 2
            continue
        if re.fullmatch(r"[+-]?\d+(\.\d+)?", token):
            if quantity is not None:
                raise AlertError(f"unexpected number {token!r}: the quantity is already {quantity}")
            quantity = _quantity(token)
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9_:!.\-/]*", token) and not symbol:
            symbol = _symbol(token)
        else:
            raise AlertError(
                f"cannot read {token[:40]!r}: write the alert as "
                "'<action> [symbol] [quantity] [@ price]', e.g. 'buy MNQ1! 2 @ 18650.25'"
            )
        i += 1
    return _build(
        action=action,
        quantity=quantity,
        market_position=None,
        position_size=None,
        absolute_size=False,
        source="text",
        symbol=symbol,
        price=price,
    )


# --- entry point --------------------------------------------------------------------------


def find_placeholder(text: str) -> str | None:
    match = PLACEHOLDER_RE.search(text)
    return match.group(0) if match else None


def _placeholder_hint(placeholder: str) -> str:
    """Why TradingView may have left it: only {{strategy.…}} needs an alert made on a strategy."""
    if placeholder.replace(" ", "").startswith("{{strategy."):
        return "is the alert created on a strategy, and is the placeholder spelled right?"
    return "is the placeholder spelled right?"


def _placeholder_error(placeholder: str) -> AlertError:
    return AlertError(
        f"the alert still contains the placeholder {placeholder}: TradingView did not fill it in "
        f"({_placeholder_hint(placeholder)})"
    )


def parse_alert(body: bytes | str) -> Intent:
    """Read one alert body into an `Intent`, or raise `AlertError` saying why not."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise AlertError("the alert body is not UTF-8 text") from None
    else:
        text = body
    text = text.strip()
    if not text:
        raise AlertError("the alert body is empty")
    if "\x00" in text or "\\u0000" in text.lower():
        raise AlertError("the alert body contains a NUL byte")
    placeholder = find_placeholder(text)
    if placeholder:
        raise _placeholder_error(placeholder)
    return _parse_text(text, depth=0)


def _parse_text(text: str, *, depth: int) -> Intent:
    if text[:1] in '{["' and depth < 2:
        try:
            value = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            if text[:1] == "{":
                raise AlertError(
                    f"the alert is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                ) from None
            value = None
        except RecursionError:
            raise AlertError("the alert's JSON is nested too deeply") from None
        if isinstance(value, dict):
            return _parse_object(value)
        if isinstance(value, list):
            raise AlertError("the alert is a JSON array: send one JSON object per alert")
        if isinstance(value, str):
            return _parse_text(value.strip(), depth=depth + 1)
    if not text:
        raise AlertError("the alert body is empty")
    lowered = text.lower()
    if "=" in text and (";" in text or lowered.startswith(("command", "key", "account"))):
        if "command" in lowered or re.search(r"(^|;)\s*action\s*=", lowered):
            return _parse_key_values(text)
    trade_manager = _parse_trade_manager(text)
    if trade_manager is not None:
        return trade_manager
    plain = _parse_plain(text)
    if plain is not None:
        return plain
    first = text.split()[0][:40]
    raise AlertError(
        f"unknown action {first!r}: expected buy, sell, exit, close, flatten, reverse, add, "
        'cancel, long or short, or a JSON object with an "action" field'
    )
