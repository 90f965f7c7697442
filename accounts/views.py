"""Account Management and Add Account pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.forms import ConnectionEditForm, ConnectionForm
from accounts.models import BrokerConnection
from justtrades.api import ApplicationError


@login_required
def broker_accounts_page(request):
    connections = selectors.connections_with_open_pnl(user=request.user)
    context = {
        "connections": connections,
        "has_paper": any(c.kind == BrokerConnection.Kind.PAPER for c in connections),
        "paper_enabled": settings.PAPER_BROKER_ENABLED,
    }
    if request.GET.get("partial") == "connections":
        return render(request, "accounts/_connections.html", context)
    return render(request, "accounts/broker_accounts.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def broker_account_add_page(request):
    form = ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if connection.status == BrokerConnection.Status.ERROR:
                messages.warning(request, f"{connection.label} saved, but: {connection.last_error}")
            else:
                count = connection.accounts.count()
                messages.success(request, f"{connection.label} connected: {count} account(s).")
            return redirect("broker-accounts")
    return render(
        request,
        "accounts/add_account.html",
        {"form": form, "paper_enabled": settings.PAPER_BROKER_ENABLED},
    )


@login_required
@require_http_methods(["GET", "POST"])
def broker_account_edit_page(request, connection_id: int):
    connection = selectors.connection_get(user=request.user, connection_id=connection_id)
    form = ConnectionEditForm(request.POST or None, connection=connection)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_update(connection=connection, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if connection.status == BrokerConnection.Status.ERROR:
                messages.warning(request, f"{connection.label} saved, but: {connection.last_error}")
            else:
                messages.success(request, f"{connection.label} saved.")
            return redirect("broker-accounts")
    return render(request, "accounts/edit_account.html", {"form": form, "connection": connection})
