"""The Settings API: switches, Discord state, test DM, push subscriptions, ownership."""

from __future__ import annotations

import pytest

from notifications import messages as msg
from notifications.models import Notification, NotificationPreference, PushSubscription
from notifications.tests.factories import PushSubscriptionFactory

pytestmark = pytest.mark.django_db

ENDPOINT = "https://push.example.net/send/abc123"
KEYS = {
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


@pytest.fixture
def alice_api(alice, api_client_for):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob, api_client_for):
    return api_client_for(bob)


def test_settings_exist_for_every_user_with_safe_defaults(alice_api, alice):
    assert not NotificationPreference.objects.filter(user=alice).exists()
    data = alice_api.get("/api/settings/").json()
    assert NotificationPreference.objects.filter(user=alice).count() == 1
    assert data["discord"]["linked"] is False
    assert data["discord"]["enabled"] is True
    assert data["push"]["enabled"] is False
    assert len(data["push"]["vapid_public_key"]) == 87  # base64url of a 65-byte P-256 point
    kinds = {k["kind"]: (k["discord"], k["push"]) for k in data["kinds"]}
    assert list(kinds) == list(msg.KINDS)
    for kind in (
        "position_opened", "position_closed", "target_hit", "stop_hit", "order_failed",
        "protection_lost", "alert_rejected", "signal_dropped", "drift", "daily_loss_limit",
        "daily_profit_target", "trading_paused", "broker_login_failed",
        "account_refresh_failed", "recorder_account_unreadable", "daily_summary",
    ):  # fmt: skip
        assert kinds[kind] == (True, True), kind
    assert kinds["weekly_summary"] == (False, False)  # opt-in
    assert data["weekly_summary"] == {"weekday": 4, "time": "17:00"}
    assert (data["username"], data["timezone"]) == ("alice", "UTC")
    assert data["daily_summary_time"] == "17:00"


