"""The notifications modules import in one direction: the rules and services never reach for
the tasks that call them (function-level imports counted too)."""

from __future__ import annotations

from justtrades.testing.imports import import_graph


def test_the_rules_and_services_never_import_the_tasks():
    graph = import_graph(in_functions=True)
    assert "notifications.services" in graph["notifications.rules"]
    assert "notifications.tasks" not in graph["notifications.rules"]
    assert "notifications.tasks" not in graph["notifications.services"]
