"""``manage.py paper_accounts``: give every user (or the named ones) a working Paper account."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.services import paper_connection_provision


class Command(BaseCommand):
    help = "Create (or re-provision) the Paper broker connection of users; idempotent."

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", help="only these users (default: all)")

    def handle(self, *args, **opts):
        users = get_user_model().objects.order_by("pk")
        if opts["usernames"]:
            users = users.filter(username__in=opts["usernames"])
        failures = 0
        for user in users:
            connection = paper_connection_provision(user=user)
            accounts = ", ".join(f"{a.name} ${a.balance:,.2f}" for a in connection.accounts.all())
            if connection.status == "connected":
                self.stdout.write(f"{user.username}: {connection.label} ({accounts})")
            else:
                failures += 1
                self.stderr.write(f"{user.username}: {connection.last_error}")
        if failures:
            raise SystemExit(1)
