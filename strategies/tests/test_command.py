import pytest
from django.core.management import CommandError, call_command

from strategies.models import Signal
from strategies.tests.factories import StrategyFactory


def test_send_test_signal_posts_a_real_alert_to_the_server(asgi_server, alice, capsys):
    strategy = StrategyFactory(user=alice, name="Demo", passphrase="pw")
    call_command(
        "send_test_signal", "Demo", "buy", "2", "--price", "18650.25", "--url", asgi_server.url
    )
    out = capsys.readouterr().out
    assert out.startswith("200 ") and '"status": "accepted"' in out
    signal = Signal.objects.get(strategy=strategy)
    assert signal.intent["quantity"] == 2 and signal.intent["price"] == "18650.25"
    assert signal.headers["content-type"] == "application/json"


def test_send_test_signal_reports_a_rejection_and_an_unknown_strategy(asgi_server, alice):
    StrategyFactory(user=alice, name="Set up wrong")
    with pytest.raises(CommandError, match="400"):  # a placeholder left in the alert
        call_command(
            "send_test_signal",
            "Set up wrong",
            "buy",
            "--symbol",
            "{{ticker}}",
            "--url",
            asgi_server.url,
        )
    with pytest.raises(CommandError, match="no strategy 'Nope'"):
        call_command("send_test_signal", "Nope", "buy", "--url", asgi_server.url)
