"""Security proof: isolation on every route, CSRF, rate limits, deploy checks, CSP, secrets at
rest, and the API fuzzed against its own OpenAPI schema."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from e2e.routes import PARAM_OBJECTS, Route, all_routes, routes_of
from e2e.world import BROKER_PASSWORD, BROKER_SEC, MARK, build_world
from justtrades.testing.fixtures import start_of_a_clock_minute

pytestmark = pytest.mark.django_db

OWNED = routes_of("owned")
USER = routes_of("user")
API_WRITE_BODY = {
    "name": "bob was here",
    "enabled": False,
    "label": "bob",
    "multiplier": 2,
    "quantity": 1,
    "action": "buy",
    "confirm": True,
}
QUERY_KEYS = {
    "strategy": "strategy",
    "strategy_id": "strategy",
    "strategies": "strategy",
    "account": "account",
    "account_id": "account",
    "broker_account": "account",
    "broker_account_id": "account",
    "connection": "connection",
    "connection_id": "connection",
    "trader": "trader",
    "trader_id": "trader",
    "recorder": "recorder",
    "recorder_id": "recorder",
    "signal": "signal",
    "signal_id": "signal",
}


def _values(world) -> dict[str, int]:
    return {param: world.id_of(key) for param, key in PARAM_OBJECTS.items()}


def _snapshot(world) -> dict[str, dict]:
    return {
        key: type(obj).objects.filter(pk=obj.pk).values().first()
        for key, obj in world.objects.items()
    }


def _request(client: Client, method: str, url: str, body: dict | None = None):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json"
    )


def _leaks(response, markers: list[str]) -> list[str]:
    text = response.content.decode("utf-8", errors="replace")
    return [m for m in markers if m in text]


# --- the route map itself ---------------------------------------------------------------------


def test_every_route_is_classified():
    unknown = [str(r) for r in all_routes() if r.kind == "unknown"]
    assert not unknown, (
        "routes the isolation suite cannot classify (name their id parameters after the object, "
        "e.g. <int:trader_id>, and add new ones to e2e/routes.py PARAM_OBJECTS): "
        + ", ".join(unknown)
    )
    # The suite must actually walk the product's routes, not an empty list.
    patterns = {r.pattern for r in OWNED}
    assert "api/strategies/<int:strategy_id>/" in patterns
    assert any(p.startswith("api/traders/") for p in patterns)
    assert any(not r.is_api for r in OWNED), "no HTML page with an id was found"


# --- bob on alice's ids -----------------------------------------------------------------------


@pytest.mark.parametrize("route", OWNED, ids=str)
def test_bob_gets_404_on_alices_ids(route: Route, alice, bob, sim):
    world = build_world(alice)
    values = _values(world)
    url = route.url(values)
    before = _snapshot(world)
    bob_client = Client()
    bob_client.force_login(bob)
    alice_client = Client()
    alice_client.force_login(alice)

    methods = route.methods() or ("get", "post")
    alice_view = alice_client.get(url) if "get" in methods else None
    body = API_WRITE_BODY
    if alice_view is not None and alice_view.get("Content-Type", "").startswith("application/json"):
        try:  # alice's own representation is a body that passes validation
            body = {**API_WRITE_BODY, **alice_view.json()}
        except ValueError:
            pass

    problems, not_found = [], 0
    for method in methods:
        response = _request(bob_client, method, url, body)
        if response.status_code == 404:
            not_found += 1
            leaked = _leaks(response, world.markers)
            if leaked:
                problems.append(f"{method.upper()} 404 page shows {leaked}")
        elif response.status_code == 405 and route.methods() is None:
            continue  # a function view that does not take this method at all
        else:
            problems.append(f"{method.upper()} {url} as bob → {response.status_code}")
    assert not problems, f"{route}: " + "; ".join(problems)
    assert not_found, f"{route}: no method answered bob with 404"
    assert _snapshot(world) == before, f"{route}: bob's requests changed alice's data"

    # The control: the same URL works for alice, so the 404 above is about ownership.
    if alice_view is not None:
        assert alice_view.status_code != 404, f"{route}: alice herself gets 404 on {url}"
    else:
        response = _request(alice_client, methods[0], url, body)
        assert response.status_code != 404, (
            f"{route}: alice herself gets 404 on {methods[0].upper()} {url}"
        )


def _has_get(route: Route) -> bool:
    return "get" in (route.methods() or ("get",))


def test_lists_and_filters_never_show_alices_objects_to_bob(alice, bob, sim):
    """Every page and API route without ids, plain and with each filter set to alice's ids."""
    world = build_world(alice)
    bob_client = Client()
    bob_client.force_login(bob)
    problems, checked = [], 0
    for route in USER:
        if not _has_get(route):
            continue
        url = route.url({})
        for query in [""] + [f"?{k}={world.id_of(v)}" for k, v in QUERY_KEYS.items()]:
            response = bob_client.get(url + query)
            checked += 1
            if response.status_code >= 500:
                problems.append(f"GET {url}{query} → {response.status_code}")
            leaked = _leaks(response, world.markers)
            if leaked:
                problems.append(f"GET {url}{query} shows alice's {leaked}")
    assert checked > 100
    assert not problems, "\n".join(problems)


