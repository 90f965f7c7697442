"""My Trader and Control Center pages."""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from justtrades.api import ApplicationError
from traders import selectors, services
from traders.apis import TraderOutputSerializer
from traders.forms import TraderForm
from traders.models import Order


@login_required
def trader_list_page(request):
    as_of = time.time()
    traders = list(selectors.trader_list(user=request.user))
    return render(
        request,
        "traders/list.html",
        {
            "traders": traders,
            "traders_data": TraderOutputSerializer(
                traders, many=True, context={"as_of": as_of}
            ).data,
            "has_strategies": request.user.strategies.exists(),
            "has_accounts": selectors.broker_account_list(user=request.user).exists(),
        },
    )


def _save(request, form, trader=None):
    try:
        if trader is None:
            return services.trader_create(
                user=request.user,
                strategy=form.cleaned_data["strategy"],
                broker_account=form.cleaned_data["broker_account"],
                **form.service_fields(),
            )
        return services.trader_update(
            trader=trader,
            strategy=form.cleaned_data["strategy"],
            broker_account=form.cleaned_data["broker_account"],
            if_holding=form.cleaned_data.get("if_holding") or None,
            **form.service_fields(),
        )
    except ApplicationError as exc:
        field = exc.extra.get("choice")  # switched off while holding: "if_holding"
        form.add_error(field if field in form.fields else None, exc.message)
        return None


@login_required
def trader_create_page(request):
    initial = {}
    if request.GET.get("strategy", "").isdigit():
        initial["strategy"] = int(request.GET["strategy"])
    form = TraderForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        trader = _save(request, form)
        if trader is not None:
            messages.success(
                request, f"Trader created: {trader.strategy} → {trader.broker_account}."
            )
            return redirect("traders:list")
    return render(request, "traders/form.html", {"form": form, "title": "New trader"})


@login_required
def trader_edit_page(request, trader_id: int):
    trader = selectors.trader_get(user=request.user, trader_id=trader_id)
    initial = {name: getattr(trader, name) for name in services.TRADER_FIELDS}
    initial.update(strategy=trader.strategy, broker_account=trader.broker_account)
    form = TraderForm(request.POST or None, user=request.user, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        if _save(request, form, trader) is not None:
            messages.success(request, "Trader saved.")
            return redirect("traders:list")
    recent = Order.objects.filter(trader=trader).select_related("broker_account")[:20]
    return render(
        request,
        "traders/form.html",
        {
            "form": form,
            "title": f"Trader: {trader}",
            "trader": trader,
            "orders": recent,
        },
    )


@login_required
def trader_delete_page(request, trader_id: int):
    trader = selectors.trader_get(user=request.user, trader_id=trader_id)
    if request.method == "POST":
        try:
            flatten = request.POST.get("flatten") in ("1", "on", "true")
            services.trader_delete(trader=trader, flatten=flatten)
            messages.success(
                request,
                "Trader deleted"
                + (": its position is being closed at the broker." if flatten else "."),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("traders:edit", trader_id=trader.pk)
    return redirect("traders:list")


@login_required
def control_center_page(request):
    traders = list(selectors.trader_list(user=request.user))
    return render(
        request,
        "traders/control_center.html",
        {
            "traders": traders,
            "strategies": request.user.strategies.all(),
            "accounts": selectors.broker_account_list(user=request.user),
        },
    )
