"""Ready-to-paste TradingView alert messages for a strategy."""

from __future__ import annotations

import json

from strategies.models import Strategy


def _dump(fields: dict[str, str]) -> str:
    return json.dumps(fields, indent=2)


def alert_messages(strategy: Strategy) -> list[dict[str, str]]:
    """[{key, title, help, message}] — the strategy-script form and the indicator forms."""
    secret = {"passphrase": strategy.passphrase} if strategy.passphrase else {}
    script = _dump(
        {
            **secret,
            "ticker": "{{ticker}}",
            "action": "{{strategy.order.action}}",
            "contracts": "{{strategy.order.contracts}}",
            "market_position": "{{strategy.market_position}}",
            "position_size": "{{strategy.position_size}}",
            "price": "{{close}}",
            "time": "{{timenow}}",
        }
    )

    def indicator(action: str) -> str:
        return _dump(
            {
                **secret,
                "ticker": "{{ticker}}",
                "action": action,
                "price": "{{close}}",
                "time": "{{timenow}}",
            }
        )

    return [
        {
            "key": "strategy",
            "title": "Pine strategy (one alert for every order)",
            "help": "Create the alert on your strategy with the condition “Order fills only”. The "
            "account follows the strategy's position, so a missed fill heals at the next alert.",
            "message": script,
        },
        {
            "key": "buy",
            "title": "Indicator: buy",
            "help": "An alert on an indicator condition that should go long (or add).",
            "message": indicator("buy"),
        },
        {
            "key": "sell",
            "title": "Indicator: sell",
            "help": "An alert that should go short (or reverse a long, unless the strategy is "
            "close-only).",
            "message": indicator("sell"),
        },
        {
            "key": "exit",
            "title": "Indicator: exit",
            "help": "An alert that closes the position and cancels working orders.",
            "message": indicator("exit"),
        },
    ]
