"""A strategy that follows the exchange session refuses entries while CME Globex is closed, and
says why in the words the paper broker uses."""

from __future__ import annotations

from datetime import datetime

from strategies.exchange_session import exchange_session_refusal
from strategies.models import Strategy

OPEN = datetime.fromisoformat("2026-12-02T15:00:00+00:00")  # a Wednesday, 09:00 CT
BREAK = datetime.fromisoformat("2026-12-02T22:30:00+00:00")  # 16:30 CT
SATURDAY = datetime.fromisoformat("2026-12-05T15:00:00+00:00")
CHRISTMAS = datetime.fromisoformat("2026-12-25T15:00:00+00:00")


def following(flag: bool = True) -> Strategy:
    return Strategy(name="s", default_symbol="MNQ1!", follow_exchange_session=flag)


def test_an_entry_while_the_exchange_trades_goes():
    assert exchange_session_refusal(strategy=following(), contract="MNQZ6", now=OPEN) == ""


def test_an_entry_on_the_weekend_is_refused_with_the_reason_and_the_next_open():
    text = exchange_session_refusal(strategy=following(), contract="MNQZ6", now=SATURDAY)
    assert text == (
        "entry outside the exchange session: MNQ is not trading: closed for the weekend; "
        "it reopens at 2026-12-06 17:00 CT"
    )


def test_an_entry_on_a_holiday_is_refused():
    text = exchange_session_refusal(strategy=following(), contract="ESH7", now=CHRISTMAS)
    assert "ES is not trading: closed for Christmas; it reopens at 2026-12-27 17:00 CT" in text


def test_the_daily_break_is_closed_too_and_a_continuous_symbol_works():
    text = exchange_session_refusal(strategy=following(), contract="CL1!", now=BREAK)
    assert "CL is not trading: daily break (16:00–17:00 CT)" in text


def test_a_strategy_that_does_not_follow_the_session_is_never_refused_by_it():
    assert exchange_session_refusal(strategy=following(False), contract="MNQZ6", now=SATURDAY) == ""
    assert Strategy._meta.get_field("follow_exchange_session").default is False
