"""Account Management and Add Account in a real Chromium, against the simulator."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_thread(fn):
    """ORM work outside the browser driver's event loop."""
    box: dict = {}

    def run():
        from django.db import connection

        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc
        finally:
            connection.close()  # or PostgreSQL cannot drop the test database

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _wait_text(page, selector: str, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        value = page.inner_text(selector)
        if text in value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed {text!r}; last: {value!r}")
        page.wait_for_timeout(100)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium")
def test_a_trader_sees_paper_money_and_adds_a_tradovate_login(asgi_server, tradovate_sim):
    from playwright.sync_api import sync_playwright

    from accounts import services
    from accounts.tests.factories import PASSWORD, UserFactory

    user = UserFactory(username="carol", email="carol@example.com")
    paper = tradovate_sim.connect(user)
    account = paper.accounts.get()
    tradovate_sim.create_user("carol_tv", "tv-pass", accounts=["CAROL-TV1"])
    tradovate_sim.set_price("MNQZ5", "21000")
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and "status of 400" not in m.text
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"{asgi_server.url}/accounts/login/")
            page.fill("input[name=login]", "carol")
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{asgi_server.url}/")

            # Account Management: the Paper account with its $50,000.
            page.goto(f"{asgi_server.url}/broker-accounts/")
            row = f'tr[data-account="{account.pk}"]'
            assert "$50,000.00" in page.inner_text(row)
            assert "Connected" in page.inner_text(f'[data-connection="{paper.pk}"]')

            # Trading moves the numbers on the page without a reload (live "account" event).
            page.wait_for_function(
                "() => document.getElementById('live-status').dataset.state === 'live'"
            )
            client = tradovate_sim.client(paper.username, _in_thread(lambda: _password(paper)))
            client.place_order(account_id=account.external_id, symbol="MNQZ5", action="Buy", qty=2)
            tradovate_sim.set_price("MNQZ5", "21050.25")  # +50 points × 2 × $2 = $200
            _in_thread(lambda: services.connection_refresh(connection=paper))
            _wait_text(page, row, "$200.00")

            # Add Account: Test Connection says exactly what is wrong, then saves a good login.
            page.goto(f"{asgi_server.url}/broker-accounts/add/")
            page.fill("[name=label]", "Carol demo")
            page.fill("[name=username]", "carol_tv")
            page.fill("[name=password]", "wrong")
            page.click("#test-connection")
            _wait_text(page, "#test-result", "Incorrect username or password")
            tradovate_sim.fault("captcha", path="auth/accesstokenrequest", p_time=3600)
            page.fill("[name=password]", "tv-pass")
            page.click("#test-connection")
            _wait_text(page, "#test-result", "CAPTCHA")
            tradovate_sim.clear_faults()
            page.click("#test-connection")
            _wait_text(page, "#test-result", "1 account(s) found (CAROL-TV1)")
            page.click("#connection-form button[type=submit]")
            page.wait_for_url(f"{asgi_server.url}/broker-accounts/")
            assert "CAROL-TV1" in page.inner_text("#connections")
            assert "tv-pass" not in page.content()
        finally:
            browser.close()
    assert problems == []


def _password(connection) -> str:
    from accounts.crypto import decrypt

    return decrypt(connection.password_encrypted)
