"""Celery tasks of broker connections: thin, ids in, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from accounts import services
from accounts.models import BrokerConnection


@shared_task(name="accounts.refresh_connection", ignore_result=True, acks_late=True)
def refresh_connection(connection_id: int) -> str:
    """Re-read a connection's accounts and balances (a read: running it twice is harmless)."""
    connection = BrokerConnection.objects.filter(pk=connection_id, archived_at__isnull=True).first()
    if connection is None:
        return "gone"
    services.connection_refresh(connection=connection, raise_errors=False)
    return connection.status


@shared_task(name="accounts.refresh_all_connections", ignore_result=True)
def refresh_all_connections() -> int:
    """Keep balances on Account Management fresh (one task per connection)."""
    ids = list(
        BrokerConnection.objects.filter(archived_at__isnull=True).values_list("pk", flat=True)
    )
    for connection_id in ids:
        refresh_connection.delay(connection_id)
    return len(ids)
