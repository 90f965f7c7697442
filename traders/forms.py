"""The trader form of the My Trader pages (the service does the writing)."""

from __future__ import annotations

from django import forms

from strategies.forms import if_holding_field, session_zone_choices
from strategies.models import Strategy
from traders import selectors

DAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
UNITS = [("ticks", "Ticks"), ("points", "Points"), ("percent", "Percent")]


class TraderForm(forms.Form):
    strategy = forms.ModelChoiceField(queryset=None, help_text="Where the signals come from.")
    broker_account = forms.ModelChoiceField(
        queryset=None,
        label="Broker account",
        help_text="The sub-account that receives real orders for every signal.",
    )
    enabled = forms.BooleanField(
        required=False,
        label="Enabled",
        help_text="Off: signals are still recorded by the strategy's recorder, but no order is "
        "sent to this account.",
    )
    if_holding = if_holding_field()
    multiplier = forms.IntegerField(
        min_value=1,
        max_value=1000,
        initial=1,
        help_text="Contracts per contract of the strategy (copy trading at a different size).",
    )
    max_contracts = forms.IntegerField(
        min_value=1,
        max_value=10_000,
        initial=10,
        help_text="Never hold more than this many contracts on this account, whatever the alert.",
    )
    daily_loss_limit = forms.DecimalField(
        required=False,
        min_value=0.01,
        decimal_places=2,
        max_digits=12,
        label="Daily loss limit ($)",
        help_text="When the account's P&L for the day reaches minus this amount, the position is "
        "flattened and the trader is off until the next trading day.",
    )
    daily_profit_target = forms.DecimalField(
        required=False,
        min_value=0.01,
        decimal_places=2,
        max_digits=12,
        label="Daily profit target ($)",
        help_text="Lock the day in: flatten and stop once the day's P&L reaches this amount.",
    )
    take_profit_override = forms.DecimalField(
        required=False,
        min_value=0.0001,
        decimal_places=4,
        max_digits=12,
        label="Take profit override",
        help_text="Replaces the strategy's and the alert's take profit on this account.",
    )
    take_profit_override_unit = forms.ChoiceField(
        choices=UNITS, initial="ticks", label="Take profit unit"
    )
    stop_loss_override = forms.DecimalField(
        required=False,
        min_value=0.0001,
        decimal_places=4,
        max_digits=12,
        label="Stop loss override",
        help_text="Replaces the strategy's and the alert's stop loss on this account.",
    )
    stop_loss_override_unit = forms.ChoiceField(
        choices=UNITS, initial="ticks", label="Stop loss unit"
    )
    session_start = forms.TimeField(
        required=False,
        help_text="Allowed session: entries outside it are skipped (exits and "
        "closes always go through). Empty: any time.",
    )
    session_end = forms.TimeField(required=False, help_text="May be before the start (overnight).")
    session_timezone = forms.ChoiceField(
        choices=session_zone_choices, initial="America/New_York", label="Session time zone"
    )
    session_days = forms.TypedMultipleChoiceField(
        choices=DAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Days the session starts on. None ticked: every day.",
    )

    groups_spec = [
        ("Link", ["strategy", "broker_account", "enabled", "if_holding"]),
        ("Size", ["multiplier", "max_contracts"]),
        ("Daily limits", ["daily_loss_limit", "daily_profit_target"]),
        (
            "Exit overrides",
            [
                "take_profit_override",
                "take_profit_override_unit",
                "stop_loss_override",
                "stop_loss_override_unit",
            ],
        ),
        ("Allowed session", ["session_start", "session_end", "session_timezone", "session_days"]),
    ]

    def __init__(self, *args, user, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["if_holding"]  # a new trader holds nothing

        self.fields["strategy"].queryset = Strategy.objects.filter(user=user)
        self.fields["broker_account"].queryset = selectors.broker_account_list(user=user)
        if not self.is_bound:
            self._preselect_the_only_choice("strategy")
            self._preselect_the_only_choice("broker_account")
        for field in self.fields.values():
            if isinstance(field.widget, forms.TimeInput):
                field.widget.input_type = "time"

    def _preselect_the_only_choice(self, name: str) -> None:
        """One strategy or one account to choose from: it is chosen already."""
        if self.initial.get(name):
            return
        only = list(self.fields[name].queryset[:2])
        if len(only) == 1:
            self.initial[name] = only[0].pk

    @property
    def groups(self):
        return [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in self.groups_spec
        ]

    def clean(self):
        data = super().clean()
        if bool(data.get("session_start")) != bool(data.get("session_end")):
            raise forms.ValidationError("Give both the session start and end, or neither.")
        return data

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("strategy")
        data.pop("broker_account")
        data.pop("if_holding", None)
        data["session_days"] = list(data.get("session_days") or [])
        return data
