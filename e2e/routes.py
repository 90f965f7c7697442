"""Every URL the project serves, classified, from Django's own resolver: a route added by anyone
is covered by the isolation suite the moment it exists, or fails it until it is classified."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Routes that are not a user's objects: open by design, or the business of another mechanism.
PUBLIC_PREFIXES = (
    "healthz",  # load balancer probe
    "ping",  # the benchmark baseline
    "api/schema/",  # the OpenAPI document
    "api/docs/",
    "webhooks/",  # authenticated by the secret token in the URL
    "webhook/",
    "accounts/",  # allauth: login, signup, password reset, email
    "_allauth/",  # allauth's JSON auth (browser client: session + CSRF; app client: token)
    "oauth/",  # OAuth provider callbacks (allauth checks the state)
    "sw.js",  # the service worker script
    "static/",
    "favicon",
    "manifest",
)
STAFF_PREFIXES = ("admin/",)

# URL parameter → which of alice's objects it names (see e2e/world.py).
PARAM_OBJECTS = {
    "connection_id": "connection",
    "broker_connection_id": "connection",
    "account_id": "account",
    "broker_account_id": "account",
    "strategy_id": "strategy",
    "signal_id": "signal",
    "recorder_id": "recorder",
    "trader_id": "trader",
    "order_id": "order",
    "fill_id": "fill",
    "position_id": "position",
    "notification_id": "notification",
    "subscription_id": "push",
    "log_id": "log",
}
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    pattern: str  # "api/strategies/<int:strategy_id>/"
    name: str | None
    view: object
    params: tuple[str, ...]
    is_regex: bool

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def kind(self) -> str:
        """public | staff | owned (ids in the path) | user (the user's own, no ids) | unknown"""
        if self.pattern.startswith(PUBLIC_PREFIXES):
            return "public"
        if self.pattern.startswith(STAFF_PREFIXES):
            return "staff"
        if self.is_regex:
            return "unknown"
        if not self.params:
            return "user"
        if all(p in PARAM_OBJECTS for p in self.params):
            return "owned"
        return "unknown"

    def methods(self) -> tuple[str, ...] | None:
        """HTTP methods of a class-based view; None for a function view (not knowable)."""
        cls = getattr(self.view, "view_class", None) or getattr(self.view, "cls", None)
        if cls is None:
            return None
        return tuple(m for m in METHODS if hasattr(cls, m))

    def url(self, values: dict[str, object]) -> str:
        def sub(m: re.Match) -> str:
            return str(values[m["name"]])

        return "/" + PARAM.sub(sub, self.pattern)

    def __str__(self) -> str:
        return "/" + self.pattern


def all_routes() -> list[Route]:
    out: list[Route] = []

    def walk(patterns, prefix: str, regex: bool) -> None:
        for p in patterns:
            text = str(p.pattern)
            is_regex = regex or type(p.pattern).__name__ == "RegexPattern"
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + text, is_regex)
            elif isinstance(p, URLPattern):
                route = prefix + text
                params = tuple(m["name"] for m in PARAM.finditer(route))
                out.append(Route(route, p.name, p.callback, params, is_regex))

    walk(get_resolver().url_patterns, "", False)
    return out


def routes_of(kind: str) -> list[Route]:
    return [r for r in all_routes() if r.kind == kind]
