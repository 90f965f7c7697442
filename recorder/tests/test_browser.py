"""My Recorders in a real Chromium: live open P&L and figures, start/stop, no console errors."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_thread(fn):
    """ORM work outside the browser driver's event loop."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc
        finally:
            from django.db import connections

            connections.close_all()  # a thread's connection would outlive the test database

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _wait_js(page, function: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(function)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {function}")
        page.wait_for_timeout(100)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium")
def test_my_recorders_moves_by_itself(asgi_server):
    from playwright.sync_api import sync_playwright

    from accounts.tests.factories import PASSWORD, UserFactory
    from recorder.ledger import Quote
    from recorder.services import recorder_apply_quote
    from recorder.tests.helpers import front, make_strategy, send

    user = UserFactory(username="carol", email="carol@example.com")
    strategy = make_strategy(user, name="Live one")
    recorder_id = strategy.recorder.pk
    mnq = front("MNQ1!")
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"{asgi_server.url}/accounts/login/")
            page.fill("input[name=login]", "carol")
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{asgi_server.url}/")
            page.goto(f"{asgi_server.url}/recorders/")
            _wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
            row = f'tr[data-recorder-id="{recorder_id}"]'
            assert page.inner_text(f'{row} [data-field="trades"]') == "0"

            # An entry, then a quote: the open position and its P&L appear without a reload.
            _in_thread(lambda: send(strategy, "buy @ 21000.00"))
            _wait_js(
                page,
                f"() => document.querySelector('{row} [data-field=\"position\"]').textContent.includes('long 1')",
            )  # noqa: E501
            _in_thread(
                lambda: recorder_apply_quote(
                    symbol=mnq,
                    quote=Quote(at=timezone.now() + timedelta(seconds=2), last="21003.00"),
                )
            )
            _wait_js(
                page,
                f"() => document.querySelector('{row} [data-field=\"open_pnl\"]').textContent.includes('6.00')",
            )  # noqa: E501

            # The exit: the figures and the sparkline update.
            _in_thread(lambda: send(strategy, "exit @ 21005.00"))
            _wait_js(
                page,
                f"() => document.querySelector('{row} [data-field=\"trades\"]').textContent === '1'",
            )  # noqa: E501
            assert "$10.00" in page.inner_text(f'{row} [data-field="total_pnl"]')
            assert page.get_attribute(f'{row} [data-field="spark"] polyline', "points")

            # Stop from the page.
            page.click(f'{row} [data-action="stop"]')
            _wait_js(
                page,
                f"() => document.querySelector('{row} [data-field=\"status\"]').textContent.includes('stopped')",
            )  # noqa: E501
        finally:
            browser.close()
    from recorder.models import Recorder

    assert _in_thread(lambda: Recorder.objects.get(pk=recorder_id).running) is False
    assert problems == []
