"""The Create / Edit Strategy form: every setting, each with help a trader can act on."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms

from strategies.models import Strategy
from traders.services import FLATTEN, KEEP

DAY_CHOICES = [(i, d) for i, d in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]
COMMON_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "UTC",
]

HELP = {
    "name": "Shown in your dashboard, logs and Discord messages.",
    "passphrase": "Optional second secret. When set, every alert must carry "
    '"passphrase": "…" in its JSON. The webhook URL itself is already secret.',
    "default_symbol": "Used when an alert names no ticker. Continuous symbols such as MNQ1! "
    "trade the front-month contract (rolled automatically).",
    "sizing": "From the alert (the default): an alert with a quantity / contracts (or the "
    "TradingView strategy's position size) trades that many; one without trades the quantity "
    "below. Fixed: every entry trades the quantity below, whatever the alert says (the signal "
    'table then shows "alert 3 → traded 1 (fixed)").',
    "quantity": "Contracts per entry with fixed sizing; the size of an alert that names none.",
    "opposite_signal": "When a sell arrives while long (or a buy while short): reverse into the "
    "new side, or only close the open position.",
    "take_profit": "Distance of the take-profit order from the entry, in the unit beside it. "
    "Empty: no take profit (unless the alert gives one).",
    "stop_loss": "Distance of the protective stop from the entry. Empty: no stop loss.",
    "trailing_stop": "A stop that follows the price by this distance. Empty: none.",
    "break_even_trigger": "Once the trade is this far in profit, the stop moves to the entry "
    "price. Empty: never.",
    "session_start": "Entries are accepted only inside the session (exits always are). Leave "
    "start and end empty to trade around the clock. An end before the start spans midnight.",
    "session_end": "End of the trading session (exclusive).",
    "session_timezone": "The time zone of the session and of the auto-flatten time.",
    "session_days": "Days on which entries are accepted. None checked: every day.",
    "direction": "Long only ignores entries that would open a short (a sell only closes a "
    "long); short only the opposite.",
    "max_position": "The largest position, in contracts, the strategy may hold. Empty: no cap.",
    "cooldown_seconds": "After an entry, ignore new entries for this many seconds. 0: off.",
    "entry_delay_seconds": "Wait this many seconds before acting on an entry (exits are never "
    "delayed). 0: act at once.",
    "ignore_same_side": "Ignore a buy while already long (or a sell while short) instead of "
    "adding to the position.",
    "auto_flatten_time": "Every day at this time (session time zone) the position is closed "
    "and working orders are cancelled. Empty: never.",
    "enabled": "A switched-off strategy opens nothing: entries are refused with the reason; "
    "exits, flattens and the auto-flatten still close what its traders hold.",
    "trade_alert_ticker": "Trade whatever product the alert names. Off: an alert for another "
    "product than the default symbol's (NQ on an MNQ strategy) is rejected, not traded at ten "
    "times the risk.",
    "max_signal_age_seconds": "An entry not placed this many seconds after its alert arrived "
    "is dropped, with a log line (exits are never dropped). 0: no limit.",
    "dedupe_window_seconds": "A repeat of an alert (the same id, else the same body) this soon "
    "after its first copy is the same alert. TradingView resends after a server error within "
    "about 15 s.",
    "follow_exchange_session": "No entries while CME Globex is closed (the daily break, "
    "weekends, exchange holidays).",
}


def if_holding_field() -> forms.ChoiceField:
    """Switching off while a position or working orders are held: what happens to them (the
    strategy and trader forms; empty asks, i.e. the save is refused with what is held)."""
    return forms.ChoiceField(
        choices=[
            ("", "Ask me: refuse while something is held"),
            (KEEP, "Keep it: entries stop, its exits and auto-flatten still run"),
            (FLATTEN, "Close it at the broker"),
        ],
        required=False,
        label="If switched off while holding",
        help_text="Only used when you switch it off while a position or working orders are held.",
    )


def session_zone_choices() -> list[tuple[str, str]]:
    """The session time zones offered by the strategy and trader forms: the usual ones first."""
    zones = COMMON_ZONES + sorted(z for z in available_timezones() if z not in COMMON_ZONES)
    return [(z, z) for z in zones]


class StrategyForm(forms.ModelForm):
    session_days = forms.TypedMultipleChoiceField(
        choices=DAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=HELP["session_days"],
    )
    session_timezone = forms.ChoiceField(help_text=HELP["session_timezone"])
    if_holding = if_holding_field()

    class Meta:
        model = Strategy
        fields = [
            "name",
            "enabled",
            "default_symbol",
            "sizing",
            "quantity",
            "opposite_signal",
            "passphrase",
            "take_profit",
            "take_profit_unit",
            "stop_loss",
            "stop_loss_unit",
            "trailing_stop",
            "trailing_stop_unit",
            "break_even_trigger",
            "break_even_unit",
            "direction",
            "max_position",
            "ignore_same_side",
            "cooldown_seconds",
            "entry_delay_seconds",
            "session_start",
            "session_end",
            "session_timezone",
            "session_days",
            "auto_flatten_time",
            "follow_exchange_session",
            "trade_alert_ticker",
            "max_signal_age_seconds",
            "dedupe_window_seconds",
        ]
        widgets = {
            "session_start": forms.TimeInput(attrs={"type": "time"}),
            "session_end": forms.TimeInput(attrs={"type": "time"}),
            "auto_flatten_time": forms.TimeInput(attrs={"type": "time"}),
            "passphrase": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        labels = {
            "default_symbol": "Default symbol",
            "opposite_signal": "Opposite signal",
            "break_even_trigger": "Break-even trigger",
            "cooldown_seconds": "Cooldown (seconds)",
            "entry_delay_seconds": "Entry delay (seconds)",
            "ignore_same_side": "Ignore same-side adds",
            "auto_flatten_time": "Auto-flatten time",
            "max_position": "Max position",
            "enabled": "Enabled",
            "trade_alert_ticker": "Trade the alert's ticker",
            "max_signal_age_seconds": "Max signal age (seconds)",
            "dedupe_window_seconds": "Dedupe window (seconds)",
            "follow_exchange_session": "Follow the exchange session",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session_timezone"].choices = session_zone_choices()
        for name, field in self.fields.items():
            if name in HELP and not field.help_text:
                field.help_text = HELP[name]
        for name in ("max_signal_age_seconds", "dedupe_window_seconds"):
            self.fields[name].required = False  # empty keeps the strategy's (or the default)
        self.fields["quantity"].min_value = 1
        self.fields["quantity"].widget.attrs["min"] = 1
        for unit in ("take_profit_unit", "stop_loss_unit", "trailing_stop_unit", "break_even_unit"):
            self.fields[unit].label = "Unit"
        for number in ("take_profit", "stop_loss", "trailing_stop", "break_even_trigger"):
            self.fields[number].widget.attrs.update(min="0", step="any")
        if self.instance and self.instance.pk:
            self.initial["session_days"] = self.instance.session_days
        else:
            del self.fields["if_holding"]  # a new strategy holds nothing

    def clean(self):
        data = super().clean()
        start, end = data.get("session_start"), data.get("session_end")
        if (start is None) != (end is None):
            self.add_error("session_end", "Give both a session start and end, or neither.")
        return data

    def settings(self) -> dict:
        """Cleaned values in the shape the services take."""
        data = {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}
        data["session_days"] = sorted(set(data.get("session_days") or []))
        for name in ("max_signal_age_seconds", "dedupe_window_seconds"):
            if data.get(name) is None:
                data.pop(name, None)
        return data

    # Field groups for the template (label, fields).
    GROUPS = [
        (
            "Basics",
            ["name", "enabled", "if_holding", "default_symbol", "trade_alert_ticker", "passphrase"],
        ),
        (
            "Sizing",
            [
                "sizing",
                "quantity",
                "opposite_signal",
                "direction",
                "max_position",
                "ignore_same_side",
            ],
        ),
        (
            "Exits",
            [
                "take_profit",
                "take_profit_unit",
                "stop_loss",
                "stop_loss_unit",
                "trailing_stop",
                "trailing_stop_unit",
                "break_even_trigger",
                "break_even_unit",
            ],
        ),
        (
            "Session and timing",
            [
                "session_start",
                "session_end",
                "session_timezone",
                "session_days",
                "cooldown_seconds",
                "entry_delay_seconds",
                "max_signal_age_seconds",
                "dedupe_window_seconds",
                "follow_exchange_session",
                "auto_flatten_time",
            ],
        ),
    ]

    def groups(self):
        return [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in self.GROUPS
        ]
