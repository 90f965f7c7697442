"""The dashboard, strategy analytics and comparison pages."""

from __future__ import annotations

import pytest

from analytics.tests.helpers import strategy_with_recorder

pytestmark = pytest.mark.django_db


def test_the_dashboard_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_dashboard_loads_its_charts_and_states_the_capital_and_formula(alice_client, settings):
    settings.CHART_LIBRARY = "js/app.js"  # a static file that is always there
    response = alice_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/js/app.js"></script>' in html
    assert "js/dashboard.js" in html and 'id="equity-chart"' in html
    assert 'id="charts-missing"' not in html
    assert 'id="analytics-config"' in html and "50000" in html
    assert "√252" in html  # the Sharpe/Sortino formula is on the page
    assert "<script>" not in html.replace("<script src=", "")  # CSP: no inline code


def test_the_strategy_page_is_the_owners_only(alice, alice_client, bob_client):
    strategy = strategy_with_recorder(alice, "Breakout")
    response = alice_client.get(f"/analytics/strategies/{strategy.pk}/")
    assert response.status_code == 200 and "Breakout" in response.content.decode()
    assert bob_client.get(f"/analytics/strategies/{strategy.pk}/").status_code == 404
    assert alice_client.get("/analytics/strategies/999999/").status_code == 404


def _main(response) -> str:
    return response.content.decode().split("<main")[1].split("</main>")[0]


def test_the_comparison_lists_only_my_strategies(alice, bob, alice_client, bob_client):
    strategy_with_recorder(alice, "Alice breakout")
    strategy_with_recorder(bob, "Bob scalper")
    mine = _main(alice_client.get("/analytics/compare/"))
    assert "Alice breakout" in mine and "Bob scalper" not in mine
    theirs = _main(bob_client.get("/analytics/compare/"))
    assert "Bob scalper" in theirs and "Alice breakout" not in theirs


@pytest.mark.parametrize("path", ["/", "/analytics/compare/", "strategy"])
def test_without_the_chart_library_a_page_says_how_to_get_it_and_loads_no_vendor_file(
    alice, alice_client, settings, path
):
    settings.CHART_LIBRARY = "vendor/not-installed.js"
    strategy = strategy_with_recorder(alice, "Breakout")
    if path == "strategy":
        path = f"/analytics/strategies/{strategy.pk}/"
    html = alice_client.get(path).content.decode()
    assert 'id="charts-missing"' in html and "make setup" in html
    assert "vendor/" not in html.replace("static/vendor/</code>", "")
    assert "js/analytics-charts.js" in html  # the tables and figures are still drawn
