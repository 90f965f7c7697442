"""Traders and Control Center API: validate, call a service or selector, serialize."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.brokers.base import BrokerError
from justtrades.api import ApplicationError, LocalTimeField, StandardPagination
from strategies.models import ExitUnit
from traders import events, manual, pnl, selectors, services
from traders.risk import trading_day

# --- serializers -----------------------------------------------------------------------------------


class _Ref(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _AccountRef(_Ref):
    external_id = serializers.IntegerField()


class TraderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    as_of = serializers.FloatField(
        allow_null=True,
        help_text="when this state was read (Unix seconds): keep the latest of each trader",
    )
    strategy = _Ref()
    broker_account = _AccountRef()
    enabled = serializers.BooleanField()
    active = serializers.BooleanField(help_text="enabled and not disabled for the day")
    multiplier = serializers.IntegerField()
    max_contracts = serializers.IntegerField()
    daily_loss_limit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    daily_profit_target = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    take_profit_override = serializers.DecimalField(
        max_digits=12, decimal_places=4, allow_null=True
    )
    take_profit_override_unit = serializers.CharField()
    stop_loss_override = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    stop_loss_override_unit = serializers.CharField()
    session_start = LocalTimeField(allow_null=True)
    session_end = LocalTimeField(allow_null=True)
    session_timezone = serializers.CharField()
    session_days = serializers.ListField(child=serializers.IntegerField())
    disabled_until = serializers.DateField(allow_null=True)
    disabled_reason = serializers.CharField()
    drift = serializers.BooleanField()
    drift_message = serializers.CharField()
    positions = serializers.DictField(child=serializers.IntegerField())
    open_pnl = serializers.DecimalField(max_digits=16, decimal_places=2)
    realized_pnl_today = serializers.DecimalField(max_digits=16, decimal_places=2)
    today_pnl = serializers.DecimalField(max_digits=16, decimal_places=2)
    last_signal_id = serializers.IntegerField(allow_null=True)
    last_signal_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        as_of = self.context.get("as_of")
        return super().to_representation(events.trader_payload(instance, as_of=as_of))


def _read_trader(request, trader_id: int) -> dict:
    """One trader as the API answers it, with when it was read (pages keep the latest read)."""
    as_of = time.time()
    trader = selectors.trader_get(user=request.user, trader_id=trader_id)
    return TraderOutputSerializer(trader, context={"as_of": as_of}).data


# The strategy's choice set (same values as services.EXIT_UNIT_CHOICES): one ExitUnitEnum.
_UNITS = ExitUnit.choices


class TraderInputSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField()
    broker_account_id = serializers.IntegerField()
    enabled = serializers.BooleanField(required=False)
    multiplier = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    max_contracts = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    daily_loss_limit = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True, min_value=Decimal("0.01")
    )
    daily_profit_target = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True, min_value=Decimal("0.01")
    )
    take_profit_override = serializers.DecimalField(
        max_digits=12,
        decimal_places=4,
        required=False,
        allow_null=True,
        min_value=Decimal("0.0001"),
    )
    take_profit_override_unit = serializers.ChoiceField(choices=_UNITS, required=False)
    stop_loss_override = serializers.DecimalField(
        max_digits=12,
        decimal_places=4,
        required=False,
        allow_null=True,
        min_value=Decimal("0.0001"),
    )
    stop_loss_override_unit = serializers.ChoiceField(choices=_UNITS, required=False)
    session_start = LocalTimeField(required=False, allow_null=True)
    session_end = LocalTimeField(required=False, allow_null=True)
    session_timezone = serializers.CharField(required=False, max_length=64)
    session_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, max_length=7
    )


def if_holding_field() -> serializers.ChoiceField:
    """What switching off does to a position or working orders still held (else a 409)."""
    return serializers.ChoiceField(
        choices=services.IF_HOLDING_CHOICES,
        required=False,
        allow_null=True,
        help_text="when switching off while holding a position or working orders: keep "
        "(entries stop; exits, auto-flatten and daily limits still run) or flatten (closed at "
        "the broker). Without it such a switch-off is refused with 409 holds_position.",
    )


class TraderUpdateSerializer(TraderInputSerializer):
    strategy_id = serializers.IntegerField(required=False)
    broker_account_id = serializers.IntegerField(required=False)
    if_holding = if_holding_field()


def _trader_fields(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("strategy_id", "broker_account_id")}


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    trader_id = serializers.IntegerField(allow_null=True)
    broker_account_id = serializers.IntegerField()
    account = serializers.CharField(source="broker_account.name")
    signal_id = serializers.IntegerField(allow_null=True)
    cl_ord_id = serializers.CharField(allow_null=True)
    broker_order_id = serializers.IntegerField(allow_null=True)
    role = serializers.CharField()
    action = serializers.CharField()
    symbol = serializers.CharField()
    quantity = serializers.IntegerField()
    order_type = serializers.CharField()
    price = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    stop_price = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    status = serializers.CharField()
    filled_qty = serializers.IntegerField()
    avg_fill_price = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    reject_reason = serializers.CharField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)


class FillOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField(allow_null=True)
    trader_id = serializers.IntegerField(allow_null=True)
    broker_account_id = serializers.IntegerField()
    account = serializers.CharField(source="broker_account.name")
    action = serializers.CharField()
    symbol = serializers.CharField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=16, decimal_places=6)
    timestamp = serializers.DateTimeField()


class PositionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    broker_account_id = serializers.IntegerField()
    account = serializers.CharField(source="broker_account.name")
    symbol = serializers.CharField()
    net_pos = serializers.IntegerField()
    net_price = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    last_price = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    open_pnl = serializers.SerializerMethodField(help_text="null until a price is known")
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True))
    def get_open_pnl(self, position) -> str | None:
        value = pnl.position_open_pnl(position)
        return None if value is None else f"{value:.2f}"


class LogOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    message = serializers.CharField()
    strategy_id = serializers.IntegerField(allow_null=True)
    strategy = serializers.CharField(source="strategy.name", allow_null=True, default=None)
    trader_id = serializers.IntegerField(allow_null=True)
    account = serializers.SerializerMethodField()
    signal_id = serializers.IntegerField(allow_null=True)
    data = serializers.JSONField()
    created_at = serializers.DateTimeField()

    def get_account(self, obj) -> str | None:
        return obj.trader.broker_account.name if obj.trader_id else None


class _PaginatedListApi(GenericAPIView):
    """A GET that answers one page of `serializer_class`; the schema shows the page envelope."""

    pagination_class = StandardPagination

    def _page(self, queryset):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# --- traders ---------------------------------------------------------------------------------------


class TraderListApi(_PaginatedListApi):
    serializer_class = TraderOutputSerializer

    @extend_schema(responses=TraderOutputSerializer(many=True))
    def get(self, request):
        self.as_of = time.time()
        return self._page(selectors.trader_list(user=request.user))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "as_of": getattr(self, "as_of", None)}

    @extend_schema(request=TraderInputSerializer, responses={201: TraderOutputSerializer})
    def post(self, request):
        s = TraderInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        trader = services.trader_create(
            user=request.user,
            strategy=selectors.strategy_get(
                user=request.user, strategy_id=s.validated_data["strategy_id"]
            ),
            broker_account=selectors.broker_account_get(
                user=request.user, account_id=s.validated_data["broker_account_id"]
            ),
            **_trader_fields(s.validated_data),
        )
        return Response(_read_trader(request, trader.pk), status=status.HTTP_201_CREATED)


class TraderDetailApi(APIView):
    @extend_schema(responses=TraderOutputSerializer)
    def get(self, request, trader_id: int):
        return Response(_read_trader(request, trader_id))

    @extend_schema(request=TraderUpdateSerializer, responses=TraderOutputSerializer)
    def put(self, request, trader_id: int):
        trader = selectors.trader_get(user=request.user, trader_id=trader_id)
        s = TraderUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        strategy = account = None
        if "strategy_id" in data:
            strategy = selectors.strategy_get(user=request.user, strategy_id=data["strategy_id"])
        if "broker_account_id" in data:
            account = selectors.broker_account_get(
                user=request.user, account_id=data["broker_account_id"]
            )
        services.trader_update(
            trader=trader, strategy=strategy, broker_account=account, **_trader_fields(data)
        )
        return Response(_read_trader(request, trader_id))

    @extend_schema(request=TraderUpdateSerializer, responses=TraderOutputSerializer)
    def patch(self, request, trader_id: int):
        return self.put(request, trader_id)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "flatten",
                bool,
                description="close the trader's position and working orders first",
            )
        ],
        responses={204: None},
    )
    def delete(self, request, trader_id: int):
        trader = selectors.trader_get(user=request.user, trader_id=trader_id)
        flatten = str(request.query_params.get("flatten", "")).lower() in ("1", "true", "yes")
        services.trader_delete(trader=trader, flatten=flatten)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ToggleInputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    if_holding = if_holding_field()


class TraderToggleApi(APIView):
    @extend_schema(request=ToggleInputSerializer, responses=TraderOutputSerializer)
    def post(self, request, trader_id: int):
        trader = selectors.trader_get(user=request.user, trader_id=trader_id)
        s = ToggleInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        services.trader_toggle(
            trader=trader,
            enabled=s.validated_data["enabled"],
            if_holding=s.validated_data.get("if_holding"),
        )
        return Response(_read_trader(request, trader_id))


class TraderAcceptPositionApi(APIView):
    """Clear a drift by taking the broker's position as the trader's."""

    @extend_schema(request=None, responses=TraderOutputSerializer)
    def post(self, request, trader_id: int):
        trader = selectors.trader_get(user=request.user, trader_id=trader_id)
        try:
            services.trader_accept_broker_position(trader=trader)
        except BrokerError as exc:
            raise ApplicationError(f"The broker did not answer: {exc}", status_code=409) from exc
        return Response(_read_trader(request, trader_id))


# --- control center ----------------------------------------------------------------------------------


class ControlCenterApi(APIView):
    """Everything the control center draws: traders with live P&L, open positions, totals."""

    @extend_schema(
        responses=inline_serializer(
            "ControlCenter",
            {
                "as_of": serializers.FloatField(
                    help_text="when this state was read (Unix seconds): live events read "
                    "earlier are older than it"
                ),
                "trading_day": serializers.DateField(),
                "traders": TraderOutputSerializer(many=True),
                "positions": PositionOutputSerializer(many=True),
                "totals": inline_serializer(
                    "ControlCenterTotals",
                    {
                        "open_pnl": serializers.DecimalField(max_digits=16, decimal_places=2),
                        "today_pnl": serializers.DecimalField(max_digits=16, decimal_places=2),
                        "enabled_traders": serializers.IntegerField(),
                        "drifting_traders": serializers.IntegerField(),
                    },
                ),
            },
        )
    )
    def get(self, request):
        as_of = time.time()
        traders = list(selectors.trader_list(user=request.user))
        positions = selectors.position_list(user=request.user, open_only=True)
        totals = selectors.accounts_pnl_total(user=request.user)
        return Response(
            {
                "as_of": as_of,
                "trading_day": trading_day(timezone.now()),
                "traders": TraderOutputSerializer(
                    traders, many=True, context={"as_of": as_of}
                ).data,
                "positions": PositionOutputSerializer(positions, many=True).data,
                "totals": {
                    "open_pnl": f"{totals.open_pnl:.2f}",
                    "today_pnl": f"{totals.today:.2f}",
                    "enabled_traders": sum(1 for t in traders if t.enabled),
                    "drifting_traders": sum(1 for t in traders if t.drift),
                },
            }
        )


class ManualTradeInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["buy", "sell", "close"])
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=1)
    strategy_id = serializers.IntegerField(required=False, allow_null=True)
    symbol = serializers.CharField(required=False, allow_blank=True, max_length=40)
    broker_account_id = serializers.IntegerField(required=False, allow_null=True)
    request_id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{6,40}$",
        required=False,
        help_text="a fresh id per button press (idempotency)",
    )

    def validate(self, attrs):
        if attrs.get("strategy_id"):
            return attrs
        missing = {}  # each missing field named, so the form can mark it
        if not attrs.get("symbol"):
            missing["symbol"] = "Give a ticker, or choose a strategy."
        if not attrs.get("broker_account_id"):
            missing["broker_account_id"] = "Choose an account, or a strategy."
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class ManualTradeApi(APIView):
    @extend_schema(
        request=ManualTradeInputSerializer,
        responses=inline_serializer(
            "ManualTradeResult", {"results": serializers.ListField(child=serializers.DictField())}
        ),
    )
    def post(self, request):
        s = ManualTradeInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        strategy = account = None
        if data.get("strategy_id"):
            strategy = selectors.strategy_get(user=request.user, strategy_id=data["strategy_id"])
        else:
            account = selectors.broker_account_get(
                user=request.user, account_id=data["broker_account_id"]
            )
        result = manual.manual_trade(
            user=request.user,
            action=data["action"],
            quantity=data.get("quantity") or 1,
            strategy=strategy,
            symbol=data.get("symbol"),
            broker_account=account,
            request_id=data.get("request_id"),
        )
        return Response(result)


class TraderCloseApi(APIView):
    @extend_schema(
        request=None,
        responses=inline_serializer(
            "TraderCloseResult",
            {
                "closed": serializers.ListField(child=serializers.CharField()),
                "trader": TraderOutputSerializer(),
            },
        ),
    )
    def post(self, request, trader_id: int):
        trader = selectors.trader_get(user=request.user, trader_id=trader_id)
        result = manual.trader_close(trader=trader, request_id=request.data.get("request_id"))
        closed = [r["account"] for r in result["results"] if r["status"] == "placed"]
        return Response({"closed": closed, "trader": _read_trader(request, trader_id)})


class FlattenAllInputSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(help_text="must be true: this closes every position")
    disable_traders = serializers.BooleanField(required=False, default=False)
    request_id = serializers.CharField(required=False, allow_blank=True, max_length=40)


class FlattenAllApi(APIView):
    @extend_schema(
        request=FlattenAllInputSerializer,
        responses=inline_serializer(
            "FlattenAllResult",
            {
                "flattened": serializers.ListField(child=serializers.DictField()),
                "errors": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def post(self, request):
        s = FlattenAllInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        if not s.validated_data["confirm"]:
            raise ApplicationError("Confirm Flatten All: send confirm=true.")
        result = manual.flatten_all(
            user=request.user,
            disable_traders=s.validated_data["disable_traders"],
            request_id=s.validated_data.get("request_id"),
        )
        return Response(result, status=status.HTTP_200_OK if not result["errors"] else 207)


_MAX_ID = 2**63 - 1


def _id_filter() -> serializers.IntegerField:
    # Bounded to the id column's range: a larger number is a 400, not a database overflow.
    return serializers.IntegerField(required=False, min_value=1, max_value=_MAX_ID)


class LogFilterSerializer(serializers.Serializer):
    strategy = _id_filter()
    account = _id_filter()
    trader = _id_filter()
    kind = serializers.CharField(required=False, max_length=10)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs):
        # Days are turned into [start, next day) in the user's zone: keep both ends representable.
        for name in ("date_from", "date_to"):
            day = attrs.get(name)
            if day is not None and not (date.min < day < date.max):
                raise serializers.ValidationError({name: "Choose a real trading day."})
        return attrs


class LogListApi(_PaginatedListApi):
    serializer_class = LogOutputSerializer

    @extend_schema(parameters=[LogFilterSerializer], responses=LogOutputSerializer(many=True))
    def get(self, request):
        f = LogFilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        d = f.validated_data
        try:
            tz = ZoneInfo(request.user.timezone or "UTC")
        except Exception:  # noqa: BLE001
            tz = ZoneInfo("UTC")
        qs = selectors.log_list(
            user=request.user,
            strategy_id=d.get("strategy"),
            account_id=d.get("account"),
            trader_id=d.get("trader"),
            kind=d.get("kind"),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
            tz=tz,
        )
        return self._page(qs)


class OrderFilterSerializer(serializers.Serializer):
    trader = _id_filter()
    account = _id_filter()
    status = serializers.CharField(required=False, max_length=20)


class OrderListApi(_PaginatedListApi):
    serializer_class = OrderOutputSerializer

    @extend_schema(parameters=[OrderFilterSerializer], responses=OrderOutputSerializer(many=True))
    def get(self, request):
        f = OrderFilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        d = f.validated_data
        qs = selectors.order_list(
            user=request.user,
            trader_id=d.get("trader"),
            account_id=d.get("account"),
            status=d.get("status"),
        )
        return self._page(qs)


class FillListApi(_PaginatedListApi):
    serializer_class = FillOutputSerializer

    @extend_schema(parameters=[OrderFilterSerializer], responses=FillOutputSerializer(many=True))
    def get(self, request):
        f = OrderFilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        d = f.validated_data
        qs = selectors.fill_list(
            user=request.user, trader_id=d.get("trader"), account_id=d.get("account")
        )
        return self._page(qs)


class PositionListApi(_PaginatedListApi):
    serializer_class = PositionOutputSerializer

    @extend_schema(responses=PositionOutputSerializer(many=True))
    def get(self, request):
        return self._page(selectors.position_list(user=request.user))
