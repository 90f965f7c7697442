from datetime import date
from decimal import Decimal

import pytest

from accounts.brokers.symbols import UnknownSymbol, product_spec, resolve_symbol

NOV_2025 = date(2025, 11, 5)


@pytest.mark.parametrize(
    "text",
    [
        "MNQ1!",
        "CME_MINI:MNQ1!",
        "mnq1!",
        "MNQZ2025",
        "MNQZ25",
        "MNQZ5",
        "MNQ 12-25",
        "MNQ",
        " MNQ1! ",
    ],
)
def test_every_spelling_of_the_december_micro_nasdaq_resolves_to_mnqz5(text):
    contract = resolve_symbol(text, NOV_2025)
    assert contract.name == "MNQZ5"
    assert (contract.tick_size, contract.point_value, contract.tick_value) == (
        Decimal("0.25"),
        Decimal("2"),
        Decimal("0.50"),
    )


def test_second_continuous_contract_is_the_next_listed_month():
    assert resolve_symbol("MNQ2!", NOV_2025).name == "MNQH6"
    assert resolve_symbol("CL2!", NOV_2025).name == "CLF6"


def test_index_futures_roll_eight_days_before_expiry():
    # December 2025 expires Friday the 19th; volume moves on Thursday the 11th.
    assert resolve_symbol("ES1!", date(2025, 12, 10)).name == "ESZ5"
    assert resolve_symbol("ES1!", date(2025, 12, 11)).name == "ESH6"
    assert resolve_symbol("ESZ5").expiration == date(2025, 12, 19)


def test_crude_rolls_monthly_and_gold_before_first_notice():
    assert resolve_symbol("CL1!", date(2025, 11, 5)).name == "CLZ5"
    assert resolve_symbol("CL1!", date(2025, 11, 20)).name == "CLF6"
    assert resolve_symbol("GC1!", date(2025, 11, 5)).name == "GCZ5"
    assert resolve_symbol("GC1!", date(2025, 11, 27)).name == "GCG6"


def test_crosstrade_month_year_form():
    assert resolve_symbol("MNQ 06-25").name == "MNQM5"
    assert resolve_symbol("CL 01-2026").name == "CLF6"


@pytest.mark.parametrize(
    "root,tick,point",
    [
        ("ES", "0.25", "50"),
        ("MES", "0.25", "5"),
        ("NQ", "0.25", "20"),
        ("MNQ", "0.25", "2"),
        ("YM", "1", "5"),
        ("MYM", "1", "0.5"),
        ("RTY", "0.1", "50"),
        ("M2K", "0.1", "5"),
        ("CL", "0.01", "1000"),
        ("MCL", "0.01", "100"),
        ("GC", "0.1", "100"),
        ("MGC", "0.1", "10"),
    ],
)
def test_the_twelve_products_have_exchange_specs(root, tick, point):
    spec = product_spec(root)
    assert (spec.tick_size, spec.point_value) == (Decimal(tick), Decimal(point))
    assert resolve_symbol(f"{root}1!", NOV_2025).root == root


@pytest.mark.parametrize(
    "text,message",
    [
        ("BTCUSD", "Unknown symbol"),
        ("ESF6", r"no January \(F\) contract"),
        ("{{ticker}}", "placeholder"),
        ("", "No symbol"),
        ("MNQ0!", "start at 1"),
    ],
)
def test_unknown_symbols_say_why(text, message):
    with pytest.raises(UnknownSymbol, match=message):
        resolve_symbol(text)


def test_round_to_tick():
    c = resolve_symbol("MNQZ5")
    assert c.round_to_tick(Decimal("21000.13")) == Decimal("21000.25")
    assert c.round_to_tick(Decimal("21000.12")) == Decimal("21000.00")
