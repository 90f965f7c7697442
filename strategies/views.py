"""HTML pages: strategy list, Create Strategy, the strategy page with its webhook panel, edit,
delete, and the signal log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date

from justtrades.api import ApplicationError
from strategies import selectors, services
from strategies.forms import StrategyForm
from strategies.messages import alert_messages
from strategies.models import Signal


def _apply_error(form: StrategyForm, exc: ApplicationError) -> None:
    field = exc.extra.get("field")
    if exc.extra.get("choice") == "if_holding":
        field = "if_holding"  # switched off while holding: the choice to make is there
    form.add_error(field if field in form.fields else None, exc.message)


@login_required
def strategy_list_page(request):
    strategies = selectors.strategy_list(user=request.user)
    return render(request, "strategies/list.html", {"strategies": strategies})


@login_required
def strategy_create_page(request):
    form = StrategyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.settings()
        try:
            strategy = services.strategy_create(user=request.user, **data)
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            messages.success(
                request,
                f"Strategy “{strategy.name}” created. Paste its webhook URL into TradingView.",
            )
            return redirect("strategies:detail", strategy_id=strategy.pk)
    return render(
        request,
        "strategies/form.html",
        {
            "form": form,
            "title": "Create Strategy",
            "strategy": None,
            "has_strategies": selectors.strategy_list(user=request.user).exists(),
        },
    )


@login_required
def strategy_edit_page(request, strategy_id: int):
    strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
    form = StrategyForm(request.POST or None, instance=strategy)
    if request.method == "POST" and form.is_valid():
        strategy.refresh_from_db()
        try:
            services.strategy_update(
                strategy=strategy,
                if_holding=form.cleaned_data.get("if_holding") or None,
                **form.settings(),
            )
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("strategies:detail", strategy_id=strategy.pk)
    return render(
        request,
        "strategies/form.html",
        {"form": form, "title": f"Edit {strategy.name}", "strategy": strategy},
    )


@login_required
def strategy_detail_page(request, strategy_id: int):
    strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
    if request.method == "POST" and request.POST.get("do") == "regenerate":
        services.strategy_regenerate_token(strategy=strategy)
        messages.success(request, "New webhook URL made. The old one no longer works.")
        return redirect("strategies:detail", strategy_id=strategy.pk)
    recent = list(selectors.signal_list(user=request.user, strategy_id=strategy.pk)[:10])
    traders = list(strategy.traders.filter(enabled=True).select_related("broker_account"))
    recorder = getattr(strategy, "recorder", None)
    return render(
        request,
        "strategies/detail.html",
        {
            "strategy": strategy,
            "webhook_url": services.webhook_url(strategy),
            "messages_list": alert_messages(strategy),
            "recent": recent,
            "traders": traders,
            "recorder": recorder,
            "session": _session_text(strategy),
        },
    )


@login_required
def strategy_delete_page(request, strategy_id: int):
    strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    name = strategy.name
    flatten = request.POST.get("flatten") in ("1", "on", "true")
    try:
        services.strategy_delete(strategy=strategy, flatten=flatten)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("strategies:edit", strategy_id=strategy.pk)
    messages.success(
        request,
        f"Strategy “{name}” deleted"
        + (": its positions are being closed at the broker." if flatten else "."),
    )
    return redirect("strategies:list")


@login_required
def signal_log_page(request, strategy_id: int):
    strategy = selectors.strategy_get(user=request.user, strategy_id=strategy_id)
    status = request.GET.get("status") or None
    if status not in dict(Signal.Status.choices):
        status = None
    since = parse_date(request.GET.get("since") or "") if request.GET.get("since") else None
    until = parse_date(request.GET.get("until") or "") if request.GET.get("until") else None
    qs = selectors.signal_list(
        user=request.user, strategy_id=strategy.pk, status=status, since=since, until=until
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "strategies/signals.html",
        {
            "strategy": strategy,
            "page": page,
            "statuses": Signal.Status.choices,
            "status": status or "",
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
        },
    )


def _session_text(strategy) -> str:
    days = strategy.session_days or []
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    day_text = ", ".join(names[d] for d in sorted(days)) if days else "every day"
    if strategy.session_start and strategy.session_end:
        return (
            f"{strategy.session_start:%H:%M}–{strategy.session_end:%H:%M} "
            f"{strategy.session_timezone}, {day_text}"
        )
    return f"around the clock, {day_text}"
