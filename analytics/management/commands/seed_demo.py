"""`manage.py seed_demo`: a demo trader with a few months of paper trading, ready to look at.

Everything goes through the product's own services, as live alerts would:
strategies with `strategies.services.strategy_create` (which starts their recorders), each alert
with `signal_create_internal` + `signal_process` (filters, recorder, traders, log), and each
take-profit / stop-loss exit with the recorder's quote handler `recorder_apply_quote`. Only the
clock is moved back: each alert is dated in the past before it is processed, so the record spans
the last N weeks. Traders (switched off) link the strategies to the demo's paper account when
the paper broker is running.
"""

from __future__ import annotations

import json
import random
import secrets
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.brokers.symbols import product_spec
from accounts.models import BrokerAccount
from accounts.services import paper_connection_provision
from recorder.ledger import Quote
from recorder.models import Recorder
from recorder.services import recorder_apply_quote, recorder_update
from strategies.models import Signal
from strategies.processing import signal_process
from strategies.services import signal_create_internal, strategy_create, strategy_update
from traders.services import trader_create

NEW_YORK = ZoneInfo("America/New_York")

# name, TradingView symbol, root, contracts, take profit / stop loss in ticks, win rate
PLAYBOOK = [
    ("NQ Opening Range", "MNQ1!", "MNQ", 2, 40, 24, 0.52),
    ("ES Trend Pullback", "MES1!", "MES", 3, 16, 10, 0.46),
    ("Crude Reversal", "MCL1!", "MCL", 2, 30, 20, 0.43),
]


