"""The README's map of the signal path and its table of what each alert does stay true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

from strategies.parsing import parse_alert
from traders.decision import Rules, strategy_decision

README = Path(settings.BASE_DIR) / "README.md"
SETTINGS = {
    "reverse (default)": {},
    "close only": {"close_only": True},
    "long only": {"direction": "long"},
    "short only": {"direction": "short"},
    "max position 2": {"max_position": 2},
    "ignore same-side adds": {"ignore_same_side": True},
}
BODIES = {
    "buy 2": "buy 2",
    "sell 2": "sell 2",
    "exit": "exit",
    "reverse": "reverse",
    "sell, sentiment flat": '{"action": "sell", "sentiment": "flat"}',
    "buy, TradingView position long 3": (
        '{"action": "buy", "market_position": "long", "position_size": 3}'
    ),
}


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    return text[start : text.index("\n## ", start + 1)]


def test_every_hop_of_the_signal_path_names_a_function_that_exists():
    hops = re.findall(r"`([a-z_/]+\.py):([A-Za-z_]+)`", _section("## How an alert becomes orders"))
    assert len(hops) >= 12
    for path, name in hops:
        source = (Path(settings.BASE_DIR) / path).read_text()
        defined = {
            node.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
        }
        assert name in defined, f"{path}:{name} is in the README but not in the code"


def _position(cell: str) -> int:
    return 0 if cell == "flat" else int(cell)


def test_the_table_of_what_each_alert_does_is_what_the_decision_does():
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in _section("### What each alert does").splitlines()
        if line.startswith("| `")
    ]
    assert len(rows) == len(BODIES) * 3
    header = [
        c.strip()
        for c in _section("### What each alert does")
        .split("| alert | from |")[1]
        .splitlines()[0]
        .strip(" |")
        .split("|")
    ]
    assert header == list(SETTINGS)
    for alert, start, *cells in rows:
        intent = parse_alert(BODIES[alert.strip("`")])
        for setting, cell in zip(SETTINGS, cells, strict=True):
            rules = Rules(default_quantity=1, sizing_from_signal=True, **SETTINGS[setting])
            decided = strategy_decision(intent, current=_position(start), rules=rules)
            assert decided.target == _position(cell), (alert, start, setting)
