"""JSON auth for API clients (allauth's headless mode), over real HTTP to the ASGI server.

"app" clients (phone apps, scripts) carry ``X-Session-Token`` and never a cookie or a CSRF
token; "browser" clients (a page of this site) use the session cookie and must send the CSRF
token. The same session token authenticates the REST API.
"""

from __future__ import annotations

import re

import pytest
import requests
from django.core import mail

from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

APP = "/_allauth/app/v1"
BROWSER = "/_allauth/browser/v1"


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", email="carol@example.com")


def app_login(base: str, login: str, password: str) -> requests.Response:
    return requests.post(
        f"{base}{APP}/auth/login", json={"username": login, "password": password}, timeout=10
    )


def test_an_app_logs_in_uses_the_api_and_logs_out(asgi_server, carol):
    base = asgi_server.url
    response = app_login(base, "carol", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    token = body["meta"]["session_token"]
    assert body["data"]["user"]["username"] == "carol"
    assert "sessionid" not in response.cookies  # an app keeps no cookie

    headers = {"X-Session-Token": token}
    session = requests.get(f"{base}{APP}/auth/session", headers=headers, timeout=10)
    assert session.status_code == 200 and session.json()["meta"]["is_authenticated"] is True
    me = requests.get(f"{base}/api/me/", headers=headers, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "carol"
    # A write with the token needs no CSRF token: no cookie can be forged into it.
    write = requests.patch(
        f"{base}/api/settings/", json={"timezone": "Europe/Paris"}, headers=headers, timeout=10
    )
    assert write.status_code == 200, write.text
    assert write.json()["timezone"] == "Europe/Paris"

    out = requests.delete(f"{base}{APP}/auth/session", headers=headers, timeout=10)
    assert out.status_code == 401  # allauth: "no longer authenticated"
    assert requests.get(f"{base}/api/me/", headers=headers, timeout=10).status_code == 401


def test_a_wrong_password_is_a_clear_400(asgi_server, carol):
    response = app_login(asgi_server.url, "carol", "not-the-password")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors and "password" in {e.get("param") for e in errors}, errors
    assert "meta" not in response.json() or "session_token" not in response.json()["meta"]


def _codes(response: requests.Response) -> set[str]:
    return {e.get("code") for e in response.json().get("errors", [])}


def test_failed_logins_are_rate_limited(asgi_server, carol):
    """LOGIN_FAILED_RATE_LIMIT (5 per 5 minutes per account): the sixth wrong password is
    refused before the password is even checked, and so is the right one."""
    answers = [app_login(asgi_server.url, "carol", f"wrong-{i}") for i in range(6)]
    assert [_codes(a) for a in answers[:5]] == [{"username_password_mismatch"}] * 5
    assert answers[5].status_code == 400
    assert _codes(answers[5]) == {"too_many_login_attempts"}
    right = app_login(asgi_server.url, "carol", PASSWORD)
    assert _codes(right) == {"too_many_login_attempts"}
    assert "session_token" not in right.json().get("meta", {})


def test_password_reset_requests_are_rate_limited_with_a_429(asgi_server, carol):
    url = f"{asgi_server.url}{APP}/auth/password/request"
    codes = [
        requests.post(url, json={"email": "carol@example.com"}, timeout=10).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [200] * 5 and codes[5] == 429, codes
    assert len(mail.outbox) == 5


def test_an_app_signs_up_and_is_logged_in(asgi_server):
    from django.contrib.auth import get_user_model

    response = requests.post(
        f"{asgi_server.url}{APP}/auth/signup",
        json={"email": "dave@example.com", "username": "dave", "password": "a-long-Pass-9731"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["session_token"]
    assert get_user_model().objects.filter(username="dave", email="dave@example.com").exists()
    again = requests.post(
        f"{asgi_server.url}{APP}/auth/signup",
        json={"email": "dave@example.com", "username": "dave2", "password": "a-long-Pass-9731"},
        timeout=10,
    )
    assert again.status_code == 400  # one account per email


def test_an_app_changes_its_password(asgi_server, carol):
    base = asgi_server.url
    token = app_login(base, "carol", PASSWORD).json()["meta"]["session_token"]
    headers = {"X-Session-Token": token}
    wrong = requests.post(
        f"{base}{APP}/account/password/change",
        json={"current_password": "nope", "new_password": "An0ther-long-one"},
        headers=headers,
        timeout=10,
    )
    assert wrong.status_code == 400
    right = requests.post(
        f"{base}{APP}/account/password/change",
        json={"current_password": PASSWORD, "new_password": "An0ther-long-one"},
        headers=headers,
        timeout=10,
    )
    assert right.status_code == 200, right.text
    assert app_login(base, "carol", "An0ther-long-one").status_code == 200


def test_a_forgotten_password_is_reset_by_email(asgi_server, carol):
    base = asgi_server.url
    asked = requests.post(
        f"{base}{APP}/auth/password/request", json={"email": "carol@example.com"}, timeout=10
    )
    assert asked.status_code == 200, asked.text
    [email] = mail.outbox
    key = re.search(r"/accounts/password/reset/key/([^/\s]+)/", email.body).group(1)
    bad = requests.post(
        f"{base}{APP}/auth/password/reset",
        json={"key": "forged-key", "password": "Brand-new-pass-77"},
        timeout=10,
    )
    assert bad.status_code == 400
    reset = requests.post(
        f"{base}{APP}/auth/password/reset",
        json={"key": key, "password": "Brand-new-pass-77"},
        timeout=10,
    )
    assert reset.status_code in (200, 401), reset.text  # 401: reset, but not logged in
    assert app_login(base, "carol", "Brand-new-pass-77").status_code == 200
    assert app_login(base, "carol", PASSWORD).status_code == 400


def test_a_browser_client_needs_the_csrf_token(asgi_server, carol):
    base = asgi_server.url
    browser = requests.Session()
    refused = browser.post(
        f"{base}{BROWSER}/auth/login",
        json={"username": "carol", "password": PASSWORD},
        timeout=10,
    )
    assert refused.status_code == 403  # a cookie session without the CSRF token
    browser.get(f"{base}{BROWSER}/auth/session", timeout=10)  # sets the csrftoken cookie
    token = browser.cookies.get("csrftoken")
    assert token
    response = browser.post(
        f"{base}{BROWSER}/auth/login",
        json={"username": "carol", "password": PASSWORD},
        headers={"X-CSRFToken": token, "Referer": base + "/"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert browser.get(f"{base}/api/me/", timeout=10).json()["username"] == "carol"
    # The session cookie alone does not write: the CSRF token is required on every write.
    assert browser.patch(f"{base}/api/settings/", json={}, timeout=10).status_code == 403
