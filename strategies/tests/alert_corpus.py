"""Alert bodies as traders send them, with the intent each must give or the exact error.

Used by the fast parser test and by the test that POSTs every body to a live webhook. Each case:
`body` (the exact bytes' text), and either `intent` (a subset of `Intent.to_dict()`) or `error`
(the exact message the webhook answers with).
"""

PH = "the alert still contains the placeholder {}: TradingView did not fill it in (is the alert created on a strategy, and is the placeholder spelled right?)"
ANY = "the alert still contains the placeholder {}: TradingView did not fill it in (is the placeholder spelled right?)"

CORPUS = [
    # --- plain text -----------------------------------------------------------------------
    {
        "name": "text buy",
        "body": "buy",
        "intent": {"action": "buy", "kind": "delta", "side": 1, "quantity": None, "source": "text"},
    },
    {
        "name": "text sell 2",
        "body": "sell 2",
        "intent": {"action": "sell", "kind": "delta", "side": -1, "quantity": 2},
    },
    {
        "name": "text exit",
        "body": "exit",
        "intent": {"action": "exit", "kind": "target", "target": 0, "cancel_orders": True},
    },
    {
        "name": "text full",
        "body": "buy MNQ1! 3 @ 18650.25",
        "intent": {"action": "buy", "symbol": "MNQ1!", "quantity": 3, "price": "18650.25"},
    },
    {
        "name": "text uppercase + exchange prefix",
        "body": "SELL CME_MINI:MNQ1! 1",
        "intent": {"action": "sell", "symbol": "CME_MINI:MNQ1!", "quantity": 1},
    },
    {"name": "text close all", "body": "close all", "intent": {"action": "exit", "target": 0}},
    {"name": "text flatten", "body": "FLATTEN", "intent": {"action": "exit", "target": 0}},
    {
        "name": "text reverse",
        "body": "reverse",
        "intent": {"action": "reverse", "kind": "target", "target": None},
    },
    {
        "name": "text long alias",
        "body": "long 2",
        "intent": {"action": "buy", "side": 1, "quantity": 2},
    },
    {"name": "text short alias", "body": "short", "intent": {"action": "sell", "side": -1}},
    {
        "name": "text add",
        "body": "add 1",
        "intent": {"action": "add", "kind": "delta", "quantity": 1},
    },
    {
        "name": "text price without space",
        "body": "buy MNQ1! 1 @18650",
        "intent": {"price": "18650", "quantity": 1},
    },
    {
        "name": "text unknown action",
        "body": "hello world",
        "error": "unknown action 'hello': expected buy, sell, exit, close, flatten, reverse, add, cancel, long or short, or a JSON object with an \"action\" field",
    },
    {
        "name": "text fractional quantity",
        "body": "buy 2.5",
        "error": "quantity must be a whole number of contracts (got 2.5)",
    },
    {
        "name": "text negative quantity",
        "body": "sell -2",
        "error": "quantity must not be negative (got -2)",
    },
    {
        "name": "text huge quantity",
        "body": "buy 20000",
        "error": "quantity 20000 is above the limit of 10000 contracts",
    },
    {
        "name": "text dangling at",
        "body": "buy MNQ1! 1 @",
        "error": "'@' must be followed by a price",
    },
    {
        "name": "text zero quantity buy",
        "body": "buy 0",
        "error": "quantity must be at least 1 to buy",
    },
    # --- our JSON (DESIGN §4) ---------------------------------------------------------------
    {
        "name": "json minimal",
        "body": '{"action": "buy"}',
        "intent": {"action": "buy", "source": "json"},
    },
    {
        "name": "json full",
        "body": '{"passphrase": "p", "ticker": "MNQ1!", "action": "buy", "quantity": 2, "price": 18650.25, "time": "2025-11-05T14:30:00Z", "order_type": "limit", "take_profit": {"ticks": 40}, "stop_loss": {"points": 10}, "trailing_stop": {"ticks": 20}, "id": "abc-1"}',
        "intent": {
            "action": "buy",
            "symbol": "MNQ1!",
            "quantity": 2,
            "price": "18650.25",
            "limit_price": "18650.25",
            "order_type": "limit",
            "time": "2025-11-05T14:30:00+00:00",
            "take_profit": {"value": "40", "unit": "ticks"},
            "stop_loss": {"value": "10", "unit": "points"},
            "trailing_stop": {"value": "20", "unit": "ticks"},
            "alert_id": "abc-1",
        },
    },
    {
        "name": "json case-insensitive keys and aliases",
        "body": '{"SYMBOL": "NQ1!", "Action": "SELL", "Contracts": "3"}',
        "intent": {"action": "sell", "symbol": "NQ1!", "quantity": 3},
    },
    {
        "name": "json close",
        "body": '{"action": "close", "ticker": "ES1!"}',
        "intent": {"action": "exit", "target": 0, "symbol": "ES1!"},
    },
    {
        "name": "json flatten command",
        "body": '{"command": "FLATTEN"}',
        "intent": {"action": "exit", "target": 0},
    },
    {
        "name": "json reverse command",
        "body": '{"command": "REVERSE"}',
        "intent": {"action": "reverse"},
    },
    {
        "name": "json exits in strings",
        "body": '{"action": "buy", "tp": "2%", "sl": "$150", "trail": "8t"}',
        "intent": {
            "take_profit": {"value": "2", "unit": "percent"},
            "stop_loss": {"value": "150", "unit": "dollars"},
            "trailing_stop": {"value": "8", "unit": "ticks"},
        },
    },
    {
        "name": "json exit at a price",
        "body": '{"action": "sell", "take_profit": {"price": 18600}, "stop_loss": "@18700.5"}',
        "intent": {
            "take_profit": {"value": "18600", "unit": "price"},
            "stop_loss": {"value": "18700.5", "unit": "price"},
        },
    },
    {
        "name": "json bare exit number uses strategy unit",
        "body": '{"action": "buy", "take_profit": 40}',
        "intent": {"take_profit": {"value": "40", "unit": ""}},
    },
    {
        "name": "json epoch ms time",
        "body": '{"action": "buy", "time": 1762353000000}',
        "intent": {"time": "2025-11-05T14:30:00+00:00"},
    },
    {
        "name": "json stop order",
        "body": '{"action": "buy", "order_type": "stop", "price": 18700}',
        "intent": {"order_type": "stop", "stop_price": "18700"},
    },
    {
        "name": "json unknown fields ignored",
        "body": '{"action": "buy", "strategy": "my script", "interval": "5"}',
        "intent": {"action": "buy", "extra": {"strategy": "my script", "interval": "5"}},
    },
    # --- TradingView strategy placeholders, substituted ------------------------------------
    {
        "name": "tv strategy entry long",
        "body": '{"ticker": "MNQ1!", "action": "buy", "contracts": "3", "market_position": "long", "position_size": "3", "price": "18650.25", "time": "2025-11-05T14:30:00Z"}',
        "intent": {"kind": "target", "target": 3, "action": "buy"},
    },
    {
        "name": "tv strategy sell to flat",
        "body": '{"ticker": "MNQ1!", "action": "sell", "contracts": "3", "market_position": "flat", "position_size": "0"}',
        "intent": {"kind": "target", "target": 0, "action": "sell"},
    },
    {
        "name": "tv strategy reversal to short",
        "body": '{"action": "sell", "contracts": "4", "market_position": "short", "position_size": "-2"}',
        "intent": {"kind": "target", "target": -2},
    },
    {
        "name": "tv strategy short with unsigned size",
        "body": '{"action": "sell", "market_position": "short", "market_position_size": "2"}',
        "intent": {"kind": "target", "target": -2},
    },
    {
        "name": "tv partial exit of a long",
        "body": '{"action": "sell", "contracts": "1", "market_position": "long", "position_size": "2"}',
        "intent": {"kind": "target", "target": 2},
    },
    {
        "name": "tv sell while long, no size: reduce only",
        "body": '{"action": "sell", "contracts": "1", "market_position": "long"}',
        "intent": {"kind": "delta", "side": -1, "quantity": 1, "reduce_only": True},
    },
    {
        "name": "tv placeholder left in JSON string",
        "body": '{"action": "{{strategy.order.action}}", "ticker": "MNQ1!"}',
        "error": PH.format("{{strategy.order.action}}"),
    },
    {
        "name": "tv placeholder left unquoted",
        "body": '{"action": "buy", "price": {{close}}}',
        "error": ANY.format("{{close}}"),
    },
    {
        "name": "tv placeholder in text",
        "body": "buy {{ticker}} 1",
        "error": ANY.format("{{ticker}}"),
    },
    {
        "name": "tv timenow placeholder",
        "body": '{"action": "buy", "time": "{{timenow}}"}',
        "error": ANY.format("{{timenow}}"),
    },
    # --- bad JSON ---------------------------------------------------------------------------
    {
        "name": "json missing action",
        "body": '{"ticker": "MNQ1!", "quantity": 1}',
        "error": 'the alert has no action (expected a field such as "action": "buy")',
    },
    {
        "name": "json non-numeric quantity",
        "body": '{"action": "buy", "quantity": "two"}',
        "error": "quantity 'two' is not a number",
    },
    {
        "name": "json bad action",
        "body": '{"action": "hold"}',
        "error": "unknown action 'hold': expected buy, sell, exit, close, flatten, reverse, add, cancel, long or short",
    },
    {
        "name": "json broken",
        "body": '{"action": buy}',
        "error": "the alert is not valid JSON: Expecting value at line 1 column 12",
    },
    {
        "name": "json array",
        "body": '[{"action": "buy"}]',
        "error": "the alert is a JSON array: send one JSON object per alert",
    },
    {
        "name": "json empty object",
        "body": "{}",
        "error": "the alert is an empty JSON object: it needs at least an action",
    },
    {
        "name": "json bad sentiment",
        "body": '{"action": "buy", "sentiment": "maybe"}',
        "error": "unknown market position 'maybe': expected long, short or flat",
    },
    {
        "name": "json limit without price",
        "body": '{"action": "buy", "order_type": "limit"}',
        "error": "a limit order needs a price",
    },
    {
        "name": "json bad time",
        "body": '{"action": "buy", "time": "yesterday"}',
        "error": "time 'yesterday' is not an ISO 8601 date-time or epoch",
    },
    {
        "name": "json negative price",
        "body": '{"action": "buy", "price": -5}',
        "error": "price must not be negative (got -5)",
    },
    {"name": "empty body", "body": "   ", "error": "the alert body is empty"},
    # --- TradersPost ------------------------------------------------------------------------
    {
        "name": "traderspost entry with exits",
        "body": '{"ticker": "MNQ1!", "action": "buy", "signalPrice": 18650.25, "quantity": 1, "takeProfit": {"percent": 1}, "stopLoss": {"type": "stop", "amount": 10}}',
        "intent": {
            "source": "traderspost",
            "price": "18650.25",
            "take_profit": {"value": "1", "unit": "percent"},
            "stop_loss": {"value": "10", "unit": "points"},
        },
    },
    {
        "name": "traderspost sentiment flat",
        "body": '{"ticker": "MNQ1!", "action": "sell", "sentiment": "flat"}',
        "intent": {"kind": "target", "target": 0, "source": "traderspost"},
    },
    {
        "name": "traderspost bullish",
        "body": '{"ticker": "MNQ1!", "action": "buy", "sentiment": "bullish", "quantity": 2}',
        "intent": {"kind": "delta", "side": 1, "reduce_only": False},
    },
    {
        "name": "traderspost exit",
        "body": '{"ticker": "MNQ1!", "action": "exit"}',
        "intent": {"action": "exit", "target": 0},
    },
    {
        "name": "traderspost cancel",
        "body": '{"ticker": "MNQ1!", "action": "cancel"}',
        "intent": {"action": "cancel", "cancel_orders": True},
    },
    {
        "name": "traderspost add",
        "body": '{"ticker": "MNQ1!", "action": "add", "quantity": 1}',
        "intent": {"action": "add"},
    },
    {
        "name": "traderspost trailing stop",
        "body": '{"ticker": "MNQ1!", "action": "buy", "stopLoss": {"type": "trailing_stop", "trailPercent": 0.5}}',
        "intent": {"trailing_stop": {"value": "0.5", "unit": "percent"}, "stop_loss": None},
    },
    {
        "name": "traderspost limit price take profit and stop price",
        "body": '{"ticker": "MNQ1!", "action": "buy", "orderType": "limit", "limitPrice": 18640, "takeProfit": {"limitPrice": 18700}, "stopLoss": {"stopPrice": 18600}}',
        "intent": {
            "order_type": "limit",
            "limit_price": "18640",
            "take_profit": {"value": "18700", "unit": "price"},
            "stop_loss": {"value": "18600", "unit": "price"},
        },
    },
    {
        "name": "traderspost pnl take profit",
        "body": '{"ticker": "MNQ1!", "action": "buy", "takeProfit": {"pnlAmount": 100}}',
        "intent": {"take_profit": {"value": "100", "unit": "dollars"}},
    },
    {
        "name": "traderspost take profit without value",
        "body": '{"ticker": "MNQ1!", "action": "buy", "takeProfit": {"invalid": "value"}}',
        "error": "take profit has no distance or price: use one of amount, dollar, dollars, limitprice, percent, percentage, pnlamount, point, points, price, pts, stopprice, tick, ticks, trailamount, trailpercent, usd",
    },
    # --- PickMyTrade ------------------------------------------------------------------------
    {
        "name": "pickmytrade buy",
        "body": '{"symbol": "MNQ1!", "date": "2025-11-05T14:30:00Z", "data": "buy", "quantity": "1", "risk_percentage": "0", "price": "18650.25", "tp": "0", "percentage_tp": "0", "dollar_tp": "50", "sl": "18600", "dollar_sl": "0", "percentage_sl": "0", "trail": "0", "update_tp": "false", "token": "T0K3N"}',
        "intent": {
            "source": "pickmytrade",
            "action": "buy",
            "quantity": 1,
            "take_profit": {"value": "50", "unit": "dollars"},
            "stop_loss": {"value": "18600", "unit": "price"},
            "alert_id": "2025-11-05T14:30:00Z|buy|MNQ1!",
        },
    },
    {
        "name": "pickmytrade close",
        "body": '{"symbol": "NQM5", "date": "2025-11-05T15:00:00Z", "data": "close", "quantity": "1"}',
        "intent": {"action": "exit", "target": 0, "quantity": None, "source": "pickmytrade"},
    },
    {
        "name": "pickmytrade percentage sl",
        "body": '{"symbol": "MNQ1!", "data": "sell", "quantity": 2, "percentage_sl": "0.5"}',
        "intent": {"action": "sell", "stop_loss": {"value": "0.5", "unit": "percent"}},
    },
    # --- CrossTrade -------------------------------------------------------------------------
    {
        "name": "crosstrade place",
        "body": "key=secret-key;\ncommand=PLACE;\naccount=sim101;\ninstrument=MNQ 06-25;\naction=BUY;\nqty=1;\norder_type=MARKET;\ntif=DAY;",
        "intent": {
            "source": "crosstrade",
            "action": "buy",
            "symbol": "MNQ 06-25",
            "quantity": 1,
            "order_type": "market",
        },
    },
    {
        "name": "crosstrade limit",
        "body": "command=PLACE; account=sim101; instrument=MNQ 06-25; action=SELL; qty=2; order_type=LIMIT; limit_price=18700.5; tif=DAY;",
        "intent": {
            "action": "sell",
            "order_type": "limit",
            "limit_price": "18700.5",
            "quantity": 2,
        },
    },
    {
        "name": "crosstrade stop market",
        "body": "command=PLACE; instrument=MNQ1!; action=BUY; qty=1; order_type=STOPMARKET; stop_price=18720;",
        "intent": {"order_type": "stop", "stop_price": "18720"},
    },
    {
        "name": "crosstrade flatten",
        "body": "command=FLATTEN; account=sim101; instrument=MNQ 06-25;",
        "intent": {"action": "exit", "target": 0, "cancel_orders": True},
    },
    {
        "name": "crosstrade close position partial",
        "body": "command=CLOSEPOSITION; account=sim101; instrument=MNQ 06-25; qty=1;",
        "intent": {"action": "exit", "reduce_only": True, "quantity": 1},
    },
    {
        "name": "crosstrade reverse",
        "body": "command=REVERSEPOSITION; account=sim101; instrument=MNQ 06-25;",
        "intent": {"action": "reverse"},
    },
    {
        "name": "crosstrade unknown command",
        "body": "command=CHANGE; account=sim101; order_id=1;",
        "error": "unsupported command 'CHANGE': expected PLACE, FLATPLACE, FLATTEN, CLOSEPOSITION, REVERSE, REVERSEPOSITION or CANCELALLORDERS",
    },
    {
        "name": "crosstrade bad qty",
        "body": "command=PLACE; instrument=MNQ1!; action=BUY; qty=lots; order_type=MARKET;",
        "error": "quantity 'lots' is not a number",
    },
    # --- Trade Manager ----------------------------------------------------------------------
    {
        "name": "trade manager buy (JSON string)",
        "body": '"Scalper: BUY, Price = 18650.25, Ticker = MNQ1!, Period = 5"',
        "intent": {
            "source": "trademanager",
            "action": "buy",
            "kind": "delta",
            "price": "18650.25",
            "symbol": "MNQ1!",
            "extra": {"period": "5", "strategy_name": "Scalper"},
        },
    },
    {
        "name": "trade manager plain text sell",
        "body": "Scalper: SELL, Price = 18640, Ticker = MNQ1!, Period = 5",
        "intent": {"action": "sell", "side": -1, "source": "trademanager"},
    },
    {
        "name": "trade manager market position flat",
        "body": '"Scalper: SELL, Market Position = flat, Price = 18640, Ticker = MNQ1!, Period = 5"',
        "intent": {"kind": "target", "target": 0},
    },
    {
        "name": "trade manager amount (position size)",
        "body": '"Scalper: BUY, Amount = 3, Price = 18640, Ticker = MNQ1!, Period = 5"',
        "intent": {"kind": "target", "target": 3},
    },
    {
        "name": "trade manager short amount",
        "body": '"Scalper: SELL, Amount = -2, Price = 18640, Ticker = MNQ1!, Period = 5"',
        "intent": {"kind": "target", "target": -2},
    },
    {
        "name": "trade manager bad action",
        "body": '"Scalper: HOLD, Price = 18640, Ticker = MNQ1!"',
        "error": "unknown action 'HOLD' in the Trade Manager alert",
    },
]
