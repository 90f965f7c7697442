"""Settings API for notifications: switches, Discord link state, test DM, browser push."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.user_services import user_profile_change
from justtrades.api import ApplicationError, LocalTimeField
from notifications import messages as msg
from notifications import selectors, services
from notifications.models import Notification
from notifications.push import vapid_public_key


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
    group = serializers.CharField()
    discord = serializers.BooleanField(help_text="sent as a Discord DM")
    push = serializers.BooleanField(help_text="sent as a browser / phone push")


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


class PushSubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device = serializers.CharField(help_text="browser and system, from its user agent")
    endpoint_host = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_error = serializers.CharField(allow_blank=True)


class PushStateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    subscriptions = serializers.IntegerField()
    vapid_public_key = serializers.CharField()
    devices = PushSubscriptionOutputSerializer(many=True)


class WeeklySummarySerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="0 = Monday … 6 = Sunday")
    time = serializers.RegexField(r"^\d{2}:\d{2}$", help_text="HH:MM, in the user's time zone")


class SettingsOutputSerializer(serializers.Serializer):
    discord = DiscordStateSerializer()
    push = PushStateSerializer()
    kinds = KindSerializer(many=True)
    include_paper = serializers.BooleanField()
    daily_summary_time = serializers.RegexField(
        r"^\d{2}:\d{2}$", help_text="HH:MM, in the user's time zone"
    )
    weekly_summary = WeeklySummarySerializer()
    username = serializers.CharField()
    timezone = serializers.CharField()
    recent = NotificationOutputSerializer(many=True)


def _hhmm(value) -> str:
    if isinstance(value, str):  # a default not yet read back from the database
        return value[:5]
    return value.strftime("%H:%M")


def settings_state(user) -> dict:

    pref = selectors.notification_preference_get(user=user)
    account = selectors.discord_account_get(user=user)
    devices = [push_device(sub) for sub in selectors.push_subscription_list(user=user)]
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
            "subscriptions": len(devices),
            "vapid_public_key": vapid_public_key(),
            "devices": devices,
        },
        "kinds": [
            {
                "kind": kind,
                "label": spec.label,
                "group": spec.group,
                "discord": pref.wants(kind, "discord"),
                "push": pref.wants(kind, "push"),
            }
            for kind, spec in msg.KINDS.items()
        ],
        "include_paper": pref.include_paper,
        "daily_summary_time": _hhmm(pref.daily_summary_time),
        "weekly_summary": {
            "weekday": pref.weekly_summary_weekday,
            "time": _hhmm(pref.weekly_summary_time),
        },
        "username": user.username,
        "timezone": user.timezone,
        "recent": list(selectors.notification_list(user=user)[:10]),
    }


def push_device(sub) -> dict:
    from urllib.parse import urlsplit

    return {
        "id": sub.pk,
        "device": selectors.device_label(sub.user_agent),
        "endpoint_host": urlsplit(sub.endpoint).hostname or "",
        "created_at": sub.created_at,
        "last_error": sub.last_error,
    }


def settings_response(user, code: int = status.HTTP_200_OK) -> Response:
    return Response(SettingsOutputSerializer(settings_state(user)).data, status=code)


# --- views ------------------------------------------------------------------------------------
class KindSwitchInputSerializer(serializers.Serializer):
    discord = serializers.BooleanField(required=False)
    push = serializers.BooleanField(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict) and set(data) - set(msg.CHANNELS):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Channels are {' and '.join(msg.CHANNELS)}."]}
            )
        return super().to_internal_value(data)


class SettingsApi(APIView):
    """The user's notification settings (each kind on or off per channel), summaries, username
    and time zone. ``PUT`` and ``PATCH`` both change only the fields given."""

    class SettingsInputSerializer(serializers.Serializer):
        discord_enabled = serializers.BooleanField(required=False)
        push_enabled = serializers.BooleanField(required=False)
        include_paper = serializers.BooleanField(required=False)
        daily_summary_time = LocalTimeField(required=False)
        weekly_summary_weekday = serializers.IntegerField(
            required=False, min_value=0, max_value=6, help_text="0 = Monday … 6 = Sunday"
        )
        weekly_summary_time = LocalTimeField(required=False)
        username = serializers.CharField(required=False, max_length=150)
        timezone = serializers.CharField(required=False, max_length=64)
        kinds = serializers.DictField(
            child=KindSwitchInputSerializer(),
            required=False,
            help_text='kind → channels, e.g. {"stop_hit": {"discord": false, "push": true}}',
        )

        def validate_kinds(self, value):
            unknown = set(value) - set(msg.KINDS)
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown kind(s) {', '.join(sorted(unknown))}; known: {', '.join(msg.KINDS)}."
                )
            return value

        def validate_username(self, value):
            if not value.strip():
                raise serializers.ValidationError("Username cannot be empty.")
            return value

    @extend_schema(responses=SettingsOutputSerializer)
    def get(self, request):
        return settings_response(request.user)

    @extend_schema(request=SettingsInputSerializer, responses=SettingsOutputSerializer)
    def put(self, request):
        serializer = self.SettingsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        profile = {k: data.pop(k) for k in ("username", "timezone") if k in data}
        with transaction.atomic():
            if profile:
                user_profile_change(user=request.user, **profile)
            services.notification_preferences_update(user=request.user, **data)
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

    @extend_schema(responses=PushSubscriptionOutputSerializer(many=True))
    def get(self, request):
        """This user's devices that receive push notifications (not paginated: a handful)."""
        subs = selectors.push_subscription_list(user=request.user)
        return Response(
            PushSubscriptionOutputSerializer([push_device(s) for s in subs], many=True).data
        )

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


class PushSubscriptionDetailApi(APIView):
    @extend_schema(
        request=None, responses=SettingsOutputSerializer, operation_id="push_device_destroy"
    )
    def delete(self, request, subscription_id: int):
        """Forget one device (from Settings, e.g. a lost phone)."""
        if not 0 < subscription_id <= selectors.MAX_ID or not services.push_subscription_delete(
            user=request.user, subscription_id=subscription_id
        ):
            raise Http404
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
