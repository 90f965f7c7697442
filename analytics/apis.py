"""Dashboard and analytics API: validate the query, call a selector, return JSON (or CSV)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import BrokerAccount
from analytics import selectors as sel
from analytics.first_steps import first_steps
from justtrades.api import StandardPagination

CSV_COLUMNS = [
    "id", "source", "strategy", "account", "symbol", "side", "quantity", "entry_time",
    "exit_time", "duration_seconds", "entry_price", "exit_price", "points", "ticks", "pnl",
    "commission", "net_pnl", "exit_reason",
]  # fmt: skip


class SourceField(serializers.ChoiceField):
    """``recorded`` or ``live``; ``paper``, the recorded record's former name, still works."""

    def to_internal_value(self, data):
        return super().to_internal_value(sel.LEGACY_SOURCE_NAMES.get(data, data))


class SourceInput(serializers.Serializer):
    source = SourceField(choices=sel.SOURCES, default=sel.RECORDED)
    capital = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("1"), required=False,
        help_text="Starting capital for returns, drawdown % and Sharpe/Sortino (default 50,000).",
    )  # fmt: skip


class FiltersInput(SourceInput):
    strategy = serializers.IntegerField(min_value=1, required=False)
    account = serializers.IntegerField(min_value=1, required=False)
    symbol = serializers.CharField(max_length=40, required=False, allow_blank=True)
    side = serializers.ChoiceField(choices=["long", "short"], required=False, allow_blank=True)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        # Days become [local midnight, next local midnight): keep both ends representable.
        for name, day in (("start", start), ("end", end)):
            if day is not None and not (date.min < day < date.max):
                raise serializers.ValidationError({name: "Choose a real trading day."})
        if start and end and start > end:
            raise serializers.ValidationError({"end": "The end date is before the start date."})
        return attrs


class PerformanceInput(SourceInput):
    period = serializers.ChoiceField(choices=["day", "week", "month"], default="day")


class CompareInput(SourceInput):
    strategies = serializers.CharField(
        required=False, allow_blank=True, help_text="Comma-separated strategy ids (default: all)"
    )

    def validate_strategies(self, value: str) -> list[int]:
        ids = []
        for part in (value or "").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or len(part) > 18:
                raise serializers.ValidationError(f"{part!r} is not a strategy id.")
            ids.append(int(part))
        if len(ids) > 20:
            raise serializers.ValidationError("Compare at most 20 strategies.")
        return ids


def _validated(serializer_class, request, **extra) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data | extra


def _filters(user, data: dict, strategy_id: int | None = None) -> sel.TradeFilters:
    """Trade filters from validated input; a strategy or account of another user is a 404."""
    strategy_id = strategy_id or data.get("strategy")
    if strategy_id is not None and sel.strategy_get(user=user, strategy_id=strategy_id) is None:
        raise Http404
    account_id = data.get("account")
    if (
        account_id is not None
        and not BrokerAccount.objects.filter(pk=account_id, connection__user=user).exists()
    ):
        raise Http404
    return sel.TradeFilters(
        source=data["source"],
        strategy_id=strategy_id,
        account_id=account_id,
        symbol=(data.get("symbol") or "").strip(),
        side=data.get("side") or "",
        start=data.get("start"),
        end=data.get("end"),
    )


FILTER_PARAMS = [
    OpenApiParameter("source", OpenApiTypes.STR, enum=list(sel.SOURCES)),
    OpenApiParameter("capital", OpenApiTypes.DECIMAL),
    OpenApiParameter("strategy", OpenApiTypes.INT),
    OpenApiParameter("account", OpenApiTypes.INT),
    OpenApiParameter("symbol", OpenApiTypes.STR),
    OpenApiParameter("side", OpenApiTypes.STR, enum=["long", "short"]),
    OpenApiParameter("start", OpenApiTypes.DATE),
    OpenApiParameter("end", OpenApiTypes.DATE),
]
SOURCE_PARAMS = FILTER_PARAMS[:2]


