"""``manage.py tradovate_sim --port 8765``: the Tradovate simulator (the built-in paper broker)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.brokers.simulator.server import SimConfig, run
from accounts.services import paper_admin_token


class Command(BaseCommand):
    help = (
        "Serve Tradovate's REST and WebSocket API from a local simulator with a matching engine "
        "(the paper broker). Default login demo/demo with two $50,000 accounts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--users",
            type=Path,
            help='JSON list of logins: [{"name", "password", "accounts": 2 | ["NAME", ...], '
            '"balance": 50000, "cid", "sec"}]',
        )
        parser.add_argument("--no-demo", action="store_true", help="no demo/demo login")
        parser.add_argument("--seed", type=int, default=7, help="random-walk seed")
        parser.add_argument(
            "--no-feed", action="store_true", help="prices move only via /sim/price"
        )
        parser.add_argument("--feed-interval", type=float, default=0.5, help="seconds per tick")
        parser.add_argument(
            "--replay", type=Path, help="CSV of ticks to replay: timestamp,symbol,price"
        )
        parser.add_argument("--replay-speed", type=float, default=1.0)
        parser.add_argument(
            "--state",
            type=Path,
            default=Path(settings.VAR_DIR) / "tradovate_sim" / "state.json",
            help="state file: logins, accounts, orders and positions survive a restart",
        )
        parser.add_argument("--no-state", action="store_true", help="keep everything in memory")
        parser.add_argument(
            "--no-sessions",
            action="store_true",
            help="accept orders at any hour (by default, as on CME Globex, new orders are "
            "refused on weekends, holidays and in the daily 16:00-17:00 CT break)",
        )
        parser.add_argument("--token-ttl", type=int, default=80 * 60, help="token lifetime (s)")
        parser.add_argument(
            "--admin-token",
            default=None,
            help="require this X-Sim-Admin header on /sim/* endpoints "
            "(default: $PAPER_BROKER_ADMIN_TOKEN)",
        )

    def handle(self, *args, **opts):
        users = []
        if opts["users"]:
            try:
                users = json.loads(opts["users"].read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read --users {opts['users']}: {exc}") from exc
            if not isinstance(users, list):
                raise CommandError("--users must hold a JSON list of logins")
        if opts["replay"] and not opts["replay"].exists():
            raise CommandError(f"No such replay file: {opts['replay']}")
        logging.getLogger("tradovate_sim").setLevel(logging.INFO)
        config = SimConfig(
            host=opts["host"],
            port=opts["port"],
            seed=opts["seed"],
            users=users,
            demo_user=not opts["no_demo"],
            state_path=None if opts["no_state"] else opts["state"],
            feed=not opts["no_feed"],
            feed_interval=opts["feed_interval"],
            replay_path=opts["replay"],
            replay_speed=opts["replay_speed"],
            token_ttl=opts["token_ttl"],
            enforce_sessions=not opts["no_sessions"],
            admin_token=opts["admin_token"]
            if opts["admin_token"] is not None
            else paper_admin_token(),
        )
        self.stdout.write(
            f"Tradovate simulator on http://{config.host}:{config.port}/v1 "
            f"(ws://{config.host}:{config.port}/v1/websocket)"
            + (f", state in {config.state_path}" if config.state_path else "")
        )
        run(config)
