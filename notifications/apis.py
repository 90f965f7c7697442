"""Settings API for notifications: switches, Discord link state, test DM, browser push."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from justtrades.api import ApplicationError, LocalTimeField
from notifications import messages as msg
from notifications import selectors, services
from notifications.models import Notification


# --- output -----------------------------------------------------------------------------------
class NotificationOutputSerializer(serializers.ModelSerializer):
    title = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "channel",
            "kind",
            "title",
            "status",
            "attempts",
            "error",
            "created_at",
            "sent_at",
        ]


class KindSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    enabled = serializers.BooleanField()


class DiscordStateSerializer(serializers.Serializer):
    linked = serializers.BooleanField()
    username = serializers.CharField(allow_blank=True)
    uid = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    blocked = serializers.BooleanField(help_text="Discord refused DMs; fixed by a test DM")
    error = serializers.CharField(allow_blank=True)
    error_at = serializers.DateTimeField(allow_null=True)
    bot_configured = serializers.BooleanField()
    oauth_configured = serializers.BooleanField()
    link_url = serializers.CharField()


class PushStateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    subscriptions = serializers.IntegerField()
    vapid_public_key = serializers.CharField()


class SettingsOutputSerializer(serializers.Serializer):
    discord = DiscordStateSerializer()
    push = PushStateSerializer()
    kinds = KindSerializer(many=True)
    include_paper = serializers.BooleanField()
    daily_summary_time = serializers.RegexField(
        r"^\d{2}:\d{2}$", help_text="HH:MM, in the user's time zone"
    )
    timezone = serializers.CharField()
    recent = NotificationOutputSerializer(many=True)


def _hhmm(value) -> str:
    if isinstance(value, str):  # a default not yet read back from the database
        return value[:5]
    return value.strftime("%H:%M")


def settings_state(user) -> dict:
    from notifications.push import vapid_public_key

    pref = selectors.notification_preference_get(user=user)
    account = selectors.discord_account_get(user=user)
    return {
        "discord": {
            "linked": account is not None,
            "username": selectors.discord_display_name(account),
            "uid": account.uid if account else "",
            "enabled": pref.discord_enabled,
            "blocked": pref.discord_blocked,
            "error": pref.discord_error,
            "error_at": pref.discord_error_at,
            "bot_configured": selectors.discord_bot_configured(),
            "oauth_configured": selectors.discord_oauth_configured(),
            "link_url": "/accounts/discord/login/?process=connect&next=/settings/",
        },
        "push": {
            "enabled": pref.push_enabled,
            "subscriptions": selectors.push_subscription_list(user=user).count(),
            "vapid_public_key": vapid_public_key(),
        },
        "kinds": [
            {"kind": kind, "label": label, "enabled": getattr(pref, switch)}
            for kind, (switch, label) in msg.KINDS.items()
        ],
        "include_paper": pref.include_paper,
        "daily_summary_time": _hhmm(pref.daily_summary_time),
        "timezone": user.timezone,
        "recent": list(selectors.notification_list(user=user)[:10]),
    }


def settings_response(user, code: int = status.HTTP_200_OK) -> Response:
    return Response(SettingsOutputSerializer(settings_state(user)).data, status=code)


# --- views ------------------------------------------------------------------------------------
class SettingsApi(APIView):
    class SettingsInputSerializer(serializers.Serializer):
        discord_enabled = serializers.BooleanField(required=False)
        push_enabled = serializers.BooleanField(required=False)
        include_paper = serializers.BooleanField(required=False)
        daily_summary_time = LocalTimeField(required=False)
        kinds = serializers.DictField(
            child=serializers.BooleanField(),
            required=False,
            help_text='kind → on/off, e.g. {"stop_hit": false}',
        )

        def validate_kinds(self, value):
            unknown = set(value) - set(msg.KINDS)
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown kind(s) {', '.join(sorted(unknown))}; known: {', '.join(msg.KINDS)}."
                )
            return value

    @extend_schema(responses=SettingsOutputSerializer)
    def get(self, request):
        return settings_response(request.user)

    @extend_schema(request=SettingsInputSerializer, responses=SettingsOutputSerializer)
    def put(self, request):
        serializer = self.SettingsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        changes = {msg.KINDS[k][0]: v for k, v in data.pop("kinds", {}).items()}
        changes.update(data)
        services.notification_preferences_update(user=request.user, **changes)
        return settings_response(request.user)

    @extend_schema(request=SettingsInputSerializer, responses=SettingsOutputSerializer)
    def patch(self, request):
        return self.put(request)


class NotificationToggleInputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, help_text="omit to flip the switch")


class DiscordToggleApi(APIView):
    @extend_schema(request=NotificationToggleInputSerializer, responses=SettingsOutputSerializer)
    def post(self, request):
        serializer = NotificationToggleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.discord_toggle(user=request.user, enabled=serializer.validated_data.get("enabled"))
        return settings_response(request.user)


class DiscordUnlinkApi(APIView):
    @extend_schema(request=None, responses=SettingsOutputSerializer)
    def post(self, request):
        services.discord_unlink(user=request.user)
        return settings_response(request.user)


class PushToggleApi(APIView):
    @extend_schema(request=NotificationToggleInputSerializer, responses=SettingsOutputSerializer)
    def post(self, request):
        serializer = NotificationToggleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.push_toggle(user=request.user, enabled=serializer.validated_data.get("enabled"))
        return settings_response(request.user)


class TestDmApi(APIView):
    @extend_schema(request=None, responses={202: NotificationOutputSerializer})
    def post(self, request):
        notification = services.notification_send_test_dm(user=request.user)
        return Response(
            NotificationOutputSerializer(notification).data, status=status.HTTP_202_ACCEPTED
        )


class PushSubscriptionApi(APIView):
    class PushSubscriptionInputSerializer(serializers.Serializer):
        endpoint = serializers.URLField(max_length=500)
        keys = serializers.DictField(child=serializers.CharField(max_length=200))

        def validate_keys(self, value):
            if not value.get("p256dh") or not value.get("auth"):
                raise serializers.ValidationError("keys.p256dh and keys.auth are required.")
            if len(value["auth"]) > 100:
                raise serializers.ValidationError("keys.auth is too long for a push key.")
            return value

    class PushUnsubscribeInputSerializer(serializers.Serializer):
        endpoint = serializers.URLField(max_length=500)

    @extend_schema(
        request=PushSubscriptionInputSerializer, responses={201: SettingsOutputSerializer}
    )
    def post(self, request):
        serializer = self.PushSubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        keys = serializer.validated_data["keys"]
        services.push_subscription_save(
            user=request.user,
            endpoint=serializer.validated_data["endpoint"],
            p256dh=keys["p256dh"],
            auth=keys["auth"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return settings_response(request.user, status.HTTP_201_CREATED)

    @extend_schema(request=PushUnsubscribeInputSerializer, responses=SettingsOutputSerializer)
    def delete(self, request):
        serializer = self.PushUnsubscribeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not services.push_subscription_delete(
            user=request.user, endpoint=serializer.validated_data["endpoint"]
        ):
            raise ApplicationError("No such push subscription.", status_code=404)
        return settings_response(request.user)


class NotificationFilterSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Notification.Channel.choices, required=False)
    status = serializers.ChoiceField(choices=Notification.Status.choices, required=False)


@extend_schema(parameters=[NotificationFilterSerializer])
class NotificationListApi(ListAPIView):
    """The user's notifications, newest first (what was sent, failed or skipped, and why)."""

    serializer_class = NotificationOutputSerializer

    def get_queryset(self):
        filters = NotificationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.notification_list(user=self.request.user, **filters.validated_data)


class NotificationDetailApi(APIView):
    @extend_schema(responses=NotificationOutputSerializer)
    def get(self, request, notification_id: int):
        notification = selectors.notification_get(
            user=request.user, notification_id=notification_id
        )
        if notification is None:
            raise Http404
        return Response(NotificationOutputSerializer(notification).data)
