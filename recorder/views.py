"""HTML pages: My Recorders and a recorder's detail (trades, log, start/stop)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from accounts.models import BrokerAccount
from recorder import selectors
from recorder.models import Recorder

SPARK_WIDTH, SPARK_HEIGHT = 120, 32


def sparkline_points(
    equity: list[str], width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT
) -> str:
    """SVG polyline points of an equity curve (the same drawing as static/js/recorder.js)."""
    values = [Decimal(v) for v in equity]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    step = Decimal(width) / (len(values) - 1)
    points = []
    for i, v in enumerate(values):
        x = step * i
        y = Decimal(height - 2) - (v - low) / span * Decimal(height - 4)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def _row(recorder: Recorder, stats: dict) -> dict:
    return {
        "recorder": recorder,
        "stats": stats,
        "spark": sparkline_points(stats.get("equity", [])),
        "positions": getattr(recorder, "open_positions", []),
    }


@login_required
def recorder_list_view(request):
    recorders = list(selectors.recorder_list(user=request.user))
    stats = selectors.recorder_stats(recorders=recorders, tz=selectors.user_tz(request.user))
    rows = [_row(r, stats.get(r.pk, {})) for r in recorders]
    return render(request, "recorder/list.html", {"rows": rows})


@login_required
def recorder_detail_view(request, recorder_id: int):
    recorder = selectors.recorder_get(user=request.user, recorder_id=recorder_id)
    stats = selectors.recorder_stats(recorders=[recorder], tz=selectors.user_tz(request.user))
    trades = Paginator(
        selectors.recorder_trades(user=request.user, recorder_id=recorder.pk), 50
    ).get_page(request.GET.get("page"))
    log = list(selectors.recorder_log(user=request.user, recorder_id=recorder.pk)[:100])
    accounts = BrokerAccount.objects.filter(
        connection__user=request.user, connection__archived_at__isnull=True
    ).select_related("connection")
    return render(
        request,
        "recorder/detail.html",
        {
            "row": _row(recorder, stats.get(recorder.pk, {})),
            "recorder": recorder,
            "trades": trades,
            "working": selectors.recorder_working_entries(recorder),
            "log": log,
            "accounts": accounts,
            "sources": Recorder.Source.choices,
            "fill_modes": Recorder.FillMode.choices,
        },
    )
