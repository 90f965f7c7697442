"""HTML pages: the dashboard, one strategy's analytics, and the strategy comparison.

The pages are shells: their figures come from the dashboard / analytics API, so the numbers a
trader sees on screen are the ones the API (and its tests) return.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from analytics import selectors as sel
from analytics.first_steps import first_steps_left
from analytics.statistics import SHARPE_FORMULA
from justtrades.staticfiles import chart_library


def _page_config(request, **extra) -> dict:
    return {
        "source": sel.source_named(request.GET.get("source")),
        "capital": str(sel.default_starting_capital()),
        "timezone": str(sel.user_tz(request.user)),
        **extra,
    }


@login_required
def dashboard_page(request):
    return render(
        request,
        "analytics/dashboard.html",
        {
            "config": _page_config(request, page="dashboard"),
            "first_steps": first_steps_left(user=request.user),
            "sharpe_formula": SHARPE_FORMULA,
            "chart_library": chart_library(),
        },
    )


@login_required
def strategy_analytics_page(request, strategy_id: int):
    strategy = sel.strategy_get(user=request.user, strategy_id=strategy_id)
    if strategy is None:
        raise Http404("No such strategy")
    config = _page_config(
        request, page="strategy", strategy={"id": strategy.pk, "name": strategy.name}
    )
    return render(
        request,
        "analytics/strategy.html",
        {
            "strategy": strategy,
            "config": config,
            "sharpe_formula": SHARPE_FORMULA,
            "chart_library": chart_library(),
        },
    )


@login_required
def compare_page(request):
    strategies = list(sel.Strategy.objects.filter(user=request.user).order_by("name"))
    config = _page_config(
        request, page="compare", strategies=[{"id": s.pk, "name": s.name} for s in strategies]
    )
    return render(
        request,
        "analytics/compare.html",
        {
            "strategies": strategies,
            "config": config,
            "sharpe_formula": SHARPE_FORMULA,
            "chart_library": chart_library(),
        },
    )
