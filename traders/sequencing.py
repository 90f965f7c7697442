"""One turn per (broker account, product root): executions there run one at a time, in order.

A worker takes the turn with a conditional UPDATE that also bumps a fencing token, holds it with
a lease of a few seconds renewed by a background thread while it works, and gives it back when
the account's queue is empty. A worker killed while holding it stops renewing: its lease
expires within ``TURN_LEASE_SECONDS`` and the next worker takes the turn with a new token. Every
send re-checks the token in the transaction that claims its order (``lease_still_held``), so a
worker that was only frozen (and lost its turn meanwhile) can never send after the new holder
started. The database is the lock: a Redis that restarts empty changes nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, close_old_connections, transaction
from django.db import connection as db_connection
from django.db.models import F, Q
from django.utils import timezone

from traders.models import Turn

logger = logging.getLogger(__name__)


def lease_seconds() -> float:
    return float(getattr(settings, "TURN_LEASE_SECONDS", 6))


def holder_name(suffix: str = "") -> str:
    """Who holds a turn: host, process and thread, for the admin and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}{suffix}"[:120]


@dataclass
class Lease:
    """A held turn. ``lost`` is set when the lease could not be renewed (another worker took
    over): whoever holds this object must stop sending at once."""

    turn_id: int
    account_id: int
    root: str
    token: int
    holder: str
    lost: threading.Event = field(default_factory=threading.Event)

    @property
    def held(self) -> bool:
        return not self.lost.is_set()


def _turn_row(account_id: int, root: str) -> int:
    row = Turn.objects.filter(broker_account_id=account_id, root=root).values_list("pk", flat=True)
    pk = row.first()
    if pk is not None:
        return pk
    try:
        with transaction.atomic():
            return Turn.objects.create(broker_account_id=account_id, root=root).pk
    except IntegrityError:
        return Turn.objects.get(broker_account_id=account_id, root=root).pk


def turn_acquire(*, account_id: int, root: str, holder: str | None = None) -> Lease | None:
    """Take the turn when it is free or its lease expired; None when another worker holds it."""
    holder = holder or holder_name()
    turn_id = _turn_row(account_id, root)
    now = timezone.now()
    taken = (
        Turn.objects.filter(pk=turn_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            token=F("token") + 1,
            holder=holder,
            lease_until=now + timedelta(seconds=lease_seconds()),
        )
    )
    if not taken:
        return None
    token = Turn.objects.filter(pk=turn_id).values_list("token", flat=True).get()
    return Lease(turn_id=turn_id, account_id=account_id, root=root, token=token, holder=holder)


def turn_renew(lease: Lease) -> bool:
    """Extend the lease; False (and ``lease.lost``) when the token is no longer ours."""
    if lease.lost.is_set():
        return False
    renewed = Turn.objects.filter(pk=lease.turn_id, token=lease.token).update(
        lease_until=timezone.now() + timedelta(seconds=lease_seconds())
    )
    if not renewed:
        lease.lost.set()
    return bool(renewed)


def turn_release(lease: Lease) -> None:
    """Give the turn back (only if it is still ours)."""
    Turn.objects.filter(pk=lease.turn_id, token=lease.token).update(holder="", lease_until=None)
    lease.lost.set()


def lease_still_held(lease: Lease) -> bool:
    """Inside the transaction that claims an order: lock the turn row and check the token, so
    a takeover and this claim cannot interleave."""
    if lease.lost.is_set():
        return False
    held = (
        Turn.objects.select_for_update()
        .filter(pk=lease.turn_id, token=lease.token, lease_until__gt=timezone.now())
        .exists()
    )
    if not held:
        lease.lost.set()
    return held


class LeaseKeeper:
    """Renews a lease from a background thread until the block ends (or the lease is lost)."""

    def __init__(self, lease: Lease):
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"turn-{lease.account_id}-{lease.root}", daemon=True
        )

    def __enter__(self) -> Lease:
        self._thread.start()
        return self.lease

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = max(0.2, lease_seconds() / 3)
        deadline = time.monotonic() + lease_seconds()
        try:
            while not self._stop.wait(interval):
                try:
                    close_old_connections()
                    if not turn_renew(self.lease):
                        logger.warning(
                            "turn %s/%s lost by %s",
                            self.lease.account_id,
                            self.lease.root,
                            self.lease.holder,
                        )
                        return
                    deadline = time.monotonic() + lease_seconds()
                except OperationalError:
                    db_connection.close()
                    if time.monotonic() > deadline:  # it has expired by now: stop sending
                        self.lease.lost.set()
                        return
        finally:
            db_connection.close()


def turns_expired(*, now=None):
    """Turns whose holder stopped renewing (a killed worker): free for the next one."""
    now = now or timezone.now()
    return Turn.objects.filter(lease_until__lt=now).exclude(holder="")
