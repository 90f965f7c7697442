"""Account Management and Add Account in a real Chromium, against the simulator."""

from __future__ import annotations

import pytest

from justtrades.testing.browser import in_thread, login, shot, wait_js, wait_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_trader_sees_paper_money_and_adds_a_tradovate_login(asgi_server, tradovate_sim, new_page):
    from accounts import services
    from accounts.tests.factories import PASSWORD, UserFactory

    user = UserFactory(username="carol", email="carol@example.com")
    paper = tradovate_sim.connect(user)
    account = paper.accounts.get()
    tradovate_sim.create_user("carol_tv", "tv-pass", accounts=["CAROL-TV1"])
    tradovate_sim.set_price("MNQZ5", "21000")
    page = new_page(ignore_console=("status of 400",))
    login(page, asgi_server.url, "carol", PASSWORD)
    # Account Management: the Paper account with its $50,000.
    page.goto(f"{asgi_server.url}/broker-accounts/")
    row = f'tr[data-account="{account.pk}"]'
    assert "$50,000.00" in page.inner_text(row)
    assert "Connected" in page.inner_text(f'[data-connection="{paper.pk}"]')

    # Trading moves the numbers on the page without a reload (live "account" event).
    wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
    client = tradovate_sim.client(paper.username, in_thread(lambda: _password(paper)))
    client.place_order(account_id=account.external_id, symbol="MNQZ5", action="Buy", qty=2)
    tradovate_sim.set_price("MNQZ5", "21050.25")  # +50 points × 2 × $2 = $200
    in_thread(lambda: services.connection_refresh(connection=paper))
    wait_text(page, row, "$200.00")

    # Add Account: Test Connection says exactly what is wrong, then saves a good login.
    page.goto(f"{asgi_server.url}/broker-accounts/add/")
    page.fill("[name=label]", "Carol demo")
    page.fill("[name=username]", "carol_tv")
    page.fill("[name=password]", "wrong")
    page.click("#test-connection")
    wait_text(page, "#test-result", "Incorrect username or password")
    tradovate_sim.fault("captcha", path="auth/accesstokenrequest", p_time=3600)
    page.fill("[name=password]", "tv-pass")
    page.click("#test-connection")
    wait_text(page, "#test-result", "CAPTCHA")
    tradovate_sim.clear_faults()
    page.click("#test-connection")
    wait_text(page, "#test-result", "1 account(s) found (CAROL-TV1)")
    page.click("#connection-form button[type=submit]")
    page.wait_for_url(f"{asgi_server.url}/broker-accounts/")
    assert "CAROL-TV1" in page.inner_text("#connections")
    assert "tv-pass" not in page.content()
    assert page.problems == []


def _password(connection) -> str:
    from accounts.crypto import decrypt

    return decrypt(connection.password_encrypted)


def test_a_trader_edits_a_login_tests_it_and_archives_a_connection_with_history(
    asgi_server, tradovate_sim, new_page
):
    from accounts import services
    from accounts.models import BrokerConnection
    from accounts.tests.factories import PASSWORD, UserFactory
    from notifications.tests.factories import TraderFactory
    from notifications.tests.helpers import make_order, record_fill

    user = UserFactory(username="dora", email="dora@example.com")
    tradovate_sim.create_user("dora_tv", "old-pass", accounts=["DORA-1"])
    connection = services.connection_create(
        user=user, kind="tradovate_demo", label="Dora demo", username="dora_tv",
        password="old-pass", sec="dora-api-secret",
    )  # fmt: skip
    tradovate_sim.create_user("dora_tv2", "new-pass", accounts=["DORA-2"])  # her new login
    page = new_page(ignore_console=("status of 400", "status of 409"))
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, asgi_server.url, "dora", PASSWORD)

    # Edit from Account Management: the form shows no secret; a typo is caught by the test.
    page.goto(f"{asgi_server.url}/broker-accounts/")
    page.click(f'[data-edit-connection="{connection.pk}"]')
    page.wait_for_url(f"{asgi_server.url}/broker-accounts/{connection.pk}/edit/")
    assert page.input_value("[name=password]") == "" and page.input_value("[name=sec]") == ""
    assert "old-pass" not in page.content() and "dora-api-secret" not in page.content()
    page.fill("[name=username]", "dora_tv2")
    page.fill("[name=password]", "typo")
    page.click("#test-connection")
    wait_text(page, "#test-result", "Incorrect username or password")
    page.fill("[name=password]", "new-pass")
    page.click("#test-connection")
    wait_text(page, "#test-result", "1 account(s) found (DORA-2)")
    page.fill("[name=label]", "Dora main")
    page.fill("[name=cid]", "4321")
    shot(page, "connection-edit")
    page.click("#connection-edit-form button[type=submit]")
    page.wait_for_url(f"{asgi_server.url}/broker-accounts/")
    wait_text(page, f'[data-connection="{connection.pk}"]', "Dora main")
    row = BrokerConnection.objects.get(pk=connection.pk)
    assert row.cid == "4321" and row.credentials_version == connection.credentials_version + 1

    # Delete a connection with history: asked twice (delete, then archive), then it is gone.
    account = row.accounts.get(name="DORA-2")
    trader = TraderFactory(strategy__user=user, broker_account=account, enabled=False)
    record_fill(make_order(trader, status="Filled"), price="21000")
    page.click(f'[data-delete-connection="{connection.pk}"]')
    wait_text(page, "#toasts", "archived")
    wait_js(page, f"() => !document.querySelector('[data-connection=\"{connection.pk}\"]')")
    assert BrokerConnection.objects.get(pk=connection.pk).archived_at is not None
    shot(page, "connection-archived")
    assert page.problems == []
