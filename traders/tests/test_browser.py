"""The Control Center in a real Chromium: live P&L and log, a trader switch, Flatten All."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from accounts.tests.factories import PASSWORD
from traders.tests.conftest import front, make_signal

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium"),
]


def in_thread(fn):
    """ORM work outside the browser driver's event loop (Django refuses async contexts)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def wait_js(page, function: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(function)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {function}")
        page.wait_for_timeout(100)


def test_control_center_flattens_everything_and_updates_live(
    asgi_server, sim, alice, trader, account, strategy
):
    from playwright.sync_api import sync_playwright

    from traders.execution import trader_execute_signal

    trader_execute_signal(trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk)
    client = sim.client(account.connection.username, "sim-pw")
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: d.accept())
            page.goto(f"{asgi_server.url}/accounts/login/")
            page.fill("input[name=login]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{asgi_server.url}/")
            page.goto(f"{asgi_server.url}/control-center/")

            row = f'#cc-traders tr[data-trader-id="{trader.pk}"]'
            wait_js(
                page,
                f"""() => document.querySelector('{row} [data-field="positions"]')
                              .textContent.includes('+1 {front()}')""",
            )
            wait_js(page, "() => document.querySelectorAll('#cc-log tbody tr[data-log-id]').length")
            assert "Trading" in page.inner_text(f"{row} [data-field=status]")

            # A signal executed now shows up in the open log through the live socket.
            wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
            before = page.locator("#cc-log tbody tr[data-log-id]").count()
            in_thread(
                lambda: trader_execute_signal(
                    trader_id=trader.pk, signal_id=make_signal(strategy, "buy").pk
                )
            )
            wait_js(
                page,
                f"() => document.querySelectorAll('#cc-log tbody tr[data-log-id]')"
                f".length > {before}",
            )
            wait_js(
                page,
                f"""() => document.querySelector('{row} [data-field="positions"]')
                              .textContent.includes('+2 {front()}')""",
            )

            # The switch, then Flatten All (confirmed in the dialog).
            page.click(f'{row} [data-action="toggle"]')
            wait_js(
                page,
                f"() => document.querySelector('{row} [data-action=\"toggle\"]')"
                ".textContent === 'Off'",
            )
            page.click("#flatten-all")
            page.wait_for_selector(".toast-success >> text=Everything flat")
            page.screenshot(path=str(ARTIFACTS / "control-center.png"), full_page=True)
        finally:
            browser.close()
    positions = in_thread(lambda: client.positions(account.external_id))
    assert all(p.net_pos == 0 for p in positions)
    trader.refresh_from_db()
    assert trader.enabled is False
    assert problems == []
