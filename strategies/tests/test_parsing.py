from decimal import Decimal

import pytest

from strategies.parsing import AlertError, Intent, parse_alert
from strategies.tests.alert_corpus import CORPUS


def test_the_corpus_covers_every_format_and_many_bad_forms():
    sources = {parse_alert(c["body"]).source for c in CORPUS if "intent" in c}
    assert sources == {"text", "json", "traderspost", "pickmytrade", "crosstrade", "trademanager"}
    assert len(CORPUS) >= 40
    assert sum("error" in c for c in CORPUS) >= 15


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_each_alert_body_gives_its_intent_or_its_exact_error(case):
    if "error" in case:
        with pytest.raises(AlertError) as info:
            parse_alert(case["body"].encode())
        assert info.value.message == case["error"]
    else:
        got = parse_alert(case["body"].encode()).to_dict()
        for key, expected in case["intent"].items():
            assert got[key] == expected, key


def test_intent_survives_a_round_trip_through_the_stored_form():
    body = '{"ticker": "MNQ1!", "action": "buy", "quantity": 2, "price": 18650.25, "take_profit": {"ticks": 40}, "time": "2025-11-05T14:30:00Z"}'
    intent = parse_alert(body)
    again = Intent.from_dict(intent.to_dict())
    assert again.price == Decimal("18650.25")
    assert again.take_profit.value == Decimal("40")
    assert again.to_dict() == intent.to_dict()


def test_the_passphrase_is_read_but_never_stored():
    intent = parse_alert('{"action": "buy", "passphrase": "s3cret"}')
    assert intent.passphrase == "s3cret"
    assert "s3cret" not in str(intent.to_dict())


def test_a_body_that_is_not_utf8_is_rejected_clearly():
    with pytest.raises(AlertError, match="not UTF-8"):
        parse_alert(b"\xff\xfe buy")


def test_deeply_nested_json_is_a_clear_error_not_a_crash():
    with pytest.raises(AlertError):
        parse_alert("{" + '"a":{' * 5000 + "}" * 5001)
