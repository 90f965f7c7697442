"""Futures symbols: TradingView / CrossTrade / Tradovate spellings → one Tradovate contract.

``resolve_symbol("CME_MINI:MNQ1!")`` → ``Contract(name="MNQZ5", root="MNQ", ...)`` on a date in
the December 2025 cycle. Continuous symbols (``ROOT1!``, ``ROOT2!``, a bare ``ROOT``) go through an
offline roll calendar, so a signal can be resolved without a broker round-trip; production still
validates the name with ``/contract/find`` when it places the order.

Accepted forms (case-insensitive, an ``EXCHANGE:`` prefix is ignored):

=====================  ==========================================
``MNQ1!``, ``MNQ2!``   front / next contract by the roll calendar
``MNQ``                front contract
``MNQZ2025``           TradingView dated contract → ``MNQZ5``
``MNQZ25``             two-digit year → ``MNQZ5``
``MNQZ5``              Tradovate name (returned as is)
``MNQ 06-25``          CrossTrade / NinjaTrader ``MM-YY`` → ``MNQM5``
=====================  ==========================================

The roll calendar knows weekends but not exchange holidays; a roll lands on the listed day or,
at worst, a day early, which is what traders do anyway.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

MONTH_CODES = "FGHJKMNQUVXZ"  # F=Jan … Z=Dec


class UnknownSymbol(ValueError):
    """The text is not a symbol of a supported futures product (message says why)."""


@dataclass(frozen=True)
class ProductSpec:
    """One futures product: ``/product/find`` fields used by the product."""

    root: str
    description: str
    exchange: str
    tick_size: Decimal
    point_value: Decimal
    months: str  # listed contract months as Tradovate month codes, e.g. "HMUZ"
    family: str  # "index" | "energy" | "metal": which expiry rule applies
    is_micro: bool
    base_price: Decimal  # a realistic starting price for the simulator's feed

    @property
    def tick_value(self) -> Decimal:
        return self.tick_size * self.point_value


def _spec(root, description, exchange, tick, pv, months, family, micro, base) -> ProductSpec:
    return ProductSpec(
        root=root,
        description=description,
        exchange=exchange,
        tick_size=Decimal(tick),
        point_value=Decimal(pv),
        months=months,
        family=family,
        is_micro=micro,
        base_price=Decimal(base),
    )


# The 12 products of the Tradovate API notes, with exchange tick sizes and $ per point.
PRODUCTS: dict[str, ProductSpec] = {
    p.root: p
    for p in [
        _spec("ES", "E-Mini S&P 500", "CME", "0.25", "50", "HMUZ", "index", False, "6000.00"),
        _spec("MES", "Micro E-Mini S&P 500", "CME", "0.25", "5", "HMUZ", "index", True, "6000.00"),
        _spec("NQ", "E-Mini NASDAQ-100", "CME", "0.25", "20", "HMUZ", "index", False, "21000.00"),
        _spec(
            "MNQ", "Micro E-Mini NASDAQ-100", "CME", "0.25", "2", "HMUZ", "index", True, "21000.00"
        ),
        _spec("YM", "E-Mini Dow ($5)", "CBOT", "1", "5", "HMUZ", "index", False, "44000"),
        _spec("MYM", "Micro E-Mini Dow", "CBOT", "1", "0.5", "HMUZ", "index", True, "44000"),
        _spec("RTY", "E-Mini Russell 2000", "CME", "0.1", "50", "HMUZ", "index", False, "2300.0"),
        _spec(
            "M2K", "Micro E-Mini Russell 2000", "CME", "0.1", "5", "HMUZ", "index", True, "2300.0"
        ),
        _spec("CL", "Crude Oil", "NYMEX", "0.01", "1000", MONTH_CODES, "energy", False, "70.00"),
        _spec(
            "MCL", "Micro Crude Oil", "NYMEX", "0.01", "100", MONTH_CODES, "energy", True, "70.00"
        ),
        _spec("GC", "Gold", "COMEX", "0.1", "100", "GJMQVZ", "metal", False, "2650.0"),
        _spec("MGC", "Micro Gold", "COMEX", "0.1", "10", "GJMQVZ", "metal", True, "2650.0"),
    ]
}
# Longest first, so "MNQZ5" is read as MNQ and not as a (non-existent) "MN" product.
_ROOTS_LONGEST_FIRST = sorted(PRODUCTS, key=len, reverse=True)


@dataclass(frozen=True)
class Contract:
    """One dated futures contract, named the Tradovate way (``MNQZ5``)."""

    name: str
    root: str
    tick_size: Decimal
    point_value: Decimal
    month: int = 0  # 1..12
    year: int = 0  # four digits
    expiration: date | None = None  # last trading day (weekends known, holidays not)

    @property
    def tick_value(self) -> Decimal:
        """Dollars per tick per contract (MNQ: 0.25 × 2 = $0.50)."""
        return self.tick_size * self.point_value

    @property
    def month_code(self) -> str:
        return MONTH_CODES[self.month - 1]

    @property
    def spec(self) -> ProductSpec:
        return PRODUCTS[self.root]

    def round_to_tick(self, price: Decimal) -> Decimal:
        """The nearest valid price (half up), quantized like the tick size."""
        ticks = (Decimal(price) / self.tick_size).quantize(Decimal(1), rounding="ROUND_HALF_UP")
        return (ticks * self.tick_size).quantize(self.tick_size)


def product_spec(root: str) -> ProductSpec:
    """The spec of a product root (``"MNQ"``); ``UnknownSymbol`` if we do not trade it."""
    spec = PRODUCTS.get((root or "").strip().upper())
    if spec is None:
        raise UnknownSymbol(f"Unknown product {root!r}. Supported: {', '.join(sorted(PRODUCTS))}.")
    return spec


# --- calendar ---------------------------------------------------------------------------------


def _business_days_before(day: date, n: int) -> date:
    while n > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return first + timedelta(days=offset + 14)


def _last_business_day(year: int, month: int) -> date:
    day = date(year, month, calendar.monthrange(year, month)[1])
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _prev_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def expiration_date(root: str, year: int, month: int) -> date:
    """Last trading day of a contract (exchange rules, weekends only)."""
    spec = product_spec(root)
    if spec.family == "index":
        return _third_friday(year, month)
    if spec.family == "energy":
        # Three business days before the 25th of the month before delivery (MCL: four).
        py, pm = _prev_month(year, month)
        anchor = date(py, pm, 25)
        if anchor.weekday() >= 5:  # a weekend 25th counts from the business day before it
            anchor = _business_days_before(anchor, 1)
        return _business_days_before(anchor, 4 if spec.is_micro else 3)
    # metals: third-last business day of the delivery month
    return _business_days_before(_last_business_day(year, month) + timedelta(days=1), 3)


def roll_date(root: str, year: int, month: int) -> date:
    """The day volume moves to the next contract: continuous symbols switch on this day."""
    spec = product_spec(root)
    if spec.family == "index":
        # CME's roll: the Thursday eight days before the third-Friday expiry.
        return expiration_date(root, year, month) - timedelta(days=8)
    if spec.family == "energy":
        return _business_days_before(expiration_date(root, year, month), 2)
    # Gold traders leave before first notice (last business day of the previous month).
    py, pm = _prev_month(year, month)
    return _business_days_before(_last_business_day(py, pm), 2)


def _listed(root: str, start_year: int, start_month: int):
    """Listed (year, month) pairs from the given month onwards."""
    spec = product_spec(root)
    year, month = start_year, start_month
    while True:
        if MONTH_CODES[month - 1] in spec.months:
            yield year, month
        month += 1
        if month == 13:
            year, month = year + 1, 1


def _today(at: datetime | date | None) -> date:
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date()
    return at


def contract(root: str, year: int, month: int) -> Contract:
    """The contract of ``root`` for a delivery month (validated against the listed months)."""
    spec = product_spec(root)
    if not 1 <= month <= 12:
        raise UnknownSymbol(f"Invalid contract month {month} for {spec.root}.")
    code = MONTH_CODES[month - 1]
    if code not in spec.months:
        listed = ", ".join(spec.months)
        raise UnknownSymbol(
            f"{spec.root} has no {calendar.month_name[month]} ({code}) contract; "
            f"listed months are {listed}."
        )
    return Contract(
        name=f"{spec.root}{code}{year % 10}",
        root=spec.root,
        tick_size=spec.tick_size,
        point_value=spec.point_value,
        month=month,
        year=year,
        expiration=expiration_date(spec.root, year, month),
    )


def front_contract(root: str, at: datetime | date | None = None, nth: int = 1) -> Contract:
    """The ``nth`` contract (1 = front) of ``root`` trading on ``at`` by the roll calendar."""
    if nth < 1:
        raise UnknownSymbol("Continuous contract numbers start at 1 (front month).")
    today = _today(at)
    py, pm = _prev_month(today.year, today.month)
    found = 0
    for year, month in _listed(root, py, pm):
        if roll_date(root, year, month) > today:
            found += 1
            if found == nth:
                return contract(root, year, month)
    raise AssertionError("unreachable: the calendar is infinite")  # pragma: no cover


def _year_from_digits(digits: str, today: date) -> int:
    if len(digits) == 4:
        return int(digits)
    if len(digits) == 2:
        return 2000 + int(digits)
    # One digit: the year of that digit nearest to today (2026: "5" → 2025, "9" → 2029).
    d = int(digits)
    candidates = [y for y in range(today.year - 5, today.year + 5) if y % 10 == d]
    return candidates[0]


_CONTINUOUS = re.compile(r"^(?P<root>[A-Z0-9]+?)(?P<nth>\d)!$")
_DATED = re.compile(r"^(?P<code>[FGHJKMNQUVXZ])(?P<year>\d{4}|\d{2}|\d)$")
_CROSSTRADE = re.compile(r"^(?P<root>[A-Z0-9]+)\s+(?P<month>\d{1,2})-(?P<year>\d{2}|\d{4})$")


def resolve_symbol(text: str, at: datetime | date | None = None) -> Contract:
    """Resolve any accepted spelling to a Tradovate contract (see the module docstring).

    ``at`` is the moment the symbol is read (default: now, UTC) and only matters for continuous
    forms. Raises ``UnknownSymbol`` with a message fit to show a trader.
    """
    if not isinstance(text, str) or not text.strip():
        raise UnknownSymbol("No symbol given.")
    raw = text.strip()
    s = raw.upper()
    if ":" in s:
        s = s.rsplit(":", 1)[1].strip()
    today = _today(at)

    m = _CROSSTRADE.match(s)
    if m:
        root = m["root"]
        return contract(
            product_spec(root).root, _year_from_digits(m["year"], today), int(m["month"])
        )

    s = s.replace(" ", "")
    m = _CONTINUOUS.match(s)
    if m and m["root"] in PRODUCTS:
        return front_contract(m["root"], today, int(m["nth"]))

    if s in PRODUCTS:
        return front_contract(s, today)

    for root in _ROOTS_LONGEST_FIRST:
        if s.startswith(root):
            m = _DATED.match(s[len(root) :])
            if m:
                month = MONTH_CODES.index(m["code"]) + 1
                return contract(root, _year_from_digits(m["year"], today), month)

    if "{{" in raw or "}}" in raw:
        raise UnknownSymbol(
            f"Symbol {raw!r} is an unfilled TradingView placeholder; check the alert message."
        )
    raise UnknownSymbol(
        f"Unknown symbol {raw!r}. Use a futures symbol such as MNQ1!, MNQZ2025, MNQZ5 or "
        f"'MNQ 12-25'; supported products: {', '.join(sorted(PRODUCTS))}."
    )


def contract_from_name(name: str) -> Contract:
    """A Tradovate contract name (``MNQZ5``) back to its ``Contract``."""
    return resolve_symbol(name)
