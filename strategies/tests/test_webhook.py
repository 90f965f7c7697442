"""The TradingView webhook over real HTTP: parsing, dedupe, auth, limits, and no 500s."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from justtrades.testing.fixtures import start_of_a_clock_minute
from recorder.models import StrategyLog
from strategies.models import Signal
from strategies.tests.alert_corpus import CORPUS
from strategies.tests.factories import StrategyFactory


def hook(server, strategy, alias="webhooks"):
    return f"{server.url}/{alias}/{strategy.webhook_token}/"


@pytest.fixture
def strategy(alice):
    # The corpus names many products: this strategy trades whatever its alerts name (the
    # product guard has its own test below).
    return StrategyFactory(user=alice, name="Scalper", trade_alert_ticker=True)


def test_every_corpus_body_gives_its_intent_or_exact_error_over_http(asgi_server, strategy):
    for case in CORPUS:
        ctype = "application/json" if case["body"].lstrip()[:1] in '{["' else "text/plain"
        r = requests.post(
            hook(asgi_server, strategy),
            data=case["body"].encode(),
            headers={"Content-Type": ctype},
            timeout=5,
        )
        answer = r.json()
        if "error" in case:
            assert r.status_code == 400, case["name"]
            assert answer["message"] == case["error"], case["name"]
            signal = Signal.objects.get(pk=answer["signal_id"])
            assert signal.status == Signal.Status.REJECTED
            assert signal.reason == case["error"]
        else:
            assert r.status_code == 200, (case["name"], answer)
            assert answer["status"] == "accepted", case["name"]
            stored = Signal.objects.get(pk=answer["signal_id"])
            assert stored.raw_body == case["body"]
            for key, expected in case["intent"].items():
                assert stored.intent[key] == expected, (case["name"], key)
    rejected = Signal.objects.filter(strategy=strategy, status=Signal.Status.REJECTED).count()
    assert rejected == sum("error" in c for c in CORPUS)
    # Every rejection also lands in the strategy's log.
    assert StrategyLog.objects.filter(strategy=strategy, kind="error").count() == rejected


def test_json_is_read_whatever_the_content_type(asgi_server, strategy):
    r = requests.post(
        hook(asgi_server, strategy),
        data='{"action": "sell", "quantity": 2}',
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert r.status_code == 200
    assert Signal.objects.get(pk=r.json()["signal_id"]).intent["quantity"] == 2


def test_the_stored_signal_keeps_body_headers_and_source(asgi_server, strategy):
    r = requests.post(
        hook(asgi_server, strategy),
        data="buy MNQ1! 1 @ 18650.25",
        headers={"Content-Type": "text/plain", "User-Agent": "Go-http-client/1.1"},
        timeout=5,
    )
    signal = Signal.objects.get(pk=r.json()["signal_id"])
    assert signal.raw_body == "buy MNQ1! 1 @ 18650.25"
    assert signal.headers["user-agent"] == "Go-http-client/1.1"
    assert signal.headers["content-type"] == "text/plain"
    assert signal.source_ip == "127.0.0.1"
    assert signal.action == "buy" and signal.symbol == "MNQ1!" and signal.quantity == 1
    assert str(signal.price) == "18650.250000"


@pytest.mark.parametrize(
    "body", ['{"action": "buy", "id": "alert-77"}', '{"action": "buy", "ticker": "MNQ1!"}']
)
def test_the_same_alert_delivered_four_times_gives_one_signal(asgi_server, strategy, body):
    def send(_):
        return requests.post(hook(asgi_server, strategy), data=body, timeout=5)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    ids = {a.json()["signal_id"] for a in answers}
    assert len(ids) == 1
    assert sorted(a.json()["status"] for a in answers) == [
        "accepted",
        "duplicate",
        "duplicate",
        "duplicate",
    ]
    assert Signal.objects.filter(strategy=strategy).count() == 1


def test_an_alert_id_is_a_duplicate_even_with_a_different_body(asgi_server, strategy):
    first = requests.post(
        hook(asgi_server, strategy), data='{"action": "buy", "id": "x1", "price": 1}', timeout=5
    )
    again = requests.post(
        hook(asgi_server, strategy), data='{"action": "buy", "id": "x1", "price": 2}', timeout=5
    )
    assert again.json() == {
        "status": "duplicate",
        "message": "already received",
        "signal_id": first.json()["signal_id"],
        "duplicate": True,
    }


def test_a_repeat_counts_from_the_first_copy_and_is_new_after_the_window(client, strategy):
    from datetime import timedelta

    from django.utils import timezone

    from strategies.models import AlertFingerprint

    strategy.dedupe_window_seconds = 20
    strategy.save()
    url = f"/webhooks/{strategy.webhook_token}/"
    first = client.post(url, data="buy", content_type="text/plain").json()

    def first_copy_was(seconds_ago):
        AlertFingerprint.objects.filter(strategy=strategy).update(
            first_at=timezone.now() - timedelta(seconds=seconds_ago)
        )

    first_copy_was(15)  # a resend 15 s later (TradingView after a 5xx): the same alert
    repeat = client.post(url, data="buy", content_type="text/plain").json()
    assert repeat == {**repeat, "status": "duplicate", "signal_id": first["signal_id"]}
    first_copy_was(19)  # the repeat did not move the window: still the first copy's
    assert client.post(url, data="buy", content_type="text/plain").json()["status"] == "duplicate"
    first_copy_was(25)
    later = client.post(url, data="buy", content_type="text/plain").json()
    assert later["status"] == "accepted" and later["signal_id"] != first["signal_id"]


def test_the_passphrase_is_required_and_checked(asgi_server, alice):
    strategy = StrategyFactory(user=alice, passphrase="open sesame")
    url = hook(asgi_server, strategy)
    wrong = requests.post(url, data='{"action": "buy", "passphrase": "open sesamE"}', timeout=5)
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "wrong passphrase"
    missing = requests.post(url, data="buy", timeout=5)
    assert missing.status_code == 401
    assert missing.json()["message"] == "this strategy requires a passphrase"
    right = requests.post(url, data='{"action": "buy", "passphrase": "open sesame"}', timeout=5)
    assert right.status_code == 200 and right.json()["status"] == "accepted"
    statuses = list(
        Signal.objects.filter(strategy=strategy).order_by("id").values_list("status", "reason")
    )
    assert statuses == [
        ("rejected", "wrong passphrase"),
        ("rejected", "this strategy requires a passphrase"),
        ("accepted", ""),
    ]
    assert "open sesame" not in json.dumps(Signal.objects.get(pk=right.json()["signal_id"]).intent)


def test_the_rate_limit_is_per_strategy(asgi_server, alice, settings):
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 3
    busy, quiet = StrategyFactory(user=alice), StrategyFactory(user=alice)
    start_of_a_clock_minute()  # the limit counts per clock minute: these alerts fall in one
    codes = [
        requests.post(hook(asgi_server, busy), data=f"buy {i + 1}", timeout=5).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    limited = requests.post(hook(asgi_server, busy), data="buy 9", timeout=5).json()
    assert limited["message"] == "more than 3 alerts in a minute for this strategy"
    assert requests.post(hook(asgi_server, quiet), data="buy", timeout=5).status_code == 200
    assert Signal.objects.filter(strategy=busy).count() == 3


def test_an_oversized_body_is_refused_without_being_stored(asgi_server, strategy, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    big = json.dumps({"action": "buy", "comment": "x" * 2000})
    r = requests.post(hook(asgi_server, strategy), data=big, timeout=5)
    assert r.status_code == 413
    assert r.json()["message"] == "the alert is larger than 1000 bytes"
    assert not Signal.objects.exists()


def test_the_tradingview_address_allow_list(asgi_server, strategy, settings):
    settings.WEBHOOK_ALLOWED_IPS = ["tradingview"]
    r = requests.post(hook(asgi_server, strategy), data="buy", timeout=5)
    assert r.status_code == 403
    assert r.json()["message"] == "source address 127.0.0.1 is not allowed"
    settings.WEBHOOK_ALLOWED_IPS = ["tradingview", "127.0.0.0/8"]
    assert requests.post(hook(asgi_server, strategy), data="buy", timeout=5).status_code == 200


def test_a_switched_off_strategy_still_takes_alerts_so_that_exits_run(asgi_server, alice):
    strategy = StrategyFactory(user=alice, name="Paused", enabled=False)
    r = requests.post(hook(asgi_server, strategy), data="buy", timeout=5)
    assert r.status_code == 200
    assert r.json()["message"] == "the strategy is switched off: only exits are executed"
    assert Signal.objects.get(pk=r.json()["signal_id"]).status == "accepted"


def test_an_alert_for_another_product_or_an_unknown_symbol_is_refused_in_the_answer(
    asgi_server, alice
):
    strategy = StrategyFactory(user=alice, default_symbol="MNQ1!")
    other = requests.post(hook(asgi_server, strategy), data="buy NQ1! 1", timeout=5)
    assert other.status_code == 422 and other.json()["status"] == "rejected"
    assert "this strategy trades MNQ1! (MNQ)" in other.json()["message"]
    unknown = requests.post(hook(asgi_server, strategy), data="buy FOO1! 1", timeout=5)
    assert unknown.status_code == 422
    assert unknown.json()["message"].startswith("Unknown symbol 'FOO1!'")
    same = requests.post(hook(asgi_server, strategy), data="buy MNQ1! 1", timeout=5)
    assert same.status_code == 200 and same.json()["status"] == "accepted"
    reasons = list(
        Signal.objects.filter(strategy=strategy).order_by("id").values_list("status", "reason")
    )
    assert [status for status, _ in reasons] == ["rejected", "rejected", "accepted"]
    assert reasons[0][1] == other.json()["message"]
    logged = StrategyLog.objects.filter(strategy=strategy, kind="error").count()
    assert logged == 2  # each refusal also in the strategy's log


def test_unknown_tokens_and_wrong_methods(asgi_server, strategy):
    assert (
        requests.post(f"{asgi_server.url}/webhooks/not-a-token/", data="buy", timeout=5).status_code
        == 404
    )
    assert requests.get(hook(asgi_server, strategy), timeout=5).status_code == 405
    assert not Signal.objects.exists()


def test_the_singular_alias_and_a_url_without_the_final_slash_work(asgi_server, strategy):
    a = requests.post(hook(asgi_server, strategy, alias="webhook"), data="buy 1", timeout=5)
    b = requests.post(hook(asgi_server, strategy).rstrip("/"), data="sell 1", timeout=5)
    assert (a.status_code, b.status_code) == (200, 200)
    assert Signal.objects.filter(strategy=strategy, status="accepted").count() == 2


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200),
    st.dictionaries(
        st.sampled_from(
            [
                "action",
                "ticker",
                "quantity",
                "price",
                "sentiment",
                "take_profit",
                "stopLoss",
                "time",
                "id",
                "data",
                "command",
                "position_size",
                "market_position",
                "order_type",
                "passphrase",
                "tp",
                "sl",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=True),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(
                st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8)), max_size=3
            ),
        ),
        max_size=8,
    ).map(lambda d: json.dumps(d).encode()),
    st.lists(
        st.sampled_from(
            [
                "buy",
                "sell",
                "exit",
                "MNQ1!",
                "2",
                "@",
                "18650.25",
                "-1",
                "{{close}}",
                "command=PLACE;",
                "action=BUY;",
                "qty=x;",
                "Strat:",
                "Price = 1,",
                "\x00",
            ]
        ),
        max_size=8,
    ).map(lambda t: " ".join(t).encode()),
)


@hsettings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies,
    ctype=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
)
def test_fuzzed_alerts_never_cause_a_server_error(client, strategy, settings, body, ctype):
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 0
    r = client.post(f"/webhooks/{strategy.webhook_token}/", data=body, content_type=ctype)
    assert r.status_code in (200, 400, 422), r.content  # 422: a symbol no product answers to
    answer = r.json()
    assert answer["status"] in ("accepted", "duplicate", "rejected")
    if r.status_code != 200:
        assert answer["status"] == "rejected" and answer["message"]
