"""`manage.py flatten_all [--user NAME]`: cancel working orders and close every position."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from traders.manual import flatten_all


class Command(BaseCommand):
    help = (
        "Cancel every working order and close every position on the active broker accounts of "
        "one user (--user) or of every user. Prints what was closed and what failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="username or email (default: every user)")
        parser.add_argument(
            "--disable-traders", action="store_true", help="also switch the traders off"
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, user=None, disable_traders=False, yes=False, **options):
        User = get_user_model()
        if user:
            users = list(User.objects.filter(username=user)) or list(
                User.objects.filter(email__iexact=user)
            )
            if not users:
                raise CommandError(f"No user {user!r}.")
        else:
            users = list(User.objects.filter(broker_connections__accounts__active=True).distinct())
        if not yes and options.get("interactive", True):
            names = ", ".join(u.username for u in users) or "nobody"
            answer = input(f"Flatten every account of: {names}? Type 'yes': ")
            if answer.strip().lower() != "yes":
                raise CommandError("Cancelled.")
        failed = 0
        for u in users:
            result = flatten_all(user=u, disable_traders=disable_traders)
            for done in result["flattened"]:
                closed = ", ".join(done["closed"]) or "already flat"
                self.stdout.write(f"{u.username} · {done['account']}: {closed}")
            for err in result["errors"]:
                failed += 1
                self.stderr.write(f"{u.username} · {err['account']}: FAILED {err['error']}")
        if failed:
            raise CommandError(f"{failed} account(s) could not be flattened.")
        self.stdout.write(self.style.SUCCESS(f"Flattened {len(users)} user(s)."))
