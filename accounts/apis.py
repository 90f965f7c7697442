"""Broker connections API: list/create, read/update/delete, test credentials, refresh balances.

Stored passwords and API secrets are write-only: no response ever contains them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import BrokerAccount, BrokerConnection
from traders import pnl


class BrokerAccountOutput(serializers.ModelSerializer):
    open_pnl = serializers.SerializerMethodField(
        help_text="what the account holds at the last prices (traders.pnl)"
    )

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2))
    def get_open_pnl(self, account) -> str:
        return f"{pnl.account_open_pnl(account):.2f}"

    class Meta:
        model = BrokerAccount
        fields = [
            "id",
            "external_id",
            "name",
            "account_type",
            "active",
            "balance",
            "open_pnl",
            "realized_pnl",
            "net_liq",
            "refreshed_at",
        ]


class ConnectionOutput(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display")
    status_display = serializers.CharField(source="get_status_display")
    has_password = serializers.SerializerMethodField()
    has_sec = serializers.SerializerMethodField()
    accounts = BrokerAccountOutput(many=True)

    class Meta:
        model = BrokerConnection
        fields = [
            "id",
            "kind",
            "kind_display",
            "label",
            "username",
            "app_id",
            "app_version",
            "cid",
            "has_password",
            "has_sec",
            "status",
            "status_display",
            "last_error",
            "last_checked_at",
            "created_at",
            "accounts",
        ]

    def get_has_password(self, obj) -> bool:
        return bool(obj.password_encrypted)

    def get_has_sec(self, obj) -> bool:
        return bool(obj.sec_encrypted)


class ConnectionCreateInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BrokerConnection.Kind.choices)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", write_only=True
    )
    app_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    app_version = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    cid = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    sec = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", write_only=True
    )

    def validate(self, attrs):
        if attrs["kind"] != BrokerConnection.Kind.PAPER:
            missing = [f for f in ("label", "username", "password") if not attrs.get(f)]
            if missing:
                raise serializers.ValidationError(
                    {f: "This field is required for a Tradovate connection." for f in missing}
                )
        return attrs


class ConnectionUpdateInput(serializers.Serializer):
    label = serializers.CharField(max_length=100, required=False)
    username = serializers.CharField(max_length=150, required=False)
    password = serializers.CharField(
        max_length=200, required=False, allow_blank=True, write_only=True
    )
    app_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    app_version = serializers.CharField(max_length=20, required=False, allow_blank=True)
    cid = serializers.CharField(max_length=50, required=False, allow_blank=True)
    sec = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True)


class ConnectionDeleteParams(serializers.Serializer):
    archive = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Archive a connection that has traders or history (the answer to a 409).",
    )


ConnectionDeleteOutput = inline_serializer(
    "ConnectionDeleteOutput",
    fields={
        "result": serializers.ChoiceField(choices=["deleted", "archived"]),
        "connection_id": serializers.IntegerField(),
    },
)
ConnectionInUseOutput = inline_serializer(
    "ConnectionInUseOutput",
    fields={
        "message": serializers.CharField(),
        "extra": inline_serializer(
            "ConnectionInUseExtra",
            fields={
                "code": serializers.ChoiceField(
                    choices=["in_use", "has_history", "holds_position"]
                ),
                "affected": inline_serializer(
                    "ConnectionUsage",
                    fields={
                        "traders": inline_serializer(
                            "ConnectionUsageTrader",
                            fields={
                                "id": serializers.IntegerField(),
                                "strategy": serializers.CharField(),
                                "account": serializers.CharField(),
                                "enabled": serializers.BooleanField(),
                            },
                            many=True,
                        ),
                        "recorders": inline_serializer(
                            "ConnectionUsageRecorder",
                            fields={
                                "id": serializers.IntegerField(),
                                "strategy": serializers.CharField(),
                                "running": serializers.BooleanField(),
                            },
                            many=True,
                        ),
                        "orders": serializers.IntegerField(),
                        "fills": serializers.IntegerField(),
                    },
                ),
            },
        ),
    },
)


class TestConnectionInput(serializers.Serializer):
    connection_id = serializers.IntegerField(required=False)
    kind = serializers.ChoiceField(choices=BrokerConnection.Kind.choices, required=False)
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", write_only=True
    )
    app_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    app_version = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    cid = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    sec = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", write_only=True
    )

    def validate(self, attrs):
        if not attrs.get("connection_id") and not attrs.get("kind"):
            raise serializers.ValidationError({"kind": "Give a kind or a connection_id."})
        return attrs


TestConnectionOutput = inline_serializer(
    "TestConnectionOutput",
    fields={
        "ok": serializers.BooleanField(),
        "message": serializers.CharField(),
        "accounts": inline_serializer(
            "TestConnectionAccount",
            fields={"id": serializers.IntegerField(), "name": serializers.CharField()},
            many=True,
        ),
    },
)


class ConnectionListApi(ListAPIView):
    """``GET``: the user's connections with sub-accounts (paginated). ``POST``: add one."""

    serializer_class = ConnectionOutput

    def get_queryset(self):
        return selectors.connection_list(user=self.request.user)

    @extend_schema(request=ConnectionCreateInput, responses={201: ConnectionOutput})
    def post(self, request):
        data = ConnectionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = services.connection_create(user=request.user, **data.validated_data)
        connection = selectors.connection_get(user=request.user, connection_id=connection.pk)
        return Response(ConnectionOutput(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(APIView):
    serializer_class = ConnectionOutput

    def get(self, request, connection_id: int):
        connection = selectors.connection_get(user=request.user, connection_id=connection_id)
        return Response(ConnectionOutput(connection).data)

    @extend_schema(request=ConnectionUpdateInput, responses={200: ConnectionOutput})
    def put(self, request, connection_id: int):
        connection = selectors.connection_get(user=request.user, connection_id=connection_id)
        data = ConnectionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.connection_update(connection=connection, **data.validated_data)
        connection = selectors.connection_get(user=request.user, connection_id=connection_id)
        return Response(ConnectionOutput(connection).data)

    @extend_schema(request=ConnectionUpdateInput, responses={200: ConnectionOutput})
    def patch(self, request, connection_id: int):
        return self.put(request, connection_id)

    @extend_schema(
        parameters=[ConnectionDeleteParams],
        responses={200: ConnectionDeleteOutput, 409: ConnectionInUseOutput},
        description="An empty connection is deleted. One whose accounts have traders, recorders "
        "or history answers 409 with what would be affected, and is archived (hidden, history "
        "kept) when asked again with `?archive=true`.",
    )
    def delete(self, request, connection_id: int):
        connection = selectors.connection_get(user=request.user, connection_id=connection_id)
        params = ConnectionDeleteParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = services.connection_delete(
            connection=connection, archive=params.validated_data["archive"]
        )
        return Response({"result": result, "connection_id": connection_id})


class ConnectionRefreshApi(APIView):
    @extend_schema(request=None, responses={200: ConnectionOutput})
    def post(self, request, connection_id: int):
        connection = selectors.connection_get(user=request.user, connection_id=connection_id)
        services.connection_refresh(connection=connection)
        connection = selectors.connection_get(user=request.user, connection_id=connection_id)
        return Response(ConnectionOutput(connection).data)


class ConnectionTestApi(APIView):
    """Log in with the given (or a stored connection's) credentials without saving anything.

    200 ``{"ok": true, "accounts": [...]}``; 400 ``{"message", "extra": {"code"}}`` saying
    exactly what went wrong (``bad_credentials``, ``captcha``, ``rate_limited``, ``unreachable``).
    """

    @extend_schema(request=TestConnectionInput, responses={200: TestConnectionOutput})
    def post(self, request):
        data = TestConnectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.connection_test_throttle(user=request.user)
        v = data.validated_data
        if v.get("connection_id"):
            connection = selectors.connection_get(
                user=request.user, connection_id=v["connection_id"]
            )
            overrides = {k: v.get(k, "") for k in ("username", "password", "app_id", "cid", "sec")}
            accounts = services.connection_test_stored(connection=connection, **overrides)
        else:
            accounts = services.connection_test(
                data=services.ConnectionInput(
                    kind=v["kind"],
                    username=v["username"],
                    password=v["password"],
                    app_id=v["app_id"],
                    app_version=v["app_version"],
                    cid=v["cid"],
                    sec=v["sec"],
                )
            )
        names = ", ".join(a.name for a in accounts) or "no accounts"
        return Response(
            {
                "ok": True,
                "message": f"Connected: {len(accounts)} account(s) found ({names}).",
                "accounts": [{"id": a.id, "name": a.name} for a in accounts],
            }
        )


class BrokerAccountListApi(ListAPIView):
    """Every sub-account of the user (for pickers: recorders, traders); ``?active=1``."""

    serializer_class = BrokerAccountOutput

    def get_queryset(self):
        active_only = self.request.query_params.get("active") in ("1", "true")
        return selectors.broker_account_list(user=self.request.user, active_only=active_only)
