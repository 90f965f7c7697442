"""Recorder API: validate → call a service or selector → serialize."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.models import BrokerAccount
from justtrades.api import ApplicationError, StandardPagination
from recorder import selectors, services
from recorder.marketdata import paper_markets
from recorder.models import RecordedTrade, Recorder, StrategyLog
from strategies.models import Strategy

# --- serializers -------------------------------------------------------------------------------


class RecordedPositionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    net_pos = serializers.IntegerField()
    side = serializers.SerializerMethodField()
    avg_price = serializers.DecimalField(max_digits=16, decimal_places=6)
    opened_at = serializers.DateTimeField(allow_null=True)
    last_price = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    open_pnl = serializers.SerializerMethodField(help_text="null until a price is known")

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True))
    def get_open_pnl(self, obj) -> str | None:
        value = selectors.recorded_open_pnl(obj)
        return None if value is None else f"{value:.2f}"

    def get_side(self, obj) -> str:
        return "long" if obj.net_pos > 0 else "short" if obj.net_pos < 0 else "flat"


class RecorderStatsOutputSerializer(serializers.Serializer):
    total_pnl = serializers.DecimalField(max_digits=16, decimal_places=2)
    gross_pnl = serializers.DecimalField(max_digits=16, decimal_places=2)
    commission = serializers.DecimalField(max_digits=16, decimal_places=2)
    today_pnl = serializers.DecimalField(max_digits=16, decimal_places=2)
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)
    equity = serializers.ListField(child=serializers.DecimalField(max_digits=16, decimal_places=2))


class RecorderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    strategy = serializers.SerializerMethodField()
    running = serializers.BooleanField()
    source = serializers.CharField()
    broker_account = serializers.IntegerField(source="broker_account_id", allow_null=True)
    broker_account_name = serializers.SerializerMethodField()
    fill_mode = serializers.CharField()
    commission_per_side = serializers.DecimalField(max_digits=10, decimal_places=2)
    poll_interval_seconds = serializers.IntegerField()
    symbols = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    last_polled_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    positions = serializers.SerializerMethodField()
    stats = serializers.SerializerMethodField()

    @extend_schema_field(
        {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    )
    def get_strategy(self, obj) -> dict:
        return {"id": obj.strategy_id, "name": obj.strategy.name}

    def get_broker_account_name(self, obj) -> str | None:
        return obj.broker_account.name if obj.broker_account_id else None

    @extend_schema_field(RecordedPositionOutputSerializer(many=True))
    def get_positions(self, obj) -> list:
        rows = getattr(obj, "open_positions", None)
        if rows is None:
            rows = list(obj.positions.exclude(net_pos=0).order_by("symbol"))
        return RecordedPositionOutputSerializer(rows, many=True).data

    @extend_schema_field(RecorderStatsOutputSerializer)
    def get_stats(self, obj) -> dict:
        stats = self.context.get("stats", {}).get(obj.pk)
        if stats is None:
            stats = selectors.recorder_stats(recorders=[obj]).get(obj.pk, {})
        return RecorderStatsOutputSerializer(stats).data


class RecorderInputSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=Recorder.Source.choices, required=False)
    broker_account = serializers.IntegerField(required=False, allow_null=True)
    fill_mode = serializers.ChoiceField(choices=Recorder.FillMode.choices, required=False)
    commission_per_side = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, max_value=999, required=False
    )
    poll_interval_seconds = serializers.IntegerField(min_value=5, max_value=86_400, required=False)
    symbols = serializers.CharField(max_length=200, required=False, allow_blank=True)


class RecorderCreateInputSerializer(RecorderInputSerializer):
    strategy = serializers.IntegerField()
    running = serializers.BooleanField(required=False, default=True)


class RecordedTradeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecordedTrade
        fields = [
            "id",
            "symbol",
            "side",
            "quantity",
            "entry_time",
            "exit_time",
            "entry_price",
            "exit_price",
            "points",
            "ticks",
            "pnl",
            "commission",
            "net_pnl",
            "mae",
            "mfe",
            "exit_reason",
            "signal",
        ]


class StrategyLogOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = StrategyLog
        fields = ["id", "strategy", "trader", "signal", "kind", "message", "data", "created_at"]


class DateOrDateTimeField(serializers.DateTimeField):
    """Accepts an ISO datetime or a plain date (midnight in the user's zone)."""

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                self.fail("invalid", format="YYYY-MM-DD or ISO 8601")
            tz = self.context.get("tz") or timezone.get_current_timezone()
            return datetime.combine(day, time.min, tzinfo=tz)
        return super().to_internal_value(value)


class TradeFilterSerializer(serializers.Serializer):
    symbol = serializers.CharField(required=False, max_length=40)
    side = serializers.ChoiceField(choices=["long", "short"], required=False)
    exit_reason = serializers.ChoiceField(choices=RecordedTrade.ExitReason.choices, required=False)
    since = DateOrDateTimeField(required=False)
    until = DateOrDateTimeField(required=False)


class LogFilterSerializer(serializers.Serializer):
    kind = serializers.MultipleChoiceField(choices=StrategyLog.Kind.choices, required=False)
    signal = serializers.IntegerField(required=False, min_value=1)
    trader = serializers.IntegerField(required=False, min_value=1)
    since = DateOrDateTimeField(required=False)
    until = DateOrDateTimeField(required=False)


def _filters(serializer_class, request):
    data = {}
    for key, values in request.query_params.lists():
        data[key] = values if key == "kind" else values[-1]
    if "kind" in data:
        # ?kind=entry,exit or ?kind=entry&kind=exit
        data["kind"] = [k for v in data["kind"] for k in v.split(",") if k]
    s = serializer_class(data=data, context={"tz": selectors.user_tz(request.user)})
    s.is_valid(raise_exception=True)
    return s.validated_data


def _owned_broker_account(user, account_id):
    if account_id is None:
        return None
    account = BrokerAccount.objects.filter(
        pk=account_id, connection__user=user, connection__archived_at__isnull=True
    ).first()
    if account is None:
        raise NotFound("Broker account not found.")
    return account


def _render(recorder: Recorder, request) -> dict:
    recorder = selectors.recorder_get(user=request.user, recorder_id=recorder.pk)
    stats = selectors.recorder_stats(recorders=[recorder], tz=selectors.user_tz(request.user))
    return RecorderOutputSerializer(recorder, context={"stats": stats}).data


# --- views ---------------------------------------------------------------------------------------


class RecorderListApi(GenericAPIView):
    """Recorders of the logged-in user, with their open positions and track-record figures."""

    pagination_class = StandardPagination
    serializer_class = RecorderOutputSerializer

    def get_queryset(self):
        return selectors.recorder_list(user=self.request.user)

    @extend_schema(responses=RecorderOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        stats = selectors.recorder_stats(recorders=page, tz=selectors.user_tz(request.user))
        data = RecorderOutputSerializer(page, many=True, context={"stats": stats}).data
        return self.get_paginated_response(data)

    @extend_schema(request=RecorderCreateInputSerializer, responses={201: RecorderOutputSerializer})
    def post(self, request):
        s = RecorderCreateInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        strategy = Strategy.objects.filter(pk=data.pop("strategy"), user=request.user).first()
        if strategy is None:
            raise NotFound("Strategy not found.")
        if Recorder.objects.filter(strategy=strategy).exists():
            raise ApplicationError(
                "This strategy already has a recorder.", extra={"field": "strategy"}
            )
        if "broker_account" in data:
            data["broker_account"] = _owned_broker_account(request.user, data["broker_account"])
        recorder = services.recorder_create(strategy=strategy, **data)
        return Response(_render(recorder, request), status=status.HTTP_201_CREATED)


class RecorderDetailApi(GenericAPIView):
    serializer_class = RecorderOutputSerializer

    def get(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        return Response(_render(recorder, request))

    @extend_schema(request=RecorderInputSerializer, responses=RecorderOutputSerializer)
    def put(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        s = RecorderInputSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        changes = dict(s.validated_data)
        if "broker_account" in changes:
            changes["broker_account"] = _owned_broker_account(
                request.user, changes["broker_account"]
            )
        recorder = services.recorder_update(recorder=recorder, **changes)
        return Response(_render(recorder, request))

    @extend_schema(request=RecorderInputSerializer, responses=RecorderOutputSerializer)
    def patch(self, request, recorder_id: int):
        return self.put(request, recorder_id)

    @extend_schema(responses={204: None})
    def delete(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        services.recorder_delete(recorder=recorder)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecorderStartApi(GenericAPIView):
    serializer_class = RecorderOutputSerializer

    @extend_schema(request=None, responses=RecorderOutputSerializer)
    def post(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        recorder = services.recorder_start(recorder=recorder)
        return Response(_render(recorder, request))


class RecorderStopApi(GenericAPIView):
    serializer_class = RecorderOutputSerializer

    @extend_schema(request=None, responses=RecorderOutputSerializer)
    def post(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        recorder = services.recorder_stop(recorder=recorder)
        return Response(_render(recorder, request))


class RecorderFlattenApi(GenericAPIView):
    """Close the recorder's open paper positions at the market."""

    serializer_class = RecorderOutputSerializer

    @extend_schema(request=None, responses=RecorderOutputSerializer)
    def post(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        services.recorder_flatten(recorder=recorder)
        return Response(_render(recorder, request))


class RecorderPollApi(GenericAPIView):
    """Read the followed account now (recorders whose source is an account)."""

    serializer_class = RecorderOutputSerializer

    @extend_schema(request=None, responses=RecorderOutputSerializer)
    def post(self, request, recorder_id: int):
        recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
        if recorder.source != Recorder.Source.ACCOUNT:
            raise ApplicationError("This recorder records signals, not an account.")
        if not recorder.running:
            raise ApplicationError("The recorder is stopped: start it first.")
        result = services.recorder_poll_account(recorder=recorder)
        if result.error:
            raise ApplicationError(result.error, status_code=status.HTTP_409_CONFLICT)
        return Response(_render(recorder, request))


class RecorderTradesApi(GenericAPIView):
    """Closed trades of a recorder, newest first. Filters: symbol, side, exit_reason,
    since / until (ISO datetime or YYYY-MM-DD, on the exit time)."""

    pagination_class = StandardPagination
    serializer_class = RecordedTradeOutputSerializer

    @extend_schema(
        parameters=[TradeFilterSerializer],
        responses=RecordedTradeOutputSerializer(many=True),
    )
    def get(self, request, recorder_id: int):
        filters = _filters(TradeFilterSerializer, request)
        qs = selectors.recorder_trades(user=request.user, recorder_id=recorder_id, **filters)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(RecordedTradeOutputSerializer(page, many=True).data)


class RecorderLogApi(GenericAPIView):
    """The timeline of the recorder's strategy, newest first. Filters: kind (repeatable or
    comma separated), signal, trader, since / until."""

    pagination_class = StandardPagination
    serializer_class = StrategyLogOutputSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, many=True, enum=StrategyLog.Kind.values),
            OpenApiParameter("signal", int),
            OpenApiParameter("trader", int),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
        ],
        responses=StrategyLogOutputSerializer(many=True),
    )
    def get(self, request, recorder_id: int):
        f = _filters(LogFilterSerializer, request)
        qs = selectors.recorder_log(
            user=request.user,
            recorder_id=recorder_id,
            kinds=list(f.get("kind") or []),
            signal_id=f.get("signal"),
            trader_id=f.get("trader"),
            since=f.get("since"),
            until=f.get("until"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(StrategyLogOutputSerializer(page, many=True).data)


# --- the paper markets -------------------------------------------------------------------------


class PaperMarketOutputSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    account_name = serializers.CharField()
    symbol = serializers.CharField()
    root = serializers.CharField()
    source = serializers.CharField(help_text="market data | alerts | random walk | manual | replay")
    source_label = serializers.CharField()
    bid = serializers.CharField(allow_null=True)
    ask = serializers.CharField(allow_null=True)
    last = serializers.CharField(allow_null=True)
    open = serializers.BooleanField()
    session = serializers.CharField(help_text="open, or why the exchange is closed")
    opens_at = serializers.CharField(allow_null=True)
    opens_at_local = serializers.CharField()
    closes_at = serializers.CharField(allow_null=True)
    error = serializers.CharField()


class PaperMarketListApi(GenericAPIView):
    """The market of each product the user's paper accounts hold or trade: its source (Tradovate
    market data, the alerts, or the demo random walk), price and exchange session."""

    serializer_class = PaperMarketOutputSerializer
    pagination_class = None

    @extend_schema(responses=PaperMarketOutputSerializer(many=True))
    def get(self, request):

        rows = [m.to_json() for m in paper_markets(user=request.user)]
        return Response(PaperMarketOutputSerializer(rows, many=True).data)
