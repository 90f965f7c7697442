"""Broker connections: API, pages, paper provisioning, secrets — against the simulator."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.crypto import decrypt
from accounts.models import BrokerAccount, BrokerConnection
from accounts.tests.factories import BrokerConnectionFactory, UserFactory
from notifications.tests.factories import TraderFactory
from notifications.tests.helpers import make_order, record_fill
from recorder.tests.factories import RecorderFactory
from traders.models import Fill

PASSWORD = "Tr4dovate-S3cret!"
SEC = "api-secret-9f8e7d"

pytestmark = pytest.mark.django_db


@pytest.fixture
def tv_login(tradovate_sim):
    """A Tradovate login on the simulator with two accounts."""
    tradovate_sim.create_user("alice_tv", PASSWORD, accounts=["ALICE01", "ALICE02"])
    tradovate_sim.set_price("MNQZ5", "21000")
    return tradovate_sim


def create_payload(**overrides):
    payload = {
        "kind": "tradovate_demo",
        "label": "My demo",
        "username": "alice_tv",
        "password": PASSWORD,
        "app_id": "JustTrades",
        "cid": "1234",
        "sec": SEC,
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def alice_api(api_client_for, alice):
    return api_client_for(alice)


@pytest.fixture
def bob_api(api_client_for, bob):
    return api_client_for(bob)


@pytest.fixture
def alice_connection(alice_api, tv_login):
    resp = alice_api.post("/api/accounts/", create_payload(), format="json")
    assert resp.status_code == 201, resp.content
    return BrokerConnection.objects.get(pk=resp.json()["id"])


# --- paper by default -------------------------------------------------------------------------


def test_a_new_user_gets_a_paper_account_with_50000(
    paper_auto_provision, django_capture_on_commit_callbacks, client
):
    with django_capture_on_commit_callbacks(execute=True):
        carol = UserFactory(username="carol")
    connection = BrokerConnection.objects.get(user=carol)
    assert (connection.kind, connection.label, connection.status) == ("paper", "Paper", "connected")
    [account] = connection.accounts.all()
    assert account.balance == Decimal("50000.00")
    client.force_login(carol)
    page = client.get("/broker-accounts/").content.decode()
    assert "Paper" in page and "$50,000.00" in page and account.name in page


def test_a_new_user_is_created_even_when_the_paper_broker_is_down(
    settings, django_capture_on_commit_callbacks
):
    settings.PAPER_AUTO_PROVISION = True
    settings.PAPER_BROKER_URL = "http://127.0.0.1:9/v1"
    with django_capture_on_commit_callbacks(execute=True):
        dave = UserFactory(username="dave")
    connection = BrokerConnection.objects.get(user=dave)
    assert connection.status == "error"
    assert "not running" in connection.last_error


def test_refresh_provisions_a_paper_login_the_simulator_forgot(alice, alice_api, tradovate_sim):
    connection = tradovate_sim.connect(alice)
    # A simulator started afresh (no state file) knows nobody.
    tradovate_sim.server.call(
        lambda: tradovate_sim.simulator.engine.users_by_name.pop(connection.username)
    )
    resp = alice_api.post(f"/api/accounts/{connection.pk}/refresh/")
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "connected"
    assert resp.json()["accounts"][0]["balance"] == "50000.00"


def test_paper_can_be_added_from_the_api(alice_api, tradovate_sim):
    resp = alice_api.post("/api/accounts/", {"kind": "paper"}, format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["kind"] == "paper" and body["status"] == "connected"
    assert [a["balance"] for a in body["accounts"]] == ["50000.00"]


# --- create / test ----------------------------------------------------------------------------


def test_creating_a_tradovate_connection_discovers_its_accounts(alice_api, tv_login):
    resp = alice_api.post("/api/accounts/", create_payload(), format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "connected"
    assert [(a["name"], a["balance"]) for a in body["accounts"]] == [
        ("ALICE01", "50000.00"),
        ("ALICE02", "50000.00"),
    ]
    assert body["has_password"] and body["has_sec"]


def test_credentials_are_encrypted_at_rest(alice_connection):
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert PASSWORD not in row.password_encrypted
    assert SEC not in row.sec_encrypted
    assert decrypt(row.password_encrypted) == PASSWORD
    assert decrypt(row.sec_encrypted) == SEC


def test_test_connection_lists_accounts_without_saving(alice_api, tv_login):
    resp = alice_api.post("/api/accounts/test-connection/", create_payload(label=""), format="json")
    assert resp.status_code == 200, resp.content
    assert [a["name"] for a in resp.json()["accounts"]] == ["ALICE01", "ALICE02"]
    assert BrokerConnection.objects.count() == 0


def test_test_connection_says_the_password_is_wrong(alice_api, tv_login):
    resp = alice_api.post(
        "/api/accounts/test-connection/", create_payload(password="nope"), format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["extra"]["code"] == "bad_credentials"
    assert "Incorrect username or password" in resp.json()["message"]


def test_test_connection_explains_a_captcha_penalty(alice_api, tv_login):
    tv_login.fault("captcha", path="auth/accesstokenrequest", p_time=3600)
    resp = alice_api.post("/api/accounts/test-connection/", create_payload(), format="json")
    assert resp.status_code == 400
    assert resp.json()["extra"]["code"] == "captcha"
    assert "CAPTCHA" in resp.json()["message"]


def test_test_connection_reports_an_unreachable_host(alice_api, settings, db):
    settings.TRADOVATE_DEMO_URL = "http://127.0.0.1:9/v1"
    resp = alice_api.post("/api/accounts/test-connection/", create_payload(), format="json")
    assert resp.status_code == 400
    assert resp.json()["extra"]["code"] == "unreachable"
    assert "127.0.0.1:9" in resp.json()["message"]


def test_creating_with_a_wrong_password_saves_nothing(alice_api, tv_login):
    resp = alice_api.post("/api/accounts/", create_payload(password="nope"), format="json")
    assert resp.status_code == 400
    assert "Incorrect username or password" in resp.json()["message"]
    assert BrokerConnection.objects.count() == 0


def test_a_tradovate_connection_needs_credentials(alice_api, db):
    resp = alice_api.post("/api/accounts/", {"kind": "tradovate_demo"}, format="json")
    assert resp.status_code == 400
    assert set(resp.json()["extra"]["fields"]) == {"label", "username", "password"}


def test_duplicate_labels_are_refused(alice_api, alice_connection):
    resp = alice_api.post("/api/accounts/", create_payload(), format="json")
    assert resp.status_code == 400
    assert "already have a connection named" in resp.json()["message"]


# --- update / refresh / delete ----------------------------------------------------------------


def test_update_with_a_blank_password_keeps_the_stored_one(alice_api, alice_connection):
    resp = alice_api.put(
        f"/api/accounts/{alice_connection.pk}/", {"label": "Renamed", "password": ""}, format="json"
    )
    assert resp.status_code == 200, resp.content
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert row.label == "Renamed"
    assert decrypt(row.password_encrypted) == PASSWORD


def test_a_wrong_new_password_is_refused_and_the_old_one_kept(alice_api, alice_connection):
    resp = alice_api.put(
        f"/api/accounts/{alice_connection.pk}/", {"password": "wrong"}, format="json"
    )
    assert resp.status_code == 400
    assert decrypt(BrokerConnection.objects.get(pk=alice_connection.pk).password_encrypted) == (
        PASSWORD
    )


def test_refresh_shows_trading_results(alice_api, alice_connection, tv_login):
    account = alice_connection.accounts.get(name="ALICE01")
    client = tv_login.client("alice_tv", PASSWORD)
    client.place_order(account_id=account.external_id, symbol="MNQZ5", action="Buy", qty=2)
    tv_login.set_price("MNQZ5", "21010.25")  # +10 points × 2 contracts × $2
    resp = alice_api.post(f"/api/accounts/{alice_connection.pk}/refresh/")
    assert resp.status_code == 200
    row = next(a for a in resp.json()["accounts"] if a["name"] == "ALICE01")
    assert (row["balance"], row["open_pnl"], row["net_liq"]) == ("50000.00", "40.00", "50040.00")


def test_a_failed_refresh_is_shown_on_the_connection(alice_api, alice_connection, tv_login):
    tv_login.fault("status", path="account/list", status=503, count=-1)
    resp = alice_api.post(f"/api/accounts/{alice_connection.pk}/refresh/")
    assert resp.status_code == 400
    assert resp.json()["extra"]["code"] == "unreachable"
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert row.status == "error" and "503" in row.last_error


def test_delete_removes_the_connection_and_its_accounts(alice_api, alice_connection):
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/")
    assert resp.status_code == 200
    assert resp.json() == {"result": "deleted", "connection_id": alice_connection.pk}
    assert not BrokerConnection.objects.exists()
    assert not BrokerAccount.objects.exists()


def test_the_account_list_costs_the_same_queries_for_many_connections(
    alice, alice_api, tradovate_sim, django_assert_max_num_queries
):
    for i in range(5):
        connection = BrokerConnection.objects.create(
            user=alice, kind="paper", label=f"P{i}", username=f"u{i}"
        )
        for j in range(3):
            BrokerAccount.objects.create(connection=connection, external_id=j, name=f"A{i}{j}")
    with django_assert_max_num_queries(6):
        resp = alice_api.get("/api/accounts/")
    assert resp.json()["count"] == 5
    with django_assert_max_num_queries(6):
        assert alice_api.get("/api/broker-accounts/").json()["count"] == 15


# --- ownership and secrets --------------------------------------------------------------------


def test_bob_gets_404_on_every_alice_connection_endpoint(bob_api, alice_connection):
    pk = alice_connection.pk
    assert bob_api.get(f"/api/accounts/{pk}/").status_code == 404
    assert bob_api.put(f"/api/accounts/{pk}/", {"label": "x"}, format="json").status_code == 404
    assert bob_api.patch(f"/api/accounts/{pk}/", {"label": "x"}, format="json").status_code == 404
    assert bob_api.post(f"/api/accounts/{pk}/refresh/").status_code == 404
    assert bob_api.delete(f"/api/accounts/{pk}/").status_code == 404
    resp = bob_api.post("/api/accounts/test-connection/", {"connection_id": pk}, format="json")
    assert resp.status_code == 404
    assert bob_api.get("/api/accounts/").json()["count"] == 0
    assert bob_api.get("/api/broker-accounts/").json()["count"] == 0
    assert BrokerConnection.objects.filter(pk=pk, label="My demo").exists()


def test_bob_does_not_see_alice_accounts_on_his_pages(bob_client, alice_connection):
    page = bob_client.get("/broker-accounts/").content.decode()
    assert "ALICE01" not in page and "My demo" not in page


def test_no_response_contains_a_stored_password_or_secret(
    alice_api, alice_client, alice_connection
):
    pk = alice_connection.pk
    bodies = [
        alice_api.get("/api/accounts/").content,
        alice_api.get(f"/api/accounts/{pk}/").content,
        alice_api.put(f"/api/accounts/{pk}/", {"label": "L2"}, format="json").content,
        alice_api.post(f"/api/accounts/{pk}/refresh/").content,
        alice_api.post(
            "/api/accounts/test-connection/", {"connection_id": pk}, format="json"
        ).content,
        alice_api.get("/api/broker-accounts/").content,
        alice_client.get("/broker-accounts/").content,
        alice_client.get("/broker-accounts/?partial=connections").content,
        alice_client.get("/broker-accounts/add/").content,
    ]
    row = BrokerConnection.objects.get(pk=pk)
    for body in bodies:
        text = body.decode()
        for secret in (PASSWORD, SEC, row.password_encrypted, row.sec_encrypted):
            assert secret not in text
    detail = json.loads(bodies[1])
    assert "password" not in detail and "sec" not in detail


def test_admin_pages_do_not_show_secrets(alice_connection, admin_client):
    page = admin_client.get(
        reverse("admin:accounts_brokerconnection_change", args=[alice_connection.pk])
    ).content.decode()
    assert "My demo" in page
    assert PASSWORD not in page and alice_connection.password_encrypted not in page


# --- pages ------------------------------------------------------------------------------------


def test_account_management_lists_connections_with_balances(alice_client, alice_connection):
    page = alice_client.get("/broker-accounts/").content.decode()
    assert "My demo" in page
    assert "ALICE01" in page and "ALICE02" in page
    assert "$50,000.00" in page
    assert "Connected" in page


def test_add_account_page_saves_a_working_login(alice_client, tv_login):
    resp = alice_client.post("/broker-accounts/add/", create_payload(label="From the form"))
    assert resp.status_code == 302 and resp.url == "/broker-accounts/"
    page = alice_client.get("/broker-accounts/").content.decode()
    assert "From the form" in page and "connected: 2 account(s)" in page


def test_add_account_page_says_exactly_what_went_wrong(alice_client, tv_login):
    resp = alice_client.post("/broker-accounts/add/", create_payload(password="nope"))
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "Incorrect username or password" in page
    assert "nope" not in page  # the typed password is not echoed back
    assert not BrokerConnection.objects.exists()


def test_pages_require_login(client, db):
    for url in ("/broker-accounts/", "/broker-accounts/add/"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/accounts/login/" in resp.url


def test_ids_beyond_any_database_column_are_404(alice_api, db):
    huge = 2**70
    assert alice_api.get(f"/api/accounts/{huge}/").status_code == 404
    resp = alice_api.post("/api/accounts/test-connection/", {"connection_id": huge}, format="json")
    assert resp.status_code in (400, 404)


def test_a_connection_with_a_live_trader_cannot_be_deleted(alice, alice_api, alice_connection):
    account = alice_connection.accounts.first()
    trader = TraderFactory(strategy__user=alice, broker_account=account, enabled=True)
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/")
    assert resp.status_code == 409
    assert "switch off the 1 trader(s)" in resp.json()["message"]
    assert resp.json()["extra"]["code"] == "in_use"
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/?archive=true")
    assert resp.status_code == 409  # not even archived while it trades
    trader.enabled = False
    trader.save(update_fields=["enabled"])
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/")
    assert resp.status_code == 409 and resp.json()["extra"]["code"] == "has_history"


def test_deleting_a_connection_with_history_asks_first_then_archives(
    alice, alice_api, alice_connection
):
    account = alice_connection.accounts.get(name="ALICE01")
    trader = TraderFactory(strategy__user=alice, broker_account=account, enabled=False)
    order = make_order(trader, status="Filled")
    record_fill(order, price="21000.00")
    url = f"/api/accounts/{alice_connection.pk}/"

    resp = alice_api.delete(url)
    assert resp.status_code == 409
    body = resp.json()
    assert body["extra"]["code"] == "has_history"
    affected = body["extra"]["affected"]
    assert affected["traders"] == [
        {"id": trader.pk, "strategy": trader.strategy.name, "account": "ALICE01", "enabled": False}
    ]
    assert (affected["orders"], affected["fills"]) == (1, 1)
    assert "1 trader(s), 1 order(s), 1 fill(s)" in body["message"]
    assert BrokerConnection.objects.get(pk=alice_connection.pk).archived_at is None

    resp = alice_api.delete(f"{url}?archive=true")
    assert resp.status_code == 200
    assert resp.json() == {"result": "archived", "connection_id": alice_connection.pk}
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert row.archived_at is not None and row.label.startswith("My demo · archived ")
    assert Fill.objects.filter(broker_account=account).count() == 1  # history kept
    # Gone from the API, the pickers and the pages; the name is free for a new login.
    assert alice_api.get(url).status_code == 404
    assert alice_api.get("/api/accounts/").json()["count"] == 0
    assert alice_api.get("/api/broker-accounts/").json()["count"] == 0
    assert alice_api.delete(url).status_code == 404
    resp = alice_api.post("/api/accounts/", create_payload(), format="json")
    assert resp.status_code == 201, resp.content


def test_a_recorder_following_an_account_blocks_the_archive(alice, alice_api, alice_connection):
    account = alice_connection.accounts.first()
    recorder = RecorderFactory(strategy__user=alice, source="account", broker_account=account)
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/?archive=true")
    assert resp.status_code == 409
    assert "stop the 1 recorder(s)" in resp.json()["message"]
    recorder.running = False
    recorder.save(update_fields=["running"])
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/?archive=true")
    assert resp.json()["result"] == "archived"


def test_bad_delete_input_is_a_clear_400(alice_api, alice_connection):
    resp = alice_api.delete(f"/api/accounts/{alice_connection.pk}/?archive=perhaps")
    assert resp.status_code == 400
    assert "archive" in resp.json()["extra"]["fields"]


def test_archived_connections_are_not_refreshed_by_the_beat(alice, alice_connection, settings):
    from accounts.tasks import refresh_all_connections, refresh_connection

    BrokerConnectionFactory(user=alice, archived=True)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from celery_app import app

    app.conf.task_always_eager = True
    try:
        assert refresh_all_connections() == 1
    finally:
        app.conf.task_always_eager = False
    archived = BrokerConnection.objects.exclude(archived_at=None).get()
    assert refresh_connection(archived.pk) == "gone"


# --- editing a connection ---------------------------------------------------------------------


def test_editing_the_username_and_password_checks_them_and_bumps_the_version(
    alice_api, alice_connection, tv_login
):
    tv_login.create_user("alice_tv2", "new-pass-2", accounts=["ALICE09"])
    version = alice_connection.credentials_version
    url = f"/api/accounts/{alice_connection.pk}/"
    resp = alice_api.patch(
        url, {"username": "alice_tv2", "password": "new-pass-2", "cid": "99"}, format="json"
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["username"] == "alice_tv2" and body["cid"] == "99"
    assert "new-pass-2" not in resp.content.decode() and SEC not in resp.content.decode()
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert row.credentials_version == version + 1
    assert decrypt(row.password_encrypted) == "new-pass-2"
    assert decrypt(row.sec_encrypted) == SEC  # blank: kept
    assert {a["name"] for a in body["accounts"] if a["active"]} == {"ALICE09"}


def test_a_new_label_alone_does_not_touch_the_credentials(alice_api, alice_connection):
    version = alice_connection.credentials_version
    resp = alice_api.patch(
        f"/api/accounts/{alice_connection.pk}/", {"label": "Renamed", "sec": ""}, format="json"
    )
    assert resp.status_code == 200
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert (row.label, row.credentials_version) == ("Renamed", version)
    assert decrypt(row.sec_encrypted) == SEC


def test_test_connection_of_a_saved_login_uses_the_stored_password_when_blank(
    alice_api, alice_connection
):
    resp = alice_api.post(
        "/api/accounts/test-connection/",
        {"connection_id": alice_connection.pk, "username": "alice_tv", "password": ""},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert "2 account(s) found" in resp.json()["message"]
    resp = alice_api.post(
        "/api/accounts/test-connection/",
        {"connection_id": alice_connection.pk, "password": "typo"},
        format="json",
    )
    assert resp.status_code == 400 and resp.json()["extra"]["code"] == "bad_credentials"
    assert decrypt(BrokerConnection.objects.get(pk=alice_connection.pk).password_encrypted) == (
        PASSWORD
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"label": ""}, "label"),
        ({"username": "x" * 151}, "username"),
        ({"cid": ["not", "a", "string"]}, "cid"),
    ],
)
def test_bad_edits_are_a_clear_400(alice_api, alice_connection, body, field):
    resp = alice_api.patch(f"/api/accounts/{alice_connection.pk}/", body, format="json")
    assert resp.status_code == 400
    assert field in resp.json()["extra"]["fields"]


def test_the_edit_page_never_renders_a_secret_and_saves(alice_client, alice_connection):
    url = reverse("broker-account-edit", args=[alice_connection.pk])
    html = alice_client.get(url).content.decode()
    assert 'value="alice_tv"' in html and 'value="1234"' in html
    assert PASSWORD not in html and SEC not in html
    assert alice_connection.password_encrypted not in html
    resp = alice_client.post(
        url,
        {"label": "Main demo", "username": "alice_tv", "password": "", "app_id": "JustTrades",
         "cid": "1234", "sec": ""},
    )  # fmt: skip
    assert resp.status_code == 302 and resp["Location"] == reverse("broker-accounts")
    row = BrokerConnection.objects.get(pk=alice_connection.pk)
    assert row.label == "Main demo" and decrypt(row.password_encrypted) == PASSWORD


def test_the_edit_page_says_what_the_broker_refused(alice_client, alice_connection):
    url = reverse("broker-account-edit", args=[alice_connection.pk])
    resp = alice_client.post(
        url, {"label": "My demo", "username": "alice_tv", "password": "wrong", "cid": "1234"}
    )
    assert resp.status_code == 200
    assert "Login refused by the broker" in resp.content.decode()


def test_a_paper_connection_only_renames(alice, alice_client, tradovate_sim):
    paper = tradovate_sim.connect(alice)
    url = reverse("broker-account-edit", args=[paper.pk])
    html = alice_client.get(url).content.decode()
    assert 'name="password"' not in html and 'name="username"' not in html
    alice_client.post(url, {"label": "Play money"})
    assert BrokerConnection.objects.get(pk=paper.pk).label == "Play money"


def test_bob_gets_404_on_alices_edit_page(bob_client, alice_connection):
    url = reverse("broker-account-edit", args=[alice_connection.pk])
    assert bob_client.get(url).status_code == 404
    assert bob_client.post(url, {"label": "mine"}).status_code == 404
    assert BrokerConnection.objects.get(pk=alice_connection.pk).label == "My demo"


# --- failures told --------------------------------------------------------------------------


def test_a_refused_login_is_one_timeline_line_not_one_per_refresh(
    alice, alice_connection, tv_login
):
    from accounts import services
    from recorder.models import StrategyLog

    tv_login.fault("status", path="auth/accesstokenrequest", status=401, count=-1)
    tv_login.expire_tokens()
    for _ in range(3):
        services.connection_refresh(connection=alice_connection, raise_errors=False)
    [line] = StrategyLog.objects.filter(user=alice, data__event="broker_login_failed")
    assert line.strategy_id is None and line.kind == "error"
    assert line.data["connection_id"] == alice_connection.pk
    assert line.data["code"] == "bad_credentials" and line.data["error"]
    assert "Broker login failed for My demo" in line.message


def test_an_unreachable_broker_is_an_account_refresh_failure(alice, alice_connection, tv_login):
    from accounts import services
    from recorder.models import StrategyLog

    tv_login.fault("status", path="account/list", status=503, count=-1)
    services.connection_refresh(connection=alice_connection, raise_errors=False)
    [line] = StrategyLog.objects.filter(user=alice, data__event="account_refresh_failed")
    assert line.data["code"] == "unreachable" and "503" in line.data["error"]
    # Fixed, then failing again: that is news again.
    tv_login.clear_faults()
    services.connection_refresh(connection=alice_connection, raise_errors=False)
    tv_login.fault("status", path="account/list", status=503, count=-1)
    services.connection_refresh(connection=alice_connection, raise_errors=False)
    assert StrategyLog.objects.filter(data__event="account_refresh_failed").count() == 2


def test_test_connection_is_throttled_per_user(alice_api, bob_api, tv_login):
    payload = create_payload(password="nope")
    codes = [
        alice_api.post("/api/accounts/test-connection/", payload, format="json").status_code
        for _ in range(11)
    ]
    assert codes[:10] == [400] * 10 and codes[10] == 429
    # Bob is not slowed down by Alice.
    assert bob_api.post("/api/accounts/test-connection/", payload, format="json").status_code == 400