def test_alices_markers_do_show_to_alice(alice, sim):
    """The control of the leak test above: the markers are visible where they belong."""
    world = build_world(alice)
    client = Client()
    client.force_login(alice)
    seen = set()
    for route in USER:
        if "get" not in (route.methods() or ("get",)):
            continue
        response = client.get(route.url({}))
        seen |= set(_leaks(response, world.markers))
    assert f"strategy-{MARK}" in seen and f"ACC-{MARK}" in seen, seen


def test_bob_cannot_link_alices_strategy_or_account(alice, bob, sim):
    from traders.models import Trader

    world = build_world(alice)
    client = Client()
    client.force_login(bob)
    response = client.post(
        "/api/traders/",
        data=json.dumps(
            {
                "strategy_id": world.id_of("strategy"),
                "broker_account_id": world.id_of("account"),
                "enabled": True,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 404, response.content
    assert not Trader.objects.filter(user=bob).exists()


def test_bob_cannot_trade_with_alices_strategy_from_the_control_center(alice, bob, sim):
    from traders.models import Order

    world = build_world(alice)
    client = Client()
    client.force_login(bob)
    response = client.post(
        "/api/control-center/manual-trade/",
        data=json.dumps({"strategy_id": world.id_of("strategy"), "action": "buy", "quantity": 1}),
        content_type="application/json",
    )
    assert response.status_code in (400, 404), response.content
    assert Order.objects.count() == 1  # alice's, from the world; nothing new


# --- anonymous --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(alice, sim):
    world = build_world(alice)
    values = _values(world)
    problems = []
    for route in OWNED + USER:
        url = route.url(values)
        for method in route.methods() or ("get", "post"):
            response = _request(Client(), method, url, API_WRITE_BODY)
            code = response.status_code
            if route.methods() is None and code == 405:
                continue
            if route.is_api and code not in (401, 403):
                problems.append(f"{method.upper()} {url} → {code} (want 401/403)")
            elif not route.is_api and (
                code != 302 or "/accounts/login/" not in response.get("Location", "")
            ):
                problems.append(f"{method.upper()} {url} → {code} (want a redirect to login)")
    assert not problems, "\n".join(problems)


# --- CSRF -------------------------------------------------------------------------------------


def test_session_writes_without_a_csrf_token_are_refused(alice, sim):
    world = build_world(alice)
    values = _values(world)
    before = _snapshot(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    problems, checked = [], 0
    for route in OWNED + USER:
        url = route.url(values)
        for method in [m for m in (route.methods() or ("post",)) if m != "get"]:
            response = _request(client, method, url, API_WRITE_BODY)
            if route.methods() is None and response.status_code == 405:
                continue
            checked += 1
            if response.status_code != 403 or b"CSRF" not in response.content:
                problems.append(f"{method.upper()} {url} → {response.status_code}")
    assert checked > 20
    assert not problems, "writes accepted without a CSRF token:\n" + "\n".join(problems)
    assert _snapshot(world) == before


def test_a_session_write_with_the_csrf_token_goes_through(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get("/strategies/new/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/api/strategies/",
        data=json.dumps({"name": "With a token"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content


def test_token_auth_needs_no_csrf_token(alice):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=alice)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/strategies/",
        data=json.dumps({"name": "From a script"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 201, response.content


# --- rate limits ------------------------------------------------------------------------------


def test_failed_logins_are_throttled_even_for_the_right_password(alice):
    client = Client()
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": "alice", "password": "wrong-password"})
        assert response.status_code == 200  # the form again, with an error
        assert "_auth_user_id" not in client.session
    response = client.post("/accounts/login/", {"login": "alice", "password": "wrong-password"})
    assert b"Too many failed login attempts" in response.content
    response = client.post("/accounts/login/", {"login": "alice", "password": "PASSWORD"})
    assert "_auth_user_id" not in client.session, "a throttled account still logged in"


def test_the_webhook_rate_limit_answers_429_and_stores_nothing_more(alice, settings):
    from strategies.models import Signal
    from strategies.services import strategy_create

    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 5
    strategy = strategy_create(user=alice, name="Limited")
    client = Client()
    codes = []
    start_of_a_clock_minute()
    for i in range(7):
        response = client.post(
            f"/webhooks/{strategy.webhook_token}/",
            data=json.dumps({"action": "buy", "ticker": "MNQ1!", "id": f"rl-{i}"}),
            content_type="application/json",
        )
        codes.append(response.status_code)
    assert codes == [200] * 5 + [429] * 2, codes
    assert Signal.objects.filter(strategy=strategy).count() == 5


# --- deployment settings ----------------------------------------------------------------------

PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "p" * 20 + "-a-production-secret-key-with-real-entropy-0987654321",
    "FIELD_ENCRYPTION_KEY": "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk=",
    "ALLOWED_HOSTS": "trades.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://trades.example.com",
    "PUBLIC_BASE_URL": "https://trades.example.com",
}


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("JT_TESTING", "SECRET_KEY")}
    env.update(PROD_ENV, JT_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout


# --- Content Security Policy ------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _pages(world) -> list[str]:
    urls = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
    for route in OWNED + USER:
        if route.is_api or "get" not in (route.methods() or ("get",)):
            continue
        urls.append(route.url(_values(world)))
    return urls


def test_every_page_has_a_strict_content_security_policy(alice, sim):
    world = build_world(alice)
    client = Client()
    client.force_login(alice)
    anonymous = Client()
    problems, checked = [], 0
    for url in _pages(world):
        for who, c in (("alice", client), ("anonymous", anonymous)):
            response = c.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            checked += 1
            policy = response.get("Content-Security-Policy", "")
            script_src = re.search(r"script-src([^;]*)", policy)
            if not script_src:
                problems.append(f"{url} ({who}): no script-src in CSP {policy!r}")
            elif "unsafe-inline" in script_src[1] or "unsafe-eval" in script_src[1]:
                problems.append(f"{url} ({who}): CSP allows inline script: {policy!r}")
            html = response.content.decode()
            if INLINE_SCRIPT.search(html):
                problems.append(f"{url} ({who}): inline <script> the CSP would block")
            if INLINE_HANDLER.search(html):
                problems.append(f"{url} ({who}): an inline on…= handler the CSP would block")
    assert checked >= 8, f"only {checked} pages rendered"
    assert not problems, "\n".join(problems)


def test_api_and_error_responses_carry_the_policy_too(alice):
    client = Client()
    client.force_login(alice)
    for url in ("/api/strategies/", "/no-such-page/", "/strategies/999999/"):
        assert "script-src 'self'" in client.get(url).get("Content-Security-Policy", ""), url


# --- secrets at rest --------------------------------------------------------------------------


def _database_dump() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        with sqlite3.connect(db["NAME"]) as raw:
            return "\n".join(raw.iterdump())
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    result = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            db.get("HOST") or "127.0.0.1",
            "-p",
            str(db.get("PORT") or 5432),
            "-U",
            db.get("USER") or "postgres",
            db["NAME"],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_broker_secrets_are_unreadable_in_a_database_dump(alice, sim, api_client_for):
    # Through the product: alice adds a Tradovate login with an API secret.
    requests_ = __import__("requests")
    requests_.post(
        f"{sim.root_url}/sim/users",
        json={
            "name": "alice-td",
            "password": BROKER_PASSWORD,
            "accounts": 1,
            "cid": "77",
            "sec": BROKER_SEC,
        },
        timeout=10,
    ).raise_for_status()
    client = api_client_for(alice)
    response = client.post(
        "/api/accounts/",
        {
            "kind": "tradovate_demo",
            "label": "My demo",
            "username": "alice-td",
            "password": BROKER_PASSWORD,
            "app_id": "JustTrades",
            "cid": "77",
            "sec": BROKER_SEC,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert BROKER_PASSWORD not in response.content.decode()
    detail = client.get(f"/api/accounts/{response.json()['id']}/")
    assert BROKER_PASSWORD not in detail.content.decode()
    assert BROKER_SEC not in detail.content.decode()

    dump = _database_dump()
    assert "alice-td" in dump, "the dump does not hold the connection at all"
    assert BROKER_PASSWORD not in dump
    assert BROKER_SEC not in dump


# --- the API against its own schema -----------------------------------------------------------

from e2e.conftest import LONG  # noqa: E402


@pytest.mark.slow
def test_the_api_never_errors_and_answers_as_documented(sim, settings, asgi_server, alice):
    """schemathesis generates requests for every operation of /api/schema/, sent as alice with
    a real API token over the whole Django stack: no 5xx, and every documented response matches
    its schema and content type. Over real HTTP to the ASGI server on loopback."""
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from rest_framework.authtoken.models import Token
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
    )

    settings.DISCORD_API_URL = "http://127.0.0.1:9/api/v10"  # nothing listens: fails fast
    build_world(alice)
    token = Token.objects.create(user=alice).key
    schema = schemathesis.openapi.from_url(f"{asgi_server.url}/api/schema/")
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=60 if LONG else 5,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=checks)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together below
            text = "\n".join(str(exc).splitlines()[:8])
            failures.append(f"{operation.method.upper()} {operation.path}: {text}")
    assert operations > 30, f"only {operations} operations in the schema"
    assert not failures, f"{len(failures)} of {operations} operations failed:\n" + "\n\n".join(
        failures
    )


def test_the_admin_is_for_staff_only(alice, bob, sim):
    """Admin pages of alice's objects send a logged-in non-staff user to the admin login."""
    world = build_world(alice)
    client = Client()
    client.force_login(bob)
    checked = 0
    for obj in world.objects.values():
        meta = type(obj)._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/"
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        assert "/admin/login/" in response["Location"], (url, response["Location"])
        assert not _leaks(response, world.markers)
        checked += 1
    assert checked == len(world.objects)