class Command(BaseCommand):
    help = "Create a demo user with strategies, recorders, traders and months of paper trades."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="", help="default: a new random password")
        parser.add_argument("--days", type=int, default=90, help="calendar days of history")
        parser.add_argument("--seed", type=int, default=None, help="repeatable randomness")
        parser.add_argument(
            "--reset", action="store_true", help="delete an existing demo user first"
        )

    def handle(self, *args, **opts):
        if opts["days"] < 1 or opts["days"] > 730:
            raise CommandError("--days must be between 1 and 730.")
        User = get_user_model()
        username = opts["username"]
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            if not opts["reset"]:
                raise CommandError(
                    f"User {username!r} exists. Run again with --reset to replace it."
                )
            existing.delete()
        password = opts["password"] or secrets.token_urlsafe(12)
        user = User.objects.create_user(
            username=username, email=f"{username}@demo.just.trades", password=password
        )
        user.timezone = "America/New_York"
        user.save(update_fields=["timezone"])
        rng = random.Random(opts["seed"])
        strategies = self._strategies(user)
        now = timezone.now()
        trades = 0
        for strategy, play in strategies:
            trades += self._history(strategy, play, rng, now=now, days=opts["days"])
        self._open_position(strategies[0], rng, now=now)

        for strategy, _ in strategies:  # live alerts from now on are judged by their age again
            strategy_update(strategy=strategy, max_signal_age_seconds=30)
        traders = self._traders(user, [s for s, _ in strategies])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(strategies)} strategies, {trades} recorded trades over "
                f"{opts['days']} days, {traders} traders."
            )
        )
        self.stdout.write(f"Log in at /accounts/login/ as {username!r} with password: {password}")

    # --- pieces -----------------------------------------------------------------------------

    def _strategies(self, user):

        out = []
        for name, symbol, root, qty, tp, sl, win_rate in PLAYBOOK:
            strategy = strategy_create(
                user=user, name=name, default_symbol=symbol, quantity=qty,
                take_profit=Decimal(tp), take_profit_unit="ticks",
                stop_loss=Decimal(sl), stop_loss_unit="ticks",
                max_signal_age_seconds=0,  # the history's alerts are old on purpose
            )  # fmt: skip
            with transaction.atomic():
                # History is replayed at the prices of its alerts (no live market behind it).
                recorder_update(
                    recorder=strategy.recorder,
                    commission_per_side=Decimal("0.62"),
                    fill_mode=Recorder.FillMode.ALERT_PRICE,
                )
            out.append((strategy, {"symbol": symbol, "root": root, "tp": tp, "sl": sl,
                                   "win_rate": win_rate}))  # fmt: skip
        return out

    def _signal(self, strategy, body: dict, at: datetime):
        """One alert through the real signal path, dated `at`."""

        with transaction.atomic():
            result = signal_create_internal(
                strategy=strategy, body=json.dumps(body), origin=Signal.Origin.TEST,
                dedupe_key=f"demo:{secrets.token_hex(8)}",
            )  # fmt: skip
            signal_id = result.body["signal_id"]
            Signal.objects.filter(pk=signal_id).update(received_at=at)
            signal_process(signal_id=signal_id)
        return Signal.objects.get(pk=signal_id)

    def _quote(self, contract: str, price: Decimal, at: datetime) -> None:

        recorder_apply_quote(symbol=contract, quote=Quote(at=at, last=price))

    def _history(self, strategy, play, rng: random.Random, *, now: datetime, days: int) -> int:

        spec = product_spec(play["root"])
        tick = spec.tick_size
        price = spec.base_price
        first = (now - timedelta(days=days)).astimezone(NEW_YORK).date()
        today = now.astimezone(NEW_YORK).date()
        trades = 0
        day = first
        while day <= today:
            if day.weekday() < 5:
                price, n = self._day(strategy, play, rng, day, price, tick, now)
                trades += n
            day += timedelta(days=1)
        return trades

    def _day(self, strategy, play, rng, day: date, price: Decimal, tick: Decimal, now):
        """0–4 round trips between 09:35 and 15:45 New York time."""
        n = rng.choice([0, 1, 1, 2, 2, 3, 4])
        minutes = sorted(rng.sample(range(5, 370), n))
        done = 0
        for m in minutes:
            at = datetime.combine(day, time(9, 30), tzinfo=NEW_YORK) + timedelta(minutes=m)
            hold = timedelta(minutes=rng.randint(2, 25), seconds=rng.randint(0, 59))
            if at + hold >= now:
                break
            price = (price + tick * rng.randint(-60, 60)).quantize(tick)
            long = rng.random() < 0.55
            signal = self._signal(
                strategy,
                {
                    "ticker": play["symbol"],
                    "action": "buy" if long else "sell",
                    "price": str(price),
                },
                at.astimezone(UTC),
            )
            if not signal.contract:
                continue
            sign = 1 if long else -1
            roll = rng.random()
            exit_at = (at + hold).astimezone(UTC)
            if roll < play["win_rate"] * 0.85:  # target hit
                self._quote(signal.contract, price + sign * tick * play["tp"], exit_at)
            elif roll < 0.85:  # stop hit
                self._quote(signal.contract, price - sign * tick * play["sl"], exit_at)
            else:  # closed by the strategy's own exit alert, somewhere in between
                move = tick * rng.randint(-play["sl"] + 1, play["tp"] - 1)
                self._signal(
                    strategy,
                    {"ticker": play["symbol"], "action": "exit", "price": str(price + sign * move)},
                    exit_at,
                )
            done += 1
        return price, done

    def _open_position(self, item, rng, *, now: datetime) -> None:
        """One position open right now, with a first quote so its open P&L shows."""
        strategy, play = item

        spec = product_spec(play["root"])
        price = spec.base_price
        at = now - timedelta(minutes=3)
        signal = self._signal(
            strategy, {"ticker": play["symbol"], "action": "buy", "price": str(price)}, at
        )
        if signal.contract:
            self._quote(signal.contract, price + spec.tick_size * 9, now - timedelta(seconds=20))

    def _traders(self, user, strategies) -> int:
        """Traders (off) on the demo's paper account, when the paper broker answers."""

        accounts = list(BrokerAccount.objects.filter(connection__user=user, active=True))
        if not accounts:
            try:
                paper_connection_provision(user=user)
            except Exception as exc:  # noqa: BLE001 - the demo works without traders
                self.stderr.write(f"Paper broker not reachable ({exc}); no traders created.")
                return 0
            accounts = list(BrokerAccount.objects.filter(connection__user=user, active=True))
        if not accounts:
            self.stdout.write(
                "The paper broker is not running (start it with `make run`): no traders yet."
            )
            return 0

        made = 0
        for strategy in strategies:
            try:
                trader_create(user=user, strategy=strategy, broker_account=accounts[0])
                made += 1
            except Exception as exc:  # noqa: BLE001 - report and go on with the others
                self.stderr.write(f"Trader for {strategy.name} not created: {exc}")
        return made
