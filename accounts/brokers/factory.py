"""The one place a broker client is built: from a stored connection or from form input.

Every caller (traders, recorders, the broker stream, Account Management) goes through
``broker_for(connection)``: one client per connection per process, so its HTTP session and
cached access token stay warm, rebuilt only when the connection's credentials change
(``credentials_version``), never because a balance refresh touched the row.
"""

from __future__ import annotations

import threading

from django.conf import settings

from accounts.brokers.base import Broker, Credentials
from accounts.brokers.tradovate import TradovateClient, urls_for_connection
from accounts.crypto import decrypt
from accounts.models import BrokerConnection

_clients: dict[int, tuple[tuple, Broker]] = {}
_lock = threading.Lock()


def credentials_with_defaults(
    *,
    username: str,
    password: str,
    app_id: str = "",
    app_version: str = "",
    cid: str = "",
    sec: str = "",
    device_id: str = "",
) -> Credentials:
    """Credentials with the server's app id and version where the login has none: the same
    values for every caller, so one login is one cached token."""
    return Credentials(
        username=username,
        password=password,
        app_id=app_id or settings.TRADOVATE_APP_ID,
        app_version=app_version or settings.TRADOVATE_APP_VERSION,
        cid=cid,
        sec=sec,
        device_id=device_id,
    )


def connection_credentials(connection: BrokerConnection) -> Credentials:
    """The stored credentials of a connection, decrypted (in memory only)."""
    return credentials_with_defaults(
        username=connection.username,
        password=decrypt(connection.password_encrypted),
        app_id=connection.app_id,
        app_version=connection.app_version,
        cid=connection.cid,
        sec=decrypt(connection.sec_encrypted),
        device_id=connection.device_id,
    )


def client_for(
    *,
    kind: str,
    credentials: Credentials,
    timeout: float | None = None,
    max_penalty_wait: float | None = None,
) -> TradovateClient:
    """A fresh client for a broker kind and credentials (a form's Test Connection)."""

    rest, ws, md = urls_for_connection(BrokerConnection(kind=kind))
    extra = {} if max_penalty_wait is None else {"max_penalty_wait": max_penalty_wait}
    return TradovateClient(
        base_url=rest, ws_url=ws, md_url=md, credentials=credentials, timeout=timeout, **extra
    )


def broker_for(connection: BrokerConnection) -> Broker:
    """The broker client of a stored connection, shared by every caller of this process."""
    # The broker's address is part of the key: settings move it (a paper broker on a new port).
    version = (connection.credentials_version, connection.kind, urls_for_connection(connection))
    cached = _clients.get(connection.pk)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _lock:
        cached = _clients.get(connection.pk)
        if cached is None or cached[0] != version:
            client = client_for(
                kind=connection.kind, credentials=connection_credentials(connection)
            )
            cached = _clients[connection.pk] = (version, client)
    return cached[1]
