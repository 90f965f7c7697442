"""The user's path through sign-up, login, password change, logout and deletion."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.tests.factories import PASSWORD, UserFactory

User = get_user_model()


def _signup(client, username="carol", email="carol@example.com", password="S0me-long-passphrase"):
    return client.post(
        reverse("account_signup"),
        {"username": username, "email": email, "password1": password, "password2": password},
    )


@pytest.mark.django_db
def test_a_visitor_signs_up_logs_in_changes_password_logs_out_and_deletes_the_account(client):
    response = _signup(client)
    assert response.status_code == 302
    user = User.objects.get(username="carol")
    client.post(reverse("account_logout"))

    # Login by email works as well as by username.
    response = client.post(
        reverse("account_login"), {"login": "carol@example.com", "password": "S0me-long-passphrase"}
    )
    assert response.status_code == 302
    assert client.get(reverse("settings")).status_code == 200

    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "S0me-long-passphrase",
            "password1": "An0ther-long-passphrase",
            "password2": "An0ther-long-passphrase",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("An0ther-long-passphrase")

    client.post(reverse("account_logout"))
    assert client.get(reverse("settings")).status_code == 302  # back to login

    response = client.post(
        reverse("account_login"), {"login": "carol", "password": "An0ther-long-passphrase"}
    )
    assert response.status_code == 302

    # A wrong confirmation keeps the account.
    client.post(reverse("settings-delete"), {"confirmation": "not-carol"})
    assert User.objects.filter(username="carol").exists()
    client.post(reverse("settings-delete"), {"confirmation": "carol"})
    assert not User.objects.filter(username="carol").exists()
    assert client.get(reverse("settings")).status_code == 302


@pytest.mark.django_db
def test_a_wrong_password_does_not_log_in(client):
    UserFactory(username="dave")
    response = client.post(reverse("account_login"), {"login": "dave", "password": "nope"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert client.get(reverse("settings")).status_code == 302


@pytest.mark.django_db
def test_repeated_failed_logins_are_rate_limited(client):
    UserFactory(username="erin")
    pages = [
        client.post(
            reverse("account_login"), {"login": "erin", "password": f"bad{i}"}
        ).content.decode()
        for i in range(6)
    ]
    assert "Too many failed login attempts" not in pages[0]
    assert "Too many failed login attempts" in pages[-1]
    # Even the right password is refused while the account is throttled.
    response = client.post(reverse("account_login"), {"login": "erin", "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get(reverse("settings")).status_code == 302


@pytest.mark.django_db
def test_login_page_is_styled_with_the_product_layout(client):
    body = client.get(reverse("account_login")).content.decode()
    assert "css/app.css" in body
    assert "Just.Trades" in body
    assert "Content-Security-Policy" in client.get(reverse("account_login")).headers


@pytest.mark.django_db
def test_profile_changes_are_validated(alice_client, alice):
    alice_client.post(
        reverse("settings-profile"), {"username": "alice2", "timezone": "Europe/Paris"}
    )
    alice.refresh_from_db()
    assert (alice.username, alice.timezone) == ("alice2", "Europe/Paris")
    response = alice_client.post(
        reverse("settings-profile"), {"username": "alice2", "timezone": "Mars/Olympus"}, follow=True
    )
    assert "Unknown time zone" in response.content.decode()
    alice.refresh_from_db()
    assert alice.timezone == "Europe/Paris"


@pytest.mark.django_db
def test_an_api_token_authenticates_scripts(alice_client, alice):
    from django.test import Client

    alice_client.post(reverse("settings-api-token"))
    key = alice.auth_token.key
    script = Client()
    me = script.get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    refused = script.get("/api/me/", HTTP_AUTHORIZATION="Token wrong")
    assert refused.status_code == 401
    assert refused.json()["message"] == "Invalid token."
    # Regenerating revokes the old token.
    alice_client.post(reverse("settings-api-token"))
    assert script.get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


@pytest.mark.django_db
def test_a_forgotten_password_is_reset_through_the_emailed_link(client, mailoutbox):
    import re

    UserFactory(username="frank", email="frank@example.com")
    client.post(reverse("account_reset_password"), {"email": "frank@example.com"})
    assert len(mailoutbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mailoutbox[0].body)
    assert link, mailoutbox[0].body
    form_page = client.get(link.group(1), follow=True)
    set_password_url = (
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    )
    response = client.post(
        set_password_url, {"password1": "Fresh-passphrase-42", "password2": "Fresh-passphrase-42"}
    )
    assert response.status_code == 302
    assert client.login(username="frank", password="Fresh-passphrase-42")


@pytest.mark.django_db
def test_a_user_changes_their_email_address(client):
    user = UserFactory(username="gina", email="gina@example.com")
    client.force_login(user)
    client.post(reverse("account_email"), {"action_add": "", "email": "gina@new.example.com"})
    from allauth.account.models import EmailAddress

    assert EmailAddress.objects.filter(user=user, email="gina@new.example.com").exists()


@pytest.mark.django_db
def test_session_api_writes_need_the_csrf_token(api_client_for, alice):
    client = api_client_for(alice, enforce_csrf=True)
    response = client.post("/api/me/", {})
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