def test_kinds_and_the_summary_time_are_saved(alice_api, alice):
    response = alice_api.put(
        "/api/settings/",
        {
            "kinds": {"stop_hit": {"discord": False}, "drift": {"discord": False, "push": False}},
            "daily_summary_time": "16:15",
            "include_paper": False,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    pref = NotificationPreference.objects.get(user=alice)
    assert not pref.wants("stop_hit", "discord") and pref.wants("stop_hit", "push")
    assert not pref.wants("drift", "discord") and not pref.wants("drift", "push")
    assert pref.wants("target_hit", "discord")
    row = next(k for k in response.json()["kinds"] if k["kind"] == "stop_hit")
    assert (row["discord"], row["push"]) == (False, True)
    assert pref.daily_summary_time.strftime("%H:%M") == "16:15"
    assert pref.include_paper is False
    assert response.json()["daily_summary_time"] == "16:15"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kinds": {"moon_landing": {"discord": True}}}, "kinds"),
        ({"kinds": {"stop_hit": {"pigeon": True}}}, "kinds"),
        ({"kinds": {"stop_hit": True}}, "kinds"),
        ({"weekly_summary_weekday": 7}, "weekly_summary_weekday"),
        ({"weekly_summary_time": "7pm"}, "weekly_summary_time"),
        ({"username": "   "}, "username"),
        ({"timezone": ["UTC"]}, "timezone"),
        ({"daily_summary_time": "25:99"}, "daily_summary_time"),
        ({"discord_enabled": "perhaps"}, "discord_enabled"),
    ],
)
def test_bad_settings_are_a_clear_400(alice_api, body, field):
    response = alice_api.put("/api/settings/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_the_discord_switch_toggles_and_can_be_set(alice_api, alice):
    assert alice_api.post("/api/settings/discord-toggle/").json()["discord"]["enabled"] is False
    assert alice_api.post("/api/settings/discord-toggle/").json()["discord"]["enabled"] is True
    response = alice_api.post("/api/settings/discord-toggle/", {"enabled": False}, format="json")
    assert response.json()["discord"]["enabled"] is False
    assert NotificationPreference.objects.get(user=alice).discord_enabled is False


def test_the_push_switch_toggles(alice_api, alice):
    assert alice_api.post("/api/profiles/toggle-push-notification/").json()["push"]["enabled"]
    assert NotificationPreference.objects.get(user=alice).push_enabled is True


def test_the_linked_discord_name_is_shown_and_can_be_unlinked(alice_api, alice, link_discord):
    link_discord(alice, "777", username="alice_trades")
    state = alice_api.get("/api/settings/").json()["discord"]
    assert (state["linked"], state["username"], state["uid"]) == (True, "Alice_Trades", "777")
    state = alice_api.post("/api/settings/discord-unlink/").json()["discord"]
    assert state["linked"] is False
    assert not alice.socialaccount_set.exists()


def test_a_test_dm_needs_a_linked_account(alice_api, settings):
    settings.DISCORD_BOT_TOKEN = "configured"
    response = alice_api.post("/api/settings/test-dm/")
    assert response.status_code == 400
    assert response.json()["message"] == "Link your Discord account first."


def test_a_test_dm_needs_a_bot_on_the_server(alice_api, alice, link_discord, settings):
    settings.DISCORD_BOT_TOKEN = ""
    link_discord(alice, "777")
    response = alice_api.post("/api/settings/test-dm/")
    assert response.status_code == 400
    assert "not configured" in response.json()["message"]


def test_a_test_dm_is_queued_for_delivery(alice_api, alice, link_discord, settings):
    settings.DISCORD_BOT_TOKEN = "configured"
    link_discord(alice, "777")
    response = alice_api.post("/api/settings/test-dm/")
    assert response.status_code == 202
    n = Notification.objects.get(pk=response.json()["id"])
    assert (n.user, n.kind, n.channel, n.status) == (alice, "test", "discord", "pending")


def test_a_browser_subscribes_and_unsubscribes_for_push(alice_api, alice):
    response = alice_api.post(
        "/api/push/subscriptions/", {"endpoint": ENDPOINT, "keys": KEYS}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["push"] == {
        **response.json()["push"],
        "enabled": True,
        "subscriptions": 1,
    }
    # The same browser subscribing again updates its keys instead of adding a second row.
    alice_api.post("/api/push/subscriptions/", {"endpoint": ENDPOINT, "keys": KEYS}, format="json")
    assert PushSubscription.objects.filter(user=alice).count() == 1
    response = alice_api.delete("/api/push/subscriptions/", {"endpoint": ENDPOINT}, format="json")
    assert response.status_code == 200
    assert not PushSubscription.objects.exists()


def test_a_push_subscription_without_keys_is_refused(alice_api):
    response = alice_api.post(
        "/api/push/subscriptions/", {"endpoint": ENDPOINT, "keys": {}}, format="json"
    )
    assert response.status_code == 400


def test_bob_gets_404_on_alices_notification_and_never_sees_her_list(alice, bob_api, alice_api):
    n = Notification.objects.create(
        user=alice,
        channel="discord",
        kind="drift",
        dedupe_key="drift:1",
        payload={"title": "Drift"},
    )
    assert alice_api.get(f"/api/notifications/{n.pk}/").json()["title"] == "Drift"
    assert bob_api.get(f"/api/notifications/{n.pk}/").status_code == 404
    assert bob_api.get("/api/notifications/").json()["results"] == []
    assert bob_api.get("/api/settings/").json()["recent"] == []


def test_bob_cannot_remove_alices_push_subscription(alice, alice_api, bob_api):
    alice_api.post("/api/push/subscriptions/", {"endpoint": ENDPOINT, "keys": KEYS}, format="json")
    response = bob_api.delete("/api/push/subscriptions/", {"endpoint": ENDPOINT}, format="json")
    assert response.status_code == 404
    assert PushSubscription.objects.filter(user=alice).exists()


def test_the_notification_list_filters_by_status(alice, alice_api):
    for i, status in enumerate(["sent", "failed", "sent"]):
        Notification.objects.create(
            user=alice, channel="discord", kind="drift", dedupe_key=f"k{i}", status=status
        )
    data = alice_api.get("/api/notifications/?status=failed").json()
    assert [n["status"] for n in data["results"]] == ["failed"]


def test_the_api_needs_a_login(client):
    assert client.get("/api/settings/").status_code in (401, 403)
    assert client.post("/api/settings/test-dm/").status_code in (401, 403)


def test_the_api_checks_csrf_for_browser_sessions(alice, api_client_for):
    client = api_client_for(alice, enforce_csrf=True)
    assert client.post("/api/settings/discord-toggle/").status_code == 403


def test_the_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert response["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in response.content


def test_the_settings_page_shows_the_notifications_panel(alice_client):
    response = alice_client.get("/settings/")
    assert response.status_code == 200
    assert b'id="notifications-panel"' in response.content
    assert b"js/notifications.js" in response.content


def test_the_discord_callback_alias_without_an_oauth_app_explains_itself(alice_client):
    response = alice_client.get("/oauth/discord/callback/?code=x&state=y", follow=True)
    assert response.redirect_chain[0][0] == "/settings/"
    assert b"Discord linking is not configured" in response.content


def test_the_discord_callback_alias_is_allauths_callback(alice_client):
    from allauth.socialaccount.models import SocialApp
    from django.contrib.sites.models import Site

    app = SocialApp.objects.create(provider="discord", name="Discord", client_id="1", secret="s")
    app.sites.add(Site.objects.get_current())
    # A callback without a matching login state is refused by allauth's own error page.
    response = alice_client.get("/oauth/discord/callback/?code=x&state=forged")
    assert response.status_code == 401
    assert b"Third-Party Login Failure" in response.content


def test_an_impossible_notification_id_is_a_404(alice_api):
    assert alice_api.get(f"/api/notifications/{10**30}/").status_code == 404


def test_a_push_endpoint_must_be_https(alice_api):
    response = alice_api.post(
        "/api/push/subscriptions/",
        {"endpoint": "http://push.example.net/x", "keys": KEYS},
        format="json",
    )
    assert response.status_code == 400
    assert "https" in response.json()["message"]


def test_each_device_is_listed_and_removable_by_id(alice, alice_api, bob_api):
    phone = PushSubscriptionFactory(
        user=alice,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 "
        "Mobile/15E148 Safari/604.1",
        endpoint="https://web.push.apple.com/QGuW",
    )
    laptop = PushSubscriptionFactory(user=alice)
    devices = alice_api.get("/api/push/subscriptions/").json()
    assert [(d["id"], d["device"], d["endpoint_host"]) for d in devices] == [
        (phone.pk, "Safari on iPhone", "web.push.apple.com"),
        (laptop.pk, "Chrome on Linux", "push.example.net"),
    ]
    assert alice_api.get("/api/settings/").json()["push"]["subscriptions"] == 2

    assert bob_api.get("/api/push/subscriptions/").json() == []
    assert bob_api.delete(f"/api/push/subscriptions/{phone.pk}/").status_code == 404
    assert PushSubscription.objects.filter(pk=phone.pk).exists()

    response = alice_api.delete(f"/api/push/subscriptions/{phone.pk}/")
    assert response.status_code == 200
    assert [d["id"] for d in response.json()["push"]["devices"]] == [laptop.pk]
    assert alice_api.delete(f"/api/push/subscriptions/{phone.pk}/").status_code == 404
    assert alice_api.delete(f"/api/push/subscriptions/{10**30}/").status_code == 404


def test_username_time_zone_and_the_weekly_summary_are_settings(alice, alice_api, bob):
    response = alice_api.patch(
        "/api/settings/",
        {
            "username": "alice_t",
            "timezone": "America/Chicago",
            "weekly_summary_weekday": 6,
            "weekly_summary_time": "09:30",
            "kinds": {"weekly_summary": {"discord": True}},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["username"], body["timezone"]) == ("alice_t", "America/Chicago")
    assert body["weekly_summary"] == {"weekday": 6, "time": "09:30"}
    alice.refresh_from_db()
    assert (alice.username, alice.timezone) == ("alice_t", "America/Chicago")


@pytest.mark.parametrize(
    "body, message",
    [
        ({"username": "bob"}, "That username is taken."),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone"),
    ],
)
def test_a_taken_username_or_unknown_zone_is_a_clear_400_and_changes_nothing(
    alice, bob, alice_api, body, message
):
    response = alice_api.patch("/api/settings/", {**body, "include_paper": False}, format="json")
    assert response.status_code == 400
    assert message in response.json()["message"]
    alice.refresh_from_db()
    assert (alice.username, alice.timezone) == ("alice", "UTC")
    assert NotificationPreference.objects.filter(user=alice, include_paper=False).count() == 0
