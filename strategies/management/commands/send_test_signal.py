"""POST a real alert to a running server's webhook, as TradingView would."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from strategies.models import Strategy


class Command(BaseCommand):
    help = (
        "Send a test alert to a strategy's webhook over HTTP. <strategy> is an id, a webhook "
        "token or a name (with --user when names repeat)."
    )

    def add_arguments(self, parser):
        parser.add_argument("strategy")
        parser.add_argument("action", help="buy, sell, exit, close, flatten, reverse, add, cancel")
        parser.add_argument("quantity", nargs="?", type=int)
        parser.add_argument("--price", help="alert price, e.g. 18650.25")
        parser.add_argument("--symbol", help="ticker, e.g. MNQ1! (default: the strategy's)")
        parser.add_argument("--url", help=f"server base URL (default {settings.PUBLIC_BASE_URL})")
        parser.add_argument("--user", help="owner's username, to pick a strategy by name")
        parser.add_argument("--timeout", type=float, default=5.0)

    def handle(self, *args, **opts):
        strategy = self._strategy(opts["strategy"], opts.get("user"))
        body: dict = {"action": opts["action"]}
        if strategy.passphrase:
            body["passphrase"] = strategy.passphrase
        if opts.get("symbol"):
            body["ticker"] = opts["symbol"]
        if opts.get("quantity") is not None:
            body["quantity"] = opts["quantity"]
        if opts.get("price"):
            try:
                body["price"] = str(Decimal(opts["price"]))
            except InvalidOperation:
                raise CommandError(f"--price {opts['price']!r} is not a number") from None
        base = (opts.get("url") or settings.PUBLIC_BASE_URL).rstrip("/")
        url = f"{base}/webhooks/{strategy.webhook_token}/"
        try:
            response = requests.post(
                url,
                data=json.dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=opts["timeout"],
            )
        except requests.RequestException as exc:
            raise CommandError(f"could not reach {base}: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {"message": response.text[:300]}
        line = f"{response.status_code} {json.dumps(answer)}"
        if response.status_code >= 400:
            raise CommandError(line)
        self.stdout.write(self.style.SUCCESS(line))

    def _strategy(self, ref: str, username: str | None) -> Strategy:
        qs = Strategy.objects.select_related("user")
        if username:
            qs = qs.filter(user__username=username)
        if ref.isdigit():
            found = qs.filter(pk=int(ref)).first()
            if found:
                return found
        found = qs.filter(webhook_token=ref).first()
        if found:
            return found
        matches = list(qs.filter(name=ref)[:2])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise CommandError(f"several strategies are named {ref!r}: add --user or use the id")
        raise CommandError(f"no strategy {ref!r} (give an id, a webhook token or a name)")