class DashboardSummaryApi(APIView):
    @extend_schema(parameters=SOURCE_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        data = _validated(SourceInput, request)
        return Response(
            sel.dashboard_summary(
                user=request.user, source=data["source"], starting_capital=data.get("capital")
            )
        )


class DashboardPositionsApi(APIView):
    @extend_schema(parameters=SOURCE_PARAMS[:1], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        data = _validated(SourceInput, request)
        positions = sel.open_positions(user=request.user, source=data["source"])
        return Response({"source": data["source"], "count": len(positions), "results": positions})


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` reach the view (the view streams the file itself)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only error bodies get here (the CSV itself is streamed by the view).
        message = data.get("message", "") if isinstance(data, dict) else str(data)
        return f"error\n{message}\n".encode()


class _Echo:
    def write(self, value):
        return value


def _csv_lines(rows: Iterator[dict]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in rows:
        yield writer.writerow([row[c] if row[c] is not None else "" for c in CSV_COLUMNS])


class TradeHistoryApi(APIView):
    """Closed trades, newest first; filters; paginated JSON or the whole selection as CSV."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            *FILTER_PARAMS,
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        data = _validated(FiltersInput, request)
        filters = _filters(request.user, data)
        trades = sel.trade_history(user=request.user, filters=filters)
        tz = sel.user_tz(request.user)
        if request.accepted_renderer.format == "csv":
            if not isinstance(trades, list):
                trades = trades.iterator(chunk_size=2000)
            rows = (sel.history_row(t, tz) for t in trades)
            response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
            stamp = timezone.now().astimezone(tz).strftime("%Y%m%d-%H%M")
            response["Content-Disposition"] = (
                f'attachment; filename="trades-{filters.source}-{stamp}.csv"'
            )
            return response
        paginator = StandardPagination()
        page = paginator.paginate_queryset(trades, request, view=self)
        return paginator.get_paginated_response([sel.history_row(t, tz) for t in page])


class DashboardPerformanceApi(APIView):
    @extend_schema(
        parameters=[*SOURCE_PARAMS, OpenApiParameter("period", OpenApiTypes.STR)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        data = _validated(PerformanceInput, request)
        return Response(
            sel.performance(
                user=request.user,
                source=data["source"],
                period=data["period"],
                starting_capital=data.get("capital"),
            )
        )


class StrategyAnalyticsApi(APIView):
    """Every statistic of one strategy, with its charts and breakdowns."""

    @extend_schema(parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request, strategy_id: int):
        strategy = sel.strategy_get(user=request.user, strategy_id=strategy_id)
        if strategy is None:
            raise Http404
        data = _validated(FiltersInput, request)
        filters = _filters(request.user, data, strategy_id=strategy.pk)
        capital = data.get("capital")
        payload = sel.analytics_statistics(
            user=request.user, filters=filters, starting_capital=capital
        )
        charts = sel.chart_data(user=request.user, filters=filters, starting_capital=capital)
        return Response(
            {
                "strategy": {"id": strategy.pk, "name": strategy.name},
                **payload,
                "charts": charts,
                "filters": sel.filter_choices(user=request.user, source=filters.source),
            }
        )


class AnalyticsDashboardApi(APIView):
    """Everything the dashboard draws, in one request: summary, statistics, charts, positions."""

    @extend_schema(parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        data = _validated(FiltersInput, request)
        filters = _filters(request.user, data)
        capital = data.get("capital")
        user = request.user
        stats = sel.analytics_statistics(user=user, filters=filters, starting_capital=capital)
        return Response(
            {
                "summary": sel.dashboard_summary(
                    user=user, source=filters.source, starting_capital=capital
                ),
                "statistics": stats["statistics"],
                "by_strategy": stats["by_strategy"],
                "by_symbol": stats["by_symbol"],
                "charts": sel.chart_data(user=user, filters=filters, starting_capital=capital),
                "positions": sel.open_positions(user=user, source=filters.source),
                "filters": sel.filter_choices(user=user, source=filters.source),
            }
        )


class ChartDataApi(APIView):
    """Equity curve, drawdown and daily P&L bars (end of day, in the user's time zone)."""

    @extend_schema(parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        data = _validated(FiltersInput, request)
        filters = _filters(request.user, data)
        return Response(
            sel.chart_data(user=request.user, filters=filters, starting_capital=data.get("capital"))
        )


class StrategyCompareApi(APIView):
    """The user's strategies side by side (all, or ``?strategies=1,2``)."""

    @extend_schema(
        parameters=[*SOURCE_PARAMS, OpenApiParameter("strategies", OpenApiTypes.STR)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        data = _validated(CompareInput, request)
        ids = data.get("strategies") or []
        if ids:
            owned = set(
                sel.Strategy.objects.filter(user=request.user, pk__in=ids).values_list(
                    "pk", flat=True
                )
            )
            if owned != set(ids):
                raise Http404
        rows = sel.strategy_comparison(
            user=request.user,
            source=data["source"],
            strategy_ids=ids,
            starting_capital=data.get("capital"),
        )
        return Response({"source": data["source"], "results": rows})


class FirstStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    done = serializers.BooleanField()
    href = serializers.CharField()
    action = serializers.CharField()


class FirstStepsOutput(serializers.Serializer):
    done = serializers.BooleanField(help_text="every step done: the dashboard hides the list")
    results = FirstStepSerializer(many=True)


class FirstStepsApi(APIView):
    """The dashboard's first-steps checklist, each step read from what the user has done."""

    @extend_schema(responses=FirstStepsOutput)
    def get(self, request):
        steps = first_steps(user=request.user)
        return Response(
            FirstStepsOutput({"done": all(step.done for step in steps), "results": steps}).data
        )
