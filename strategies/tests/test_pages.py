from recorder.models import Recorder
from strategies.models import Strategy
from strategies.tests.factories import SignalFactory, StrategyFactory


def test_a_new_user_is_invited_to_create_a_first_strategy(alice_client):
    page = alice_client.get("/strategies/").content.decode()
    assert "Create your first strategy" in page
    form = alice_client.get("/strategies/new/").content.decode()
    for label in (
        "Default symbol",
        "Take profit",
        "Stop loss",
        "Trailing stop",
        "Break-even trigger",
        "Session start",
        "Trading days",
        "Cooldown (seconds)",
        "Entry delay (seconds)",
        "Ignore same-side adds",
        "Auto-flatten time",
        "Max position",
        "Passphrase",
    ):
        assert label in form, label
    assert "Continuous symbols such as MNQ1!" in form  # help text


def test_creating_a_strategy_from_the_form_shows_its_webhook(alice_client, alice):
    r = alice_client.post(
        "/strategies/new/",
        {
            "name": "Opening drive",
            "enabled": "on",
            "default_symbol": "MNQ1!",
            "sizing": "fixed",
            "quantity": "2",
            "opposite_signal": "reverse",
            "take_profit_unit": "ticks",
            "stop_loss_unit": "ticks",
            "trailing_stop_unit": "ticks",
            "break_even_unit": "ticks",
            "direction": "both",
            "cooldown_seconds": "0",
            "entry_delay_seconds": "0",
            "session_timezone": "America/New_York",
            "session_start": "09:30",
            "session_end": "16:00",
            "session_days": ["0", "1", "2", "3", "4"],
            "stop_loss": "20",
        },
    )
    strategy = Strategy.objects.get(user=alice, name="Opening drive")
    assert r.status_code == 302 and r["Location"] == f"/strategies/{strategy.pk}/"
    assert strategy.session_days == [0, 1, 2, 3, 4] and str(strategy.stop_loss) == "20.0000"
    assert Recorder.objects.get(strategy=strategy).running
    page = alice_client.get(r["Location"]).content.decode()
    assert f"/webhooks/{strategy.webhook_token}/" in page
    assert 'data-copy="#webhook-url"' in page
    assert "{{strategy.order.action}}" in page and "{{timenow}}" in page
    assert "09:30–16:00 America/New_York, Mon, Tue, Wed, Thu, Fri" in page
    assert "no order is sent" in page  # nothing downstream yet: the page says so


def test_form_errors_are_shown_next_to_the_field(alice_client, alice):
    StrategyFactory(user=alice, name="Taken")
    r = alice_client.post(
        "/strategies/new/",
        {
            "name": "Taken",
            "default_symbol": "XX9!",
            "quantity": "1",
            "sizing": "fixed",
            "opposite_signal": "reverse",
            "direction": "both",
            "session_timezone": "UTC",
            "take_profit_unit": "ticks",
            "stop_loss_unit": "ticks",
            "trailing_stop_unit": "ticks",
            "break_even_unit": "ticks",
            "cooldown_seconds": "0",
            "entry_delay_seconds": "0",
        },
    )
    assert r.status_code == 200
    assert "Unknown symbol" in r.content.decode()


def test_edit_delete_and_signal_log_pages(alice_client, alice):
    strategy = StrategyFactory(user=alice)
    SignalFactory(
        strategy=strategy, status="rejected", reason="wrong passphrase", raw_body="<b>x</b>"
    )
    assert alice_client.get(f"/strategies/{strategy.pk}/edit/").status_code == 200
    log = alice_client.get(f"/strategies/{strategy.pk}/signals/?status=rejected").content.decode()
    assert "wrong passphrase" in log and "&lt;b&gt;x&lt;/b&gt;" in log
    empty = alice_client.get(
        f"/strategies/{strategy.pk}/signals/?status=processed"
    ).content.decode()
    assert "wrong passphrase" not in empty
    r = alice_client.post(f"/strategies/{strategy.pk}/", {"do": "regenerate"})
    assert r.status_code == 302
    assert Strategy.objects.get(pk=strategy.pk).webhook_token != strategy.webhook_token
    assert alice_client.post(f"/strategies/{strategy.pk}/delete/").status_code == 302
    assert not Strategy.objects.filter(pk=strategy.pk).exists()


def test_bob_gets_404_on_alices_pages(bob_client, alice):
    strategy = StrategyFactory(user=alice)
    for url in (
        f"/strategies/{strategy.pk}/",
        f"/strategies/{strategy.pk}/edit/",
        f"/strategies/{strategy.pk}/signals/",
    ):
        assert bob_client.get(url).status_code == 404, url
    assert bob_client.post(f"/strategies/{strategy.pk}/delete/").status_code == 404
    assert bob_client.post(f"/strategies/{strategy.pk}/", {"do": "regenerate"}).status_code == 404
    assert bob_client.post(f"/strategies/{strategy.pk}/edit/", {"name": "x"}).status_code == 404
    assert Strategy.objects.get(pk=strategy.pk).name == strategy.name
    assert strategy.name not in bob_client.get("/strategies/").content.decode()


def test_pages_need_a_login(client, alice):
    strategy = StrategyFactory(user=alice)
    for url in ("/strategies/", "/strategies/new/", f"/strategies/{strategy.pk}/"):
        r = client.get(url)
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]
