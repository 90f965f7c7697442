"""My Recorders in a real Chromium: live open P&L and figures, start/stop, no console errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from justtrades.testing.browser import in_thread, login, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_my_recorders_moves_by_itself(asgi_server, page):
    from accounts.tests.factories import PASSWORD, UserFactory
    from recorder.ledger import Quote
    from recorder.services import recorder_apply_quote
    from recorder.tests.helpers import front, make_strategy, send

    user = UserFactory(username="carol", email="carol@example.com")
    strategy = make_strategy(user, name="Live one")
    recorder_id = strategy.recorder.pk
    mnq = front("MNQ1!")
    login(page, asgi_server.url, "carol", PASSWORD)
    page.goto(f"{asgi_server.url}/recorders/")
    wait_js(page, "() => document.getElementById('live-status').dataset.state === 'live'")
    row = f'tr[data-recorder-id="{recorder_id}"]'
    assert page.inner_text(f'{row} [data-field="trades"]') == "0"

    # An entry, then a quote: the open position and its P&L appear without a reload.
    in_thread(lambda: send(strategy, "buy @ 21000.00"))
    wait_js(
        page,
        f"() => document.querySelector('{row} [data-field=\"position\"]').textContent.includes('long 1')",
    )  # noqa: E501
    in_thread(
        lambda: recorder_apply_quote(
            symbol=mnq,
            quote=Quote(at=timezone.now() + timedelta(seconds=2), last="21003.00"),
        )
    )
    wait_js(
        page,
        f"() => document.querySelector('{row} [data-field=\"open_pnl\"]').textContent.includes('6.00')",
    )  # noqa: E501

    # The exit: the figures and the sparkline update.
    in_thread(lambda: send(strategy, "exit @ 21005.00"))
    wait_js(
        page,
        f"() => document.querySelector('{row} [data-field=\"trades\"]').textContent === '1'",
    )  # noqa: E501
    assert "$10.00" in page.inner_text(f'{row} [data-field="total_pnl"]')
    assert page.get_attribute(f'{row} [data-field="spark"] polyline', "points")

    # Stop from the page.
    page.click(f'{row} [data-action="stop"]')
    wait_js(
        page,
        f"() => document.querySelector('{row} [data-field=\"status\"]').textContent.includes('stopped')",
    )  # noqa: E501
    from recorder.models import Recorder

    assert in_thread(lambda: Recorder.objects.get(pk=recorder_id).running) is False
    assert page.problems == []
