"""REST API of strategies and signals: thin views over selectors and services."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from justtrades.api import LocalTimeField
from strategies import selectors, services
from strategies.messages import alert_messages
from strategies.models import ExitUnit, Signal, Strategy
from traders.apis import if_holding_field


class StrategyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    passphrase = serializers.CharField(max_length=128, required=False, allow_blank=True)
    default_symbol = serializers.CharField(max_length=40, required=False)
    sizing = serializers.ChoiceField(choices=Strategy.Sizing.choices, required=False)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    opposite_signal = serializers.ChoiceField(
        choices=Strategy.OppositeSignal.choices, required=False
    )
    take_profit = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=0, required=False, allow_null=True
    )
    take_profit_unit = serializers.ChoiceField(choices=ExitUnit.choices, required=False)
    stop_loss = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=0, required=False, allow_null=True
    )
    stop_loss_unit = serializers.ChoiceField(choices=ExitUnit.choices, required=False)
    trailing_stop = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=0, required=False, allow_null=True
    )
    trailing_stop_unit = serializers.ChoiceField(choices=ExitUnit.choices, required=False)
    break_even_trigger = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=0, required=False, allow_null=True
    )
    break_even_unit = serializers.ChoiceField(choices=ExitUnit.choices, required=False)
    session_start = LocalTimeField(required=False, allow_null=True)
    session_end = LocalTimeField(required=False, allow_null=True)
    session_timezone = serializers.CharField(max_length=64, required=False)
    session_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, max_length=7
    )
    direction = serializers.ChoiceField(choices=Strategy.Direction.choices, required=False)
    max_position = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, allow_null=True
    )
    cooldown_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)
    entry_delay_seconds = serializers.IntegerField(min_value=0, max_value=3_600, required=False)
    ignore_same_side = serializers.BooleanField(required=False)
    auto_flatten_time = LocalTimeField(required=False, allow_null=True)
    trade_alert_ticker = serializers.BooleanField(required=False)
    follow_exchange_session = serializers.BooleanField(required=False)
    max_signal_age_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)
    dedupe_window_seconds = serializers.IntegerField(min_value=1, max_value=3_600, required=False)
    enabled = serializers.BooleanField(required=False)


class StrategyUpdateSerializer(StrategyInputSerializer):
    if_holding = if_holding_field()


class StrategyOutputSerializer(serializers.ModelSerializer):
    webhook_url = serializers.SerializerMethodField()
    alert_messages = serializers.SerializerMethodField()
    recorder_running = serializers.SerializerMethodField()
    session_start = LocalTimeField(allow_null=True, read_only=True)
    session_end = LocalTimeField(allow_null=True, read_only=True)
    auto_flatten_time = LocalTimeField(allow_null=True, read_only=True)

    class Meta:
        model = Strategy
        fields = [
            "id",
            "webhook_url",
            "webhook_token",
            *services.STRATEGY_FIELDS,
            "recorder_running",
            "alert_messages",
            "created_at",
            "updated_at",
        ]

    def get_webhook_url(self, obj) -> str:
        return services.webhook_url(obj)

    def get_alert_messages(self, obj) -> list[dict[str, str]]:
        return alert_messages(obj)

    def get_recorder_running(self, obj) -> bool | None:
        recorder = getattr(obj, "recorder", None)
        return None if recorder is None else recorder.running


class SignalExecutionSerializer(serializers.Serializer):
    """What one trader did with the signal."""

    id = serializers.IntegerField()
    trader = serializers.IntegerField(source="trader_id", allow_null=True)
    account = serializers.CharField(source="broker_account.name")
    status = serializers.CharField()
    reason = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)


class SignalOutputSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name")
    latency_ms = serializers.FloatField(allow_null=True)
    sizing_note = serializers.CharField(
        read_only=True, help_text='"alert 3 → traded 1 (fixed)" when the sizes differ, else ""'
    )
    executions = SignalExecutionSerializer(many=True, read_only=True)

    class Meta:
        model = Signal
        fields = [
            "id",
            "strategy",
            "strategy_name",
            "origin",
            "alert_format",
            "status",
            "reason",
            "action",
            "symbol",
            "contract",
            "quantity",
            "sized_quantity",
            "sizing",
            "sizing_note",
            "price",
            "target_position",
            "from_position",
            "executions",
            "intent",
            "raw_body",
            "headers",
            "source_ip",
            "received_at",
            "processed_at",
            "executed_at",
            "latency_ms",
        ]


class StrategyListCreateApi(GenericAPIView):
    serializer_class = StrategyOutputSerializer

    def get_queryset(self):
        return selectors.strategy_list(user=self.request.user)

    @extend_schema(operation_id="strategies_list", responses=StrategyOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StrategyOutputSerializer(page, many=True).data)

    @extend_schema(request=StrategyInputSerializer, responses={201: StrategyOutputSerializer})
    def post(self, request):
        data = StrategyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        strategy = services.strategy_create(user=request.user, **data.validated_data)
        return Response(StrategyOutputSerializer(strategy).data, status=status.HTTP_201_CREATED)


class StrategyDetailApi(APIView):
    serializer_class = StrategyOutputSerializer

    def get(self, request, strategy_id: int):
        strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
        return Response(StrategyOutputSerializer(strategy).data)

    @extend_schema(request=StrategyUpdateSerializer, responses=StrategyOutputSerializer)
    def put(self, request, strategy_id: int):
        return self._update(request, strategy_id, partial=False)

    @extend_schema(request=StrategyUpdateSerializer, responses=StrategyOutputSerializer)
    def patch(self, request, strategy_id: int):
        return self._update(request, strategy_id, partial=True)

    def _update(self, request, strategy_id: int, *, partial: bool):
        strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
        data = StrategyUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        strategy = services.strategy_update(strategy=strategy, **data.validated_data)
        return Response(StrategyOutputSerializer(strategy).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "flatten",
                bool,
                description="close every position and working order its traders hold first",
            )
        ],
        responses={204: None, 409: None},
    )
    def delete(self, request, strategy_id: int):
        strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
        flatten = str(request.query_params.get("flatten", "")).lower() in ("1", "true", "yes")
        services.strategy_delete(strategy=strategy, flatten=flatten)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrategyRegenerateTokenApi(APIView):
    serializer_class = StrategyOutputSerializer

    @extend_schema(request=None, responses=StrategyOutputSerializer)
    def post(self, request, strategy_id: int):
        strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
        strategy = services.strategy_regenerate_token(strategy=strategy)
        return Response(StrategyOutputSerializer(strategy).data)


class TestSignalInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["buy", "sell", "exit", "reverse", "add", "cancel"])
    quantity = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    price = serializers.DecimalField(max_digits=16, decimal_places=6, min_value=0, required=False)


class TestSignalOutputSerializer(serializers.Serializer):
    status = serializers.CharField()
    signal_id = serializers.IntegerField()


class StrategyTestSignalApi(APIView):
    """Send a test alert through the whole path, as the page's "Send test alert" buttons do."""

    serializer_class = TestSignalOutputSerializer

    @extend_schema(request=TestSignalInputSerializer, responses={202: TestSignalOutputSerializer})
    def post(self, request, strategy_id: int):
        strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
        data = TestSignalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        body = v["action"]
        if v.get("quantity"):
            body += f" {v['quantity']}"
        if v.get("price"):
            body += f" @ {v['price'].normalize()}"
        result = services.signal_create_internal(
            strategy=strategy, body=body, origin=Signal.Origin.TEST
        )
        return Response(
            {"status": result.body["status"], "signal_id": result.body["signal_id"]},
            status=status.HTTP_202_ACCEPTED,
        )


class SignalFilterSerializer(serializers.Serializer):
    strategy = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=Signal.Status.choices, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    since_date = serializers.DateField(required=False)
    until_date = serializers.DateField(required=False)


_SIGNAL_FILTERS = [
    OpenApiParameter("status", str, enum=[c for c, _ in Signal.Status.choices]),
    OpenApiParameter("since", str, description="ISO date-time or date (inclusive)"),
    OpenApiParameter("until", str, description="ISO date-time or date (inclusive)"),
]


def _filters(query) -> dict:
    raw = {k: v for k, v in query.items() if v not in ("", None)}
    for key in ("since", "until"):
        if key in raw and len(raw[key]) == 10:
            raw[f"{key}_date"] = raw.pop(key)
    data = SignalFilterSerializer(data=raw)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return {
        "status": v.get("status"),
        "since": v.get("since") or v.get("since_date"),
        "until": v.get("until") or v.get("until_date"),
    }


class SignalListApi(GenericAPIView):
    serializer_class = SignalOutputSerializer

    @extend_schema(
        parameters=[*_SIGNAL_FILTERS, OpenApiParameter("strategy", int)],
        responses=SignalOutputSerializer(many=True),
    )
    def get(self, request):
        filters = _filters(request.query_params)
        strategy_id = request.query_params.get("strategy")
        if strategy_id:
            if not strategy_id.isdigit():
                return Response({"message": "strategy must be an id", "extra": {}}, status=400)
            strategy_id = selectors.strategy_get(user=request.user, strategy_id=int(strategy_id)).pk
        qs = selectors.signal_list(user=request.user, strategy_id=strategy_id or None, **filters)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SignalOutputSerializer(page, many=True).data)


class StrategySignalListApi(GenericAPIView):
    serializer_class = SignalOutputSerializer

    @extend_schema(parameters=_SIGNAL_FILTERS, responses=SignalOutputSerializer(many=True))
    def get(self, request, strategy_id: int):
        strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
        filters = _filters(request.query_params)
        qs = selectors.signal_list(user=request.user, strategy_id=strategy.pk, **filters)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SignalOutputSerializer(page, many=True).data)


class SignalDetailApi(APIView):
    serializer_class = SignalOutputSerializer

    def get(self, request, signal_id: int):
        signal = selectors.signal_get(user=request.user, signal_id=signal_id)
        return Response(SignalOutputSerializer(signal).data)
